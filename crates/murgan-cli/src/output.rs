//! What the CLI shows and draws besides its results: progress bars and spinners, reports of
//! skipped entries, and the ROC / histogram / loss charts written next to results.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use murgan_core::data;
use murgan_core::metrics::{self, ALL, ReportOptions, Roc, group_by_category};

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

pub(crate) fn spinner(what: &str) -> ProgressBar {
    let s = ProgressBar::new_spinner();
    s.set_message(what.to_string());
    s.enable_steady_tick(Duration::from_millis(120));
    s
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
