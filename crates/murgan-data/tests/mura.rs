//! The MURA-v1.1 index on a small MURA-shaped fixture: CSV and tree-walk paths, both splits,
//! and every kind of bad entry.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::fs;

use murgan_data::{Category, DataError, Filter, Label, Split, mura};

#[test]
fn csv_index_from_parent_and_from_dataset_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::mura_fixture(tmp.path(), true);
    for root in [tmp.path(), dir.as_path()] {
        let set = mura::open(root).unwrap();
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert_eq!(set.len(), common::MURA_IMAGES.len());
        let first = &set.records[0];
        assert_eq!(first.split, Split::Train);
        assert_eq!(first.category, Some(Category::Hand));
        assert_eq!(first.patient.as_deref(), Some("patient00001"));
        assert_eq!(
            first.study.as_deref(),
            Some("train/XR_HAND/patient00001/study1_negative")
        );
        assert_eq!(first.label, Label::Normal);
        assert!(first.path.is_file());
    }
}

#[test]
fn tree_walk_gives_the_same_records_as_the_csvs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    common::mura_fixture(a.path(), true);
    common::mura_fixture(b.path(), false);
    let with_csv = mura::open(a.path()).unwrap();
    let walked = mura::open(b.path()).unwrap();
    assert!(walked.problems.is_empty(), "{:?}", walked.problems);
    let strip = |s: &murgan_data::DataSet, base: &std::path::Path| {
        s.records
            .iter()
            .map(|r| {
                (
                    r.path.strip_prefix(base).unwrap().to_path_buf(),
                    r.label,
                    r.split,
                    r.category,
                    r.study.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&with_csv, a.path()), strip(&walked, b.path()));
}

#[test]
fn filters_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    common::mura_fixture(tmp.path(), true);
    let set = mura::open(tmp.path()).unwrap();
    let normals = set.select(&Filter::all().split(Split::Train).label(Label::Normal));
    assert_eq!(normals.len(), 3);
    let wrist = set.select(&Filter::all().category(Category::Wrist));
    assert_eq!(wrist.len(), 3);
    let s = set.summary();
    let hand_train = s.get(Split::Train, "HAND");
    assert_eq!(
        (hand_train.normal_images, hand_train.abnormal_images),
        (2, 1)
    );
    assert_eq!(
        (hand_train.normal_studies, hand_train.abnormal_studies),
        (1, 1)
    );
    let wrist_valid = s.get(Split::Valid, "WRIST");
    assert_eq!(
        (wrist_valid.normal_images, wrist_valid.normal_studies),
        (2, 1)
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["valid"]["HAND"]["abnormal_studies"], 1);
    assert_eq!(json["train"]["WRIST"]["normal_images"], 1);
}

#[test]
fn bad_entries_are_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::mura_fixture(tmp.path(), true);
    let csv = dir.join("train_image_paths.csv");
    let mut text = fs::read_to_string(&csv).unwrap();
    text.push_str("MURA-v1.1/train/../../../etc/passwd\n");
    text.push_str("MURA-v1.1/train/XR_HAND/patient00002/study1_positive/image9.png\n");
    text.push_str("not/a/mura/path.png\n");
    fs::write(&csv, text).unwrap();
    // The valid split's study list contradicts the WRIST study's folder name.
    let studies = dir.join("valid_labeled_studies.csv");
    let text = fs::read_to_string(&studies)
        .unwrap()
        .replace("study1_negative/,0", "study1_negative/,1");
    fs::write(&studies, text).unwrap();

    let set = mura::open(tmp.path()).unwrap();
    let has = |pred: &dyn Fn(&DataError) -> bool| set.problems.iter().any(pred);
    assert!(
        has(&|e| matches!(e, DataError::PathOutsideRoot { line: 5, .. })),
        "{:?}",
        set.problems
    );
    assert!(has(
        &|e| matches!(e, DataError::MissingFile { path, .. } if path.ends_with("image9.png"))
    ));
    assert!(has(&|e| matches!(e, DataError::Parse { line: 7, .. })));
    assert!(has(
        &|e| matches!(e, DataError::Inconsistent { message, .. } if message.contains("XR_WRIST"))
    ));
    // Everything else still loads: 4 train images, and valid keeps only its HAND image.
    assert_eq!(set.select(&Filter::all().split(Split::Train)).len(), 4);
    assert_eq!(set.select(&Filter::all().split(Split::Valid)).len(), 1);
    // Every problem names a file.
    for p in &set.problems {
        assert!(p.to_string().contains('/'), "{p}");
    }
}

#[test]
fn missing_or_wrong_root_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = mura::open(&missing).unwrap_err();
    assert!(matches!(err, DataError::MissingRoot { .. }));
    assert!(err.to_string().contains("nope"));
    let err = mura::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("not a MURA root"), "{err}");
}
