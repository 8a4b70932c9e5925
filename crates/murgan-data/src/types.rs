//! The vocabulary of X-ray data sets: categories, labels, splits and image records.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DataError;

/// A MURA body part (study type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Category {
    /// Elbow.
    Elbow,
    /// Finger.
    Finger,
    /// Forearm.
    Forearm,
    /// Hand.
    Hand,
    /// Humerus.
    Humerus,
    /// Shoulder.
    Shoulder,
    /// Wrist.
    Wrist,
}

impl Category {
    /// All seven MURA categories, in MURA's alphabetical order.
    pub const ALL: [Category; 7] = [
        Category::Elbow,
        Category::Finger,
        Category::Forearm,
        Category::Hand,
        Category::Humerus,
        Category::Shoulder,
        Category::Wrist,
    ];

    /// The upper-case name, e.g. `WRIST`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Elbow => "ELBOW",
            Category::Finger => "FINGER",
            Category::Forearm => "FOREARM",
            Category::Hand => "HAND",
            Category::Humerus => "HUMERUS",
            Category::Shoulder => "SHOULDER",
            Category::Wrist => "WRIST",
        }
    }

    /// The MURA folder name, e.g. `XR_WRIST`.
    pub fn folder(self) -> String {
        format!("XR_{}", self.name())
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Category {
    type Err = DataError;

    /// Parses `XR_WRIST`, `WRIST`, `wrist` or `Wrist`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        let bare = upper.strip_prefix("XR_").unwrap_or(&upper);
        Category::ALL
            .into_iter()
            .find(|c| c.name() == bare)
            .ok_or_else(|| {
                DataError::InvalidParameter(format!(
                    "unknown category {t:?} (expected one of ELBOW, FINGER, FOREARM, HAND, HUMERUS, SHOULDER, WRIST)"
                ))
            })
    }
}

/// Whether an image (or study) is normal or abnormal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// A normal radiograph (MURA: `negative`, 0).
    Normal,
    /// An abnormal radiograph (MURA: `positive`, 1).
    Abnormal,
}

impl Label {
    /// `true` for [`Label::Abnormal`]: the positive class of every metric.
    pub fn is_abnormal(self) -> bool {
        self == Label::Abnormal
    }

    /// 0 for normal, 1 for abnormal.
    pub fn as_u8(self) -> u8 {
        u8::from(self.is_abnormal())
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Label::Normal => "normal",
            Label::Abnormal => "abnormal",
        })
    }
}

impl FromStr for Label {
    type Err = DataError;

    /// Parses `0/1`, `normal/abnormal` and `negative/positive` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "normal" | "negative" => Ok(Label::Normal),
            "1" | "abnormal" | "positive" => Ok(Label::Abnormal),
            other => Err(DataError::InvalidParameter(format!(
                "unknown label {other:?} (expected 0/1, normal/abnormal or negative/positive)"
            ))),
        }
    }
}

/// A data set split. `val` and `valid` are the same split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training data.
    Train,
    /// Validation data (MURA's `valid`, also read from `val`).
    Valid,
    /// Held-out test data.
    Test,
}

impl Split {
    /// All splits.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// The canonical name: `train`, `valid` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = DataError;

    /// Parses `train`, `val`, `valid`, `validation` or `test` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Ok(Split::Train),
            "val" | "valid" | "validation" => Ok(Split::Valid),
            "test" | "testing" => Ok(Split::Test),
            other => Err(DataError::InvalidParameter(format!(
                "unknown split {other:?} (expected train, val/valid or test)"
            ))),
        }
    }
}

/// One radiograph of a data set, whatever format it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Absolute (or root-joined) path of the image file.
    pub path: PathBuf,
    /// Body part, when the data set has one.
    pub category: Option<Category>,
    /// Patient identifier, when known (MURA: `patient00001`).
    pub patient: Option<String>,
    /// Study identifier, unique within the data set (MURA: `XR_WRIST/patient00001/study1`).
    /// `None` means each image is its own study.
    pub study: Option<String>,
    /// Normal or abnormal.
    pub label: Label,
    /// The split the image belongs to.
    pub split: Split,
}

impl ImageRecord {
    /// The study key used for study-level aggregation: the study, or else the path itself.
    pub fn study_key(&self) -> String {
        match &self.study {
            Some(s) => s.clone(),
            None => self.path.to_string_lossy().into_owned(),
        }
    }

    /// The category name used in reports: the category, or `ALL` when there is none.
    pub fn category_name(&self) -> &'static str {
        self.category.map_or("ALL", Category::name)
    }
}

/// Which records of a data set to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep only these splits (all when empty).
    pub splits: Vec<Split>,
    /// Keep only these categories (all when empty).
    pub categories: Vec<Category>,
    /// Keep only this label (both when `None`).
    pub label: Option<Label>,
}

impl Filter {
    /// A filter that keeps everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Keeps only `split`.
    pub fn split(mut self, split: Split) -> Self {
        self.splits.push(split);
        self
    }

    /// Keeps only `category` (may be called several times).
    pub fn category(mut self, category: Category) -> Self {
        self.categories.push(category);
        self
    }

    /// Keeps only `label`.
    pub fn label(mut self, label: Label) -> Self {
        self.label = Some(label);
        self
    }

    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &ImageRecord) -> bool {
        (self.splits.is_empty() || self.splits.contains(&record.split))
            && (self.categories.is_empty()
                || record
                    .category
                    .is_some_and(|c| self.categories.contains(&c)))
            && self.label.is_none_or(|l| l == record.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_parses_all_spellings() {
        for s in ["XR_WRIST", "wrist", "Wrist", " WRIST ", "xr_wrist"] {
            assert_eq!(s.parse::<Category>().unwrap(), Category::Wrist, "{s}");
        }
        assert!("XR_KNEE".parse::<Category>().is_err());
        assert_eq!(Category::Humerus.folder(), "XR_HUMERUS");
    }

    #[test]
    fn label_and_split_parse() {
        assert_eq!("positive".parse::<Label>().unwrap(), Label::Abnormal);
        assert_eq!("0".parse::<Label>().unwrap(), Label::Normal);
        assert!("2".parse::<Label>().is_err());
        assert_eq!("val".parse::<Split>().unwrap(), Split::Valid);
        assert_eq!("valid".parse::<Split>().unwrap(), Split::Valid);
        assert!("dev".parse::<Split>().is_err());
    }
}
