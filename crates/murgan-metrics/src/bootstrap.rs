//! Seeded bootstrap confidence intervals.
//!
//! Images of one study (and one patient) are not independent: resampling them one by one
//! gives intervals that are too narrow. [`bootstrap_auc_ci_by_group`] resamples whole groups
//! (studies) instead; [`bootstrap_auc_ci`] resamples images, for sets without studies.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::roc::{roc_auc, validate};
use crate::{MetricsError, Result};

/// What a bootstrap resample draws with replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResampleUnit {
    /// Single images, as if independent (sets without studies, or one image per study).
    Image,
    /// Whole studies with all their images (images of a study are correlated).
    Study,
}

impl ResampleUnit {
    /// `image` or `study`.
    pub fn name(self) -> &'static str {
        match self {
            ResampleUnit::Image => "image",
            ResampleUnit::Study => "study",
        }
    }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ci {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// Number of bootstrap resamples.
    pub resamples: usize,
    /// What each resample drew: images or whole studies.
    pub unit: ResampleUnit,
}

/// A percentile bootstrap CI of the ROC-AUC, resampling images independently. Resampling is
/// stratified (normals and abnormals are resampled separately, keeping their counts), so every
/// resample has both classes. The same `seed` gives the same interval.
pub fn bootstrap_auc_ci(
    labels: &[bool],
    scores: &[f64],
    resamples: usize,
    level: f64,
    seed: u64,
) -> Result<Ci> {
    validate(labels, scores)?;
    let groups: Vec<Vec<usize>> = (0..labels.len()).map(|i| vec![i]).collect();
    resample(
        labels,
        scores,
        &groups,
        resamples,
        level,
        seed,
        ResampleUnit::Image,
    )
}

/// A percentile bootstrap CI of the ROC-AUC that resamples whole groups: `groups[i]` is image
/// i's study key, and a drawn study brings all its images. Stratified by label (abnormal and
/// normal studies are drawn separately, keeping their numbers of studies). A study whose images
/// disagree on the label is an error. When every study holds one image this is
/// [`bootstrap_auc_ci`] and the unit says `image`.
pub fn bootstrap_auc_ci_by_group(
    labels: &[bool],
    scores: &[f64],
    groups: &[&str],
    resamples: usize,
    level: f64,
    seed: u64,
) -> Result<Ci> {
    validate(labels, scores)?;
    if groups.len() != labels.len() {
        return Err(MetricsError::LengthMismatch {
            labels: labels.len(),
            scores: groups.len(),
        });
    }
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, key) in groups.iter().enumerate() {
        by_key.entry(key).or_default().push(i);
    }
    for (key, members) in &by_key {
        if members.iter().any(|&i| labels[i] != labels[members[0]]) {
            return Err(MetricsError::MixedStudy {
                study: (*key).to_string(),
            });
        }
    }
    if by_key.len() == labels.len() {
        return bootstrap_auc_ci(labels, scores, resamples, level, seed);
    }
    let groups: Vec<Vec<usize>> = by_key.into_values().collect();
    resample(
        labels,
        scores,
        &groups,
        resamples,
        level,
        seed,
        ResampleUnit::Study,
    )
}

