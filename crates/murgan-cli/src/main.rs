//! `murgan`: synthetic radiographs, data set summaries and anomaly-detection metrics from the
//! command line.

#[cfg(feature = "pytorch")]
mod import;
mod score;
mod serve;
mod train;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use murgan_core::data::{self, Category, ClassMap, Format, synth};
use murgan_core::metrics::{self, ALL, Report, ReportOptions, Roc, StudyAgg, group_by_category};

#[derive(Parser)]
#[command(
    name = "murgan",
    version,
    about = "Unsupervised anomaly detection on X-ray images with GANs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write synthetic radiographs in MURA-v1.1's layout (PNGs and both CSVs per split).
    Synth(SynthArgs),
    /// Inspect a data set.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// ROC-AUC, AP and thresholds per category from a CSV of scores.
    Metrics(MetricsArgs),
    /// Train a GAN on the normal training images of a data set.
    Train(Box<train::TrainArgs>),
    /// Score images (files or folders) with a trained model: one line per image.
    Score(Box<score::ScoreArgs>),
    /// Score a data set's split and report ROC-AUC and AP per category for every score component.
    Evaluate(Box<score::EvaluateArgs>),
    /// Fit the anomaly threshold on normal images and store it in the model's model.json.
    Calibrate(Box<score::CalibrateArgs>),
    /// Serve the web app: upload an X-ray, see its score, verdict and heatmap; JSON API.
    Serve(serve::ServeArgs),
    /// Import PyTorch state_dict files (.pth/.pt) as a murgan checkpoint.
    #[cfg(feature = "pytorch")]
    ImportTorch(import::ImportArgs),
}

#[derive(Args)]
struct SynthArgs {
    /// Output folder; the data set is written to OUT/MURA-v1.1.
    #[arg(long)]
    out: PathBuf,
    /// Studies per category (over train and valid).
    #[arg(long, default_value_t = 30)]
    per_category: usize,
    /// Side of each square image, in pixels.
    #[arg(long, default_value_t = 128)]
    image_size: u32,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Categories to generate (default: all 7), e.g. HAND,WRIST.
    #[arg(long, value_delimiter = ',')]
    categories: Vec<String>,
    /// Fraction of abnormal studies per split.
    #[arg(long, default_value_t = 0.4)]
    abnormal_fraction: f32,
    /// Also write a picture of normal and abnormal samples per category to this PNG.
    #[arg(long)]
    preview: Option<PathBuf>,
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Counts per split × category × label, of images and of studies.
    Summary(SummaryArgs),
}

#[derive(Args)]
struct SummaryArgs {
    /// The data set: a MURA root, a folder-layout root, or a CSV manifest.
    #[arg(long)]
    root: PathBuf,
    /// Layout: mura, folder or csv.
    #[arg(long, default_value = "mura")]
    format: String,
    /// Normal class folder(s) of a folder data set, e.g. NORMAL or 0.
    #[arg(long, value_delimiter = ',')]
    normal: Vec<String>,
    /// Abnormal class folder(s) of a folder data set (default: every other class).
    #[arg(long, value_delimiter = ',')]
    abnormal: Vec<String>,
    /// Print JSON: {SPLIT: {CATEGORY: {normal_images, abnormal_images, normal_studies, abnormal_studies}}}.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MetricsArgs {
    /// CSV with a header holding at least label,score (optionally category, study).
    #[arg(long)]
    scores: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// How image scores combine per study: mean or max.
    #[arg(long, default_value = "mean")]
    study_agg: String,
    /// Write ROC curves and score histograms (PNG) to this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Bootstrap resamples for the AUC's 95 % CI (0: none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A threshold fitted on other data (e.g. on training normals): sensitivity and
    /// specificity at it are reported beside the in-sample Youden figures.
    #[arg(long)]
    threshold: Option<f64>,
    /// The column holding the scores (e.g. a component of `murgan evaluate --scores-out`).
    #[arg(long, default_value = "score")]
    column: String,
}

fn main() -> Result<()> {
    murgan_core::tune_allocator();
    match Cli::parse().command {
        Command::Synth(a) => run_synth(a),
        Command::Dataset(DatasetCommand::Summary(a)) => run_summary(a),
        Command::Metrics(a) => run_metrics(a),
        Command::Train(a) => train::run(*a),
        Command::Score(a) => score::run_score(*a),
        Command::Evaluate(a) => score::run_evaluate(*a),
        Command::Calibrate(a) => score::run_calibrate(*a),
        Command::Serve(a) => serve::run(a),
        #[cfg(feature = "pytorch")]
        Command::ImportTorch(a) => import::run(a),
    }
}

pub(crate) fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn spinner(what: &str) -> ProgressBar {
    let s = ProgressBar::new_spinner();
    s.set_message(what.to_string());
    s.enable_steady_tick(Duration::from_millis(120));
    s
}

