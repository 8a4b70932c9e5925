//! Evaluation for murgan, with no Burn dependency: exact ROC-AUC with ties, ROC curves,
//! average precision, thresholds (Youden's J, target specificity), seeded bootstrap CIs,
//! study-level aggregation, per-category reports and (feature `plot`, on by default) plots.
//!
//! Every function takes `labels[i] == true` for abnormal and scores where higher means more
//! anomalous; the direction is never flipped after the fact.
//!
//! ```
//! use murgan_metrics::{roc_auc, Roc};
//!
//! let labels = [false, false, true, true];
//! let scores = [0.1, 0.4, 0.35, 0.8];
//! assert_eq!(roc_auc(&labels, &scores)?, 0.75);
//! let roc = Roc::new(&labels, &scores)?;
//! assert_eq!(roc.area_under_curve(), 0.75);
//! # Ok::<(), murgan_metrics::MetricsError>(())
//! ```

#![warn(missing_docs)]

pub mod bootstrap;
pub mod error;
#[cfg(feature = "plot")]
pub mod plot;
pub mod report;
pub mod roc;
pub mod scores;
pub mod study;

pub use bootstrap::{Ci, ResampleUnit, bootstrap_auc_ci, bootstrap_auc_ci_by_group};
pub use error::{MetricsError, Result};
#[cfg(feature = "plot")]
pub use plot::{histogram_plot, line_plot, roc_plot};
pub use report::{
    ALL, Entry, Groups, Report, ReportOptions, ScoredImage, group_by_category, study_scores,
};
pub use roc::{
    Operating, Roc, at_threshold, average_precision, roc_auc, threshold_for_specificity,
};
pub use scores::{parse_label, read_scores_csv, read_scores_csv_column};
pub use study::{StudyAgg, StudyScore, aggregate};
