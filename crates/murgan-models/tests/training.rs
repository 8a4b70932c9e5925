//! Training on a tiny set: losses move the right way, runs are reproducible, checkpoints
//! round-trip, resume continues exactly, and bad checkpoints are refused.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::Path;

use burn::prelude::*;
use murgan_models::checkpoint::{self, read_meta};
use murgan_models::nets::{CodeDiscriminatorConfig, DcganConfig, Generator};
use murgan_models::train::{
    AlphaGanConfig, AlphaGanTrainer, AnoGanConfig, AnoGanTrainer, DiscriminatorKind, FAnoGanConfig,
    FAnoGanTrainer, Progress, TrainConfig, Trainer, TrainingSet, loss_series, run,
};
use murgan_models::{ModelError, ModelKind};

const N: usize = 16;

/// Bright discs on a dark background, at varying places: a shape a tiny GAN can learn.
fn discs(count: usize) -> TrainingSet {
    let images = (0..count)
        .map(|k| {
            let (cx, cy, r) = (
                5.0 + (k % 6) as f32,
                5.0 + (k / 6 % 6) as f32,
                3.0 + (k % 3) as f32 * 0.5,
            );
            (0..N * N)
                .map(|i| {
                    let (x, y) = ((i % N) as f32, (i / N) as f32);
                    if (x - cx).powi(2) + (y - cy).powi(2) < r * r {
                        0.8
                    } else {
                        -0.9
                    }
                })
                .collect()
        })
        .collect();
    TrainingSet::from_images(images, N).unwrap()
}

fn model() -> DcganConfig {
    DcganConfig::new()
        .with_image_size(N)
        .with_latent_dim(8)
        .with_gen_width(8)
        .with_disc_width(8)
}

fn train_cfg(iterations: usize, every: usize) -> TrainConfig {
    TrainConfig::new()
        .with_batch_size(8)
        .with_iterations(iterations)
        .with_checkpoint_every(every)
        .with_lr(2e-3)
        .with_seed(3)
}

