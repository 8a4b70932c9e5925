//! `murgan train`: AnoGAN, alpha-GAN or f-AnoGAN on the normal training images of a data set.

use std::path::{Path, PathBuf};

use crate::data_args::DataArgs;
use anyhow::{Context, Result, bail};
use clap::Args;
use murgan_core::data::{Filter, Label, PreprocessConfig, Split};
use murgan_core::models::ModelKind;
use murgan_core::models::nets::CodeDiscriminatorConfig;
use murgan_core::models::train::{
    AlphaGanConfig, AlphaGanTrainer, AnoGanConfig, AnoGanTrainer, DiscriminatorKind, FAnoGanConfig,
    FAnoGanTrainer, Preset, Progress, Routing, SquidTrainer, Trainer, TrainingSet, loss_series,
};

/// Arguments of `murgan train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Model: anogan, alphagan, fanogan (the GAN, then the izi encoder) or squid (in-painting
    /// auto-encoder with memory queues, judged by a discriminator).
    #[arg(long)]
    model: String,
    #[command(flatten)]
    data: DataArgs,
    /// Output folder: checkpoints/, losses.csv, losses.png.
    #[arg(long)]
    out: PathBuf,
    /// Settings to start from: quick (minutes on a 2-core CPU), xray (recommended for real
    /// radiographs: at most 30 minutes a model on a 2-core CPU), xray-gpu, or paper (the
    /// original study's, for a GPU). Each option below overrides its part.
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Side N of the N×N network input (a power of two ≥ 16).
    #[arg(long)]
    image_size: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Training iterations (f-AnoGAN: of the GAN phase).
    #[arg(long)]
    iterations: Option<usize>,
    /// f-AnoGAN: iterations of the encoder phase.
    #[arg(long)]
    encoder_iterations: Option<usize>,
    /// Write a checkpoint every N iterations.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Seed of initialisation, batches and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Adam learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Latent size.
    #[arg(long)]
    latent: Option<usize>,
    /// Network width (DCGAN's ngf = ndf).
    #[arg(long)]
    width: Option<usize>,
    /// Normalisation in the DCGAN discriminator's hidden layers: batch (DCGAN's) or none
    /// (default: the preset's; xray: none for f-AnoGAN's critic; SQUID: none; batch otherwise).
    #[arg(long)]
    disc_norm: Option<String>,
    /// alpha-GAN image discriminator: dcgan or patch.
    #[arg(long, default_value = "dcgan")]
    discriminator: String,
    /// alpha-GAN: joint (E and G share one loss, so D's verdict on reconstructions trains E
    /// too) or paper (Rosca et al.'s separate losses: E gets the L1 and code terms only).
    #[arg(long, default_value = "joint")]
    routing: String,
    /// SQUID: weight of the adversarial term BCE(D(x̂), real) in the auto-encoder's loss
    /// (default 0.005, the authors').
    #[arg(long)]
    adversarial_weight: Option<f64>,
    /// Random shift (up to this fraction of the side) and zoom (1 ± it) of every training
    /// image, drawn afresh each iteration (default: off; no preset jitters).
    #[arg(long)]
    jitter: Option<f64>,
    /// Histogram-equalise images (the xray presets always do).
    #[arg(long)]
    equalize: bool,
    /// After the GAN's last iteration, refresh the discriminator's BatchNorm statistics on this
    /// many batches of real training images (0: off).
    #[arg(long)]
    bn_refresh: Option<usize>,
    /// Continue from the newest checkpoint in OUT; with a larger --iterations (or, for a
    /// finished f-AnoGAN, --encoder-iterations), extend the run to that length.
    #[arg(long)]
    resume: bool,
    /// Backend: cpu, wgpu or cuda (default: the first compiled in, GPUs first).
    #[arg(long)]
    device: Option<String>,
}

/// The preset with every option the user gave on top.
fn settings(a: &TrainArgs) -> Result<Preset> {
    let mut p = Preset::named(&a.preset)?;
    p.image_size = a.image_size.unwrap_or(p.image_size);
    p.batch_size = a.batch_size.unwrap_or(p.batch_size);
    p.iterations = a.iterations.unwrap_or(p.iterations);
    p.encoder_iterations = a.encoder_iterations.unwrap_or(p.encoder_iterations);
    p.checkpoint_every = a.checkpoint_every.unwrap_or(p.checkpoint_every);
    p.lr = a.lr.unwrap_or(p.lr);
    p.latent_dim = a.latent.unwrap_or(p.latent_dim);
    p.width = a.width.unwrap_or(p.width);
    p.bn_refresh_batches = a.bn_refresh.unwrap_or(p.bn_refresh_batches);
    p.equalize |= a.equalize;
    Ok(p)
}

fn training_set(a: &TrainArgs, image_size: usize, equalize: bool) -> Result<TrainingSet> {
    let set = a.data.open_reporting()?;
    let mut filter = Filter::all().split(Split::Train).label(Label::Normal);
    filter.categories = a.data.categories()?;
    let records = set.select(&filter);
    if records.is_empty() {
        bail!("{}: no normal training images match", a.data.data.display());
    }
    let size = u32::try_from(image_size).context("image size")?;
    let loader = a
        .data
        .loader(PreprocessConfig::new(size).with_equalize(equalize))?;
    eprintln!("loading {} normal training images", records.len());
    let set = TrainingSet::load(&records, &loader, &a.data.data)?;
    if set.summary.failed > 0 {
        eprintln!(
            "skipped {} images that could not be loaded",
            set.summary.failed
        );
    }
    Ok(set)
}

