//! An on-disk cache of preprocessed images, so an epoch over tens of thousands of radiographs
//! does not decode and resize every PNG again.
//!
//! An entry is keyed by the file's path, size and modification time and by the preprocessing
//! settings (augmentation excluded: it is applied after the cache). Entries are written
//! atomically; an unreadable entry is a cache miss, never a failure.

use std::fs;
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::image::{Placement, PreprocessConfig, Preprocessed};
use crate::{DataError, Result};

const MAGIC: &[u8; 4] = b"MGC1";
const HEADER: usize = 4 + 7 * 4;

/// A folder of cached preprocessed images.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// 64-bit FNV-1a: stable across platforms and Rust versions.
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

impl Cache {
    /// Opens (and creates) a cache folder.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        Ok(Self { dir })
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry file for `image` under `config`.
    pub fn entry(&self, image: &Path, config: &PreprocessConfig) -> Result<PathBuf> {
        let meta = fs::metadata(image).map_err(|e| DataError::io(image, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let settings = PreprocessConfig {
            augment: None,
            ..*config
        };
        let mut h = 0xcbf2_9ce4_8422_2325;
        h = fnv1a(image.to_string_lossy().as_bytes(), h);
        h = fnv1a(&meta.len().to_le_bytes(), h);
        h = fnv1a(&mtime.to_le_bytes(), h);
        h = fnv1a(format!("{settings:?}").as_bytes(), h);
        Ok(self.dir.join(format!("{h:016x}.mgc")))
    }

    /// Reads a cached image; `Ok(None)` on a miss or an unusable entry.
    pub fn get(&self, image: &Path, config: &PreprocessConfig) -> Result<Option<Preprocessed>> {
        let entry = self.entry(image, config)?;
        let Ok(bytes) = fs::read(&entry) else {
            return Ok(None);
        };
        Ok(decode_entry(&bytes, config.size).ok())
    }

    /// Stores a preprocessed (not augmented) image.
    pub fn put(&self, image: &Path, config: &PreprocessConfig, value: &Preprocessed) -> Result<()> {
        let entry = self.entry(image, config)?;
        let mut bytes = Vec::with_capacity(HEADER + value.pixels.len() * 4);
        bytes.extend_from_slice(MAGIC);
        let p = &value.placement;
        for v in [
            value.size,
            p.original_width,
            p.original_height,
            p.x,
            p.y,
            p.width,
            p.height,
        ] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        for v in &value.pixels {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        write_atomic(&entry, &bytes)
    }
}

fn decode_entry(bytes: &[u8], size: u32) -> Result<Preprocessed> {
    let bad = |m: &str| DataError::Cache {
        path: PathBuf::new(),
        message: m.into(),
    };
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return Err(bad("bad header"));
    }
    let word = |i: usize| {
        let o = 4 + 4 * i;
        u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]])
    };
    let n = word(0);
    if n != size || bytes.len() != HEADER + (n as usize).pow(2) * 4 {
        return Err(bad("size mismatch"));
    }
    let pixels = bytes[HEADER..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Preprocessed {
        size: n,
        pixels,
        placement: Placement {
            original_width: word(1),
            original_height: word(2),
            x: word(3),
            y: word(4),
            width: word(5),
            height: word(6),
        },
    })
}
