//! `murgan score`, `murgan evaluate` and `murgan calibrate`: a trained model applied to images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use murgan_core::data::dataset::image_files;
use murgan_core::data::image::GrayImage;
use murgan_core::data::{self, Category, Filter, ImageRecord, Label, Loader, Split};
use murgan_core::metrics::{Report, ReportOptions, ScoredImage, StudyAgg};
use murgan_core::models::checkpoint;
use murgan_core::score::{Method, Scores};
use murgan_core::{AnomalyReport, Detector};
use serde_json::{Value, json};

use crate::data_args::DataArgs;

/// How to score: the model and the scoring settings (each overrides the calibrated settings).
#[derive(Args)]
pub struct ModelArgs {
    /// Checkpoint folder (holding model.json), or a training run's folder (its newest checkpoint).
    #[arg(long)]
    model: PathBuf,
    /// Scoring method: search (AnoGAN, f-AnoGAN), izi or izi-search (f-AnoGAN),
    /// reconstruction (alpha-GAN), inpainting (SQUID). Default: the calibrated one, else the
    /// model's own.
    #[arg(long)]
    method: Option<String>,
    /// Latent-search steps (the paper used 500).
    #[arg(long)]
    search_steps: Option<usize>,
    /// Latent-search restarts.
    #[arg(long)]
    restarts: Option<usize>,
    /// Latent-search early stopping: relative loss improvement per 20 steps below which an image stops.
    #[arg(long)]
    tolerance: Option<f64>,
    /// Seed of the latent search's starting points.
    #[arg(long)]
    search_seed: Option<u64>,
    /// Images per forward pass / batched search.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Backend: cpu, wgpu or cuda (default: the first compiled in, GPUs first).
    #[arg(long)]
    device: Option<String>,
}

impl ModelArgs {
    /// Loads the detector with the settings asked for on top of the calibrated ones.
    fn detector(&self) -> Result<Detector> {
        let device = murgan_core::device(self.device.as_deref())?;
        let method = self
            .method
            .as_deref()
            .map(str::parse::<Method>)
            .transpose()?;
        let detector = Detector::load_adjusted(&self.model, &device, |options| {
            if method.is_some() {
                options.method = method;
            }
            let s = &mut options.search;
            s.iterations = self.search_steps.unwrap_or(s.iterations);
            s.restarts = self.restarts.unwrap_or(s.restarts);
            s.tolerance = self.tolerance.unwrap_or(s.tolerance);
            s.seed = self.search_seed.unwrap_or(s.seed);
        })
        .with_context(|| format!("loading the model in {}", self.model.display()))?
        .with_batch_size(self.batch_size);
        if detector.meta().calibration.is_some() && detector.threshold().is_none() {
            eprintln!(
                "note: the model was calibrated with other scoring settings; no threshold applies"
            );
        }
        Ok(detector)
    }
}

/// Arguments of `murgan score`.
#[derive(Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Images (PNG, JPEG, DICOM) or folders of them (searched recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Write a heatmap overlay PNG per image into this folder.
    #[arg(long)]
    heatmaps: Option<PathBuf>,
}

/// Files as given; folders expanded to the images under them, sorted (symbolic links inside a
/// folder are not followed).
fn expand(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            out.extend(image_files(input));
        } else {
            out.push(input.clone());
        }
    }
    out
}

/// A file name for the heatmap of `path`: its path with separators as `_`.
fn heatmap_name(path: &Path) -> String {
    let stem: String = path
        .with_extension("")
        .to_string_lossy()
        .trim_start_matches(['/', '.'])
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.heatmap.png")
}

