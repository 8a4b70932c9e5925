//! ROC-AUC (exact, ties counted half), the ROC curve, average precision and thresholds.
//!
//! Convention everywhere: `labels[i] == true` means abnormal (the positive class), a higher
//! score means more anomalous, and an image is called abnormal when `score >= threshold`.

use serde::{Deserialize, Serialize};

use crate::{MetricsError, Result};

/// Checks that labels and scores pair up, are non-empty, hold both classes and no NaN.
/// Returns (number of normals, number of abnormals).
pub fn validate(labels: &[bool], scores: &[f64]) -> Result<(usize, usize)> {
    if labels.len() != scores.len() {
        return Err(MetricsError::LengthMismatch {
            labels: labels.len(),
            scores: scores.len(),
        });
    }
    if labels.is_empty() {
        return Err(MetricsError::Empty);
    }
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(MetricsError::NanScore { index });
    }
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 {
        return Err(MetricsError::SingleClass {
            present: "normal",
            n: neg,
        });
    }
    if neg == 0 {
        return Err(MetricsError::SingleClass {
            present: "abnormal",
            n: pos,
        });
    }
    Ok((neg, pos))
}

/// Exact ROC-AUC by the Mann–Whitney U statistic with mid-ranks for ties, in O(n log n):
/// the probability that a random abnormal scores above a random normal, ties counting ½.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    let (neg, pos) = validate(labels, scores)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid_rank = (i + j + 2) as f64 / 2.0;
        let pos_in_group = order[i..=j].iter().filter(|&&k| labels[k]).count();
        rank_sum_pos += mid_rank * pos_in_group as f64;
        i = j + 1;
    }
    let u = rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0;
    Ok(u / (pos as f64 * neg as f64))
}

/// A ROC curve: one point per distinct threshold, from (0, 0) to (1, 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roc {
    /// False-positive rates (1 − specificity), non-decreasing.
    pub fpr: Vec<f64>,
    /// True-positive rates (sensitivity), non-decreasing.
    pub tpr: Vec<f64>,
    /// Thresholds, decreasing; the first is +∞ (nothing called abnormal).
    pub thresholds: Vec<f64>,
    /// Number of normals.
    pub n_normal: usize,
    /// Number of abnormals.
    pub n_abnormal: usize,
}

/// Cumulative (false positives, true positives) at each distinct score, highest first.
fn cumulative_counts(labels: &[bool], scores: &[f64]) -> Vec<(f64, usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out: Vec<(f64, usize, usize)> = Vec::new();
    let (mut fp, mut tp) = (0, 0);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_group = order.get(k + 1).is_none_or(|&n| scores[n] != scores[i]);
        if last_of_group {
            out.push((scores[i], fp, tp));
        }
    }
    out
}

impl Roc {
    /// Computes the ROC curve.
    pub fn new(labels: &[bool], scores: &[f64]) -> Result<Self> {
        let (neg, pos) = validate(labels, scores)?;
        let mut roc = Roc {
            fpr: vec![0.0],
            tpr: vec![0.0],
            thresholds: vec![f64::INFINITY],
            n_normal: neg,
            n_abnormal: pos,
        };
        for (t, fp, tp) in cumulative_counts(labels, scores) {
            roc.fpr.push(fp as f64 / neg as f64);
            roc.tpr.push(tp as f64 / pos as f64);
            roc.thresholds.push(t);
        }
        Ok(roc)
    }

    /// Area under the curve by the trapezoid rule (equal to [`roc_auc`]).
    pub fn area_under_curve(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0)
            .sum()
    }

    /// The threshold maximising Youden's J = sensitivity + specificity − 1, and J itself.
    /// On ties the higher threshold (fewer false alarms) wins.
    pub fn youden(&self) -> (f64, f64) {
        let mut best = (
            self.thresholds.get(1).copied().unwrap_or(f64::INFINITY),
            f64::NEG_INFINITY,
        );
        for k in 1..self.thresholds.len() {
            let j = self.tpr[k] - self.fpr[k];
            if j > best.1 {
                best = (self.thresholds[k], j);
            }
        }
        best
    }
}

/// Average precision as scikit-learn's `average_precision_score`:
/// AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds, highest first.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Result<f64> {
    let (_, pos) = validate(labels, scores)?;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (_, fp, tp) in cumulative_counts(labels, scores) {
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// Sensitivity and specificity when `score >= threshold` is called abnormal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Operating {
    /// The threshold.
    pub threshold: f64,
    /// True-positive rate.
    pub sensitivity: f64,
    /// True-negative rate.
    pub specificity: f64,
}

/// Sensitivity and specificity at `threshold`.
pub fn at_threshold(labels: &[bool], scores: &[f64], threshold: f64) -> Result<Operating> {
    let (neg, pos) = validate(labels, scores)?;
    let (mut tp, mut tn) = (0, 0);
    for (&l, &s) in labels.iter().zip(scores) {
        match (l, s >= threshold) {
            (true, true) => tp += 1,
            (false, false) => tn += 1,
            _ => {}
        }
    }
    Ok(Operating {
        threshold,
        sensitivity: tp as f64 / pos as f64,
        specificity: tn as f64 / neg as f64,
    })
}