fn losses_of(out: &Path, name: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(out.join("losses.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2] == name).then(|| f[3].parse().unwrap())
        })
        .collect()
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

fn outputs(g: &Generator) -> Vec<f32> {
    let device = Device::flex();
    let z = Tensor::from_data(
        TensorData::new(
            (0..16)
                .map(|i| (i as f32 * 0.37).sin())
                .collect::<Vec<f32>>(),
            [2, 8],
        ),
        &device,
    );
    g.forward(z)
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap()
}

fn no_progress(_: &Progress) {}

/// Asserts two output vectors are identical, reporting the largest difference.
fn assert_same(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(a == b, "{what}: outputs differ by up to {worst}");
}

#[test]
fn alphagan_reconstruction_error_falls() {
    let data = discs(36);
    let dir = tempfile::tempdir().unwrap();
    let (iters, lr) = (100, 1e-3);
    let cfg = AlphaGanConfig::new(
        model(),
        train_cfg(iters, iters).with_lr(lr),
        CodeDiscriminatorConfig::new()
            .with_latent_dim(8)
            .with_hidden(16),
    );
    let mut t = AlphaGanTrainer::new(cfg, &Device::flex()).unwrap();
    let last = run(&mut t, &data, dir.path(), iters, false, &mut no_progress).unwrap();
    let rec = losses_of(dir.path(), "rec_l1");
    assert_eq!(rec.len(), iters);
    let (first, end) = (mean(&rec[..10]), mean(&rec[iters - 10..]));
    assert!(end < 0.8 * first, "reconstruction L1 {first} → {end}");
    let meta = read_meta(&last).unwrap();
    assert_eq!(meta.kind, ModelKind::AlphaGan);
    assert_eq!(meta.iteration, iters);
    for f in [
        "encoder.bpk",
        "generator.bpk",
        "discriminator.bpk",
        "code_discriminator.bpk",
        "samples.png",
    ] {
        assert!(last.join(f).is_file(), "{f}");
    }
    // The loss curves a caller draws: one series per phase/loss, every iteration, the
    // values of losses.csv (a run this short is not smoothed: the window is 1 % of it).
    let series = loss_series(&dir.path().join("losses.csv")).unwrap();
    let curve = &series
        .iter()
        .find(|(name, _)| name == "gan/rec_l1")
        .unwrap()
        .1;
    assert_eq!(curve.len(), iters);
    for (k, &(x, y)) in curve.iter().enumerate() {
        assert_eq!(x, (k + 1) as f64);
        assert!(
            (y - f64::from(rec[k])).abs() <= 1e-6 * y.abs().max(1.0),
            "{k}: {y}"
        );
    }
    assert!(series.iter().any(|(name, _)| name == "gan/d_loss"));
}

#[test]
fn alphagan_with_patchgan_trains() {
    let data = TrainingSet::from_images(vec![vec![0.1f32; 32 * 32]; 4], 32).unwrap();
    let m = DcganConfig::new()
        .with_image_size(32)
        .with_latent_dim(4)
        .with_gen_width(2)
        .with_disc_width(2);
    let cfg = AlphaGanConfig::new(
        m,
        train_cfg(2, 2),
        CodeDiscriminatorConfig::new()
            .with_latent_dim(4)
            .with_hidden(4),
    )
    .with_discriminator(DiscriminatorKind::Patch);
    let mut t = AlphaGanTrainer::new(cfg, &Device::flex()).unwrap();
    let losses = t.step(0, &data).unwrap();
    assert!(losses.iter().all(|(_, v)| v.is_finite()));
}

#[test]
fn anogan_discriminator_beats_chance() {
    let data = discs(36);
    let dir = tempfile::tempdir().unwrap();
    let mut t = AnoGanTrainer::new(
        AnoGanConfig::new(model(), train_cfg(40, 40)),
        &Device::flex(),
    )
    .unwrap();
    run(&mut t, &data, dir.path(), 40, false, &mut no_progress).unwrap();
    let (real, fake) = (
        losses_of(dir.path(), "d_real"),
        losses_of(dir.path(), "d_fake"),
    );
    // Over the run the discriminator rates real images above generated ones.
    assert!(
        mean(&real[20..]) > mean(&fake[20..]) + 0.05,
        "D(real) {} vs D(fake) {}",
        mean(&real[20..]),
        mean(&fake[20..])
    );
}

#[test]
fn same_seed_same_weights_and_checkpoint_round_trip() {
    let data = discs(16);
    let cfg = AnoGanConfig::new(model(), train_cfg(4, 4));
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut ta = AnoGanTrainer::new(cfg.clone(), &Device::flex()).unwrap();
    let mut tb = AnoGanTrainer::new(cfg.clone(), &Device::flex()).unwrap();
    let ca = run(&mut ta, &data, a.path(), 4, false, &mut no_progress).unwrap();
    run(&mut tb, &data, b.path(), 4, false, &mut no_progress).unwrap();
    assert_same(
        &outputs(&ta.generator()),
        &outputs(&tb.generator()),
        "same seed",
    );
    let other = AnoGanTrainer::new(
        AnoGanConfig::new(model(), train_cfg(4, 4).with_seed(4)),
        &Device::flex(),
    )
    .unwrap();
    assert_ne!(outputs(&ta.generator()), outputs(&other.generator()));

    // Save → load gives identical outputs.
    let fresh = cfg.model.init_generator(&Device::flex()).unwrap();
    let loaded = checkpoint::load_module(&ca, "generator", fresh).unwrap();
    assert_same(
        &outputs(&loaded.valid()),
        &outputs(&ta.generator()),
        "save/load",
    );
}

#[test]
fn fanogan_encoder_phase_leaves_the_gan_bit_identical() {
    // GAN phase 4 iterations (checkpoint at 4), then 4 of the encoder (checkpoint at 8).
    let cfg = FAnoGanConfig::new(model(), train_cfg(4, 4)).with_encoder_iterations(4);
    let out = tempfile::tempdir().unwrap();
    let mut t = FAnoGanTrainer::new(cfg, &Device::flex()).unwrap();
    let last = run(&mut t, &discs(16), out.path(), 4, false, &mut no_progress).unwrap();
    let gan_end = out.path().join("checkpoints/iter-000004");
    assert!(gan_end.is_dir() && last.ends_with("iter-000008"));
    // Weights and BatchNorm running statistics, byte for byte.
    for net in ["generator", "discriminator"] {
        let file = format!("{net}.bpk");
        let (before, after) = (
            std::fs::read(gan_end.join(&file)).unwrap(),
            std::fs::read(last.join(&file)).unwrap(),
        );
        assert!(before == after, "{net} changed in the encoder phase");
    }
    // ... while the encoder did train.
    let enc = |dir: &Path| std::fs::read(dir.join("encoder.bpk")).unwrap();
    assert!(enc(&gan_end) != enc(&last), "the encoder did not move");
}

#[test]
fn batch_norm_refresh_changes_only_the_discriminators_running_statistics() {
    let data = discs(16);
    let train = |refresh: usize| {
        let cfg = AnoGanConfig::new(model(), train_cfg(4, 4).with_bn_refresh_batches(refresh));
        let mut t = AnoGanTrainer::new(cfg, &Device::flex()).unwrap();
        let out = tempfile::tempdir().unwrap();
        run(&mut t, &data, out.path(), 4, false, &mut no_progress).unwrap();
        t
    };
    let (plain, refreshed, again) = (train(0), train(8), train(8));
    // Nothing is trained by the refresh: G is the same, and so are D's weights (its outputs on
    // a batch normalised by the batch's own statistics, autodiff on, training mode).
    assert_same(
        &outputs(&plain.generator()),
        &outputs(&refreshed.generator()),
        "generator",
    );
    let x = data.tensor(&[0, 1, 2, 3], &Device::flex());
    let logits = |t: &AnoGanTrainer, eval: bool| -> Vec<f32> {
        let d = t.discriminator();
        let (l, _) = if eval {
            d.forward(x.clone())
        } else {
            // Training mode: batch statistics, no running statistics involved.
            let ad = Device::flex().autodiff();
            let d = d.train().to_device(&ad);
            let (l, f) = d.forward(x.clone().to_device(&ad));
            (l.inner(), f.inner())
        };
        l.into_data().convert::<f32>().try_into_vec().unwrap()
    };
    let (a, b) = (logits(&plain, false), logits(&refreshed, false));
    assert!(
        a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5),
        "{a:?} {b:?}"
    );
    // ... while eval mode, which uses the running statistics, sees the refresh.
    assert_ne!(logits(&plain, true), logits(&refreshed, true));
    assert_eq!(logits(&refreshed, true), logits(&again, true), "seeded");
}

