//! The per-category ROC-AUC table of the original study, measured: for each category, train
//! AnoGAN / f-AnoGAN (one DCGAN, then the izi encoder), alpha-GAN and SQUID on the normal studies of
//! the train split, score the valid split, and report image- and study-level ROC-AUC with
//! bootstrap 95 % CIs for every score component, next to the AUCs the study reported.
//!
//! ```text
//! cargo run --release --example reproduce_table -- [--mura-root PATH | --data PATH --format folder --normal CLASS]
//!     [--out DIR] [--categories ELBOW,HAND,...] [--preset quick|paper] [--iterations N] [--image-size N] ...
//! ```
//!
//! Without data it generates synthetic radiographs and says so in the title. Finished
//! categories are not recomputed when the run is restarted with the same settings, and an
//! interrupted training resumes from its last checkpoint. Nothing is selected on the evaluated
//! split: every score's direction is fixed in code, checkpoints are the last ones, and the
//! "study-level best" column is labelled as the optimistic maximum it is.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use murgan_core::data::{
    self, Category, ClassMap, DataSet, Filter, Format, ImageRecord, Label, Loader,
    PreprocessConfig, Split, synth,
};
use murgan_core::metrics::{self, Entry, Report, ReportOptions, Roc, ScoredImage};
use murgan_core::models::ModelKind;
use murgan_core::models::nets::{CodeDiscriminatorConfig, DcganConfig, SquidNetConfig};
use murgan_core::models::train::{
    AlphaGanConfig, AlphaGanTrainer, FAnoGanConfig, FAnoGanTrainer, ModelConfig, Preset,
    SquidConfig, SquidTrainer, TrainConfig, Trainer, TrainingSet, run,
};
use murgan_core::score::{Method, SearchConfig};
use murgan_core::{Detector, Device};
use serde::{Deserialize, Serialize};

mod run;
mod table;

use run::run_category;
use table::{COLUMNS, CategoryResult, markdown};

#[derive(Parser)]
#[command(about = "Per-category ROC-AUC of AnoGAN, f-AnoGAN, alpha-GAN and SQUID")]
struct Args {
    /// A MURA-v1.1 root (or its parent).
    #[arg(long)]
    mura_root: Option<PathBuf>,
    /// Any other labelled X-ray set (one "category"); needs --format and, for folders, --normal.
    #[arg(long, conflicts_with = "mura_root")]
    data: Option<PathBuf>,
    /// Layout of --data: folder or csv.
    #[arg(long, default_value = "folder")]
    format: String,
    /// Normal class folder(s) of a folder data set.
    #[arg(long, value_delimiter = ',')]
    normal: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = "out/reproduce")]
    out: PathBuf,
    /// Categories (default: all 7).
    #[arg(long, value_delimiter = ',')]
    categories: Vec<String>,
    /// quick (a 2-core CPU, minutes for all 7 categories), xray (the recommended settings for
    /// real radiographs: equalised, each model's main score as `murgan train --preset xray`
    /// declares it), xray-gpu, or paper (the study's settings, for a GPU).
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Training iterations of each GAN (and of the izi encoder). Default: the preset's (quick:
    /// 2,000 for the DCGAN of AnoGAN and f-AnoGAN and for the izi encoder, 250 for alpha-GAN
    /// and SQUID).
    #[arg(long)]
    iterations: Option<usize>,
    /// Side N of the N×N network input.
    #[arg(long)]
    image_size: Option<usize>,
    /// Latent size.
    #[arg(long)]
    latent: Option<usize>,
    /// Network width.
    #[arg(long)]
    width: Option<usize>,
    /// Images per training batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate of the GANs.
    #[arg(long)]
    lr: Option<f64>,
    /// f-AnoGAN izi encoder iterations (default: the DCGAN's).
    #[arg(long)]
    encoder_iterations: Option<usize>,
    /// alpha-GAN iterations (default: --iterations).
    #[arg(long)]
    alphagan_iterations: Option<usize>,
    /// SQUID iterations (default: --iterations).
    #[arg(long)]
    squid_iterations: Option<usize>,
    /// Adam β₁ of the GANs.
    #[arg(long)]
    beta1: Option<f64>,
    /// Adam β₂ of the GANs.
    #[arg(long)]
    beta2: Option<f64>,
    /// f-AnoGAN's κ (weight of the feature residual).
    #[arg(long)]
    kappa: Option<f64>,
    /// alpha-GAN's λ (weight of the L1 reconstruction loss).
    #[arg(long)]
    alphagan_lambda: Option<f64>,
    /// AnoGAN latent-search steps per image.
    #[arg(long)]
    search_steps: Option<usize>,
    /// AnoGAN search: λ (weight of the discrimination loss).
    #[arg(long)]
    search_lambda: Option<f64>,
    /// AnoGAN search: Adam step size on z.
    #[arg(long)]
    search_lr: Option<f64>,
    /// AnoGAN search: restarts per image.
    #[arg(long)]
    restarts: Option<usize>,
    /// Synthetic studies per category (without data): 600 give each category about 500
    /// normal training images (docs/results.md, E18–E19).
    #[arg(long, default_value_t = 600)]
    per_category: usize,
    /// Size of the synthetic findings against the generator's default drawing (without data).
    #[arg(long, default_value_t = 3.0)]
    finding_scale: f32,
    /// Bootstrap resamples for the 95 % CIs.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of everything random (synthetic data, initialisation, batches, search, bootstrap).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend: cpu, wgpu or cuda.
    #[arg(long)]
    device: Option<String>,
}

