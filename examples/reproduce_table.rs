//! The per-category ROC-AUC table of the original study, measured: for each category, train
//! AnoGAN / f-AnoGAN (one DCGAN, then the izi encoder) and alpha-GAN on the normal studies of
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
use murgan_core::models::nets::{CodeDiscriminatorConfig, DcganConfig};
use murgan_core::models::train::{
    AlphaGanConfig, AlphaGanTrainer, FAnoGanConfig, FAnoGanTrainer, Preset, TrainConfig, Trainer,
    TrainingSet, run,
};
use murgan_core::score::{Method, ScoringOptions, SearchConfig};
use murgan_core::{Detector, Device};
use serde::{Deserialize, Serialize};

/// AUCs reported by the original study for AnoGAN, per MURA category.
const REPORTED: [(&str, f64); 7] = [
    ("ELBOW", 0.88),
    ("FINGER", 0.92),
    ("FOREARM", 0.93),
    ("HAND", 0.78),
    ("HUMERUS", 0.91),
    ("SHOULDER", 0.89),
    ("WRIST", 0.97),
];

/// The scores of the table, in column order: (column name, detector, component or main score).
const COLUMNS: [(&str, &str, Option<&str>); 8] = [
    ("AnoGAN", "anogan", None),
    ("f-AnoGAN", "fanogan", None),
    ("alpha-GAN L1", "alphagan", Some("l1")),
    ("L2", "alphagan", Some("l2")),
    ("feature", "alphagan", Some("feature")),
    ("D", "alphagan", Some("d")),
    ("C", "alphagan", Some("c")),
    ("AnoGAN residual", "anogan", Some("residual")),
];

#[derive(Parser)]
#[command(about = "Per-category ROC-AUC of AnoGAN, f-AnoGAN and alpha-GAN")]
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
    /// real radiographs: equalised, f-AnoGAN scored by its discriminator; `murgan train
    /// --preset xray`'s), xray-gpu, or paper (the study's settings, for a GPU).
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Training iterations of each GAN (and of the izi encoder).
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
    /// f-AnoGAN izi encoder iterations (default: --iterations).
    #[arg(long)]
    encoder_iterations: Option<usize>,
    /// alpha-GAN iterations (default: --iterations).
    #[arg(long)]
    alphagan_iterations: Option<usize>,
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
    /// Synthetic studies per category (without data).
    #[arg(long, default_value_t = 60)]
    per_category: usize,
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
    preset: String,
    image_size: usize,
    latent_dim: usize,
    width: usize,
    batch_size: usize,
    gan_iterations: usize,
    encoder_iterations: usize,
    alphagan_iterations: usize,
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
    /// f-AnoGAN's declared main score (`None`: izi).
    #[serde(default)]
    fanogan_main: Option<String>,
    /// alpha-GAN's declared main score (`None`: L1); every component has its column anyway.
    #[serde(default)]
    alphagan_main: Option<String>,
}

