//! Criterion benchmarks of one training step of every model kind through `murgan-models`'
//! trainers on the CPU backend: the DCGAN step (AnoGAN, and f-AnoGAN's GAN phase; batch 64,
//! 64×64, the PyTorch tutorial's networks), f-AnoGAN's encoder step, alpha-GAN's step, and
//! SQUID's step, the last three at the `xray` preset's sizes (64×64, width 16, batch 32).

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use murgan_core::Device;
use murgan_core::models::nets::{CodeDiscriminatorConfig, DcganConfig};
use murgan_core::models::train::{
    AlphaGanConfig, AlphaGanTrainer, AnoGanConfig, AnoGanTrainer, FAnoGanConfig, FAnoGanTrainer,
    Preset, SquidConfig, SquidTrainer, TrainConfig, Trainer, TrainingSet,
};

const N: usize = 64;

fn data(batch: usize) -> Option<TrainingSet> {
    let images: Vec<Vec<f32>> = (0..batch)
        .map(|k| {
            (0..N * N)
                .map(|i| (((i * 7919 + k * 104_729) % 2001) as f32 / 1000.0) - 1.0)
                .collect()
        })
        .collect();
    TrainingSet::from_images(images, N).ok()
}

/// Times `trainer.step` from iteration `start` on.
fn steps<T: Trainer>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut trainer: T,
    data: &TrainingSet,
    start: usize,
) {
    let mut it = start;
    g.bench_function(name, |b| {
        b.iter(|| {
            let losses = trainer.step(it, data);
            it += 1;
            losses
        })
    });
}

fn bench(c: &mut Criterion) {
    murgan_core::tune_allocator();
    let device = Device::flex();
    let (Some(b64), Some(b32)) = (data(64), data(32)) else {
        return;
    };
    let mut g = c.benchmark_group("train");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(30));

    let tutorial = DcganConfig::new().with_image_size(N);
    let long = |batch| {
        TrainConfig::new()
            .with_batch_size(batch)
            .with_iterations(usize::MAX / 2)
    };
    if let Ok(t) = AnoGanTrainer::new(AnoGanConfig::new(tutorial, long(64)), &device) {
        steps(&mut g, "flex_dcgan_train_step_b64_64px", t, &b64, 0);
    }

    let xray = Preset::xray();
    let model = xray.model();
    // One GAN iteration, then the encoder phase: the steps timed are the encoder's.
    let fcfg = FAnoGanConfig::new(model.clone(), long(32).with_iterations(1))
        .with_encoder_iterations(usize::MAX / 2);
    if let Ok(t) = FAnoGanTrainer::new(fcfg, &device) {
        steps(&mut g, "flex_fanogan_encoder_step_b32_xray", t, &b32, 1);
    }
    let code = CodeDiscriminatorConfig::new().with_latent_dim(xray.latent_dim);
    if let Ok(t) = AlphaGanTrainer::new(AlphaGanConfig::new(model, long(32), code), &device) {
        steps(&mut g, "flex_alphagan_train_step_b32_xray", t, &b32, 0);
    }
    let scfg = SquidConfig {
        train: long(32).with_lr(xray.lr),
        ..xray.squid(0)
    };
    if let Ok(t) = SquidTrainer::new(scfg, &device) {
        steps(&mut g, "flex_squid_train_step_b32_xray", t, &b32, 0);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