#[test]
fn adam_takes_pytorchs_epsilon() {
    use burn::nn::LinearConfig;
    use burn::optim::GradientsParams;
    // A first Adam step moves a weight by lr·g/(|g| + ε): with PyTorch's ε = 1e-8 a gradient of
    // 1e-7 still moves it by ≈ 0.91·lr; Burn's default ε = 1e-5 would move it by ≈ 0.01·lr.
    let cfg = TrainConfig::new();
    assert_eq!(cfg.epsilon, 1e-8);
    let device = Device::flex().autodiff();
    let linear = LinearConfig::new(4, 1).with_bias(false).init(&device);
    let before: Vec<f32> = linear.weight.val().into_data().try_to_vec().unwrap();
    let x = Tensor::<2>::ones([1, 4], &device);
    let loss = linear.forward(x).sum().mul_scalar(1e-7);
    let grads = GradientsParams::from_grads(loss.backward(), &linear);
    let lr = 1e-3;
    let stepped = cfg.adam().step(lr, linear, grads);
    let after: Vec<f32> = stepped.weight.val().into_data().try_to_vec().unwrap();
    for (b, a) in before.iter().zip(&after) {
        let moved = f64::from(b - a) / lr;
        assert!((0.85..0.95).contains(&moved), "moved {moved}·lr");
    }
    assert!(
        TrainConfig::new().with_epsilon(0.0).validate().is_err(),
        "ε = 0 is refused"
    );
}

