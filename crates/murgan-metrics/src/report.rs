//! Per-category reports at image and study level, serialisable to JSON, CSV and Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::bootstrap::{ResampleUnit, bootstrap_auc_ci, bootstrap_auc_ci_by_group};
use crate::roc::{Roc, at_threshold, average_precision, validate};
use crate::study::{StudyAgg, StudyScore, aggregate};
use crate::{MetricsError, Result};

/// The name under which every category together is reported.
pub const ALL: &str = "ALL";

/// One scored image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredImage {
    /// Category name (`None`: the data set has none).
    pub category: Option<String>,
    /// Study key (`None`: the image is its own study).
    pub study: Option<String>,
    /// `true` when abnormal.
    pub label: bool,
    /// Anomaly score, higher = more anomalous.
    pub score: f64,
}

/// Settings of a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// How image scores combine per study.
    pub study_agg: StudyAgg,
    /// Bootstrap resamples for the AUC's CI (0: no CI).
    pub bootstrap: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// A threshold fitted beforehand on other data (e.g. on training normals by
    /// `murgan calibrate`): sensitivity and specificity at it are reported as honest
    /// out-of-sample operating figures. `None`: no calibration.
    pub threshold: Option<f64>,
}

impl Default for ReportOptions {
    /// Mean per study, 1000 bootstrap resamples, seed 0, no calibrated threshold.
    fn default() -> Self {
        Self {
            study_agg: StudyAgg::Mean,
            bootstrap: 1000,
            seed: 0,
            threshold: None,
        }
    }
}

/// The figures of one group (a category, or all).
///
/// The `in_sample_*` figures are fitted on the very split they are reported on (Youden's J picks
/// the threshold that best separates these labels), so they are **optimistic**: no threshold
/// chosen that way is known before the labels are. The `calibrated_*` figures use a threshold
/// fitted elsewhere and are the honest operating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Normal samples.
    pub n_normal: usize,
    /// Abnormal samples.
    pub n_abnormal: usize,
    /// ROC-AUC (`null` when undefined, see `error`).
    pub auc: Option<f64>,
    /// Lower end of the bootstrap 95 % CI of the AUC.
    pub auc_ci_low: Option<f64>,
    /// Upper end of the bootstrap 95 % CI of the AUC.
    pub auc_ci_high: Option<f64>,
    /// What the bootstrap resampled: whole `study`s or single `image`s.
    pub auc_ci_unit: Option<ResampleUnit>,
    /// Average precision.
    pub ap: Option<f64>,
    /// Youden's-J threshold, fitted on this split (in-sample, optimistic).
    pub in_sample_youden_threshold: Option<f64>,
    /// Sensitivity at the in-sample Youden threshold (optimistic).
    pub in_sample_sensitivity: Option<f64>,
    /// Specificity at the in-sample Youden threshold (optimistic).
    pub in_sample_specificity: Option<f64>,
    /// The calibrated threshold the next two figures use, when one was given.
    pub calibrated_threshold: Option<f64>,
    /// Sensitivity at the calibrated threshold.
    pub calibrated_sensitivity: Option<f64>,
    /// Specificity at the calibrated threshold.
    pub calibrated_specificity: Option<f64>,
    /// Why the figures are undefined (a single class), else `null`.
    pub error: Option<String>,
}

