//! [`DataSet`]: the records of one X-ray data set, whatever its on-disk format, plus the
//! problems met while reading it.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::summary::Summary;
use crate::{DataError, Filter, ImageRecord, Result};

/// The on-disk layout a data set was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// MURA-v1.1 (`train|valid/XR_<CAT>/patient*/study*_positive|negative/image*.png`).
    Mura,
    /// `ROOT/<split>/<class>/**/*.{png,jpg,jpeg}`.
    Folder,
    /// A CSV manifest `path,label[,category][,study][,split]`.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mura" => Ok(Format::Mura),
            "folder" => Ok(Format::Folder),
            "csv" | "manifest" => Ok(Format::Csv),
            other => Err(DataError::InvalidParameter(format!(
                "unknown data set format {other:?} (expected mura, folder or csv)"
            ))),
        }
    }
}

/// The records of a data set and the problems met while reading it.
///
/// Reading is lenient per file and strict per data set: a missing root is an error, while a
/// bad line or a missing file is recorded in [`DataSet::problems`] and skipped.
#[derive(Debug)]
pub struct DataSet {
    /// The root the data set was opened from.
    pub root: PathBuf,
    /// The layout it was read from.
    pub format: Format,
    /// Every usable image, in a stable order.
    pub records: Vec<ImageRecord>,
    /// Entries that were skipped, each naming its file and the reason.
    pub problems: Vec<DataError>,
}

impl DataSet {
    /// Keeps only the records that pass `filter`.
    pub fn filter(mut self, filter: &Filter) -> Self {
        self.records.retain(|r| filter.matches(r));
        self
    }

    /// The records that pass `filter`, without consuming the data set.
    pub fn select(&self, filter: &Filter) -> Vec<ImageRecord> {
        self.records
            .iter()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect()
    }

    /// Counts per split × category × label, of images and of studies.
    pub fn summary(&self) -> Summary {
        Summary::from_records(&self.records)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the data set has no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Checks that `root` is an existing folder.
pub(crate) fn require_dir(root: &Path) -> Result<()> {
    if root.is_dir() {
        Ok(())
    } else {
        Err(DataError::MissingRoot {
            path: root.to_path_buf(),
        })
    }
}

/// Resolves a relative `entry` of an index file under `base`, refusing anything that could
/// leave it: absolute paths, drive prefixes and `..` components.
pub(crate) fn safe_join(base: &Path, entry: &str, file: &Path, line: usize) -> Result<PathBuf> {
    let outside = || DataError::PathOutsideRoot {
        file: file.to_path_buf(),
        line,
        entry: entry.to_string(),
    };
    let rel = Path::new(entry);
    let mut out = base.to_path_buf();
    for comp in rel.components() {
        match comp {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(outside());
            }
        }
    }
    if out == base {
        return Err(outside());
    }
    Ok(out)
}

/// Whether `path` has an image extension murgan decodes (PNG, JPEG, DICOM).
pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .is_some_and(|e| matches!(e.as_str(), "png" | "jpg" | "jpeg" | "dcm" | "dicom"))
}

/// The image files under `dir` (as [`is_image_file`] decides), sorted. Symbolic links are not
/// followed, so a link loop cannot make the walk endless or list an image twice; entries that
/// cannot be read are left out.
pub fn image_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_file() && is_image_file(e.path()))
        .map(walkdir::DirEntry::into_path)
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_join_refuses_escapes() {
        let base = Path::new("/data/root");
        let f = Path::new("x.csv");
        assert_eq!(
            safe_join(base, "a/./b.png", f, 1).unwrap(),
            Path::new("/data/root/a/b.png")
        );
        for bad in ["../etc/passwd", "a/../../b.png", "/etc/passwd", "", "."] {
            let err = safe_join(base, bad, f, 7).unwrap_err();
            assert!(
                matches!(err, DataError::PathOutsideRoot { line: 7, .. }),
                "{bad}: {err}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn image_files_do_not_follow_a_link_loop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("study");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["a.png", "sub/b.JPG", "notes.txt"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        // sub/loop -> study: following it would list every image again, level after level.
        std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
        let found = image_files(&dir);
        assert_eq!(found, vec![dir.join("a.png"), dir.join("sub/b.JPG")]);
    }
}
