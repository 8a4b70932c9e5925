//! The in-memory training set: bad files skipped and counted, seeded epochs that visit every
//! image once, batches as `[B, 1, N, N]` tensors of the stored pixels.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![cfg(feature = "burn")]

mod common;

use burn::tensor::Device;
use murgan_data::{DataError, Jitter, Loader, PreprocessConfig, TrainingSet};

#[test]
fn loads_normals_skipping_and_counting_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    for i in 0..6 {
        let p = dir.path().join(format!("{i}.png"));
        if i == 2 {
            std::fs::write(&p, b"not a png").unwrap();
        } else {
            common::png(&p, 20 + i, 16);
        }
        records.push(common::normal_record(p));
    }
    let loader = Loader::new(PreprocessConfig::new(16));
    let set = TrainingSet::load(&records, &loader, dir.path()).unwrap();
    assert_eq!(
        (set.len(), set.summary.images, set.summary.failed),
        (5, 5, 1)
    );
    assert_eq!(set.image_size(), 16);
    // Each stored image is what the loader makes of its file.
    let first = loader.load(&records[0].path, 0).unwrap();
    assert_eq!(set.image(0), &first.pixels[..]);

    let only_bad = [common::normal_record(dir.path().join("2.png"))];
    let err = TrainingSet::load(&only_bad, &loader, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::NoTrainingData { failed: 1 }),
        "{err}"
    );
}

#[test]
fn epochs_are_seeded_permutations_cut_into_full_batches() {
    let images: Vec<Vec<f32>> = (0..10).map(|k| vec![k as f32 / 10.0; 4]).collect();
    let set = TrainingSet::from_images(images, 2).unwrap();
    // 10 images, batch 3: three full batches an epoch, the 10th image waits for another epoch.
    let epoch: Vec<usize> = (0..3).flat_map(|it| set.batch_indices(it, 3, 7)).collect();
    let mut sorted = epoch.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 9, "{epoch:?}");
    // A function of (seed, iteration) only.
    assert_eq!(set.batch_indices(4, 3, 7), set.batch_indices(4, 3, 7));
    assert_ne!(
        (0..3)
            .map(|it| set.batch_indices(it, 3, 8))
            .collect::<Vec<_>>(),
        (0..3)
            .map(|it| set.batch_indices(it, 3, 7))
            .collect::<Vec<_>>()
    );
    // The next epoch is another permutation.
    let next: Vec<usize> = (3..6).flat_map(|it| set.batch_indices(it, 3, 7)).collect();
    assert_ne!(next, epoch);

    let t = set.tensor(&[4, 1], &Device::flex());
    assert_eq!(t.dims(), [2, 1, 2, 2]);
    assert_eq!(values(t), vec![0.4, 0.4, 0.4, 0.4, 0.1, 0.1, 0.1, 0.1]);
}

#[test]
fn in_memory_images_must_all_have_the_stated_size() {
    assert!(TrainingSet::from_images(vec![vec![0.0; 4], vec![0.0; 3]], 2).is_err());
    assert!(TrainingSet::from_images(Vec::new(), 2).is_err());
}

fn values(t: burn::tensor::Tensor<4>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn jittered_batches_are_seeded_shifted_and_zoomed_copies() {
    // A bright square in the middle of each 16×16 image.
    let n = 16;
    let square: Vec<f32> = (0..n * n)
        .map(|p| {
            let (x, y) = (p % n, p / n);
            if (5..11).contains(&x) && (5..11).contains(&y) {
                1.0
            } else {
                -0.5
            }
        })
        .collect();
    let set = TrainingSet::from_images(vec![square.clone(); 6], n).unwrap();
    let device = Device::flex();
    let plain = values(set.batch(2, 4, 9, None, &device));
    assert_eq!(plain, square.repeat(4), "no jitter: the stored pixels");

    let jitter = Some(Jitter::affine(0.1));
    let a = values(set.batch(2, 4, 9, jitter, &device));
    // A function of (seed, iteration): the same draw again, another for another iteration.
    assert_eq!(a, values(set.batch(2, 4, 9, jitter, &device)));
    assert_ne!(a, values(set.batch(3, 4, 9, jitter, &device)));
    // Each image of the batch gets its own draw, and every one moves the square.
    let images: Vec<&[f32]> = a.chunks(n * n).collect();
    assert!(images.windows(2).all(|w| w[0] != w[1]));
    for img in &images {
        assert_ne!(*img, &square[..]);
        // Still one bright block of about the same area (zoom at most ±10 %).
        let bright = img.iter().filter(|&&v| v > 0.5).count() as f32;
        assert!((20.0..=52.0).contains(&bright), "{bright}");
    }
    assert!(Jitter::affine(0.6).validate().is_err());
    assert!(Jitter::affine(0.05).validate().is_ok());
}