impl Entry {
    /// Computes the figures of one group; a group with one class gets counts and an error.
    /// With `groups` (one study key per sample) the bootstrap resamples whole studies;
    /// without, single samples.
    pub fn compute(
        labels: &[bool],
        scores: &[f64],
        groups: Option<&[&str]>,
        opts: &ReportOptions,
    ) -> Result<Entry> {
        let n_abnormal = labels.iter().filter(|&&l| l).count();
        let mut entry = Entry {
            n_normal: labels.len() - n_abnormal,
            n_abnormal,
            auc: None,
            auc_ci_low: None,
            auc_ci_high: None,
            auc_ci_unit: None,
            ap: None,
            in_sample_youden_threshold: None,
            in_sample_sensitivity: None,
            in_sample_specificity: None,
            calibrated_threshold: None,
            calibrated_sensitivity: None,
            calibrated_specificity: None,
            error: None,
        };
        match validate(labels, scores) {
            Ok(_) => {}
            Err(e @ (MetricsError::SingleClass { .. } | MetricsError::Empty)) => {
                entry.error = Some(e.to_string());
                return Ok(entry);
            }
            Err(e) => return Err(e),
        }
        let roc = Roc::new(labels, scores)?;
        let (t, _) = roc.youden();
        let op = at_threshold(labels, scores, t)?;
        entry.auc = Some(roc.area_under_curve());
        entry.ap = Some(average_precision(labels, scores)?);
        entry.in_sample_youden_threshold = Some(t);
        entry.in_sample_sensitivity = Some(op.sensitivity);
        entry.in_sample_specificity = Some(op.specificity);
        if let Some(t) = opts.threshold {
            let op = at_threshold(labels, scores, t)?;
            entry.calibrated_threshold = Some(t);
            entry.calibrated_sensitivity = Some(op.sensitivity);
            entry.calibrated_specificity = Some(op.specificity);
        }
        if opts.bootstrap > 0 {
            let ci = match groups {
                Some(g) => {
                    bootstrap_auc_ci_by_group(labels, scores, g, opts.bootstrap, 0.95, opts.seed)?
                }
                None => bootstrap_auc_ci(labels, scores, opts.bootstrap, 0.95, opts.seed)?,
            };
            entry.auc_ci_low = Some(ci.low);
            entry.auc_ci_high = Some(ci.high);
            entry.auc_ci_unit = Some(ci.unit);
        }
        Ok(entry)
    }
}

/// Image-level and (when studies are known) study-level figures per category and for `ALL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Category → image-level figures (`ALL` included).
    pub image: BTreeMap<String, Entry>,
    /// Category → study-level figures, when the input has studies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study: Option<BTreeMap<String, Entry>>,
}

/// Labels and scores grouped by category, plus every item under [`ALL`].
pub type Groups = BTreeMap<String, (Vec<bool>, Vec<f64>)>;

/// Groups `(category, label, score)` items by category and adds the [`ALL`] group.
pub fn group_by_category<'a>(items: impl IntoIterator<Item = (&'a str, bool, f64)>) -> Groups {
    let mut groups = Groups::new();
    for (cat, label, score) in items {
        for key in groups_of(cat) {
            let g = groups.entry(key.to_string()).or_default();
            g.0.push(label);
            g.1.push(score);
        }
    }
    groups
}

/// The groups an item of category `cat` is reported in: its category and [`ALL`] (once).
fn groups_of(cat: &str) -> impl Iterator<Item = &str> {
    std::iter::once(cat).chain((cat != ALL).then_some(ALL))
}

fn per_category(
    groups: &Groups,
    keys: Option<&BTreeMap<String, Vec<String>>>,
    opts: &ReportOptions,
) -> Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    for (cat, (l, s)) in groups {
        if cat == ALL {
            validate(l, s)?;
        }
        let cat_keys: Option<Vec<&str>> = keys
            .and_then(|k| k.get(cat))
            .map(|k| k.iter().map(String::as_str).collect());
        out.insert(
            cat.clone(),
            Entry::compute(l, s, cat_keys.as_deref(), opts)?,
        );
    }
    Ok(out)
}

/// Each image's study key (qualified by category, as in [`study_scores`]), grouped like
/// [`group_by_category`] groups the images.
fn study_keys_by_category(images: &[ScoredImage]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, i) in images.iter().enumerate() {
        let key = study_key(i, k);
        for cat in groups_of(category_of(i)) {
            out.entry(cat.to_string()).or_default().push(key.clone());
        }
    }
    out
}