/// The lowest threshold (so the highest sensitivity) whose specificity on these scores is
/// at least `target`. Needs only normal scores, so it can be fitted on normals alone.
pub fn threshold_for_specificity(normal_scores: &[f64], target: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&target) {
        return Err(MetricsError::InvalidParameter(format!(
            "target specificity {target} not in [0, 1]"
        )));
    }
    if normal_scores.is_empty() {
        return Err(MetricsError::Empty);
    }
    if let Some(index) = normal_scores.iter().position(|s| s.is_nan()) {
        return Err(MetricsError::NanScore { index });
    }
    let mut sorted = normal_scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    // Specificity at threshold t = #(normal < t) / n. Candidates: each distinct normal score
    // (below which lie its predecessors), and just above the maximum.
    let mut k = 0;
    while k < n {
        let below = k; // sorted[..k] < sorted[k] since k starts each run of equal values
        if below as f64 / n as f64 >= target {
            return Ok(sorted[k]);
        }
        let mut j = k;
        while j < n && sorted[j] == sorted[k] {
            j += 1;
        }
        k = j;
    }
    Ok(sorted[n - 1].next_up())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand_with_ties() {
        // Pairs (abnormal, normal): (0.8,0.1) 1, (0.8,0.4) 1, (0.8,0.8) ½; (0.4,0.1) 1,
        // (0.4,0.4) ½, (0.4,0.8) 0 → 4/6.
        let labels = [false, false, false, true, true];
        let scores = [0.1, 0.4, 0.8, 0.8, 0.4];
        assert!((roc_auc(&labels, &scores).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        let roc = Roc::new(&labels, &scores).unwrap();
        assert!((roc.area_under_curve() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(roc.thresholds, vec![f64::INFINITY, 0.8, 0.4, 0.1]);
        // All scores tied: chance.
        assert_eq!(
            roc_auc(&[true, false, true], &[1.0, 1.0, 1.0]).unwrap(),
            0.5
        );
        // Perfect and inverted.
        assert_eq!(roc_auc(&[false, true], &[0.0, 1.0]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[false, true], &[1.0, 0.0]).unwrap(), 0.0);
    }

    #[test]
    fn ap_by_hand() {
        // sklearn: average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.8333...
        let ap = average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-12, "{ap}");
        // With a tie at the top: thresholds 0.9 (tp 1, fp 1) then 0.2 (tp 2, fp 2):
        // 0.5·0.5 + 0.5·0.5 = 0.5.
        let ap = average_precision(&[true, false, true, false], &[0.9, 0.9, 0.2, 0.2]).unwrap();
        assert!((ap - 0.5).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn thresholds() {
        let labels = [false, false, false, false, true, true];
        let scores = [0.1, 0.2, 0.3, 0.6, 0.5, 0.9];
        let (t, j) = Roc::new(&labels, &scores).unwrap().youden();
        assert_eq!(t, 0.5);
        assert!((j - 0.75).abs() < 1e-12);
        let op = at_threshold(&labels, &scores, 0.5).unwrap();
        assert_eq!(op.sensitivity, 1.0);
        assert_eq!(op.specificity, 0.75);
        let normals = [0.1, 0.2, 0.3, 0.6];
        assert_eq!(threshold_for_specificity(&normals, 0.75).unwrap(), 0.6);
        assert_eq!(threshold_for_specificity(&normals, 0.5).unwrap(), 0.3);
        let t = threshold_for_specificity(&normals, 1.0).unwrap();
        assert!(t > 0.6 && t < 0.6 + 1e-12);
        assert_eq!(threshold_for_specificity(&normals, 0.0).unwrap(), 0.1);
        // Ties: with [1,1,1,2] no threshold gives exactly 0.5; the first reaching it is 2.
        assert_eq!(
            threshold_for_specificity(&[1.0, 1.0, 1.0, 2.0], 0.5).unwrap(),
            2.0
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(roc_auc(&[], &[]), Err(MetricsError::Empty)));
        assert!(matches!(
            roc_auc(&[true], &[1.0, 2.0]),
            Err(MetricsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            roc_auc(&[true, true], &[1.0, 2.0]),
            Err(MetricsError::SingleClass {
                present: "abnormal",
                n: 2
            })
        ));
        assert!(matches!(
            average_precision(&[false], &[1.0]),
            Err(MetricsError::SingleClass {
                present: "normal",
                ..
            })
        ));
        assert!(matches!(
            roc_auc(&[true, false], &[f64::NAN, 2.0]),
            Err(MetricsError::NanScore { index: 0 })
        ));
        assert!(matches!(
            Roc::new(&[true, false], &[1.0, f64::NAN]),
            Err(MetricsError::NanScore { index: 1 })
        ));
        assert!(threshold_for_specificity(&[], 0.9).is_err());
        assert!(threshold_for_specificity(&[1.0], 1.5).is_err());
        assert!(threshold_for_specificity(&[f64::NAN], 0.5).is_err());
    }
}