impl Settings {
    fn new(a: &Args, source: String) -> Result<Self> {
        let xray = match a.preset.as_str() {
            "xray" => Some(Preset::xray()),
            "xray-gpu" => Some(Preset::xray_gpu()),
            _ => None,
        };
        let (image_size, latent_dim, width, batch_size, iterations, lr, steps) =
            match (a.preset.as_str(), &xray) {
                ("quick", _) => (32, 32, 16, 32, 300, 5e-4, 100),
                ("paper", _) => (64, 128, 64, 128, 10_000, 1e-4, 500),
                (_, Some(p)) => (
                    p.image_size,
                    p.latent_dim,
                    p.width,
                    p.batch_size,
                    p.iterations,
                    p.lr,
                    100,
                ),
                (other, None) => {
                    bail!("--preset {other}: expected quick, xray, xray-gpu or paper")
                }
            };
        let iterations = a.iterations.unwrap_or(iterations);
        let encoder_iterations = xray.as_ref().map_or(iterations, |p| p.encoder_iterations);
        Ok(Self {
            source,
            preset: a.preset.clone(),
            image_size: a.image_size.unwrap_or(image_size),
            latent_dim: a.latent.unwrap_or(latent_dim),
            width: a.width.unwrap_or(width),
            batch_size: a.batch_size.unwrap_or(batch_size),
            gan_iterations: iterations,
            encoder_iterations: a.encoder_iterations.unwrap_or(encoder_iterations),
            alphagan_iterations: a.alphagan_iterations.unwrap_or(iterations),
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
            fanogan_main: xray.as_ref().and_then(|p| p.main_score(ModelKind::FAnoGan)),
            alphagan_main: xray.and_then(|p| p.main_score(ModelKind::AlphaGan)),
        })
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

/// One row of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CategoryResult {
    category: String,
    reported_anogan: Option<f64>,
    train_normal_images: usize,
    evaluated_split: String,
    /// Image-level figures per column name.
    image: BTreeMap<String, Entry>,
    /// Study-level figures per column name.
    study: BTreeMap<String, Entry>,
    /// The highest study-level AUC over the columns (a maximum: optimistic).
    study_best: Option<(String, f64)>,
    seconds: f64,
}

fn cell(e: Option<&Entry>) -> String {
    match e.and_then(|e| e.auc.map(|a| (a, e.auc_ci_low, e.auc_ci_high))) {
        Some((a, Some(lo), Some(hi))) => format!("{a:.3} ({lo:.2}–{hi:.2})"),
        Some((a, _, _)) => format!("{a:.3}"),
        None => "–".into(),
    }
}

fn markdown(title: &str, results: &[CategoryResult]) -> String {
    let mut s = format!(
        "## {title}\n\nImage-level ROC-AUC (bootstrap 95 % CI) on the evaluated split.\n\n"
    );
    s.push_str("| category | reported AnoGAN | murgan AnoGAN | f-AnoGAN | alpha-GAN L1 | L2 | feature | D | C | study-level best |\n");
    s.push_str("|---|---:|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let reported = r.reported_anogan.map_or("–".into(), |a| format!("{a:.2}"));
        let cols: Vec<String> = COLUMNS[..7]
            .iter()
            .map(|(name, _, _)| cell(r.image.get(*name)))
            .collect();
        let best = r
            .study_best
            .as_ref()
            .map_or("–".into(), |(n, a)| format!("{a:.3} ({n})"));
        s.push_str(&format!(
            "| {} | {reported} | {} | {best} |\n",
            r.category,
            cols.join(" | ")
        ));
    }
    s.push_str(
        "\n\"study-level best\" is the highest study-level AUC over the eight scores: a maximum taken \
         on the evaluated split, so it is optimistic; the per-score study-level figures are in \
         table.json.\n",
    );
    s
}

/// Trains (or resumes, or reuses) one model; returns its final checkpoint.
fn train<T: Trainer>(
    mut trainer: T,
    data: &TrainingSet,
    out: &Path,
    every: usize,
) -> Result<PathBuf> {
    let resume = out.join("checkpoints").is_dir();
    let label = trainer.kind().name();
    let total = trainer.total_iterations();
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let last = run(&mut trainer, data, out, every, resume, &mut |p| {
        if tty && (p.iteration % 10 == 0 || p.iteration == total) {
            eprint!(
                "\r    {label}: {}/{total} ({:.0} s)   ",
                p.iteration,
                started.elapsed().as_secs_f64()
            );
        }
    })?;
    if tty {
        eprintln!();
    }
    eprintln!(
        "    trained {label} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(last)
}

/// Scores `records` with `detector`; returns the records that loaded and their scores.
fn score(
    detector: &Detector,
    records: &[ImageRecord],
) -> Result<(Vec<ImageRecord>, Vec<murgan_core::score::Scores>)> {
    let loader = Loader::new(*detector.preprocess_config());
    let report = loader.load_all(records);
    for (p, e) in &report.failures {
        eprintln!("    skipped {}: {e}", p.display());
    }
    let (idx, images): (Vec<usize>, Vec<_>) = report.images.into_iter().unzip();
    let scores = detector.score_preprocessed(&images)?;
    Ok((
        idx.into_iter().map(|i| records[i].clone()).collect(),
        scores,
    ))
}

fn scored(records: &[ImageRecord], values: &[f64], category: &str) -> Vec<ScoredImage> {
    records
        .iter()
        .zip(values)
        .map(|(r, &score)| ScoredImage {
            category: Some(category.to_string()),
            study: Some(r.study_key()),
            label: r.label.is_abnormal(),
            score,
        })
        .collect()
}

#[allow(clippy::too_many_lines)]
fn run_category(
    set: &DataSet,
    category: Option<Category>,
    eval_split: Split,
    settings: &Settings,
    dir: &Path,
    device: &Device,
) -> Result<CategoryResult> {
    let name = category.map_or("ALL", Category::name).to_string();
    let started = Instant::now();
    let mut train_filter = Filter::all().split(Split::Train).label(Label::Normal);
    let mut eval_filter = Filter::all().split(eval_split);
    if let Some(c) = category {
        train_filter = train_filter.category(c);
        eval_filter = eval_filter.category(c);
    }
    let train_records = set.select(&train_filter);
    let eval_records = set.select(&eval_filter);
    if train_records.is_empty() || eval_records.is_empty() {
        bail!("{name}: no normal training images or nothing to evaluate");
    }
    let preprocess =
        PreprocessConfig::new(settings.image_size as u32).with_equalize(settings.equalize);
    let data = TrainingSet::load(&train_records, &Loader::new(preprocess), &set.root)?;
    eprintln!(
        "  {name}: {} normal training images, {} to evaluate",
        data.len(),
        eval_records.len()
    );

    // One DCGAN + izi encoder serves AnoGAN (latent search on G and D) and f-AnoGAN (izi).
    let fcfg = FAnoGanConfig::new(
        settings.model(),
        settings
            .train(settings.gan_iterations)
            .with_main_score(settings.fanogan_main.clone()),
    )
    .with_encoder_iterations(settings.encoder_iterations)
    .with_kappa(settings.kappa);
    let every = fcfg.train.checkpoint_every;
    let fano = train(
        FAnoGanTrainer::new(fcfg, device)?,
        &data,
        &dir.join("fanogan"),
        every,
    )?;
    let acfg = AlphaGanConfig::new(
        settings.model(),
        settings
            .train(settings.alphagan_iterations)
            .with_main_score(settings.alphagan_main.clone()),
        CodeDiscriminatorConfig::new().with_latent_dim(settings.latent_dim),
    )
    .with_lambda(settings.alphagan_lambda);
    let every = acfg.train.checkpoint_every;
    let alpha = train(
        AlphaGanTrainer::new(acfg, device)?,
        &data,
        &dir.join("alphagan"),
        every,
    )?;

    let with = |method| ScoringOptions {
        method: Some(method),
        search: settings.search.clone(),
        main: None,
    };
    let detectors = [
        (
            "anogan",
            Detector::load_with(&fano, device, Some(with(Method::Search)))?,
        ),
        (
            "fanogan",
            Detector::load_with(
                &fano,
                device,
                Some(ScoringOptions {
                    main: settings.fanogan_main.clone(),
                    ..with(Method::Izi)
                }),
            )?,
        ),
        (
            "alphagan",
            Detector::load_with(&alpha, device, Some(with(Method::Reconstruction)))?,
        ),
    ];
    let opts = ReportOptions {
        bootstrap: settings.bootstrap,
        seed: settings.seed,
        ..Default::default()
    };
    let (mut image, mut study, mut curves) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    let mut csv = String::from("path,study,label,column,score\n");
    for (model, detector) in &detectors {
        let t = Instant::now();
        let (records, scores) = score(detector, &eval_records)?;
        eprintln!(
            "    scored {} images with {model} ({}) in {:.1} s",
            records.len(),
            detector.method().name(),
            t.elapsed().as_secs_f64()
        );
        for (column, _, part) in COLUMNS.iter().filter(|(_, m, _)| m == model) {
            let values: Vec<f64> = scores
                .iter()
                .map(|s| part.map_or(Some(s.score), |p| s.get(p)).unwrap_or(f64::NAN))
                .collect();
            for (r, v) in records.iter().zip(&values) {
                csv.push_str(&format!(
                    "{},{},{},{column},{v}\n",
                    r.path.display(),
                    r.study_key(),
                    r.label.as_u8()
                ));
            }
            let images = scored(&records, &values, &name);
            let report = Report::compute(&images, &opts)?;
            if let Some(e) = report.image.get(&name) {
                image.insert(column.to_string(), e.clone());
            }
            if let Some(s) = report.study.as_ref().and_then(|s| s.get(&name)) {
                study.insert(column.to_string(), s.clone());
            }
            let labels: Vec<bool> = images.iter().map(|i| i.label).collect();
            if let Ok(roc) = Roc::new(&labels, &values) {
                curves.push((column.to_string(), roc));
            }
            let pick = |want: bool| -> Vec<f64> {
                labels
                    .iter()
                    .zip(&values)
                    .filter(|(l, _)| **l == want)
                    .map(|(_, v)| *v)
                    .collect()
            };
            let file = column.to_ascii_lowercase().replace([' ', '-'], "_");
            metrics::histogram_plot(
                &dir.join(format!("hist_{file}.png")),
                &format!("{name}: {column}"),
                &pick(false),
                &pick(true),
                30,
            )?;
        }
    }
    std::fs::write(dir.join("scores.csv"), csv)?;
    let refs: Vec<(String, &Roc)> = curves.iter().map(|(k, r)| (k.clone(), r)).collect();
    metrics::roc_plot(
        &dir.join("roc.png"),
        &format!("{name}: image-level ROC"),
        &refs,
    )?;

    // The heatmap of the first abnormal image of the split (by path order, not by score).
    if let Some(r) = eval_records.iter().find(|r| r.label.is_abnormal()) {
        let detector = &detectors[1].1;
        let gray = detector.decode(&r.path)?;
        let report = detector.score(&gray)?;
        let png = report.heatmap.panel_png(&gray, None)?;
        data::atomic::write_atomic(&dir.join("heatmap.png"), &png)?;
    }
    let study_best = study
        .iter()
        .filter_map(|(n, e)| e.auc.map(|a| (n.clone(), a)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Ok(CategoryResult {
        reported_anogan: REPORTED.iter().find(|(c, _)| *c == name).map(|(_, a)| *a),
        category: name,
        train_normal_images: data.len(),
        evaluated_split: eval_split.name().to_string(),
        image,
        study,
        study_best,
        seconds: started.elapsed().as_secs_f64(),
    })
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
            ..Default::default()
        };
        if !dir.join("MURA-v1.1").is_dir() {
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
        let r = run_category(&set, category, eval_split, &settings, &dir, &device)
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
        &serde_json::to_vec_pretty(
            &serde_json::json!({"title": title, "settings": settings, "categories": results}),
        )?,
    )?;
    println!("{table}");
    eprintln!(
        "wrote table.md, table.json, settings.json and per-category pictures to {}",
        a.out.display()
    );
    Ok(())
}
