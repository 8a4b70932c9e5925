//! Fixtures shared by the data tests: small PNGs and a MURA-shaped tree.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// Writes an 8-bit gray PNG with a gradient.
pub fn png(path: &Path, w: u32, h: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
    img.save(path).unwrap();
}

/// The images of the fixture: (split, category folder, patient, study folder, image).
pub const MURA_IMAGES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "train",
        "XR_HAND",
        "patient00001",
        "study1_negative",
        "image1.png",
    ),
    (
        "train",
        "XR_HAND",
        "patient00001",
        "study1_negative",
        "image2.png",
    ),
    (
        "train",
        "XR_HAND",
        "patient00002",
        "study1_positive",
        "image1.png",
    ),
    (
        "train",
        "XR_WRIST",
        "patient00003",
        "study1_negative",
        "image1.png",
    ),
    (
        "valid",
        "XR_HAND",
        "patient00010",
        "study1_positive",
        "image1.png",
    ),
    (
        "valid",
        "XR_WRIST",
        "patient00011",
        "study1_negative",
        "image1.png",
    ),
    (
        "valid",
        "XR_WRIST",
        "patient00011",
        "study1_negative",
        "image2.png",
    ),
];

/// Builds `root/MURA-v1.1/...` with the images above and, when `csv` is set, both CSVs per split.
pub fn mura_fixture(root: &Path, csv: bool) -> PathBuf {
    let dir = root.join("MURA-v1.1");
    for (split, cat, patient, study, image) in MURA_IMAGES {
        png(
            &dir.join(split)
                .join(cat)
                .join(patient)
                .join(study)
                .join(image),
            24,
            16,
        );
    }
    if csv {
        for split in ["train", "valid"] {
            let mut paths = String::new();
            let mut studies = std::collections::BTreeSet::new();
            for (s, cat, patient, study, image) in MURA_IMAGES.iter().filter(|r| r.0 == split) {
                paths.push_str(&format!("MURA-v1.1/{s}/{cat}/{patient}/{study}/{image}\n"));
                let label = u8::from(study.ends_with("positive"));
                studies.insert(format!("MURA-v1.1/{s}/{cat}/{patient}/{study}/,{label}\n"));
            }
            fs::write(dir.join(format!("{split}_image_paths.csv")), paths).unwrap();
            fs::write(
                dir.join(format!("{split}_labeled_studies.csv")),
                studies.into_iter().collect::<String>(),
            )
            .unwrap();
        }
    }
    dir
}

/// A minimal PNG that declares `w`×`h` pixels (valid signature and IHDR CRC) but carries no
/// image data: what a decompression bomb's header looks like.
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&w.to_be_bytes());
    chunk.extend_from_slice(&h.to_be_bytes());
    chunk.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit gray
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    out
}

/// A normal training-split record of the file at `path`, without category, patient or study.
pub fn normal_record(path: PathBuf) -> murgan_data::ImageRecord {
    murgan_data::ImageRecord {
        path,
        category: None,
        patient: None,
        study: None,
        label: murgan_data::Label::Normal,
        split: murgan_data::Split::Train,
    }
}