fn drive<T: Trainer>(
    mut trainer: T,
    data: &TrainingSet,
    a: &TrainArgs,
    every: usize,
    device: &murgan_core::Device,
) -> Result<()> {
    let bar = crate::output::progress_bar(trainer.total_iterations() as u64, "training");
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let last = murgan_core::models::train::run(
        &mut trainer,
        data,
        &a.out,
        every,
        a.resume,
        &mut |p: &Progress| {
            bar.set_position(p.iteration as u64);
            bar.set_prefix(p.phase);
            let losses: Vec<String> = p
                .losses
                .iter()
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect();
            bar.set_message(losses.join("  "));
            if let Some(c) = &p.checkpoint {
                // On stderr even without a terminal: a log of what is safe on disk.
                bar.suspend(|| eprintln!("checkpoint {}", c.display()));
                // A chart that cannot be drawn is reported; training goes on.
                if let Err(e) = draw_losses(&a.out) {
                    bar.suspend(|| eprintln!("warning: losses.png not drawn: {e:#}"));
                }
            }
        },
    )?;
    bar.finish_and_clear();
    println!("trained {}; final checkpoint {}", a.model, last.display());
    // The normals' scores, for the `combined` score: part of every finished model.
    // (Loaded without its main score: `combined` cannot be computed before this.)
    let mut detector = murgan_core::Detector::load_adjusted(&last, device, |o| o.main = None)?;
    let source = format!("{} (normal training images)", a.data.data.display());
    if let Some(r) = detector.fit_reference(data, &source)? {
        let parts: Vec<String> = r
            .components
            .iter()
            .map(|c| format!("{} {:.3} ± {:.3}", c.name, c.mean, c.sd))
            .collect();
        println!(
            "fitted the normal reference on {} images: {}",
            r.images,
            parts.join(", ")
        );
    }
    Ok(())
}

/// Draws `OUT/losses.png` from `OUT/losses.csv`: every loss against the iteration, smoothed.
fn draw_losses(out: &Path) -> Result<()> {
    let series = loss_series(&out.join("losses.csv"))?;
    let png = out.join("losses.png");
    murgan_core::metrics::line_plot(&png, "Training losses", "iteration", "loss", &series)
        .with_context(|| format!("{}", png.display()))?;
    Ok(())
}

/// Runs `murgan train`.
pub fn run(a: TrainArgs) -> Result<()> {
    let kind: ModelKind = a.model.parse()?;
    if a.adversarial_weight.is_some() && kind != ModelKind::Squid {
        bail!(
            "--adversarial-weight is a SQUID setting; {} has none",
            kind.name()
        );
    }
    let device = murgan_core::device(a.device.as_deref())?;
    let p = settings(&a)?;
    let data = training_set(&a, p.image_size, p.equalize)?;
    let every = p.checkpoint_every;
    let mut model = p.model_for(kind);
    if let Some(norm) = &a.disc_norm {
        model.disc_batch_norm = match norm.to_ascii_lowercase().as_str() {
            "batch" => true,
            "none" => false,
            other => bail!("--disc-norm {other}: expected batch or none"),
        };
    }
    // No preset jitters (it did not help on the chest set's dev split); 0 is off too.
    let jitter = a
        .jitter
        .filter(|&f| f != 0.0)
        .map(murgan_core::data::Jitter::affine);
    let train = p
        .train(a.seed)
        .with_main_score(p.main_score(kind))
        .with_jitter(jitter);
    match kind {
        ModelKind::AnoGan => drive(
            AnoGanTrainer::new(AnoGanConfig::new(model, train), &device)?,
            &data,
            &a,
            every,
            &device,
        ),
        ModelKind::AlphaGan => {
            let disc = match a.discriminator.to_ascii_lowercase().as_str() {
                "dcgan" => DiscriminatorKind::Dcgan,
                "patch" | "patchgan" => DiscriminatorKind::Patch,
                other => bail!("--discriminator {other}: expected dcgan or patch"),
            };
            let routing = match a.routing.to_ascii_lowercase().as_str() {
                "joint" => Routing::Joint,
                "paper" => Routing::Paper,
                other => bail!("--routing {other}: expected joint or paper"),
            };
            let code = CodeDiscriminatorConfig::new().with_latent_dim(p.latent_dim);
            let cfg = AlphaGanConfig::new(model, train, code)
                .with_discriminator(disc)
                .with_routing(routing);
            drive(
                AlphaGanTrainer::new(cfg, &device)?,
                &data,
                &a,
                every,
                &device,
            )
        }
        ModelKind::FAnoGan => {
            let cfg =
                FAnoGanConfig::new(model, train).with_encoder_iterations(p.encoder_iterations);
            drive(
                FAnoGanTrainer::new(cfg, &device)?,
                &data,
                &a,
                every,
                &device,
            )
        }
        ModelKind::Squid => {
            let batch_norm = a.disc_norm.is_some() && model.disc_batch_norm;
            let mut cfg = p.squid(a.seed).with_disc_batch_norm(batch_norm);
            cfg.adversarial_weight = a.adversarial_weight.unwrap_or(cfg.adversarial_weight);
            cfg.train.jitter = jitter;
            drive(SquidTrainer::new(cfg, &device)?, &data, &a, every, &device)
        }
    }
}