/// Every setting that shapes the results, written beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    source: String,
    /// The synthetic set's studies per category and finding scale (`None`: real data).
    #[serde(default)]
    synthetic: Option<(usize, f32)>,
    preset: String,
    image_size: usize,
    latent_dim: usize,
    width: usize,
    batch_size: usize,
    gan_iterations: usize,
    encoder_iterations: usize,
    alphagan_iterations: usize,
    /// SQUID's training iterations.
    #[serde(default)]
    squid_iterations: usize,
    lr: f64,
    beta1: f64,
    beta2: f64,
    kappa: f64,
    alphagan_lambda: f64,
    search: SearchConfig,
    bootstrap: usize,
    seed: u64,
    /// Histogram equalisation of every image (the xray presets).
    #[serde(default)]
    equalize: bool,
    /// Real batches that refresh the discriminators' BatchNorm statistics after training.
    #[serde(default)]
    bn_refresh_batches: usize,
    /// BatchNorm in the critic of the DCGAN that AnoGAN and f-AnoGAN share (the xray presets:
    /// none).
    #[serde(default = "batch_norm_default")]
    fanogan_disc_batch_norm: bool,
    /// f-AnoGAN's declared main score (`None`: izi).
    #[serde(default)]
    fanogan_main: Option<String>,
    /// alpha-GAN's declared main score (`None`: L1); every component has its column anyway.
    #[serde(default)]
    alphagan_main: Option<String>,
    /// SQUID's declared main score (`None`: its own, −D(x̂)).
    #[serde(default)]
    squid_main: Option<String>,
}

/// Settings files written before the critic's normalisation was recorded had BatchNorm.
fn batch_norm_default() -> bool {
    true
}

