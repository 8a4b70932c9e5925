//! One category: train each model (or resume, or reuse a finished one), score the evaluated
//! split, and measure every column.

use super::*;
use crate::table::REPORTED;

/// Trains (or resumes, or reuses) one model, checkpointing as its config says; returns its
/// final checkpoint.
fn train<T: Trainer>(mut trainer: T, data: &TrainingSet, out: &Path) -> Result<PathBuf> {
    let every = trainer.config().settings().checkpoint_every;
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

/// Each abnormal synthetic study's finding, from the generator's `synthetic_findings.csv`,
/// keyed like [`ImageRecord::study_key`] (empty for real data).
fn synthetic_findings(root: &Path) -> BTreeMap<String, String> {
    let path = [root.to_path_buf(), root.join(data::mura::MURA_DIR)]
        .into_iter()
        .map(|d| d.join(synth::FINDINGS_CSV))
        .find(|p| p.is_file());
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return BTreeMap::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(study, name)| {
            let key = study.trim().trim_end_matches('/');
            let key = key
                .strip_prefix(data::mura::MURA_DIR)
                .map_or(key, |k| k.trim_start_matches('/'));
            (key.to_string(), name.trim().to_string())
        })
        .collect()
}

/// Image-level AUC of `values` for each kind of finding against every normal image:
/// finding → (AUC, abnormal images with it).
fn auc_by_finding(
    records: &[ImageRecord],
    values: &[f64],
    findings: &BTreeMap<String, String>,
) -> BTreeMap<String, (f64, usize)> {
    let mut groups: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut normals = Vec::new();
    for (r, &v) in records.iter().zip(values) {
        if r.label.is_abnormal() {
            let kind = findings
                .get(&r.study_key())
                .map_or("unknown", String::as_str);
            groups.entry(kind).or_default().push(v);
        } else {
            normals.push(v);
        }
    }
    groups
        .into_iter()
        .filter_map(|(kind, pos)| {
            let labels: Vec<bool> = (0..pos.len() + normals.len())
                .map(|i| i < pos.len())
                .collect();
            let scores: Vec<f64> = pos.iter().chain(&normals).copied().collect();
            metrics::roc_auc(&labels, &scores)
                .ok()
                .map(|a| (kind.to_string(), (a, pos.len())))
        })
        .collect()
}

#[allow(clippy::too_many_lines)]
pub(crate) fn run_category(
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
        settings
            .model()
            .with_disc_batch_norm(settings.fanogan_disc_batch_norm),
        settings
            .train(settings.gan_iterations)
            .with_main_score(settings.fanogan_main.clone()),
    )
    .with_encoder_iterations(settings.encoder_iterations)
    .with_kappa(settings.kappa);
    let fano = train(
        FAnoGanTrainer::new(fcfg, device)?,
        &data,
        &dir.join("fanogan"),
    )?;
    let acfg = AlphaGanConfig::new(
        settings.model(),
        settings
            .train(settings.alphagan_iterations)
            .with_main_score(settings.alphagan_main.clone()),
        CodeDiscriminatorConfig::new().with_latent_dim(settings.latent_dim),
    )
    .with_lambda(settings.alphagan_lambda);
    let alpha = train(
        AlphaGanTrainer::new(acfg, device)?,
        &data,
        &dir.join("alphagan"),
    )?;

    let scfg = settings.squid();
    let squid = train(SquidTrainer::new(scfg, device)?, &data, &dir.join("squid"))?;
    // The normal references of the `combined` scores (f-AnoGAN's izi, SQUID's in-painting),
    // fitted on the training normals as `murgan train` does.
    for model in [&fano, &squid] {
        Detector::load_adjusted(model, device, |o| o.main = None)?
            .fit_reference(&data, "normal training images")?;
    }

    // Each detector keeps its model's reference (from model.json), so `combined` is a column.
    let load = |model: &Path, method, main: Option<String>| {
        Detector::load_adjusted(model, device, |o| {
            o.method = Some(method);
            o.search = settings.search.clone();
            o.main = main;
        })
    };
    let detectors = [
        ("anogan", load(&fano, Method::Search, None)?),
        (
            "fanogan",
            load(&fano, Method::Izi, settings.fanogan_main.clone())?,
        ),
        ("alphagan", load(&alpha, Method::Reconstruction, None)?),
        ("squid", load(&squid, Method::Inpainting, None)?),
    ];
    let opts = ReportOptions {
        bootstrap: settings.bootstrap,
        seed: settings.seed,
        ..Default::default()
    };
    let (mut image, mut study, mut curves) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    let findings = synthetic_findings(&set.root);
    let main_columns: Vec<&str> = settings
        .main_scores()
        .into_iter()
        .map(|(_, _, column)| column)
        .collect();
    let mut by_finding = BTreeMap::new();
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
            if !findings.is_empty() && main_columns.contains(column) {
                by_finding.insert(
                    column.to_string(),
                    auc_by_finding(&records, &values, &findings),
                );
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
    let main_best = settings
        .main_scores()
        .into_iter()
        .filter_map(|(_, _, column)| {
            image
                .get(column)
                .and_then(|e| e.auc)
                .map(|a| (column.to_string(), a))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Ok(CategoryResult {
        by_finding,
        main_best,
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
