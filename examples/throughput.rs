//! Throughput of murgan's real code paths, printing one JSON object on its last line with
//! the keys of `../shared/peer/anogan_torch.py`, so the two can be compared side by side.
//!
//! ```text
//! cargo run --release --example throughput -- --mode train --batch 64 --iterations 5 --json
//! ```
//!
//! Modes, each timing murgan's real code path:
//! - `latent`: AnoGAN's latent search (`murgan-score`'s `latent_search`, Adam on z, λ = 0.1,
//!   f(x) once per image): `img_iter_per_s`;
//! - `izi`: f-AnoGAN's one-pass score (`murgan-score`'s `Scorer`, method izi): `img_per_s`;
//! - `train`: one DCGAN training step, G and D (`murgan-models`' trainer): `step_s`, `img_per_s`;
//! - `squid-train`: one SQUID training step (D, then the auto-encoder, then the memory queues):
//!   `step_s`, `img_per_s`;
//! - `squid-score`: SQUID's eval-mode scoring (`Scorer`, every component): `img_per_s`.
//!
//! The DCGAN modes use the PyTorch DCGAN tutorial's networks (64×64, nz = 100, ngf = ndf = 64),
//! the SQUID modes the `xray` preset's SQUID (64×64, width 16, a 2 × 2 grid, 200-slot memories
//! read through their top 5; `--image-size` and `--width` do not apply), as in
//! `benches/squid_torch.py`. Fresh seeded weights; the images uniform noise in [-1, 1], as in the
//! peer scripts. `--device` picks cpu, wgpu or cuda.

use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use murgan_core::burn::prelude::*;
use murgan_core::models::Networks;
use murgan_core::models::init::seeded;
use murgan_core::models::nets::{DcganConfig, EncoderConfig};
use murgan_core::models::train::{
    AnoGanConfig, AnoGanTrainer, Preset, SquidTrainer, TrainConfig, Trainer, TrainingSet,
};
use murgan_core::score::{Scorer, ScoringOptions, SearchConfig, latent_search};

#[derive(Parser)]
struct Args {
    /// What to time: latent, izi, train, squid-train or squid-score.
    #[arg(long, default_value = "train")]
    mode: String,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Timed iterations.
    #[arg(long, default_value_t = 5)]
    iterations: usize,
    /// Untimed warm-up iterations.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Image side.
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Network width (ngf = ndf).
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Backend: cpu, wgpu or cuda.
    #[arg(long)]
    device: Option<String>,
    /// Print only the JSON line.
    #[arg(long)]
    json: bool,
    /// Leave the C allocator's settings alone (to measure what `tune_allocator` gives).
    #[arg(long)]
    default_allocator: bool,
}

/// `batch` images of uniform noise in [-1, 1], like the peer script.
fn noise_images(batch: usize, n: usize) -> Vec<Vec<f32>> {
    (0..batch)
        .map(|k| {
            (0..n * n)
                .map(|i| (((i * 7919 + k * 104_729) % 2001) as f32 / 1000.0) - 1.0)
                .collect()
        })
        .collect()
}

fn print_json(a: &Args, device: &murgan_core::Device, fields: &str) {
    println!(
        "{{\"impl\": \"murgan {}\", \"mode\": \"{}\", \"device\": \"{:?}\", \"batch\": {}, {fields}}}",
        env!("CARGO_PKG_VERSION"),
        a.mode,
        device,
        a.batch
    );
}

fn main() -> Result<()> {
    let a = Args::parse();
    if !a.default_allocator {
        murgan_core::tune_allocator();
    }
    let device = murgan_core::device(a.device.as_deref())?;
    let n = a.image_size;
    let model = DcganConfig::new()
        .with_image_size(n)
        .with_latent_dim(100)
        .with_gen_width(a.width)
        .with_disc_width(a.width);
    match a.mode.as_str() {
        // Training as `murgan train` runs it: on a worker of the compute pool.
        "train" => murgan_core::in_compute_pool(|| train(&a, &device, model)),
        "latent" | "izi" => score(&a, &device, model),
        "squid-train" => murgan_core::in_compute_pool(|| squid_train(&a, &device)),
        "squid-score" => squid_score(&a, &device),
        other => bail!("--mode {other}: expected latent, izi, train, squid-train or squid-score"),
    }
}

