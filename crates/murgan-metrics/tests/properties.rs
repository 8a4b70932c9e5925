//! Metrics against their O(n²) definitions on random inputs with many ties.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use murgan_metrics::{Roc, average_precision, roc_auc, threshold_for_specificity};
use proptest::prelude::*;

fn pairwise_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                den += 1.0;
                num += if scores[i] > scores[j] {
                    1.0
                } else if scores[i] == scores[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    num / den
}

/// AP as the mean, over abnormals, of the precision at that abnormal's score.
fn brute_ap(labels: &[bool], scores: &[f64]) -> f64 {
    let pos: Vec<usize> = (0..labels.len()).filter(|&i| labels[i]).collect();
    pos.iter()
        .map(|&i| {
            let called: Vec<usize> = (0..labels.len())
                .filter(|&k| scores[k] >= scores[i])
                .collect();
            called.iter().filter(|&&k| labels[k]).count() as f64 / called.len() as f64
        })
        .sum::<f64>()
        / pos.len() as f64
}

fn inputs() -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    (2usize..60)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(any::<bool>(), n),
                // Few distinct values: ties are the rule, not the exception.
                prop::collection::vec((0i32..8).prop_map(|v| v as f64 / 4.0), n),
            )
        })
        .prop_filter("both classes", |(l, _)| {
            l.iter().any(|&x| x) && l.iter().any(|&x| !x)
        })
}

proptest! {
    #[test]
    fn auc_matches_pairwise_definition((labels, scores) in inputs()) {
        let auc = roc_auc(&labels, &scores).unwrap();
        prop_assert!((auc - pairwise_auc(&labels, &scores)).abs() < 1e-12);
        let roc = Roc::new(&labels, &scores).unwrap();
        prop_assert!((roc.area_under_curve() - auc).abs() < 1e-12);
        prop_assert_eq!(*roc.fpr.last().unwrap(), 1.0);
        prop_assert_eq!(*roc.tpr.last().unwrap(), 1.0);
    }

    #[test]
    fn ap_matches_brute_definition((labels, scores) in inputs()) {
        let ap = average_precision(&labels, &scores).unwrap();
        prop_assert!((ap - brute_ap(&labels, &scores)).abs() < 1e-12);
    }

    #[test]
    fn negated_scores_mirror_auc((labels, scores) in inputs()) {
        let neg: Vec<f64> = scores.iter().map(|s| -s).collect();
        let a = roc_auc(&labels, &scores).unwrap();
        let b = roc_auc(&labels, &neg).unwrap();
        prop_assert!((a + b - 1.0).abs() < 1e-12);
    }

    #[test]
    fn specificity_threshold_is_lowest_reaching_target(
        normals in prop::collection::vec((0i32..10).prop_map(f64::from), 1..40),
        target in 0.0f64..=1.0,
    ) {
        let t = threshold_for_specificity(&normals, target).unwrap();
        let spec = |t: f64| normals.iter().filter(|&&s| s < t).count() as f64 / normals.len() as f64;
        prop_assert!(spec(t) >= target);
        // Every lower candidate falls short.
        for &c in &normals {
            if c < t {
                prop_assert!(spec(c) < target);
            }
        }
    }
}
