//! Criterion benchmarks of scoring on the CPU backend, the PyTorch DCGAN tutorial's networks
//! (64×64, nz = 100, ngf = ndf = 64, fresh seeded weights) on uniform-noise images:
//! AnoGAN's latent search (5 Adam steps per call) at batch 1, 16 and 64, and f-AnoGAN's
//! one-pass izi score at batch 64. Divide by 5 × batch for the time per image·iteration.
//! alpha-GAN's reconstruction scores and SQUID's in-painting score at batch 64 use the `xray`
//! preset's sizes (64×64, width 16, latent 64).

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use murgan_core::Device;
use murgan_core::burn::prelude::*;
use murgan_core::models::Networks;
use murgan_core::models::init::seeded;
use murgan_core::models::nets::{CodeDiscriminatorConfig, DcganConfig, EncoderConfig};
use murgan_core::models::train::{AlphaGanConfig, Preset, TrainConfig};
use murgan_core::score::{Scorer, ScoringOptions, SearchConfig, latent_search};

const N: usize = 64;
const STEPS: usize = 5;

fn images(batch: usize, device: &Device) -> Tensor<4> {
    let data: Vec<f32> = (0..batch * N * N)
        .map(|i| ((i * 7919 % 2001) as f32 / 1000.0) - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(data, [batch, 1, N, N]), device)
}

fn bench(c: &mut Criterion) {
    murgan_core::tune_allocator();
    let device = Device::flex();
    let model = DcganConfig::new().with_image_size(N);
    let (Ok(g), Ok(d), Ok(e)) = (
        model.init_generator(&device),
        model.init_discriminator(&device),
        EncoderConfig::new().with_bounded(true).init(&device),
    ) else {
        return;
    };
    let (g, d, e) = (
        seeded(g, 1).valid(),
        seeded(d, 2).valid(),
        seeded(e, 3).valid(),
    );
    let search = SearchConfig::default().with_iterations(STEPS);
    let mut group = c.benchmark_group("score");
    group.sample_size(10);
    for batch in [1, 16, 64] {
        let x = images(batch, &device);
        group.bench_function(
            format!("flex_latent_search_{STEPS}steps_b{batch}_64px"),
            |b| b.iter(|| latent_search(&g, &d, x.clone(), None, &search)),
        );
    }
    let networks = Networks::FAnoGan {
        generator: g,
        discriminator: d,
        encoder: Some(e),
        kappa: 1.0,
    };
    if let Ok(scorer) = Scorer::new(networks, ScoringOptions::default()) {
        let x = images(64, &device);
        group.bench_function("flex_izi_score_b64_64px", |b| {
            b.iter(|| scorer.score(x.clone()))
        });
    }
    let x = images(64, &device);
    let xray = Preset::xray();
    let acfg = AlphaGanConfig::new(
        xray.model(),
        TrainConfig::new(),
        CodeDiscriminatorConfig::new().with_latent_dim(xray.latent_dim),
    );
    if let (Ok(e), Ok(g), Ok(d), Ok(c)) = (
        acfg.encoder().init(&device),
        acfg.model.init_generator(&device),
        acfg.init_discriminator(&device),
        acfg.code.init(&device),
    ) {
        let networks = Networks::AlphaGan {
            encoder: seeded(e, 3),
            generator: seeded(g, 1),
            discriminator: seeded(d, 2),
            code: seeded(c, 4),
        };
        if let Ok(scorer) = Scorer::new(networks, ScoringOptions::default()) {
            group.bench_function("flex_alphagan_score_b64_xray", |b| {
                b.iter(|| scorer.score(x.clone()))
            });
        }
    }
    let scfg = xray.squid(0);
    if let (Ok(a), Ok(d)) = (
        scfg.net.init(&device),
        scfg.discriminator().init_discriminator(&device),
    ) {
        let networks = Networks::Squid {
            autoencoder: seeded(a, 5),
            discriminator: seeded(d, 2),
        };
        if let Ok(scorer) = Scorer::new(networks, ScoringOptions::default()) {
            group.bench_function("flex_squid_score_b64_xray", |b| {
                b.iter(|| scorer.score(x.clone()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