#[test]
fn resume_continues_exactly_where_it_stopped() {
    let data = discs(16);
    let cfg = FAnoGanConfig::new(model(), train_cfg(4, 3)).with_encoder_iterations(3);
    let whole = tempfile::tempdir().unwrap();
    let mut t = FAnoGanTrainer::new(cfg.clone(), &Device::flex()).unwrap();
    let mut seen = Vec::new();
    run(
        &mut t,
        &data,
        whole.path(),
        3,
        false,
        &mut |p: &Progress| seen.push((p.iteration, p.phase)),
    )
    .unwrap();
    assert_eq!(seen.len(), 7);
    assert_eq!(seen[3], (4, "gan"));
    assert_eq!(seen[4], (5, "encoder"));

    // A run that crashed after its iteration-3 checkpoint, mid-way through writing the next.
    let crashed = tempfile::tempdir().unwrap();
    let ck = crashed.path().join("checkpoints");
    std::fs::create_dir_all(ck.join(".iter-000006.tmp")).unwrap();
    std::fs::write(ck.join(".iter-000006.tmp/generator.bpk"), b"half").unwrap();
    copy_dir(
        &whole.path().join("checkpoints/iter-000003"),
        &ck.join("iter-000003"),
    );
    let csv = std::fs::read_to_string(whole.path().join("losses.csv")).unwrap();
    std::fs::write(crashed.path().join("losses.csv"), csv).unwrap();

    let mut resumed = FAnoGanTrainer::new(cfg.clone(), &Device::flex()).unwrap();
    let mut first = None;
    let last = run(
        &mut resumed,
        &data,
        crashed.path(),
        3,
        true,
        &mut |p: &Progress| {
            first.get_or_insert(p.iteration);
        },
    )
    .unwrap();
    assert_eq!(first, Some(4), "continues after the saved iteration");
    assert_eq!(read_meta(&last).unwrap().iteration, 7);
    assert_eq!(read_meta(&last).unwrap().phase, "done");
    let (g1, _, e1) = t.networks();
    let (g2, _, e2) = resumed.networks();
    assert_same(&outputs(&g1), &outputs(&g2), "resumed generator");
    assert_eq!(
        codes(e1, &data),
        codes(e2, &data),
        "same encoder as the uninterrupted run"
    );
    // The loss log holds each iteration once.
    assert_eq!(losses_of(crashed.path(), "izi_loss").len(), 3);
    assert_eq!(losses_of(crashed.path(), "d_loss").len(), 4);
}

/// The encoder's codes for two fixed images.
fn codes(e: murgan_models::nets::Encoder, data: &TrainingSet) -> Vec<f32> {
    e.forward(data.tensor(&[0, 1], &Device::flex()))
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap()
}

/// D's eval-mode logits for two fixed images.
fn judged(d: &murgan_models::nets::Discriminator, data: &TrainingSet) -> Vec<f32> {
    let (logit, _) = d.forward(data.tensor(&[0, 3], &Device::flex()));
    logit.into_data().convert::<f32>().try_into_vec().unwrap()
}

