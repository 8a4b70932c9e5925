//! Replays the fuzzers' seed corpus and every case they found (`fuzz/corpus/<target>`,
//! `fuzz/regressions/<target>`) through the same checks the fuzz targets make
//! (`fuzz/harness/data.rs`), so a fixed bug stays fixed without nightly or cargo-fuzz.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/harness/data.rs"]
mod harness;

/// Every file of the seed corpus and the regressions of `target`.
fn cases(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|d| std::fs::read_dir(fuzz.join(d).join(target)).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases for {target}");
    files
}

#[test]
fn decode_image_cases() {
    for f in cases("decode_image") {
        eprintln!("{}", f.display());
        harness::decode_image(&std::fs::read(&f).unwrap());
    }
}

#[test]
fn mura_index_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = harness::MuraFixture::new(tmp.path().to_path_buf());
    for f in cases("mura_index") {
        eprintln!("{}", f.display());
        fixture.check(&std::fs::read(&f).unwrap());
    }
}

#[test]
fn manifest_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = harness::ManifestFixture::new(tmp.path().to_path_buf());
    for f in cases("manifest") {
        eprintln!("{}", f.display());
        fixture.check(&std::fs::read(&f).unwrap());
    }
}

/// Found by `decode_image`: an RGB JPEG whose Rec. 709 luma, computed in f32, came out a
/// rounding error above 1.0.
#[test]
fn colour_jpeg_luma_stays_within_one() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/decode_image/jpeg-luma-above-one.jpg");
    let img =
        murgan_data::pipeline::decode_bytes(&std::fs::read(&f).unwrap(), &f, &harness::LIMITS)
            .unwrap();
    let max = img.pixels.iter().copied().fold(0.0f32, f32::max);
    assert!(max <= 1.0 && max > 0.9, "max {max}");
}

/// Found by `decode_image`: 630 bytes of DICOM whose element claimed 2.8 GB (and, after a
/// first fix that guessed the parser's reading, one whose invalid VR hid 1.4 GB and one whose
/// meta group length moved the data set to a 4.2 GB element, and one with an item tag at the
/// root read as a 2.7 GB element), which the DICOM parser tried to allocate. Now refused by walking the headers with the parser's own decoder first.
#[test]
fn a_dicom_element_longer_than_the_file_is_refused_before_allocating() {
    for name in [
        "dicom-huge-element-length.dcm",
        "dicom-invalid-vr-long-length.dcm",
        "dicom-implicit-vr-long-length.dcm",
        "dicom-root-item-tag-long-length.dcm",
    ] {
        let f = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/regressions/decode_image")
            .join(name);
        let bytes = std::fs::read(&f).unwrap();
        let err = murgan_data::pipeline::decode_bytes(&bytes, &f, &harness::LIMITS).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("claims") && msg.contains(name), "{msg}");
    }
}
