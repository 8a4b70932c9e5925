//! SQUID end to end: a tiny model trains, saves, resumes exactly, loads and scores like the
//! other kinds; its scores' directions and its heatmap are checked on a planted lesion.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use burn::tensor::{Tensor, TensorData};
use murgan_core::data::image::{self, GrayImage, PreprocessConfig};
use murgan_core::models::nets::SquidNetConfig;
use murgan_core::models::train::{
    Progress, SquidConfig, SquidTrainer, TrainConfig, TrainingSet, run,
};
use murgan_core::models::{ModelKind, Networks};
use murgan_core::score::{Method, Scorer, ScoringOptions};
use murgan_core::{Detector, Device};

const N: usize = 32;

/// A bright disc ("bone") on a dark background, its place and size varying a little with `k`.
fn radiograph(k: usize) -> GrayImage {
    let (cx, cy, r) = (
        16.0 + (k % 3) as f32,
        16.0 + (k / 3 % 2) as f32,
        8.0 + (k % 2) as f32,
    );
    let pixels = (0..N * N)
        .map(|i| {
            let (x, y) = ((i % N) as f32, (i / N) as f32);
            if (x - cx).powi(2) + (y - cy).powi(2) < r * r {
                0.9
            } else {
                0.1
            }
        })
        .collect();
    GrayImage {
        width: N as u32,
        height: N as u32,
        pixels,
    }
}

/// A radiograph with a bright 6×6 square planted in the dark corner (x, y) = (2..8, 2..8).
fn with_lesion(k: usize) -> GrayImage {
    let mut img = radiograph(k);
    for y in 2..8 {
        for x in 2..8 {
            img.pixels[y * N + x] = 0.95;
        }
    }
    img
}

fn training_set(count: usize) -> TrainingSet {
    let config = PreprocessConfig::new(N as u32);
    let images = (0..count)
        .map(|k| {
            image::preprocess(&radiograph(k), &config, 0)
                .unwrap()
                .pixels
        })
        .collect();
    TrainingSet::from_images(images, N).unwrap()
}

fn config(iterations: usize) -> SquidConfig {
    let net = SquidNetConfig::new()
        .with_image_size(N)
        .with_grid(2)
        .with_width(8)
        .with_memory_slots(24)
        .with_top_k(3);
    let train = TrainConfig::new()
        .with_batch_size(12)
        .with_iterations(iterations)
        .with_checkpoint_every(iterations)
        .with_lr(2e-3)
        .with_seed(7);
    SquidConfig::new(net, train).with_disc_width(8)
}

fn no_progress(_: &Progress) {}

fn tensor(images: &[Vec<f32>]) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(
            images.iter().flatten().copied().collect::<Vec<f32>>(),
            [images.len(), 1, N, N],
        ),
        &Device::flex(),
    )
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec().unwrap()
}