/// The stratified percentile bootstrap over `groups` (each a list of image indices sharing one
/// label): abnormal groups first, then normal ones, each drawn as many times as there are.
fn resample(
    labels: &[bool],
    scores: &[f64],
    groups: &[Vec<usize>],
    resamples: usize,
    level: f64,
    seed: u64,
    unit: ResampleUnit,
) -> Result<Ci> {
    if resamples < 10 {
        return Err(MetricsError::InvalidParameter(format!(
            "{resamples} bootstrap resamples; use at least 10"
        )));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(MetricsError::InvalidParameter(format!(
            "confidence level {level} not in (0, 1)"
        )));
    }
    let (pos, neg): (Vec<&Vec<usize>>, Vec<&Vec<usize>>) =
        groups.iter().partition(|g| labels[g[0]]);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut res_labels, mut res_scores) = (Vec::new(), Vec::new());
    let mut aucs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        res_labels.clear();
        res_scores.clear();
        for (side, label) in [(&pos, true), (&neg, false)] {
            for _ in 0..side.len() {
                for &i in side[rng.random_range(0..side.len())] {
                    res_labels.push(label);
                    res_scores.push(scores[i]);
                }
            }
        }
        aucs.push(roc_auc(&res_labels, &res_scores)?);
    }
    aucs.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let x = p * (aucs.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        aucs[lo] + (aucs[hi] - aucs[lo]) * (x - lo as f64)
    };
    let alpha = (1.0 - level) / 2.0;
    Ok(Ci {
        low: q(alpha),
        high: q(1.0 - alpha),
        level,
        resamples,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_seeded_and_brackets_the_auc() {
        let labels: Vec<bool> = (0..60).map(|i| i % 3 == 0).collect();
        let scores: Vec<f64> = (0..60)
            .map(|i| ((i * 37) % 17) as f64 + if i % 3 == 0 { 4.0 } else { 0.0 })
            .collect();
        let auc = roc_auc(&labels, &scores).unwrap();
        let a = bootstrap_auc_ci(&labels, &scores, 500, 0.95, 1).unwrap();
        let b = bootstrap_auc_ci(&labels, &scores, 500, 0.95, 1).unwrap();
        let c = bootstrap_auc_ci(&labels, &scores, 500, 0.95, 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.low < auc && auc < a.high, "{a:?} vs {auc}");
        assert!(a.high - a.low < 0.5);
        assert!(bootstrap_auc_ci(&labels, &scores, 5, 0.95, 1).is_err());
        assert!(bootstrap_auc_ci(&labels, &scores, 100, 1.0, 1).is_err());
        assert_eq!(a.unit, ResampleUnit::Image);
    }

    /// 24 studies of 5 images each; a study's images share its score (fully correlated).
    fn clustered() -> (Vec<bool>, Vec<f64>, Vec<String>) {
        let (mut labels, mut scores, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        for s in 0..24 {
            let abnormal = s % 2 == 0;
            let score = ((s * 7) % 24) as f64 + if abnormal { 5.0 } else { 0.0 };
            for _ in 0..5 {
                labels.push(abnormal);
                scores.push(score);
                keys.push(format!("study{s}"));
            }
        }
        (labels, scores, keys)
    }

    #[test]
    fn study_resampling_widens_the_interval_of_correlated_images() {
        let (labels, scores, keys) = clustered();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let images = bootstrap_auc_ci(&labels, &scores, 2000, 0.95, 3).unwrap();
        let studies = bootstrap_auc_ci_by_group(&labels, &scores, &keys, 2000, 0.95, 3).unwrap();
        assert_eq!(studies.unit, ResampleUnit::Study);
        let (wi, ws) = (images.high - images.low, studies.high - studies.low);
        // Five copies of each study make image resampling ≈ √5 too confident.
        assert!(ws > 1.5 * wi, "study width {ws}, image width {wi}");
        let auc = roc_auc(&labels, &scores).unwrap();
        assert!(studies.low <= auc && auc <= studies.high);
        // Seeded.
        let again = bootstrap_auc_ci_by_group(&labels, &scores, &keys, 2000, 0.95, 3).unwrap();
        assert_eq!(studies, again);
    }

    #[test]
    fn one_image_per_study_is_image_resampling() {
        let labels: Vec<bool> = (0..40).map(|i| i % 4 == 0).collect();
        let scores: Vec<f64> = (0..40).map(|i| ((i * 13) % 11) as f64).collect();
        let keys: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let a = bootstrap_auc_ci_by_group(&labels, &scores, &keys, 300, 0.95, 9).unwrap();
        let b = bootstrap_auc_ci(&labels, &scores, 300, 0.95, 9).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.unit, ResampleUnit::Image);
    }

    #[test]
    fn a_study_with_two_labels_is_refused() {
        let labels = [true, false, true, false];
        let scores = [0.9, 0.1, 0.8, 0.2];
        let keys = ["a", "a", "b", "c"];
        assert!(matches!(
            bootstrap_auc_ci_by_group(&labels, &scores, &keys, 100, 0.95, 0),
            Err(MetricsError::MixedStudy { study }) if study == "a"
        ));
        assert!(bootstrap_auc_ci_by_group(&labels, &scores, &keys[..3], 100, 0.95, 0).is_err());
    }
}
