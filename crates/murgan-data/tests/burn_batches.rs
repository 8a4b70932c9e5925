//! Burn integration: `[N, 1, H, W]` batches with labels, seeded shuffling, bad files skipped.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![cfg(feature = "burn")]

mod common;

use burn::data::dataset::Dataset;
use burn::tensor::Device;
use murgan_data::burn_data::XrayDataset;
use murgan_data::{ImageRecord, Label, Loader, PreprocessConfig, Split};

fn dataset(dir: &std::path::Path) -> XrayDataset {
    let mut records = Vec::new();
    for i in 0..7 {
        let p = dir.join(format!("{i}.png"));
        if i == 3 {
            std::fs::write(&p, b"corrupt").unwrap();
        } else {
            common::png(&p, 20 + i, 16);
        }
        records.push(ImageRecord {
            path: p,
            category: None,
            patient: None,
            study: None,
            label: if i % 2 == 0 {
                Label::Normal
            } else {
                Label::Abnormal
            },
            split: Split::Train,
        });
    }
    XrayDataset::new(records, Loader::new(PreprocessConfig::new(16)))
}

#[test]
fn batches_have_the_right_shape_labels_and_order() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let device = Device::flex();
    assert_eq!(ds.len(), 7);
    assert!(ds.get(3).is_err());
    assert_eq!(ds.get(1).unwrap().label, Label::Abnormal);

    let batches: Vec<_> = ds.batches(4, false, 0, 0, &device).collect();
    assert_eq!(batches.len(), 2);
    let (first, failures) = &batches[0];
    assert_eq!(
        first.images.dims(),
        [3, 1, 16, 16],
        "the corrupt file is skipped"
    );
    assert_eq!(failures.len(), 1);
    assert!(failures[0].0.ends_with("3.png"));
    assert_eq!(first.indices, vec![0, 1, 2]);
    let labels: Vec<i64> = first
        .labels
        .to_data()
        .convert::<i64>()
        .try_into_vec()
        .unwrap();
    assert_eq!(labels, vec![0, 1, 0]);
    let values: Vec<f32> = first
        .images
        .to_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap();
    assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert_eq!(batches[1].0.images.dims(), [3, 1, 16, 16]);

    let order = |seed, epoch| -> Vec<usize> {
        ds.batches(2, true, seed, epoch, &device)
            .flat_map(|(b, _)| b.indices)
            .collect()
    };
    assert_eq!(order(5, 0), order(5, 0));
    assert_ne!(order(5, 0), order(5, 1));
    let mut all = order(5, 1);
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 4, 5, 6]);
}