impl Settings {
    fn new(a: &Args, source: String) -> Result<Self> {
        let xray = match a.preset.as_str() {
            "xray" => Some(Preset::xray()),
            "xray-gpu" => Some(Preset::xray_gpu()),
            _ => None,
        };
        // `quick` spends most of its minutes on the DCGAN that AnoGAN and f-AnoGAN share and
        // on the izi encoder: f-AnoGAN carries the main job's table (docs/results.md, E11 and
        // E18–E19), and its 2,000 + 2,000 iterations take about 100 s of a category's 130 on a
        // 2-core Zen 3; alpha-GAN and SQUID get 250 each (about 15 s apiece), the latent search
        // 50 steps (about 7 s), so that all seven categories fit in 20 minutes there.
        // (size, latent, width, batch, DCGAN iterations, alpha-GAN and SQUID iterations, lr,
        // search steps)
        let (image_size, latent_dim, width, batch_size, gan_iterations, iterations, lr, steps) =
            match (a.preset.as_str(), &xray) {
                ("quick", _) => (32, 32, 16, 32, 2000, 250, 5e-4, 50),
                ("paper", _) => (64, 128, 64, 128, 10_000, 10_000, 1e-4, 500),
                (_, Some(p)) => (
                    p.image_size,
                    p.latent_dim,
                    p.width,
                    p.batch_size,
                    p.iterations,
                    p.iterations,
                    p.lr,
                    100,
                ),
                (other, None) => {
                    bail!("--preset {other}: expected quick, xray, xray-gpu or paper")
                }
            };
        let quick = a.preset == "quick";
        let dcgan_iterations = a.iterations.unwrap_or(gan_iterations);
        let iterations = a.iterations.unwrap_or(iterations);
        let encoder_iterations = xray
            .as_ref()
            .map_or(dcgan_iterations, |p| p.encoder_iterations);
        let synthetic = (a.mura_root.is_none() && a.data.is_none())
            .then_some((a.per_category, a.finding_scale));
        Ok(Self {
            source,
            synthetic,
            preset: a.preset.clone(),
            image_size: a.image_size.unwrap_or(image_size),
            latent_dim: a.latent.unwrap_or(latent_dim),
            width: a.width.unwrap_or(width),
            batch_size: a.batch_size.unwrap_or(batch_size),
            gan_iterations: dcgan_iterations,
            encoder_iterations: a.encoder_iterations.unwrap_or(encoder_iterations),
            alphagan_iterations: a.alphagan_iterations.unwrap_or(iterations),
            squid_iterations: a.squid_iterations.unwrap_or(iterations),
            lr: a.lr.unwrap_or(lr),
            beta1: a.beta1.unwrap_or(0.5),
            beta2: a.beta2.unwrap_or(0.999),
            kappa: a.kappa.unwrap_or(1.0),
            alphagan_lambda: a.alphagan_lambda.unwrap_or(10.0),
            search: SearchConfig {
                lambda: a.search_lambda.unwrap_or(0.1),
                lr: a.search_lr.unwrap_or(0.05),
                ..SearchConfig::default()
            }
            .with_iterations(a.search_steps.unwrap_or(steps))
            .with_restarts(a.restarts.unwrap_or(1))
            .with_seed(a.seed),
            bootstrap: a.bootstrap,
            seed: a.seed,
            equalize: xray.as_ref().is_some_and(|p| p.equalize),
            bn_refresh_batches: xray.as_ref().map_or(0, |p| p.bn_refresh_batches),
            fanogan_disc_batch_norm: xray.as_ref().is_none_or(|p| p.fanogan_disc_batch_norm),
            // `combined` (chosen on real chest X-rays, docs/results.md) for the quick main job
            // too; `paper` keeps the study's izi.
            fanogan_main: match &xray {
                Some(p) => p.main_score(ModelKind::FAnoGan),
                None => quick.then(|| "combined".to_string()),
            },
            alphagan_main: xray
                .as_ref()
                .and_then(|p| p.main_score(ModelKind::AlphaGan)),
            squid_main: match xray {
                Some(p) => p.main_score(ModelKind::Squid),
                None => quick.then(|| "combined".to_string()),
            },
        })
    }

    /// Each model's declared main score, fixed by the preset before any run: (model, component,
    /// the table column that holds it).
    fn main_scores(&self) -> Vec<(&'static str, String, &'static str)> {
        let alpha = self.alphagan_main.clone().unwrap_or_else(|| "l1".into());
        let alpha_column = if alpha == "d" { "D" } else { "alpha-GAN L1" };
        vec![
            ("anogan", "score".into(), "AnoGAN"),
            (
                "fanogan",
                self.fanogan_main.clone().unwrap_or_else(|| "izi".into()),
                "f-AnoGAN",
            ),
            ("alphagan", alpha, alpha_column),
            match self.squid_main.as_deref() {
                Some("residual_coarse") => ("squid", "residual_coarse".into(), "SQUID coarse"),
                Some("combined") => ("squid", "combined".into(), "SQUID combined"),
                _ => ("squid", "inpainting".into(), "SQUID"),
            },
        ]
    }

    /// SQUID at this size: a 2 × 2 grid, the discriminator as wide as the encoder.
    fn squid(&self) -> SquidConfig {
        let net = SquidNetConfig::new()
            .with_image_size(self.image_size)
            .with_width(self.width);
        let train = self
            .train(self.squid_iterations)
            .with_main_score(self.squid_main.clone());
        SquidConfig::new(net, train).with_disc_width(self.width)
    }

    fn model(&self) -> DcganConfig {
        DcganConfig::new()
            .with_image_size(self.image_size)
            .with_latent_dim(self.latent_dim)
            .with_gen_width(self.width)
            .with_disc_width(self.width)
    }

    fn train(&self, iterations: usize) -> TrainConfig {
        TrainConfig::new()
            .with_batch_size(self.batch_size)
            .with_iterations(iterations)
            .with_lr(self.lr)
            .with_beta1(self.beta1)
            .with_beta2(self.beta2)
            .with_seed(self.seed)
            .with_checkpoint_every(iterations.div_ceil(4).max(1))
            .with_bn_refresh_batches(self.bn_refresh_batches)
    }
}

