//! The table: the study's reported AUCs, the columns murgan measures, one row per category,
//! and its Markdown.

use super::*;

/// AUCs reported by the original study for AnoGAN, per MURA category.
pub(crate) const REPORTED: [(&str, f64); 7] = [
    ("ELBOW", 0.88),
    ("FINGER", 0.92),
    ("FOREARM", 0.93),
    ("HAND", 0.78),
    ("HUMERUS", 0.91),
    ("SHOULDER", 0.89),
    ("WRIST", 0.97),
];

/// The scores of the table, in column order: (column name, detector, component or main score).
pub(crate) const COLUMNS: [(&str, &str, Option<&str>); 14] = [
    ("AnoGAN", "anogan", None),
    ("f-AnoGAN", "fanogan", None),
    ("alpha-GAN L1", "alphagan", Some("l1")),
    ("L2", "alphagan", Some("l2")),
    ("feature", "alphagan", Some("feature")),
    ("D", "alphagan", Some("d")),
    ("C", "alphagan", Some("c")),
    ("SQUID", "squid", None),
    ("SQUID combined", "squid", Some("combined")),
    ("AnoGAN residual", "anogan", Some("residual")),
    ("SQUID coarse", "squid", Some("residual_coarse")),
    ("f-AnoGAN combined", "fanogan", Some("combined")),
    ("f-AnoGAN peak", "fanogan", Some("residual_peak")),
    ("SQUID peak", "squid", Some("residual_peak")),
];

/// The columns shown in table.md (every column is in table.json).
const SHOWN: usize = 9;

/// One row of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CategoryResult {
    pub(crate) category: String,
    pub(crate) reported_anogan: Option<f64>,
    pub(crate) train_normal_images: usize,
    pub(crate) evaluated_split: String,
    /// Image-level figures per column name.
    pub(crate) image: BTreeMap<String, Entry>,
    /// Study-level figures per column name.
    pub(crate) study: BTreeMap<String, Entry>,
    /// The highest study-level AUC over the columns (a maximum: optimistic).
    pub(crate) study_best: Option<(String, f64)>,
    /// The highest image-level AUC among the models' declared main scores (fixed before the
    /// run; `main_scores` in table.json names them).
    #[serde(default)]
    pub(crate) main_best: Option<(String, f64)>,
    /// Synthetic data: for each declared main score's column, the image-level AUC of every kind
    /// of finding against all normal images, with the number of abnormal images of that kind.
    #[serde(default)]
    pub(crate) by_finding: BTreeMap<String, BTreeMap<String, (f64, usize)>>,
    pub(crate) seconds: f64,
}

fn cell(e: Option<&Entry>) -> String {
    match e.and_then(|e| e.auc.map(|a| (a, e.auc_ci_low, e.auc_ci_high))) {
        Some((a, Some(lo), Some(hi))) => format!("{a:.3} ({lo:.2}–{hi:.2})"),
        Some((a, _, _)) => format!("{a:.3}"),
        None => "–".into(),
    }
}

pub(crate) fn markdown(title: &str, results: &[CategoryResult]) -> String {
    let mut s = format!(
        "## {title}\n\nImage-level ROC-AUC (bootstrap 95 % CI) on the evaluated split.\n\n"
    );
    s.push_str("| category | reported AnoGAN | murgan AnoGAN | f-AnoGAN | alpha-GAN L1 | L2 | feature | D | C | SQUID | SQUID combined | best main score | study-level best |\n");
    s.push_str("|---|---:|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let reported = r.reported_anogan.map_or("–".into(), |a| format!("{a:.2}"));
        let cols: Vec<String> = COLUMNS[..SHOWN]
            .iter()
            .map(|(name, _, _)| cell(r.image.get(*name)))
            .collect();
        let best = r
            .study_best
            .as_ref()
            .map_or("–".into(), |(n, a)| format!("{a:.3} ({n})"));
        let main = r
            .main_best
            .as_ref()
            .map_or("–".into(), |(n, a)| format!("{a:.3} ({n})"));
        s.push_str(&format!(
            "| {} | {reported} | {} | {main} | {best} |\n",
            r.category,
            cols.join(" | ")
        ));
    }
    s.push_str(
        "\n\"best main score\" is the best image-level AUC among the four models' main scores, \
         each declared in code before the run (`main_scores` in table.json); a maximum over four, \
         so mildly optimistic. \"study-level best\" is the highest study-level AUC over every \
         score column: a maximum taken on the evaluated split, so it is optimistic; the per-score \
         study-level figures are in table.json.\n",
    );
    if results.iter().any(|r| !r.by_finding.is_empty()) {
        s.push_str(&finding_table(results));
    }
    s
}

/// The kinds of synthetic finding, in table order.
const FINDINGS: [&str; 4] = ["fracture", "hardware", "lytic_lesion", "sclerotic_lesion"];

/// Synthetic data: the best main score of each category, split by kind of finding.
fn finding_table(results: &[CategoryResult]) -> String {
    let mut s = String::from(
        "\nThe best main score of each category by kind of synthetic finding (image-level AUC of \
         the images with that finding against all normal images; abnormal images in brackets):\n\n\
         | category | main score | fracture | hardware | lytic lesion | sclerotic lesion |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in results {
        let Some((column, _)) = &r.main_best else {
            continue;
        };
        let Some(kinds) = r.by_finding.get(column) else {
            continue;
        };
        let cells: Vec<String> = FINDINGS
            .iter()
            .map(|k| {
                kinds
                    .get(*k)
                    .map_or("–".into(), |(a, n)| format!("{a:.2} ({n})"))
            })
            .collect();
        s.push_str(&format!(
            "| {} | {column} | {} |\n",
            r.category,
            cells.join(" | ")
        ));
    }
    s
}