const SEP: char = '\u{1f}';

/// Image `k`'s study key, unique across categories; an image without a study stands alone.
fn study_key(i: &ScoredImage, k: usize) -> String {
    match &i.study {
        Some(s) => format!("{}{SEP}{s}", category_of(i)),
        None => format!("{}{SEP}{SEP}image{k}", category_of(i)),
    }
}

/// The category name of an image: its category, or [`ALL`].
fn category_of(i: &ScoredImage) -> &str {
    i.category.as_deref().unwrap_or(ALL)
}

/// Study-level scores with their category. Study keys are taken per category (the same
/// study name in two categories is two studies); an image without a study stands alone.
pub fn study_scores(images: &[ScoredImage], agg: StudyAgg) -> Result<Vec<(String, StudyScore)>> {
    let keys: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(k, i)| study_key(i, k))
        .collect();
    let studies = aggregate(
        keys.iter()
            .zip(images)
            .map(|(k, i)| (k.as_str(), i.label, i.score)),
        agg,
    )?;
    Ok(studies
        .into_iter()
        .map(|s| {
            let (cat, study) = s.study.split_once(SEP).unwrap_or((ALL, &s.study));
            let (cat, study) = (cat.to_string(), study.to_string());
            (cat, StudyScore { study, ..s })
        })
        .collect())
}

impl Report {
    /// Computes the report. Fails on an empty input, NaN scores, a study mixing labels, or
    /// when the data as a whole has a single class; a category with a single class gets an
    /// entry with its counts and an `error`.
    pub fn compute(images: &[ScoredImage], opts: &ReportOptions) -> Result<Report> {
        if images.is_empty() {
            return Err(MetricsError::Empty);
        }
        let has_studies = images.iter().any(|i| i.study.is_some());
        // Image level: a study's images are resampled together (their scores correlate).
        let keys = has_studies.then(|| study_keys_by_category(images));
        let image = per_category(
            &group_by_category(images.iter().map(|i| (category_of(i), i.label, i.score))),
            keys.as_ref(),
            opts,
        )?;
        let study = if has_studies {
            let studies = study_scores(images, opts.study_agg)?;
            let mut entries = per_category(
                &group_by_category(studies.iter().map(|(c, s)| (c.as_str(), s.label, s.score))),
                None,
                opts,
            )?;
            // Each sample here is a study.
            for e in entries.values_mut() {
                if e.auc_ci_unit.is_some() {
                    e.auc_ci_unit = Some(ResampleUnit::Study);
                }
            }
            Some(entries)
        } else {
            None
        };
        Ok(Report { image, study })
    }

