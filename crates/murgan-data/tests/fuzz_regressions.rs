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
    let img = murgan_data::image::decode_bytes(&std::fs::read(&f).unwrap(), &f, &harness::LIMITS)
        .unwrap();
    let max = img.pixels.iter().copied().fold(0.0f32, f32::max);
    assert!(max <= 1.0 && max > 0.9, "max {max}");
}

/// Found by `decode_image`, five times: a few hundred bytes of DICOM whose structure led the
/// DICOM parser to an element claiming gigabytes, which it allocates and zero-fills before
/// reading (2.8 GB; an invalid VR hiding 1.4 GB; a meta group length moving the data set onto
/// 4.2 GB; an item tag at the root read as 2.7 GB; an FD of 26 bytes that left the parser two
/// bytes out of step). Each is now refused by the strict
/// structure walk that runs before the parser, naming the file.
#[test]
fn malformed_dicom_is_refused_before_the_parser_allocates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/decode_image");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let f = entry.unwrap().path();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("dicom-") {
            continue;
        }
        seen += 1;
        let bytes = std::fs::read(&f).unwrap();
        let err = murgan_data::image::decode_bytes(&bytes, &f, &harness::LIMITS).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cannot parse") && msg.contains(&name), "{msg}");
        // Refused by the walk, not by the parser after its allocation.
        assert!(!msg.contains("data set token"), "{msg}");
    }
    assert!(seen >= 5, "{seen} DICOM regressions");
}