#[test]
fn squid_learns_normals_and_finds_a_planted_lesion() {
    let dir = tempfile::tempdir().unwrap();
    let data = training_set(30);
    let mut trainer = SquidTrainer::new(config(300), &Device::flex()).unwrap();
    let checkpoint = run(
        &mut trainer,
        &data,
        dir.path(),
        300,
        false,
        &mut no_progress,
    )
    .unwrap();
    assert!(checkpoint.join("samples.png").is_file());

    // The losses were logged and the reconstruction error fell.
    let series = murgan_core::models::train::loss_series(&dir.path().join("losses.csv")).unwrap();
    let (_, rec) = series
        .iter()
        .find(|(name, _)| name.ends_with("rec_l2"))
        .unwrap();
    let first: f64 = rec[..20].iter().map(|p| p.1).sum::<f64>() / 20.0;
    let last: f64 = rec[rec.len() - 20..].iter().map(|p| p.1).sum::<f64>() / 20.0;
    assert!(last < 0.5 * first, "reconstruction error {first} → {last}");

    let detector = Detector::load_with(dir.path(), &Device::flex(), None)
        .unwrap()
        .with_heatmap_sigma(1.0);
    assert_eq!(detector.meta().kind, ModelKind::Squid);
    assert_eq!(detector.method(), Method::Inpainting);

    // The memory queues travelled with the weights: loaded = trained, and not empty.
    let (autoencoder, discriminator) = trainer.networks();
    let memory = values(autoencoder.memory());
    assert!(memory.iter().any(|v| *v != 0.0));
    let Networks::Squid {
        autoencoder: loaded,
        ..
    } = murgan_core::models::load(dir.path(), &Device::flex())
        .unwrap()
        .networks
    else {
        panic!("not a SQUID model");
    };
    assert_eq!(values(loaded.memory()), memory);

    let images: Vec<GrayImage> = (0..4)
        .map(with_lesion)
        .chain((0..4).map(radiograph))
        .collect();
    let pre: Vec<Vec<f32>> = images
        .iter()
        .map(|i| detector.preprocess(i).unwrap().pixels)
        .collect();

    // Loaded and trained networks score alike; the score is −D(x̂) with the sign fixed here.
    let direct = Scorer::new(
        Networks::Squid {
            autoencoder: autoencoder.clone(),
            discriminator: discriminator.clone(),
        },
        ScoringOptions::default(),
    )
    .unwrap();
    let fresh = direct.score(tensor(&pre)).unwrap();
    let x_hat = autoencoder.forward(tensor(&pre));
    let (logits, _) = discriminator.forward(x_hat);
    let reports = detector.score_batch(&images).unwrap();
    for ((report, s), logit) in reports.iter().zip(&fresh.scores).zip(values(logits)) {
        assert!((report.score - s.score).abs() < 1e-5, "{report:?} {s:?}");
        assert!(
            (s.score + f64::from(logit)).abs() < 1e-5,
            "score {} logit {logit}",
            s.score
        );
        let names: Vec<&str> = s.components.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["residual", "residual_coarse", "d", "residual_peak"]);
    }

    // The memory holds normal patterns only, so the lesion is not rebuilt: it raises the
    // residual of the same radiograph, and the heatmap lights up where it was planted.
    let heat = |h: &murgan_core::score::Heatmap| {
        let mut sum = 0.0;
        for y in 2..8u32 {
            for x in 2..8u32 {
                sum += h.values[(y * h.width + x) as usize];
            }
        }
        sum / 36.0
    };
    for k in 0..4 {
        let (with, without) = (&reports[k], &reports[k + 4]);
        let residual = |r: &murgan_core::AnomalyReport| {
            r.components
                .iter()
                .find(|(n, _)| n == "residual")
                .map(|c| c.1)
                .unwrap()
        };
        assert!(
            residual(with) > 1.25 * residual(without),
            "image {k}: residual {} with the lesion, {} without",
            residual(with),
            residual(without)
        );
        let (h_with, h_without) = (heat(&with.heatmap), heat(&without.heatmap));
        assert!(
            h_with > 2.0 * h_without + 0.05,
            "image {k}: heat in the lesion's square {h_with}, without the lesion {h_without}"
        );
    }

    // The normal reference: fitted on the training images, saved in model.json, and the
    // `combined` score it enables is z(log residual_coarse) + z(d) on those images' scale.
    let mut detector = detector;
    let reference = detector.fit_reference(&data, "memory").unwrap().unwrap();
    assert_eq!(
        (reference.method.as_str(), reference.images),
        ("inpainting", 30)
    );
    let parts: Vec<(&str, bool)> = reference
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.log))
        .collect();
    assert_eq!(parts, [("residual_coarse", true), ("d", false)]);
    assert!(reference.components.iter().all(|c| c.sd > 0.0));
    let declared = Detector::load_adjusted(dir.path(), &Device::flex(), |o| {
        o.main = Some("combined".into())
    })
    .unwrap();
    assert_eq!(declared.meta().reference.as_ref(), Some(&reference));
    assert_eq!(declared.component_names().last(), Some(&"combined"));
    let rescored = declared.score_batch(&images).unwrap();
    for r in &rescored {
        let get = |n: &str| r.components.iter().find(|c| c.0 == n).unwrap().1;
        let (rc, d) = (&reference.components[0], &reference.components[1]);
        let by_hand = (get("residual_coarse").ln() - rc.mean) / rc.sd + (get("d") - d.mean) / d.sd;
        assert!((r.score - by_hand).abs() < 1e-6, "{} vs {by_hand}", r.score);
        assert_eq!(r.score, get("combined"));
    }
    // On the training images themselves both parts average zero, and so does their sum.
    // (`training_set` preprocesses these radiographs the way the detector does.)
    let reference_images: Vec<_> = (0..30)
        .map(|i| detector.preprocess(&radiograph(i)).unwrap())
        .collect();
    let train_scores = declared.score_preprocessed(&reference_images).unwrap();
    let mean = train_scores.iter().map(|s| s.score).sum::<f64>() / 30.0;
    assert!(
        mean.abs() < 1e-6,
        "mean combined score on the reference images {mean}"
    );
    // A model that declares `combined` keeps it when its method is named explicitly.
    let mut meta = declared.meta().clone();
    meta.main_score = Some("combined".into());
    murgan_core::models::checkpoint::write_meta(&checkpoint, &meta).unwrap();
    let explicit = Detector::load_adjusted(dir.path(), &Device::flex(), |o| {
        o.method = Some(Method::Inpainting)
    })
    .unwrap();
    assert_eq!(explicit.options().main.as_deref(), Some("combined"));
    // Without a reference, `combined` is refused with the reason.
    let err = Detector::load_adjusted(&checkpoint, &Device::flex(), |o| {
        o.main = Some("combined".into());
        o.reference = None;
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("reference"), "{err}");
}

