//! The synthetic generator writes a MURA-v1.1 tree that the MURA index reads cleanly, the
//! same bytes for the same seed.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use murgan_data::synth::{SynthConfig, generate};
use murgan_data::{Category, Label, Split, mura};

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_and_a_clean_mura_index() {
    let cfg = SynthConfig {
        studies_per_category: 6,
        image_size: 32,
        categories: vec![Category::Hand, Category::Shoulder],
        seed: 9,
        ..SynthConfig::default()
    };
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let report = generate(a.path(), &cfg, &|_, _| {}).unwrap();
    generate(b.path(), &cfg, &|_, _| {}).unwrap();
    generate(
        c.path(),
        &SynthConfig {
            seed: 10,
            ..cfg.clone()
        },
        &|_, _| {},
    )
    .unwrap();
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert_eq!(fa, fb);
    assert_ne!(fa, fc);
    assert!(fa.keys().all(|k| !k.ends_with(".tmp")));

    let set = mura::open(a.path()).unwrap();
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(set.len(), report.images);
    let s = set.summary();
    for cat in ["HAND", "SHOULDER"] {
        assert_eq!(s.get(Split::Train, cat).studies(), 4);
        assert_eq!(s.get(Split::Valid, cat).studies(), 2);
    }
    assert!(set.records.iter().any(|r| r.label == Label::Abnormal));
    let img = image::open(&set.records[0].path).unwrap();
    assert_eq!((img.width(), img.height()), (32, 32));
}