    /// Pretty JSON: `{"image": {CAT: {...}}, "study": {...}}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// CSV with one row per level × category.
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "level,category,n_normal,n_abnormal,auc,auc_ci_low,auc_ci_high,auc_ci_unit,ap,in_sample_youden_threshold,in_sample_sensitivity,in_sample_specificity,calibrated_threshold,calibrated_sensitivity,calibrated_specificity,error\n",
        );
        let f = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        for (level, map) in self.levels() {
            for (cat, e) in map {
                let _ = writeln!(
                    s,
                    "{level},{cat},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    e.n_normal,
                    e.n_abnormal,
                    f(e.auc),
                    f(e.auc_ci_low),
                    f(e.auc_ci_high),
                    e.auc_ci_unit.map_or("", ResampleUnit::name),
                    f(e.ap),
                    f(e.in_sample_youden_threshold),
                    f(e.in_sample_sensitivity),
                    f(e.in_sample_specificity),
                    f(e.calibrated_threshold),
                    f(e.calibrated_sensitivity),
                    f(e.calibrated_specificity),
                    e.error.as_deref().unwrap_or("").replace(',', ";")
                );
            }
        }
        s
    }

    /// A Markdown table with one row per level × category. The Youden columns are marked
    /// in-sample (fitted on the reported split, optimistic); calibrated columns appear when a
    /// calibrated threshold was given.
    pub fn to_markdown(&self) -> String {
        let calibrated = self
            .levels()
            .iter()
            .any(|(_, m)| m.values().any(|e| e.calibrated_threshold.is_some()));
        let mut s = String::from(
            "| level | category | normal | abnormal | ROC-AUC (95% CI, resampled by) | AP | sens. @ Youden (in-sample) | spec. @ Youden (in-sample) |",
        );
        s.push_str(if calibrated {
            " sens. @ calibrated | spec. @ calibrated |\n|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n"
        } else {
            "\n|---|---|---:|---:|---|---:|---:|---:|\n"
        });
        let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
        for (level, map) in self.levels() {
            for (cat, e) in map {
                let auc = match (e.auc, e.auc_ci_low, e.auc_ci_high, e.auc_ci_unit) {
                    (Some(a), Some(l), Some(h), Some(u)) => {
                        format!("{a:.3} ({l:.3}–{h:.3}, {})", u.name())
                    }
                    (Some(a), _, _, _) => format!("{a:.3}"),
                    _ => format!("– ({})", e.error.as_deref().unwrap_or("undefined")),
                };
                let _ = write!(
                    s,
                    "| {level} | {cat} | {} | {} | {auc} | {} | {} | {} |",
                    e.n_normal,
                    e.n_abnormal,
                    f(e.ap),
                    f(e.in_sample_sensitivity),
                    f(e.in_sample_specificity)
                );
                if calibrated {
                    let _ = write!(
                        s,
                        " {} | {} |",
                        f(e.calibrated_sensitivity),
                        f(e.calibrated_specificity)
                    );
                }
                s.push('\n');
            }
        }
        s
    }

    fn levels(&self) -> Vec<(&'static str, &BTreeMap<String, Entry>)> {
        let mut v = vec![("image", &self.image)];
        if let Some(s) = &self.study {
            v.push(("study", s));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(cat: &str, study: &str, label: bool, score: f64) -> ScoredImage {
        ScoredImage {
            category: Some(cat.into()),
            study: Some(study.into()),
            label,
            score,
        }
    }

    #[test]
    fn report_per_category_and_study() {
        let images = vec![
            img("HAND", "s1", false, 0.1),
            img("HAND", "s1", false, 0.3),
            img("HAND", "s2", true, 0.9),
            img("HAND", "s3", true, 0.2),
            img("WRIST", "s1", false, 0.5),
            img("WRIST", "s4", false, 0.6),
        ];
        let opts = ReportOptions {
            bootstrap: 0,
            ..Default::default()
        };
        let r = Report::compute(&images, &opts).unwrap();
        let hand = &r.image["HAND"];
        assert_eq!((hand.n_normal, hand.n_abnormal), (2, 2));
        assert_eq!(hand.auc, Some(0.75));
        let wrist = &r.image["WRIST"];
        assert!(wrist.auc.is_none() && wrist.error.as_deref().unwrap_or("").contains("normal"));
        let all = &r.image[ALL];
        assert_eq!((all.n_normal, all.n_abnormal), (4, 2));
        // HAND studies: s1 mean 0.2 (normal), s2 0.9, s3 0.2 → AUC (1 + 0.5)/2.
        let study = r.study.as_ref().unwrap();
        assert_eq!(study["HAND"].n_normal, 1);
        assert_eq!(study["HAND"].auc, Some(0.75));
        // WRIST s1 is a different study from HAND s1.
        assert_eq!(study[ALL].n_normal, 3);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["image"]["HAND"]["auc"], 0.75);
        assert!(json["study"]["ALL"]["ap"].is_number());
        assert!(
            r.to_csv()
                .lines()
                .any(|l| l.starts_with("study,HAND,1,2,0.750000"))
        );
        assert!(r.to_markdown().contains("| image | HAND | 2 | 2 | 0.750 |"));
    }

    #[test]
    fn youden_figures_are_marked_in_sample_and_calibrated_ones_use_the_given_threshold() {
        let images = vec![
            img("HAND", "s1", false, 0.1),
            img("HAND", "s2", false, 0.4),
            img("HAND", "s3", false, 0.6),
            img("HAND", "s4", true, 0.5),
            img("HAND", "s5", true, 0.9),
        ];
        let plain = ReportOptions {
            bootstrap: 0,
            ..Default::default()
        };
        let r = Report::compute(&images, &plain).unwrap();
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let hand = &json["image"]["HAND"];
        assert!(hand["in_sample_sensitivity"].is_number());
        assert!(
            hand.get("sensitivity").is_none(),
            "unlabelled in-sample figure"
        );
        assert!(hand["calibrated_sensitivity"].is_null());
        let md = r.to_markdown();
        assert!(md.contains("sens. @ Youden (in-sample)"), "{md}");
        assert!(!md.contains("calibrated"), "{md}");

        // A threshold fitted elsewhere: 0.55 → normals 0.1, 0.4 below, 0.6 above; abnormal 0.9 above.
        let cal = ReportOptions {
            threshold: Some(0.55),
            ..plain
        };
        let r = Report::compute(&images, &cal).unwrap();
        let e = &r.image["HAND"];
        assert_eq!(e.calibrated_threshold, Some(0.55));
        assert_eq!(e.calibrated_sensitivity, Some(0.5));
        assert!((e.calibrated_specificity.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // The in-sample Youden point is at least as good as any fixed threshold.
        let j = |s: Option<f64>, p: Option<f64>| s.unwrap() + p.unwrap();
        assert!(
            j(e.in_sample_sensitivity, e.in_sample_specificity)
                >= j(e.calibrated_sensitivity, e.calibrated_specificity)
        );
        assert!(r.to_markdown().contains("sens. @ calibrated"));
        assert!(r.to_csv().contains(",0.550000,0.500000,0.666667,"));
    }

    #[test]
    fn image_level_ci_resamples_studies_when_studies_have_several_images() {
        let mut images = Vec::new();
        for s in 0..16 {
            for _ in 0..3 {
                images.push(img("HAND", &format!("s{s}"), s % 2 == 0, (s % 5) as f64));
            }
        }
        let opts = ReportOptions {
            bootstrap: 200,
            ..Default::default()
        };
        let r = Report::compute(&images, &opts).unwrap();
        assert_eq!(r.image["HAND"].auc_ci_unit, Some(ResampleUnit::Study));
        assert_eq!(r.image[ALL].auc_ci_unit, Some(ResampleUnit::Study));
        assert_eq!(
            r.study.as_ref().unwrap()["HAND"].auc_ci_unit,
            Some(ResampleUnit::Study)
        );
        assert!(r.to_markdown().contains(", study) |"));
        // Without studies, images are the unit.
        let loose: Vec<ScoredImage> = images
            .iter()
            .map(|i| ScoredImage {
                study: None,
                ..i.clone()
            })
            .collect();
        let r = Report::compute(&loose, &opts).unwrap();
        assert_eq!(r.image["HAND"].auc_ci_unit, Some(ResampleUnit::Image));
        assert!(r.study.is_none());
    }

    #[test]
    fn report_errors() {
        assert!(matches!(
            Report::compute(&[], &ReportOptions::default()),
            Err(MetricsError::Empty)
        ));
        let one_class = [img("HAND", "a", false, 0.1), img("HAND", "b", false, 0.2)];
        assert!(matches!(
            Report::compute(&one_class, &ReportOptions::default()),
            Err(MetricsError::SingleClass { .. })
        ));
        let nan = [
            img("HAND", "a", false, f64::NAN),
            img("HAND", "b", true, 0.2),
        ];
        assert!(matches!(
            Report::compute(&nan, &ReportOptions::default()),
            Err(MetricsError::NanScore { .. })
        ));
    }
}