fn score(a: &Args, device: &murgan_core::Device, model: DcganConfig) -> Result<()> {
    let n = a.image_size;
    let generator = seeded(model.init_generator(device)?, 1).valid();
    let discriminator = seeded(model.init_discriminator(device)?, 2).valid();
    let x = noise_batch(a.batch, n, device);
    let t0 = if a.mode == "latent" {
        let search = |iterations| {
            latent_search(
                &generator,
                &discriminator,
                x.clone(),
                None,
                &SearchConfig::default().with_iterations(iterations),
            )
        };
        search(a.warmup)?;
        let t0 = Instant::now();
        search(a.iterations)?;
        t0
    } else {
        let encoder = EncoderConfig::new()
            .with_image_size(n)
            .with_latent_dim(100)
            .with_width(a.width)
            .with_bounded(true)
            .init(device)?;
        let networks = Networks::FAnoGan {
            generator,
            discriminator,
            encoder: Some(seeded(encoder, 3).valid()),
            kappa: 1.0,
        };
        time_scorer(a, &Scorer::new(networks, ScoringOptions::default())?, &x)?
    };
    let key = if a.mode == "latent" {
        "img_iter_per_s"
    } else {
        "img_per_s"
    };
    report_rate(a, device, n, t0, key);
    Ok(())
}

/// `batch` noise images of side `n` as one tensor.
fn noise_batch(batch: usize, n: usize, device: &murgan_core::Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(noise_images(batch, n).concat(), [batch, 1, n, n]),
        device,
    )
}

/// Scores `x` `a.warmup` times untimed, then `a.iterations` times; returns when timing began.
fn time_scorer(a: &Args, scorer: &Scorer, x: &Tensor<4>) -> Result<Instant> {
    for _ in 0..a.warmup {
        scorer.score(x.clone())?;
    }
    let t0 = Instant::now();
    for _ in 0..a.iterations {
        scorer.score(x.clone())?;
    }
    Ok(t0)
}

/// Prints the rate of `a.iterations` batches since `t0` under `key` (images, or image
/// iterations, per second).
fn report_rate(a: &Args, device: &murgan_core::Device, n: usize, t0: Instant, key: &str) {
    let dt = t0.elapsed().as_secs_f64();
    if !a.json {
        eprintln!("{} × batch {} at {n}×{n}: {dt:.2} s", a.iterations, a.batch);
    }
    let work = (a.batch * a.iterations) as f64;
    print_json(
        a,
        device,
        &format!("\"{key}\": {}, \"seconds\": {dt}", work / dt),
    );
}

fn train(a: &Args, device: &murgan_core::Device, model: DcganConfig) -> Result<()> {
    let train = TrainConfig::new()
        .with_batch_size(a.batch)
        .with_iterations(a.warmup + a.iterations);
    let trainer = AnoGanTrainer::new(AnoGanConfig::new(model, train), device)?;
    time_steps(a, device, trainer, a.image_size)
}

/// The `xray` preset's SQUID with `batch`-image batches and the given number of iterations.
fn squid_config(batch: usize, iterations: usize) -> murgan_core::models::train::SquidConfig {
    let preset = Preset::xray();
    let mut config = preset.squid(0);
    config.train = config
        .train
        .with_batch_size(batch)
        .with_iterations(iterations);
    config
}

fn squid_train(a: &Args, device: &murgan_core::Device) -> Result<()> {
    let config = squid_config(a.batch, a.warmup + a.iterations);
    let n = config.net.image_size;
    time_steps(a, device, SquidTrainer::new(config, device)?, n)
}

fn squid_score(a: &Args, device: &murgan_core::Device) -> Result<()> {
    let config = squid_config(a.batch, 1);
    let n = config.net.image_size;
    let networks = Networks::Squid {
        autoencoder: seeded(config.net.init(device)?, 5).valid(),
        discriminator: seeded(config.discriminator().init_discriminator(device)?, 2).valid(),
    };
    let scorer = Scorer::new(networks, ScoringOptions::default())?;
    let t0 = time_scorer(a, &scorer, &noise_batch(a.batch, n, device))?;
    report_rate(a, device, n, t0, "img_per_s");
    Ok(())
}

/// Times `a.iterations` training steps of `trainer` after `a.warmup` untimed ones, on a set of
/// `a.batch` noise images of side `n`.
fn time_steps<T: Trainer>(
    a: &Args,
    device: &murgan_core::Device,
    mut trainer: T,
    n: usize,
) -> Result<()> {
    let data = TrainingSet::from_images(noise_images(a.batch, n), n)?;
    for it in 0..a.warmup {
        trainer.step(it, &data)?;
    }
    let t0 = Instant::now();
    for it in a.warmup..a.warmup + a.iterations {
        trainer.step(it, &data)?;
    }
    let dt = t0.elapsed().as_secs_f64();
    let step_s = dt / a.iterations as f64;
    if !a.json {
        eprintln!(
            "{} training steps of batch {} at {n}×{n}: {dt:.2} s",
            a.iterations, a.batch
        );
    }
    print_json(
        a,
        device,
        &format!(
            "\"step_s\": {step_s}, \"img_per_s\": {}, \"seconds\": {dt}",
            a.batch as f64 / step_s
        ),
    );
    Ok(())
}
