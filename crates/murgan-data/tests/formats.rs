//! Folder-layout and CSV-manifest data sets.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::fs;

use murgan_data::{ClassMap, DataError, Format, Label, ManifestOptions, Split, folder, manifest};

#[test]
fn folder_layout_with_default_and_explicit_abnormal_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    common::png(&r.join("train/0/a.png"), 8, 8);
    common::png(&r.join("train/2/b.png"), 8, 8);
    common::png(&r.join("train/3/deep/c.png"), 8, 8);
    common::png(&r.join("val/0/d.png"), 8, 8);
    common::png(&r.join("test/1/e.png"), 8, 8);
    fs::write(r.join("train/0/notes.txt"), "not an image").unwrap();
    fs::create_dir_all(r.join("extras")).unwrap();

    let all = folder::open(r, &ClassMap::normal(["0"])).unwrap();
    assert_eq!(all.format, Format::Folder);
    assert_eq!(all.len(), 5);
    assert_eq!(
        all.records
            .iter()
            .filter(|x| x.label == Label::Normal)
            .count(),
        2
    );
    assert!(all.records.iter().any(|x| x.split == Split::Valid));
    assert!(
        all.problems
            .iter()
            .any(|p| p.to_string().contains("extras"))
    );

    let some = folder::open(r, &ClassMap::normal(["0"]).with_abnormal(["2", "3"])).unwrap();
    assert_eq!(
        some.len(),
        4,
        "class 1 is named in neither list and left out"
    );
    let s = some.summary();
    let train = s.get(Split::Train, "ALL");
    assert_eq!(
        (
            train.normal_images,
            train.abnormal_images,
            train.abnormal_studies
        ),
        (1, 2, 2)
    );

    assert!(matches!(
        folder::open(r, &ClassMap::normal(Vec::<String>::new())),
        Err(DataError::InvalidParameter(_))
    ));
    assert!(folder::open(r, &ClassMap::normal(["0"]).with_abnormal(["0"])).is_err());
    assert!(
        folder::open(r, &ClassMap::normal(["NORMAL"])).is_err(),
        "no image of the normal class"
    );
    assert!(matches!(
        folder::open(r.join("missing"), &ClassMap::normal(["0"])),
        Err(DataError::MissingRoot { .. })
    ));
}

#[test]
fn folder_classes_match_case_insensitively() {
    let tmp = tempfile::tempdir().unwrap();
    common::png(&tmp.path().join("train/NORMAL/a.png"), 8, 8);
    common::png(&tmp.path().join("test/PNEUMONIA/b.png"), 8, 8);
    let set = folder::open(tmp.path(), &ClassMap::normal(["normal"])).unwrap();
    assert_eq!(
        set.records
            .iter()
            .map(|r| (r.split, r.label))
            .collect::<Vec<_>>(),
        vec![
            (Split::Test, Label::Abnormal),
            (Split::Train, Label::Normal)
        ]
    );
}

#[test]
fn csv_manifest_with_header_without_header_and_bad_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    common::png(&r.join("img/a.png"), 8, 8);
    common::png(&r.join("img/b.png"), 8, 8);
    fs::write(
        r.join("with_header.csv"),
        "split,label,path,study,category\ntrain,normal,img/a.png,s1,HAND\nval,1,img/b.png,s2,xr_wrist\ntest,0,../outside.png,,\ntrain,2,img/a.png,,\ntrain,0,img/missing.png,,\n",
    )
    .unwrap();
    let set = manifest::open(r.join("with_header.csv"), &ManifestOptions::default()).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.records[1].split, Split::Valid);
    assert_eq!(set.records[1].category, Some(murgan_data::Category::Wrist));
    assert_eq!(set.records[0].study.as_deref(), Some("s1"));
    assert_eq!(set.problems.len(), 3, "{:?}", set.problems);
    assert!(matches!(
        set.problems[0],
        DataError::PathOutsideRoot { line: 4, .. }
    ));
    assert!(matches!(set.problems[1], DataError::Parse { line: 5, .. }));
    assert!(matches!(set.problems[2], DataError::MissingFile { .. }));

    fs::write(
        r.join("plain.csv"),
        "img/a.png,0\nimg/b.png,abnormal,HAND,st,test\n",
    )
    .unwrap();
    let set = manifest::open(
        r.join("plain.csv"),
        &ManifestOptions {
            default_split: Split::Test,
        },
    )
    .unwrap();
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(
        set.records
            .iter()
            .map(|x| (x.label, x.split))
            .collect::<Vec<_>>(),
        vec![(Label::Normal, Split::Test), (Label::Abnormal, Split::Test)]
    );

    fs::write(r.join("bad_header.csv"), "file,label\nimg/a.png,0\n").unwrap();
    let err = manifest::open(r.join("bad_header.csv"), &ManifestOptions::default()).unwrap_err();
    assert!(err.to_string().contains("`path`"), "{err}");
    assert!(matches!(
        manifest::open(r.join("none.csv"), &ManifestOptions::default()),
        Err(DataError::MissingRoot { .. })
    ));
}

#[test]
fn class_maps_from_command_line_lists() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(ClassMap::from_lists(&[], &s(&["PNEUMONIA"])).is_none());
    let open = ClassMap::from_lists(&s(&["NORMAL"]), &[]).unwrap();
    assert_eq!(open.label_of("other"), Some(Label::Abnormal));
    let named = ClassMap::from_lists(&s(&["NORMAL"]), &s(&["PNEUMONIA"])).unwrap();
    assert_eq!(named.label_of("normal"), Some(Label::Normal));
    assert_eq!(named.label_of("PNEUMONIA"), Some(Label::Abnormal));
    assert_eq!(named.label_of("other"), None);
    // A folder set without normal classes is refused by `open`, saying what is missing.
    let tmp = tempfile::tempdir().unwrap();
    let err = murgan_data::open(tmp.path(), Format::Folder, None).unwrap_err();
    assert!(err.to_string().contains("normal class"), "{err}");
}
