//! The synthetic generator writes a MURA-v1.1 tree that the MURA index reads cleanly, the
//! same bytes for the same seed.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use murgan_data::synth::{SynthConfig, generate, is_complete};
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
    assert!(!is_complete(a.path()));
    let report = generate(a.path(), &cfg, &|_, _| {}).unwrap();
    assert!(is_complete(a.path()));
    // Generating again over a set (as a restarted run does): the same files, complete again.
    generate(b.path(), &cfg, &|_, _| {}).unwrap();
    generate(b.path(), &cfg, &|_, _| {}).unwrap();
    assert!(is_complete(b.path()));
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

#[test]
fn the_findings_file_names_every_abnormal_study_and_only_those() {
    let cfg = SynthConfig {
        studies_per_category: 10,
        image_size: 32,
        categories: vec![Category::Forearm, Category::Finger],
        seed: 4,
        ..SynthConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &cfg, &|_, _| {}).unwrap();
    let root = dir.path().join(mura::MURA_DIR);
    let findings = fs::read_to_string(root.join(murgan_data::synth::FINDINGS_CSV)).unwrap();
    let mut lines = findings.lines();
    assert_eq!(lines.next(), Some("study,pathology"));
    let listed: BTreeMap<String, String> = lines
        .map(|l| {
            let (study, name) = l.split_once(',').unwrap();
            (study.to_string(), name.to_string())
        })
        .collect();
    let mut abnormal = Vec::new();
    for csv in ["train_labeled_studies.csv", "valid_labeled_studies.csv"] {
        for l in fs::read_to_string(root.join(csv)).unwrap().lines() {
            let (study, label) = l.split_once(',').unwrap();
            if label == "1" {
                abnormal.push(study.to_string());
            }
        }
    }
    abnormal.sort();
    assert!(!abnormal.is_empty());
    assert_eq!(listed.keys().cloned().collect::<Vec<_>>(), abnormal);
    let known = [
        "fracture",
        "hardware",
        "lytic_lesion",
        "sclerotic_lesion",
        "none",
    ];
    assert!(
        listed.values().all(|n| known.contains(&n.as_str())),
        "{listed:?}"
    );
    assert!(listed.values().any(|n| n != "none"));
}

#[test]
fn a_larger_finding_scale_changes_more_of_the_film_and_nothing_else() {
    use murgan_data::synth::{Finding, patient_anatomy, render_view, study_finding};
    let (mut small, mut large) = (0usize, 0usize);
    for seed in 0..21u64 {
        let cat = Category::ALL[(seed % 7) as usize];
        let anatomy = patient_anatomy(cat, seed + 100);
        let Some(f) = study_finding(&anatomy, seed) else {
            continue;
        };
        assert_eq!(f.scale, 1.0);
        let normal = render_view(&anatomy, None, seed, 0, 64);
        let changed = |scale: f32| {
            let img = render_view(&anatomy, Some(&Finding { scale, ..f }), seed, 0, 64);
            normal
                .pixels
                .iter()
                .zip(&img.pixels)
                .filter(|(a, b)| (*a - *b).abs() > 0.05)
                .count()
        };
        small += changed(1.0);
        large += changed(3.0);
    }
    assert!(
        large > 2 * small,
        "scale 3: {large} pixels, scale 1: {small}"
    );

    // Normal studies do not depend on the scale; abnormal ones do.
    let base = SynthConfig {
        studies_per_category: 6,
        image_size: 32,
        categories: vec![Category::Humerus],
        seed: 3,
        ..SynthConfig::default()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(a.path(), &base, &|_, _| {}).unwrap();
    let scaled = SynthConfig {
        finding_scale: 3.0,
        ..base
    };
    generate(b.path(), &scaled, &|_, _| {}).unwrap();
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        if k.contains("_negative/") || k.ends_with(".csv") {
            assert_eq!(v, &fb[k], "{k}");
        }
    }
    assert!(
        fa.iter()
            .any(|(k, v)| k.contains("_positive/") && v != &fb[k])
    );

    let bad = SynthConfig {
        finding_scale: 20.0,
        ..scaled
    };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("finding scale"), "{err}");
}
