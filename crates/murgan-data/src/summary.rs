//! Counts per split × category × label, of images and of studies (MURA paper, Table 1).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::{ImageRecord, Label, Split};

/// Image and study counts of one split × category cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Normal images.
    pub normal_images: usize,
    /// Abnormal images.
    pub abnormal_images: usize,
    /// Normal studies.
    pub normal_studies: usize,
    /// Abnormal studies.
    pub abnormal_studies: usize,
}

impl Counts {
    /// All images.
    pub fn images(&self) -> usize {
        self.normal_images + self.abnormal_images
    }

    /// All studies.
    pub fn studies(&self) -> usize {
        self.normal_studies + self.abnormal_studies
    }

    fn add(&mut self, other: &Counts) {
        self.normal_images += other.normal_images;
        self.abnormal_images += other.abnormal_images;
        self.normal_studies += other.normal_studies;
        self.abnormal_studies += other.abnormal_studies;
    }
}

/// Counts per split, then per category name (`ALL` for data sets without categories).
///
/// Serialises to `{SPLIT: {CATEGORY: {"normal_images": n, ...}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Summary {
    /// split → category → counts.
    pub splits: BTreeMap<Split, BTreeMap<String, Counts>>,
}

impl Summary {
    /// Counts `records`. A record without a study is its own study.
    pub fn from_records(records: &[ImageRecord]) -> Self {
        let mut splits: BTreeMap<Split, BTreeMap<String, Counts>> = BTreeMap::new();
        let mut studies: BTreeSet<(Split, &'static str, Label, String)> = BTreeSet::new();
        for r in records {
            let cat = r.category_name();
            let cell = splits
                .entry(r.split)
                .or_default()
                .entry(cat.to_string())
                .or_default();
            match r.label {
                Label::Normal => cell.normal_images += 1,
                Label::Abnormal => cell.abnormal_images += 1,
            }
            if studies.insert((r.split, cat, r.label, r.study_key())) {
                match r.label {
                    Label::Normal => cell.normal_studies += 1,
                    Label::Abnormal => cell.abnormal_studies += 1,
                }
            }
        }
        Summary { splits }
    }

    /// The counts of one cell, zero when absent.
    pub fn get(&self, split: Split, category: &str) -> Counts {
        self.splits
            .get(&split)
            .and_then(|m| m.get(category))
            .copied()
            .unwrap_or_default()
    }

    /// Totals over every split and category.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.splits.values().flat_map(|m| m.values()) {
            t.add(c);
        }
        t
    }

    /// A Markdown table like the MURA paper's: one row per category, studies (and images)
    /// normal / abnormal per split, and a total column.
    pub fn to_markdown(&self) -> String {
        let splits: Vec<Split> = self.splits.keys().copied().collect();
        let cats: BTreeSet<&String> = self.splits.values().flat_map(|m| m.keys()).collect();
        let mut s = String::from("| category |");
        for sp in &splits {
            let _ = write!(s, " {sp} normal | {sp} abnormal |");
        }
        s.push_str(" total studies | total images |\n|---|");
        for _ in &splits {
            s.push_str("---:|---:|");
        }
        s.push_str("---:|---:|\n");
        let cell = |c: &Counts| {
            format!(
                " {} ({}) | {} ({}) |",
                c.normal_studies, c.normal_images, c.abnormal_studies, c.abnormal_images
            )
        };
        let mut grand = Counts::default();
        let mut per_split_total: BTreeMap<Split, Counts> = BTreeMap::new();
        for cat in &cats {
            let _ = write!(s, "| {cat} |");
            let mut row = Counts::default();
            for sp in &splits {
                let c = self.get(*sp, cat);
                s.push_str(&cell(&c));
                row.add(&c);
                per_split_total.entry(*sp).or_default().add(&c);
            }
            let _ = writeln!(s, " {} | {} |", row.studies(), row.images());
            grand.add(&row);
        }
        s.push_str("| **total** |");
        for sp in &splits {
            s.push_str(&cell(&per_split_total.get(sp).copied().unwrap_or_default()));
        }
        let _ = writeln!(s, " {} | {} |", grand.studies(), grand.images());
        s.push_str("\nCells: studies (images).\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Category;
    use std::path::PathBuf;

    fn rec(study: Option<&str>, label: Label, split: Split) -> ImageRecord {
        ImageRecord {
            path: PathBuf::from(format!("{study:?}{label}{split}{}", rand_suffix())),
            category: Some(Category::Hand),
            patient: None,
            study: study.map(str::to_string),
            label,
            split,
        }
    }

    fn rand_suffix() -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn counts_images_and_studies() {
        let records = vec![
            rec(Some("s1"), Label::Normal, Split::Train),
            rec(Some("s1"), Label::Normal, Split::Train),
            rec(Some("s2"), Label::Abnormal, Split::Train),
            rec(None, Label::Abnormal, Split::Valid),
            rec(None, Label::Abnormal, Split::Valid),
        ];
        let s = Summary::from_records(&records);
        let train = s.get(Split::Train, "HAND");
        assert_eq!(
            train,
            Counts {
                normal_images: 2,
                abnormal_images: 1,
                normal_studies: 1,
                abnormal_studies: 1
            }
        );
        assert_eq!(s.get(Split::Valid, "HAND").abnormal_studies, 2);
        assert_eq!(s.total().images(), 5);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["valid"]["HAND"]["abnormal_images"], 2);
        let md = s.to_markdown();
        assert!(
            md.contains("| HAND | 1 (2) | 1 (1) | 0 (0) | 2 (2) | 4 | 5 |"),
            "{md}"
        );
    }
}
