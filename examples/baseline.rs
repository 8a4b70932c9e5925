//! The main job until the GAN models land: a per-category ROC-AUC table on MURA or on
//! synthetic radiographs, scored by a **non-learning pixel baseline** (mean absolute
//! difference to the average normal training image of the category).
//!
//! It exercises the whole pipeline murgan's GANs will use (index, preprocessing in eval
//! mode, study-level aggregation, bootstrap CIs, ROC pictures) and gives the floor any GAN
//! must beat. Nothing is selected on the valid split; higher score = more anomalous, fixed.
//!
//! ```text
//! cargo run --release --example baseline -- [--mura-root PATH] [--out DIR] [--image-size N] [--seed S]
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use murgan_core::data::{self, Category, Filter, Label, Loader, PreprocessConfig, Split, synth};
use murgan_core::metrics::{self, Report, ReportOptions, Roc, ScoredImage};

#[derive(Parser)]
struct Args {
    /// A MURA-v1.1 root; without it synthetic radiographs are generated.
    #[arg(long)]
    mura_root: Option<PathBuf>,
    /// Output folder for the table, JSON and pictures.
    #[arg(long, default_value = "out/baseline")]
    out: PathBuf,
    /// Network input size N (images become N×N), as the main job's.
    #[arg(long, default_value_t = 32)]
    image_size: u32,
    /// Studies per category of the synthetic set (the main job's).
    #[arg(long, default_value_t = 600)]
    per_category: usize,
    /// Size of the synthetic findings against the generator's default drawing (the main
    /// job's).
    #[arg(long, default_value_t = 3.0)]
    finding_scale: f32,
    /// Seed of the synthetic set and of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    murgan_core::tune_allocator();
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let (root, source) = match &args.mura_root {
        Some(root) => (root.clone(), format!("MURA at {}", root.display())),
        None => {
            let dir = args.out.join("synthetic");
            let config = synth::SynthConfig {
                studies_per_category: args.per_category,
                seed: args.seed,
                finding_scale: args.finding_scale,
                ..Default::default()
            };
            let report = synth::generate(&dir, &config, &|_, _| {})?;
            eprintln!(
                "generated {} synthetic images in {}",
                report.images,
                report.dataset_dir.display()
            );
            (dir, "synthetic radiographs (no MURA given)".to_string())
        }
    };
    let set = data::mura::open(&root)?;
    if !set.problems.is_empty() {
        eprintln!(
            "skipped {} bad entries; first: {}",
            set.problems.len(),
            set.problems[0]
        );
    }
    let loader = Loader::new(PreprocessConfig::new(args.image_size));
    let n = (args.image_size * args.image_size) as usize;
    let mut scored = Vec::new();
    let mut curves = Vec::new();
    for cat in Category::ALL {
        let train = set.select(
            &Filter::all()
                .split(Split::Train)
                .category(cat)
                .label(Label::Normal),
        );
        let valid = set.select(&Filter::all().split(Split::Valid).category(cat));
        if train.is_empty() || valid.is_empty() {
            continue;
        }
        let loaded = loader.load_all(&train);
        if loaded.images.is_empty() {
            bail!("{cat}: no normal training image could be loaded");
        }
        let mut mean = vec![0.0f64; n];
        for (_, img) in &loaded.images {
            for (m, &v) in mean.iter_mut().zip(&img.pixels) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut()
            .for_each(|m| *m /= loaded.images.len() as f64);
        let report = loader.load_all(&valid);
        for (path, err) in &report.failures {
            eprintln!("skipped {}: {err}", path.display());
        }
        let (mut labels, mut scores) = (Vec::new(), Vec::new());
        for (i, img) in &report.images {
            let score = img
                .pixels
                .iter()
                .zip(&mean)
                .map(|(&v, m)| (f64::from(v) - m).abs())
                .sum::<f64>()
                / n as f64;
            let r = &valid[*i];
            labels.push(r.label.is_abnormal());
            scores.push(score);
            scored.push(ScoredImage {
                category: Some(cat.to_string()),
                study: r.study.clone(),
                label: r.label.is_abnormal(),
                score,
            });
        }
        if let Ok(roc) = Roc::new(&labels, &scores) {
            curves.push((cat.to_string(), roc));
        }
    }
    let mut csv = String::from("category,study,label,score\n");
    for s in &scored {
        let cat = s.category.as_deref().unwrap_or("");
        let study = s.study.as_deref().unwrap_or("");
        csv.push_str(&format!(
            "{cat},{study},{},{}\n",
            u8::from(s.label),
            s.score
        ));
    }
    std::fs::write(args.out.join("scores.csv"), csv)?;
    let report = Report::compute(
        &scored,
        &ReportOptions {
            seed: args.seed,
            ..Default::default()
        },
    )?;
    let title = format!(
        "Pixel baseline (mean |x − mean normal|), {source}, {0}×{0}",
        args.image_size
    );
    let table = format!("## {title}\n\n{}", report.to_markdown());
    std::fs::write(args.out.join("table.md"), &table)?;
    std::fs::write(args.out.join("table.json"), report.to_json())?;
    let refs: Vec<(String, &Roc)> = curves.iter().map(|(k, r)| (k.clone(), r)).collect();
    metrics::roc_plot(
        &args.out.join("roc.png"),
        "Pixel baseline, image-level ROC (valid split)",
        &refs,
    )?;
    println!("{table}");
    eprintln!(
        "wrote table.md, table.json, scores.csv and roc.png to {}",
        args.out.display()
    );
    Ok(())
}
