//! Throughput of murgan's real code paths, printing one JSON object on its last line with
//! the keys of `../shared/peer/anogan_torch.py`, so the two can be compared side by side.
//!
//! ```text
//! cargo run --release --example throughput -- --mode train --batch 64 --iterations 5 --json
//! ```
//!
//! Modes: `train` (one DCGAN training step, G and D, through `murgan-models`' trainer:
//! `step_s`, `img_per_s`). The networks are the PyTorch DCGAN tutorial's (64×64, nz = 100,
//! ngf = ndf = 64) with fresh weights. `--device` picks cpu, wgpu or cuda.

use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use murgan_core::models::nets::DcganConfig;
use murgan_core::models::train::{AnoGanConfig, AnoGanTrainer, TrainConfig, Trainer, TrainingSet};

#[derive(Parser)]
struct Args {
    /// What to time: train.
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
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.mode != "train" {
        bail!(
            "--mode {}: this build times `train` (latent and izi come with the scoring crate)",
            a.mode
        );
    }
    let device = murgan_core::device(a.device.as_deref())?;
    let n = a.image_size;
    // Uniform noise in [-1, 1] as images, like the peer script.
    let images: Vec<Vec<f32>> = (0..a.batch)
        .map(|k| {
            (0..n * n)
                .map(|i| (((i * 7919 + k * 104_729) % 2001) as f32 / 1000.0) - 1.0)
                .collect()
        })
        .collect();
    let data = TrainingSet::from_images(images, n)?;
    let model = DcganConfig::new()
        .with_image_size(n)
        .with_latent_dim(100)
        .with_gen_width(a.width)
        .with_disc_width(a.width);
    let train = TrainConfig::new()
        .with_batch_size(a.batch)
        .with_iterations(a.warmup + a.iterations);
    let mut trainer = AnoGanTrainer::new(AnoGanConfig::new(model, train), &device)?;
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
    println!(
        "{{\"impl\": \"murgan {}\", \"mode\": \"train\", \"device\": \"{:?}\", \"batch\": {}, \"step_s\": {step_s}, \"img_per_s\": {}, \"seconds\": {dt}}}",
        env!("CARGO_PKG_VERSION"),
        device,
        a.batch,
        a.batch as f64 / step_s
    );
    Ok(())
}