/// The newest checkpoint's networks, loaded, as host values of their outputs on `x`.
fn outputs(dir: &Path, x: Tensor<4>) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let model = murgan_core::models::load(dir, &Device::flex()).unwrap();
    let Networks::Squid {
        autoencoder,
        discriminator,
    } = model.networks
    else {
        panic!("not a SQUID model");
    };
    let (logit, _) = discriminator.forward(x.clone());
    (
        values(autoencoder.forward(x)),
        values(logit),
        values(autoencoder.memory()),
    )
}

/// `config(iterations)` with its training images shifted and zoomed (the `xray` preset's way).
fn jittered(iterations: usize) -> SquidConfig {
    let mut c = config(iterations);
    c.train.jitter = Some(murgan_core::data::Jitter::affine(0.1));
    c
}

#[test]
fn squid_resumes_exactly_and_refuses_another_shape() {
    let data = training_set(16);
    let x = data.tensor(&[0, 5], &Device::flex());
    let whole = tempfile::tempdir().unwrap();
    let mut t = SquidTrainer::new(jittered(6), &Device::flex()).unwrap();
    run(&mut t, &data, whole.path(), 3, false, &mut no_progress).unwrap();

    // Three iterations, then resumed with the length extended to six: the jitter draws of
    // iterations 4–6 are those of the uninterrupted run.
    let parts = tempfile::tempdir().unwrap();
    let mut t = SquidTrainer::new(jittered(3), &Device::flex()).unwrap();
    run(&mut t, &data, parts.path(), 3, false, &mut no_progress).unwrap();
    let mut t = SquidTrainer::new(jittered(6), &Device::flex()).unwrap();
    run(&mut t, &data, parts.path(), 3, true, &mut no_progress).unwrap();

    let (a, b) = (
        outputs(whole.path(), x.clone()),
        outputs(parts.path(), x.clone()),
    );
    assert_eq!(a.0, b.0, "reconstructions");
    assert_eq!(a.1, b.1, "discriminator logits");
    assert_eq!(a.2, b.2, "memory queues");

    // The jitter changes what is learnt, and resuming without it is another configuration.
    let plain = tempfile::tempdir().unwrap();
    let mut t = SquidTrainer::new(config(6), &Device::flex()).unwrap();
    run(&mut t, &data, plain.path(), 3, false, &mut no_progress).unwrap();
    assert_ne!(outputs(plain.path(), x).0, a.0, "jitter made no difference");
    let mut t = SquidTrainer::new(config(9), &Device::flex()).unwrap();
    let err = run(&mut t, &data, parts.path(), 3, true, &mut no_progress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("jitter"), "{err}");

    // Another memory size is another model: refused, naming what differs.
    let other = jittered(9);
    let other = SquidConfig {
        net: other.net.clone().with_memory_slots(12),
        ..other
    };
    let mut t = SquidTrainer::new(other, &Device::flex()).unwrap();
    let err = run(&mut t, &data, parts.path(), 3, true, &mut no_progress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("memory_slots"), "{err}");
}
