//! Study-level aggregation: MURA labels studies, not images, so image scores are combined
//! per study (mean or max).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{MetricsError, Result};

/// How image scores combine into a study score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudyAgg {
    /// Mean of the study's image scores (the default).
    #[default]
    Mean,
    /// Maximum of the study's image scores.
    Max,
}

impl std::str::FromStr for StudyAgg {
    type Err = MetricsError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mean" => Ok(StudyAgg::Mean),
            "max" => Ok(StudyAgg::Max),
            other => Err(MetricsError::InvalidParameter(format!(
                "study aggregation {other:?}: expected mean or max"
            ))),
        }
    }
}

/// One study's combined score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyScore {
    /// The study key.
    pub study: String,
    /// `true` when abnormal.
    pub label: bool,
    /// The combined score.
    pub score: f64,
    /// Number of images in the study.
    pub images: usize,
}

/// Combines `(study, label, score)` image triples into one score per study, in study order.
/// A study whose images disagree on the label is an error; NaN scores are refused.
pub fn aggregate<'a>(
    images: impl IntoIterator<Item = (&'a str, bool, f64)>,
    agg: StudyAgg,
) -> Result<Vec<StudyScore>> {
    let mut by_study: BTreeMap<&str, (bool, Vec<f64>)> = BTreeMap::new();
    for (index, (study, label, score)) in images.into_iter().enumerate() {
        if score.is_nan() {
            return Err(MetricsError::NanScore { index });
        }
        let entry = by_study.entry(study).or_insert((label, Vec::new()));
        if entry.0 != label {
            return Err(MetricsError::MixedStudy {
                study: study.to_string(),
            });
        }
        entry.1.push(score);
    }
    if by_study.is_empty() {
        return Err(MetricsError::Empty);
    }
    Ok(by_study
        .into_iter()
        .map(|(study, (label, scores))| StudyScore {
            study: study.to_string(),
            label,
            images: scores.len(),
            score: match agg {
                StudyAgg::Mean => scores.iter().sum::<f64>() / scores.len() as f64,
                StudyAgg::Max => scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_max() {
        let imgs = [
            ("a", false, 1.0),
            ("b", true, 5.0),
            ("a", false, 3.0),
            ("b", true, 1.0),
            ("c", true, 2.0),
        ];
        let mean = aggregate(imgs, StudyAgg::Mean).unwrap();
        assert_eq!(
            mean.iter()
                .map(|s| (s.study.as_str(), s.score, s.images))
                .collect::<Vec<_>>(),
            vec![("a", 2.0, 2), ("b", 3.0, 2), ("c", 2.0, 1)]
        );
        let max = aggregate(imgs, StudyAgg::Max).unwrap();
        assert_eq!(
            max.iter().map(|s| s.score).collect::<Vec<_>>(),
            vec![3.0, 5.0, 2.0]
        );
        assert!(matches!(
            aggregate([("a", false, 1.0), ("a", true, 1.0)], StudyAgg::Mean),
            Err(MetricsError::MixedStudy { .. })
        ));
        assert!(matches!(
            aggregate([("a", false, f64::NAN)], StudyAgg::Mean),
            Err(MetricsError::NanScore { index: 0 })
        ));
        assert!(matches!(
            aggregate(std::iter::empty(), StudyAgg::Max),
            Err(MetricsError::Empty)
        ));
        assert_eq!("max".parse::<StudyAgg>().unwrap(), StudyAgg::Max);
    }
}
