//! Atomic file writes: a temporary file beside the target, synced, then renamed over it, so
//! a reader (or a crash) never sees a half-written file.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::{DataError, Result};

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_through_temp(path, bytes, true)
}

/// [`write_atomic`] without syncing the file to disk first: a killed process still never
/// leaves a half-written file, a power cut may. For files that can be made again (synthetic
/// images), thousands of which a sync each would slow down.
pub fn write_renamed(path: &Path, bytes: &[u8]) -> Result<()> {
    write_through_temp(path, bytes, false)
}

fn write_through_temp(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let mut name = path.file_name().map(ToOwned::to_owned).ok_or_else(|| {
        DataError::InvalidParameter(format!("{}: not a file path", path.display()))
    })?;
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut f = fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| DataError::io(&tmp, e))?;
    if sync {
        f.sync_all().map_err(|e| DataError::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.csv");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        write_renamed(&p, b"three").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("data.csv")]);
        assert!(write_atomic(Path::new("/"), b"x").is_err());
        let err = write_atomic(&dir.path().join("missing/x.bin"), b"x").unwrap_err();
        assert!(err.to_string().contains("x.bin.tmp"), "{err}");
    }
}