fn run_synth(a: SynthArgs) -> Result<()> {
    let categories = if a.categories.is_empty() {
        Category::ALL.to_vec()
    } else {
        a.categories
            .iter()
            .map(|c| c.parse::<Category>())
            .collect::<Result<_, _>>()?
    };
    let config = synth::SynthConfig {
        image_size: a.image_size,
        studies_per_category: a.per_category,
        abnormal_fraction: a.abnormal_fraction,
        categories: categories.clone(),
        seed: a.seed,
        ..Default::default()
    };
    config.validate()?;
    let total = synth::plan(&config)?.len() as u64;
    let bar = progress_bar(total, "writing studies");
    let report = synth::generate(&a.out, &config, &|done, _| bar.set_position(done as u64))
        .with_context(|| format!("writing synthetic radiographs to {}", a.out.display()))?;
    bar.finish_and_clear();
    println!(
        "wrote {} images in {} studies to {}",
        report.images,
        report.studies,
        report.dataset_dir.display()
    );
    if let Some(path) = a.preview {
        let img = synth::preview(&categories, 3, a.image_size.min(128), a.seed);
        synth::write_png(&path, &img)?;
        println!("wrote preview {}", path.display());
    }
    Ok(())
}

fn run_summary(a: SummaryArgs) -> Result<()> {
    let format: Format = a.format.parse()?;
    let classes = ClassMap::from_lists(&a.normal, &a.abnormal);
    let sp = spinner(&format!("indexing {}", a.root.display()));
    let set = data::open(&a.root, format, classes.as_ref())
        .with_context(|| format!("opening {} as a {} data set", a.root.display(), a.format))?;
    sp.finish_and_clear();
    report_problems(&set.problems);
    let summary = set.summary();
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.to_markdown());
    }
    Ok(())
}

pub(crate) fn report_problems(problems: &[data::DataError]) {
    if problems.is_empty() {
        return;
    }
    eprintln!("skipped {} entries:", problems.len());
    for p in problems.iter().take(20) {
        eprintln!("  {p}");
    }
    if problems.len() > 20 {
        eprintln!("  ... and {} more", problems.len() - 20);
    }
}

fn run_metrics(a: MetricsArgs) -> Result<()> {
    let images = metrics::read_scores_csv_column(&a.scores, &a.column)?;
    let opts = ReportOptions {
        study_agg: a.study_agg.parse::<StudyAgg>()?,
        bootstrap: a.bootstrap,
        seed: a.seed,
        threshold: a.threshold,
    };
    let sp = spinner("computing metrics");
    let report = Report::compute(&images, &opts)
        .with_context(|| format!("metrics of {}", a.scores.display()))?;
    sp.finish_and_clear();
    if let Some(dir) = &a.plots {
        write_plots(dir, &images, &opts, "")?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    Ok(())
}

/// Image-level ROC curves of every category on one chart, the study-level ones on another,
/// and a histogram of normal vs abnormal scores per category.
/// File names start with `prefix_` and titles name it, when `prefix` is not empty.
pub(crate) fn write_plots(
    dir: &Path,
    images: &[metrics::ScoredImage],
    opts: &ReportOptions,
    prefix: &str,
) -> Result<()> {
    let (file, title) = if prefix.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("{prefix}_"), format!(" of {prefix}"))
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cat = |i: &metrics::ScoredImage| i.category.clone().unwrap_or_else(|| ALL.into());
    let cats: Vec<String> = images.iter().map(cat).collect();
    let groups = group_by_category(
        cats.iter()
            .zip(images)
            .map(|(c, i)| (c.as_str(), i.label, i.score)),
    );
    roc_chart(
        &dir.join(format!("{file}roc_image.png")),
        &format!("Image-level ROC{title}"),
        &groups,
    )?;
    for (cat, (l, s)) in &groups {
        let pick = |want: bool| {
            l.iter()
                .zip(s)
                .filter(|(l, _)| **l == want)
                .map(|(_, s)| *s)
                .collect::<Vec<f64>>()
        };
        metrics::histogram_plot(
            &dir.join(format!("{file}hist_{cat}.png")),
            &format!("Scores{title}, {cat}"),
            &pick(false),
            &pick(true),
            30,
        )?;
    }
    if images.iter().any(|i| i.study.is_some()) {
        let studies = metrics::study_scores(images, opts.study_agg)?;
        let groups = group_by_category(studies.iter().map(|(c, s)| (c.as_str(), s.label, s.score)));
        roc_chart(
            &dir.join(format!("{file}roc_study.png")),
            &format!("Study-level ROC{title}"),
            &groups,
        )?;
    }
    eprintln!("wrote plots to {}", dir.display());
    Ok(())
}

/// One chart with the ROC curve of every group that has both classes.
fn roc_chart(path: &Path, title: &str, groups: &metrics::Groups) -> Result<()> {
    let rocs: Vec<(String, Roc)> = groups
        .iter()
        .filter_map(|(k, (l, s))| Roc::new(l, s).ok().map(|r| (k.clone(), r)))
        .collect();
    let curves: Vec<(String, &Roc)> = rocs.iter().map(|(k, r)| (k.clone(), r)).collect();
    if !curves.is_empty() {
        metrics::roc_plot(path, title, &curves)?;
    }
    Ok(())
}
