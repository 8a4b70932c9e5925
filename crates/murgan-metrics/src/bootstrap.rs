//! Seeded bootstrap confidence intervals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::roc::{roc_auc, validate};
use crate::{MetricsError, Result};

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
}

/// A percentile bootstrap CI of the ROC-AUC. Resampling is stratified (normals and
/// abnormals are resampled separately, keeping their counts), so every resample has both
/// classes. The same `seed` gives the same interval.
pub fn bootstrap_auc_ci(
    labels: &[bool],
    scores: &[f64],
    resamples: usize,
    level: f64,
    seed: u64,
) -> Result<Ci> {
    validate(labels, scores)?;
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
    let pos: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|(l, _)| **l)
        .map(|(_, s)| *s)
        .collect();
    let neg: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|(l, _)| !**l)
        .map(|(_, s)| *s)
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut res_labels = Vec::with_capacity(labels.len());
    res_labels.extend(std::iter::repeat_n(true, pos.len()));
    res_labels.extend(std::iter::repeat_n(false, neg.len()));
    let mut res_scores = vec![0.0; labels.len()];
    let mut aucs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for (k, slot) in res_scores.iter_mut().enumerate() {
            *slot = if k < pos.len() {
                pos[rng.random_range(0..pos.len())]
            } else {
                neg[rng.random_range(0..neg.len())]
            };
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
    }
}
