//! What each data fuzz target checks, shared by the fuzz targets and by the regression tests
//! that replay their findings (`crates/murgan-data/tests/fuzz_regressions.rs`).

#![allow(dead_code)] // each fuzz target uses its own part

use std::path::{Path, PathBuf};

use murgan_data::image::{self, DecodeLimits, PreprocessConfig};
use murgan_data::{Filter, ManifestOptions, manifest, mura};

/// Small limits keep each run fast and make "too large" reachable.
pub const LIMITS: DecodeLimits = DecodeLimits {
    max_width: 2048,
    max_height: 2048,
    max_alloc: 64 << 20,
    max_file_bytes: 8 << 20,
};

/// Decodes and preprocesses arbitrary bytes: an error is fine; a panic, values outside
/// [0, 1] or non-finite network input are not.
pub fn decode_image(data: &[u8]) {
    let Ok(img) = image::decode_bytes(data, Path::new("fuzz"), &LIMITS) else {
        return;
    };
    assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
    if let Some(v) = img.pixels.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        panic!("decoded value {v} outside [0, 1]");
    }
    let mut config = PreprocessConfig::new(16);
    config.limits = LIMITS;
    if let Ok(p) = image::preprocess(&img, &config, 0) {
        assert!(p.pixels.iter().all(|v| v.is_finite()), "non-finite input");
    }
}

/// A folder with one real MURA study, whose two CSV indexes each case overwrites.
pub struct MuraFixture {
    root: PathBuf,
}

impl MuraFixture {
    /// Makes the folder under `root`.
    pub fn new(root: PathBuf) -> Self {
        let study = root.join("MURA-v1.1/train/XR_HAND/patient00001/study1_negative");
        std::fs::create_dir_all(&study).expect("fixture folders");
        std::fs::write(study.join("image1.png"), b"not decoded by open").expect("fixture file");
        Self { root }
    }

    /// First half of `data` as the image list, second half as the study labels: `mura::open`
    /// reports problems, never panics, and never lists a file outside the root.
    pub fn check(&self, data: &[u8]) {
        let dir = self.root.join("MURA-v1.1");
        let (paths, studies) = data.split_at(data.len() / 2);
        std::fs::write(dir.join("train_image_paths.csv"), paths).expect("write index");
        std::fs::write(dir.join("train_labeled_studies.csv"), studies).expect("write index");
        if let Ok(set) = mura::open(&self.root) {
            for r in set.select(&Filter::all()) {
                assert!(
                    r.path.starts_with(&dir),
                    "{} escapes the root",
                    r.path.display()
                );
            }
        }
    }
}

/// A folder with two image files, whose `manifest.csv` each case overwrites.
pub struct ManifestFixture {
    root: PathBuf,
}

impl ManifestFixture {
    /// Makes the folder under `root`.
    pub fn new(root: PathBuf) -> Self {
        std::fs::create_dir_all(root.join("a")).expect("fixture folder");
        std::fs::write(root.join("a/x.png"), b"png").expect("fixture file");
        std::fs::write(root.join("y.png"), b"png").expect("fixture file");
        Self { root }
    }

    /// `data` as the manifest: rows are parsed or reported, never a panic, and no accepted
    /// path leaves the manifest's folder.
    pub fn check(&self, data: &[u8]) {
        let csv = self.root.join("manifest.csv");
        std::fs::write(&csv, data).expect("write manifest");
        if let Ok(set) = manifest::open(&csv, &ManifestOptions::default()) {
            for r in set.select(&Filter::all()) {
                assert!(
                    r.path.starts_with(&self.root),
                    "{} escapes the root",
                    r.path.display()
                );
            }
        }
    }
}
