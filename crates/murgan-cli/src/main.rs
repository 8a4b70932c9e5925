//! `murgan`: synthetic radiographs, data set summaries and anomaly-detection metrics from the
//! command line.

mod data_args;
#[cfg(feature = "pytorch")]
mod import;
mod output;
mod score;
#[cfg(feature = "serve")]
mod serve;
mod train;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use data_args::DataArgs;
use murgan_core::data::{Category, Filter, synth};
use murgan_core::metrics::{self, Report, ReportOptions, StudyAgg};
use output::{progress_bar, spinner, write_plots};

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
    #[cfg(feature = "serve")]
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
    /// Size of every finding against its default drawing (0.25–8); larger findings stay
    /// visible in images shrunk for a small network.
    #[arg(long, default_value_t = 1.0)]
    finding_scale: f32,
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
    #[command(flatten)]
    data: DataArgs,
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
    murgan_core::default_sigpipe();
    match Cli::parse().command {
        Command::Synth(a) => run_synth(a),
        Command::Dataset(DatasetCommand::Summary(a)) => run_summary(a),
        Command::Metrics(a) => run_metrics(a),
        // Training runs on a worker of the compute pool (see `in_compute_pool`).
        Command::Train(a) => murgan_core::in_compute_pool(|| train::run(*a)),
        Command::Score(a) => score::run_score(*a),
        Command::Evaluate(a) => score::run_evaluate(*a),
        Command::Calibrate(a) => score::run_calibrate(*a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(a),
        #[cfg(feature = "pytorch")]
        Command::ImportTorch(a) => import::run(a),
    }
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
        finding_scale: a.finding_scale,
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
        let img = synth::preview(
            &categories,
            3,
            a.image_size.min(128),
            a.seed,
            a.finding_scale,
        );
        synth::write_png(&path, &img)?;
        println!("wrote preview {}", path.display());
    }
    Ok(())
}

fn run_summary(a: SummaryArgs) -> Result<()> {
    let sp = spinner(&format!("indexing {}", a.data.data.display()));
    let set = a.data.open();
    sp.finish_and_clear();
    let mut set = set?;
    output::report_problems(&set.problems);
    let mut filter = Filter::all();
    filter.categories = a.data.categories()?;
    set.records = set.select(&filter);
    let summary = set.summary();
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.to_markdown());
    }
    Ok(())
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