fn main() -> Result<()> {
    murgan_core::tune_allocator();
    let a = Args::parse();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let (set, source, synthetic) = if let Some(root) = &a.mura_root {
        (
            data::mura::open(root)?,
            format!("MURA-v1.1 at {}", root.display()),
            false,
        )
    } else if let Some(root) = &a.data {
        let format: Format = a.format.parse()?;
        let classes = ClassMap::from_lists(&a.normal, &[]);
        (
            data::open(root, format, classes.as_ref())?,
            format!("{}", root.display()),
            false,
        )
    } else {
        let dir = a.out.join("synthetic");
        let config = synth::SynthConfig {
            studies_per_category: a.per_category,
            seed: a.seed,
            finding_scale: a.finding_scale,
            ..Default::default()
        };
        if !synth::is_complete(&dir) {
            let report = synth::generate(&dir, &config, &|_, _| {})?;
            eprintln!(
                "generated {} synthetic images in {}",
                report.images,
                report.dataset_dir.display()
            );
        }
        (
            data::mura::open(&dir)?,
            "synthetic radiographs (no MURA given)".to_string(),
            true,
        )
    };
    if !set.problems.is_empty() {
        eprintln!(
            "skipped {} bad entries; first: {}",
            set.problems.len(),
            set.problems[0]
        );
    }
    let settings = Settings::new(&a, source.clone())?;
    let device = murgan_core::device(a.device.as_deref())?;
    let settings_path = a.out.join("settings.json");
    if let Ok(text) = std::fs::read_to_string(&settings_path) {
        let old: Option<Settings> = serde_json::from_str(&text).ok();
        if old.as_ref() != Some(&settings) {
            bail!(
                "{} holds results made with other settings; use another --out (or delete it)",
                a.out.display()
            );
        }
    }
    data::atomic::write_atomic(&settings_path, &serde_json::to_vec_pretty(&settings)?)?;

    let has_categories = set.records.iter().any(|r| r.category.is_some());
    let categories: Vec<Option<Category>> = if !has_categories {
        vec![None]
    } else if a.categories.is_empty() {
        Category::ALL.iter().copied().map(Some).collect()
    } else {
        a.categories
            .iter()
            .map(|c| c.parse().map(Some))
            .collect::<Result<_, _>>()?
    };
    let eval_split = if set.records.iter().any(|r| r.split == Split::Valid) {
        Split::Valid
    } else {
        Split::Test
    };
    let mut results = Vec::new();
    for category in categories {
        let name = category.map_or("ALL", Category::name);
        let dir = a.out.join(name);
        let done = dir.join("result.json");
        if let Ok(text) = std::fs::read_to_string(&done)
            && let Ok(r) = serde_json::from_str::<CategoryResult>(&text)
        {
            eprintln!("  {name}: done earlier, reusing {}", done.display());
            results.push(r);
            continue;
        }
        std::fs::create_dir_all(&dir)?;
        // On a worker of the compute pool: the trainings are most of the run.
        let r = murgan_core::in_compute_pool(|| {
            run_category(&set, category, eval_split, &settings, &dir, &device)
        })
        .with_context(|| format!("category {name}"))?;
        data::atomic::write_atomic(&done, &serde_json::to_vec_pretty(&r)?)?;
        eprintln!("  {name}: {:.0} s", r.seconds);
        results.push(r);
    }
    let title = format!(
        "murgan on {}{}, preset {}, {}×{}",
        source,
        if synthetic { " — NOT MURA" } else { "" },
        settings.preset,
        settings.image_size,
        settings.image_size
    );
    let table = markdown(&title, &results);
    data::atomic::write_atomic(&a.out.join("table.md"), table.as_bytes())?;
    data::atomic::write_atomic(
        &a.out.join("table.json"),
        &serde_json::to_vec_pretty(&serde_json::json!({
            "title": title,
            "settings": settings,
            "main_scores": settings
                .main_scores()
                .into_iter()
                .map(|(model, score, column)| (model, serde_json::json!({"score": score, "column": column})))
                .collect::<BTreeMap<_, _>>(),
            "categories": results,
        }))?,
    )?;
    println!("{table}");
    eprintln!(
        "wrote table.md, table.json, settings.json and per-category pictures to {}",
        a.out.display()
    );
    Ok(())
}