#[test]
fn resuming_with_more_iterations_equals_training_that_long_in_one_go() {
    let data = discs(16);
    // AnoGAN: 3 iterations, then extended to 6. (Without D's BatchNorm refresh: a refresh at
    // the old end also moves D's running statistics, which later updates shrink by 0.9 each.)
    let cfg = |n| AnoGanConfig::new(model(), train_cfg(n, 3));
    let (short, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut t = AnoGanTrainer::new(cfg(3), &Device::flex()).unwrap();
    run(&mut t, &data, short.path(), 3, false, &mut no_progress).unwrap();
    let mut extended = AnoGanTrainer::new(cfg(6), &Device::flex()).unwrap();
    let mut first = None;
    let last = run(
        &mut extended,
        &data,
        short.path(),
        3,
        true,
        &mut |p: &Progress| {
            first.get_or_insert(p.iteration);
        },
    )
    .unwrap();
    assert_eq!(
        first,
        Some(4),
        "continues from the finished run's last checkpoint"
    );
    assert_eq!(read_meta(&last).unwrap().iteration, 6);
    let mut one_go = AnoGanTrainer::new(cfg(6), &Device::flex()).unwrap();
    run(&mut one_go, &data, whole.path(), 3, false, &mut no_progress).unwrap();
    assert_same(
        &outputs(&extended.generator()),
        &outputs(&one_go.generator()),
        "extended generator",
    );
    assert_same(
        &judged(&extended.discriminator(), &data),
        &judged(&one_go.discriminator(), &data),
        "extended discriminator",
    );
    assert_eq!(
        losses_of(short.path(), "d_loss"),
        losses_of(whole.path(), "d_loss")
    );

    // f-AnoGAN, finished (3 GAN + 2 encoder iterations): its encoder phase can be extended …
    let fcfg =
        |gan, enc| FAnoGanConfig::new(model(), train_cfg(gan, 1)).with_encoder_iterations(enc);
    let (short, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut t = FAnoGanTrainer::new(fcfg(3, 2), &Device::flex()).unwrap();
    run(&mut t, &data, short.path(), 5, false, &mut no_progress).unwrap();
    let mut extended = FAnoGanTrainer::new(fcfg(3, 4), &Device::flex()).unwrap();
    run(
        &mut extended,
        &data,
        short.path(),
        5,
        true,
        &mut no_progress,
    )
    .unwrap();
    let mut one_go = FAnoGanTrainer::new(fcfg(3, 4), &Device::flex()).unwrap();
    run(&mut one_go, &data, whole.path(), 5, false, &mut no_progress).unwrap();
    assert_eq!(
        codes(extended.networks().2, &data),
        codes(one_go.networks().2, &data)
    );
    // … but not its GAN phase, on which the encoder was trained.
    let mut longer_gan = FAnoGanTrainer::new(fcfg(5, 4), &Device::flex()).unwrap();
    let err = run(
        &mut longer_gan,
        &data,
        short.path(),
        5,
        true,
        &mut no_progress,
    )
    .unwrap_err();
    assert!(
        matches!(err, ModelError::CheckpointMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("GAN phase"), "{err}");
    // Nor can a run be cut below what it has trained.
    let mut shorter = FAnoGanTrainer::new(fcfg(3, 1), &Device::flex()).unwrap();
    let err = run(&mut shorter, &data, short.path(), 5, true, &mut no_progress).unwrap_err();
    assert!(err.to_string().contains("more than this run's"), "{err}");
}

#[test]
fn mismatched_and_corrupt_checkpoints_are_refused() {
    let data = discs(8);
    let dir = tempfile::tempdir().unwrap();
    let cfg = AnoGanConfig::new(model(), train_cfg(2, 2));
    let mut t = AnoGanTrainer::new(cfg.clone(), &Device::flex()).unwrap();
    let ck = run(&mut t, &data, dir.path(), 2, false, &mut no_progress).unwrap();

    let mut fresh = AnoGanTrainer::new(cfg.clone(), &Device::flex()).unwrap();
    assert!(run(&mut fresh, &data, dir.path(), 0, true, &mut no_progress).is_err());
    let err = run(&mut fresh, &data, dir.path(), 2, false, &mut no_progress).unwrap_err();
    assert!(
        err.to_string().contains("already holds checkpoints"),
        "{err}"
    );

    let mut other = AnoGanTrainer::new(
        AnoGanConfig::new(model(), train_cfg(4, 2).with_lr(1e-4)),
        &Device::flex(),
    )
    .unwrap();
    let err = run(&mut other, &data, dir.path(), 2, true, &mut no_progress).unwrap_err();
    assert!(
        matches!(err, ModelError::CheckpointMismatch { .. }),
        "{err}"
    );
    let mut alpha = AlphaGanTrainer::new(
        AlphaGanConfig::new(
            model(),
            train_cfg(2, 2),
            CodeDiscriminatorConfig::new().with_latent_dim(8),
        ),
        &Device::flex(),
    )
    .unwrap();
    let err = run(&mut alpha, &data, dir.path(), 2, true, &mut no_progress).unwrap_err();
    assert!(err.to_string().contains("anogan"), "{err}");

    // A checkpoint's weights of another shape.
    let wider = model()
        .with_gen_width(16)
        .init_generator(&Device::flex())
        .unwrap();
    assert!(matches!(
        checkpoint::load_module(&ck, "generator", wider),
        Err(ModelError::CorruptCheckpoint { .. })
    ));
    // Truncated weights.
    let g = ck.join("generator.bpk");
    let bytes = std::fs::read(&g).unwrap();
    std::fs::write(&g, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::load_module(
        &ck,
        "generator",
        model().init_generator(&Device::flex()).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, ModelError::CorruptCheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("generator.bpk"));
    let mut again =
        AnoGanTrainer::new(AnoGanConfig::new(model(), train_cfg(4, 2)), &Device::flex()).unwrap();
    // Same model, more iterations: an extension, allowed, but the truncated weights are not.
    let err = run(&mut again, &data, dir.path(), 2, true, &mut no_progress).unwrap_err();
    assert!(matches!(err, ModelError::CorruptCheckpoint { .. }), "{err}");
    // A model.json of an unknown schema.
    let meta = ck.join("model.json");
    let text = std::fs::read_to_string(&meta)
        .unwrap()
        .replace("\"schema_version\": 1", "\"schema_version\": 99");
    std::fs::write(&meta, text).unwrap();
    assert!(matches!(
        read_meta(&ck),
        Err(ModelError::Schema { found: 99, .. })
    ));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