fn components_json(c: &[(String, f64)]) -> Value {
    Value::Object(c.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn print_line(json: bool, path: &Path, outcome: &Result<AnomalyReport, String>) {
    let shown = path.display().to_string();
    match (json, outcome) {
        (true, Ok(r)) => println!(
            "{}",
            json!({"path": shown, "score": r.score, "components": components_json(&r.components),
                   "is_anomalous": r.is_anomalous, "error": null})
        ),
        (true, Err(e)) => println!(
            "{}",
            json!({"path": shown, "score": null, "components": null, "is_anomalous": null, "error": e})
        ),
        (false, Ok(r)) => {
            let verdict = match r.is_anomalous {
                Some(true) => "ANOMALOUS",
                Some(false) => "normal",
                None => "uncalibrated",
            };
            let parts: Vec<String> = r
                .components
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect();
            println!("{shown}\t{:.4}\t{verdict}\t{}", r.score, parts.join(" "));
        }
        (false, Err(e)) => println!("{shown}\terror: {e}"),
    }
}

/// Runs `murgan score`.
pub fn run_score(a: ScoreArgs) -> Result<()> {
    let detector = a.model.detector()?;
    let paths = expand(&a.inputs);
    if paths.is_empty() {
        bail!("no images found in the inputs given");
    }
    if let Some(dir) = &a.heatmaps {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut failed = 0;
    for chunk in paths.chunks(a.model.batch_size.max(1)) {
        // Decode; a file that fails gets its error and the others go on.
        let decoded: Vec<Result<GrayImage, String>> = chunk
            .iter()
            .map(|p| detector.decode(p).map_err(|e| e.to_string()))
            .collect();
        let good: Vec<GrayImage> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect();
        let mut reports = match detector.score_batch(&good) {
            Ok(r) => r.into_iter().map(Ok).collect::<Vec<_>>(),
            // One bad image must not sink the batch: score each alone.
            Err(_) => good
                .iter()
                .map(|g| detector.score(g).map_err(|e| e.to_string()))
                .collect(),
        }
        .into_iter();
        for (path, dec) in chunk.iter().zip(&decoded) {
            let outcome = match dec {
                Err(e) => Err(e.clone()),
                Ok(img) => match (reports.next(), &a.heatmaps) {
                    (None, _) => Err("not scored".to_string()),
                    (Some(Ok(rep)), Some(dir)) => {
                        let out = dir.join(heatmap_name(path));
                        match rep.heatmap.write_overlay(&out, img, None) {
                            Ok(()) => Ok(rep),
                            Err(e) => Err(format!("writing {}: {e}", out.display())),
                        }
                    }
                    (Some(r), _) => r,
                },
            };
            if outcome.is_err() {
                failed += 1;
            }
            print_line(a.json, path, &outcome);
        }
    }
    if failed == paths.len() {
        bail!("all {failed} images failed");
    }
    if failed > 0 {
        eprintln!("{failed} of {} images failed", paths.len());
    }
    Ok(())
}

/// The records of `split` (and `label`, if given) in the chosen categories: those of
/// `--category`, else the model's own when they are MURA's and the data set has categories.
fn records(
    data: &DataArgs,
    detector: &Detector,
    split: Split,
    label: Option<Label>,
) -> Result<Vec<ImageRecord>> {
    let set = data.open_reporting()?;
    let mut filter = Filter::all().split(split);
    if let Some(l) = label {
        filter = filter.label(l);
    }
    let mut categories = data.categories()?;
    if categories.is_empty() {
        let own: Option<Vec<Category>> = detector
            .meta()
            .categories
            .iter()
            .map(|c| c.parse().ok())
            .collect();
        categories = own
            .filter(|_| set.records.iter().any(|r| r.category.is_some()))
            .unwrap_or_default();
        if !categories.is_empty() {
            let names: Vec<&str> = categories.iter().map(|c| c.name()).collect();
            eprintln!("categories the model was trained on: {}", names.join(","));
        }
    }
    filter.categories = categories;
    let records = set.select(&filter);
    if records.is_empty() {
        bail!("{}: no images of split {split} match", data.data.display());
    }
    Ok(records)
}

/// Loads and scores records in chunks, with a progress bar; failed files are reported and
/// skipped. Returns the records scored and their scores.
fn score_records(
    detector: &Detector,
    loader: &Loader,
    records: &[ImageRecord],
) -> Result<(Vec<ImageRecord>, Vec<Scores>)> {
    let bar = crate::output::progress_bar(records.len() as u64, "scoring");
    let (mut kept, mut scores, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let chunk = 256;
    for start in (0..records.len()).step_by(chunk) {
        let idx: Vec<usize> = (start..(start + chunk).min(records.len())).collect();
        let report = loader.load_many(records, &idx);
        failures.extend(report.failures);
        let (ids, images): (Vec<usize>, Vec<_>) = report.images.into_iter().unzip();
        scores.extend(detector.score_preprocessed(&images)?);
        kept.extend(ids.into_iter().map(|i| records[i].clone()));
        bar.set_position(idx.last().map_or(0, |l| l + 1) as u64);
    }
    bar.finish_and_clear();
    if !failures.is_empty() {
        eprintln!(
            "skipped {} images that could not be loaded:",
            failures.len()
        );
        for (p, e) in failures.iter().take(20) {
            eprintln!("  {}: {e}", p.display());
        }
    }
    if kept.is_empty() {
        bail!("no image could be loaded");
    }
    Ok((kept, scores))
}

/// Arguments of `murgan evaluate`.
#[derive(Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// The split to score.
    #[arg(long, default_value = "valid")]
    split: String,
    /// Write ROC curves and normal-vs-abnormal histograms of every component here.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Write per-image scores (one column per component) to this CSV; `murgan metrics --scores FILE --column NAME` reads it.
    #[arg(long)]
    scores_out: Option<PathBuf>,
    /// Print {"score": M, "components": {NAME: M}}, M as `murgan metrics --json` prints.
    #[arg(long)]
    json: bool,
    /// How image scores combine per study: mean or max.
    #[arg(long, default_value = "mean")]
    study_agg: String,
    /// Bootstrap resamples for the AUC's 95 % CI (0: none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn scored(records: &[ImageRecord], values: impl Iterator<Item = f64>) -> Vec<ScoredImage> {
    records
        .iter()
        .zip(values)
        .map(|(r, score)| ScoredImage {
            category: Some(r.category_name().to_string()),
            study: Some(r.study_key()),
            label: r.label.is_abnormal(),
            score,
        })
        .collect()
}

fn scores_csv(records: &[ImageRecord], scores: &[Scores], names: &[&str]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["path", "category", "study", "label", "score"];
    header.extend_from_slice(names);
    w.write_record(&header)?;
    for (r, s) in records.iter().zip(scores) {
        let mut row = vec![
            r.path.display().to_string(),
            r.category_name().to_string(),
            r.study_key(),
            r.label.as_u8().to_string(),
            s.score.to_string(),
        ];
        row.extend(
            names
                .iter()
                .map(|n| s.get(n).map_or_else(String::new, |v| v.to_string())),
        );
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!(e.to_string()))
}

/// Runs `murgan evaluate`.
pub fn run_evaluate(a: EvaluateArgs) -> Result<()> {
    let detector = a.model.detector()?;
    let split: Split = a.split.parse()?;
    let records = records(&a.data, &detector, split, None)?;
    let loader = a.data.loader(*detector.preprocess_config())?;
    eprintln!(
        "scoring {} images of {} with a {} model (method {})",
        records.len(),
        a.data.data.display(),
        detector.kind().name(),
        detector.method().name()
    );
    let (records, scores) = score_records(&detector, &loader, &records)?;
    // A threshold calibrated on other images (train normals by default) gives honest
    // sensitivity and specificity for the main score; its components have none.
    let opts = ReportOptions {
        study_agg: a.study_agg.parse::<StudyAgg>()?,
        bootstrap: a.bootstrap,
        seed: a.seed,
        threshold: detector.threshold(),
    };
    let part_opts = ReportOptions {
        threshold: None,
        ..opts
    };
    let names = detector.component_names();
    if let Some(path) = &a.scores_out {
        let bytes = scores_csv(&records, &scores, &names)?;
        data::atomic::write_atomic(path, &bytes)?;
        eprintln!("wrote {}", path.display());
    }
    let main = scored(&records, scores.iter().map(|s| s.score));
    let main_report = Report::compute(&main, &opts)?;
    let mut parts = BTreeMap::new();
    let mut part_images = Vec::new();
    for name in names {
        let images = scored(
            &records,
            scores.iter().map(|s| s.get(name).unwrap_or(f64::NAN)),
        );
        parts.insert(name.to_string(), Report::compute(&images, &part_opts)?);
        part_images.push((name.to_string(), images));
    }
    if let Some(dir) = &a.plots {
        crate::output::write_plots(dir, &main, &opts, "score")?;
        for (name, images) in &part_images {
            crate::output::write_plots(dir, images, &part_opts, name)?;
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&json!({"score": main_report, "components": parts}))?
        );
    } else {
        println!("# score (the model's main score)\n");
        print!("{}", main_report.to_markdown());
        for (name, report) in &parts {
            println!("\n# {name}\n");
            print!("{}", report.to_markdown());
        }
    }
    Ok(())
}

/// Arguments of `murgan calibrate`.
#[derive(Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// The split whose normal images set the threshold. Never the split you evaluate on.
    #[arg(long, default_value = "train")]
    split: String,
    /// Wanted specificity on those normal images.
    #[arg(long, default_value_t = 0.95)]
    specificity: f64,
}

/// Runs `murgan calibrate`.
pub fn run_calibrate(a: CalibrateArgs) -> Result<()> {
    let mut detector = a.model.detector()?;
    let split: Split = a.split.parse()?;
    if split != Split::Train {
        eprintln!(
            "warning: calibrating on the {split} split; do not report results on that split afterwards"
        );
    } else {
        eprintln!(
            "note: training images usually score lower than unseen normals, so the specificity on new images will likely be lower than asked"
        );
    }
    let records = records(&a.data, &detector, split, Some(Label::Normal))?;
    let loader = a.data.loader(*detector.preprocess_config())?;
    let (_, scores) = score_records(&detector, &loader, &records)?;
    let scores: Vec<f64> = scores.iter().map(|s| s.score).collect();
    let source = format!("{} ({split} normals)", a.data.data.display());
    let cal = detector.calibrate_scores(&scores, a.specificity, &source)?;
    println!(
        "threshold {:.6} (specificity {:.3} on {} normal images, asked {:.3}); stored in {}",
        cal.threshold,
        cal.specificity,
        cal.images,
        cal.target_specificity,
        detector.dir().join(checkpoint::META_FILE).display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmap_names_are_flat_and_distinct() {
        assert_eq!(
            heatmap_name(Path::new("/data/a/b/image1.png")),
            "data_a_b_image1.heatmap.png"
        );
        assert_ne!(
            heatmap_name(Path::new("x/study1/image1.png")),
            heatmap_name(Path::new("x/study2/image1.png"))
        );
    }
}
