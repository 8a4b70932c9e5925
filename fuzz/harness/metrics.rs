//! What the metrics fuzz target checks, shared with the regression tests that replay its
//! findings (`crates/murgan-metrics/tests/fuzz_regressions.rs`).

use std::path::Path;

use murgan_metrics::scores::parse_scores_csv;
use murgan_metrics::{Report, ReportOptions};

/// `murgan metrics` input: a scores CSV parsed and turned into the full report (AUCs, study
/// aggregation, bootstrap). Errors are fine; a panic or a NaN in the report is not.
pub fn metrics_csv(data: &[u8]) {
    let Ok(images) = parse_scores_csv(data, Path::new("fuzz.csv")) else {
        return;
    };
    let opts = ReportOptions {
        bootstrap: 20,
        ..ReportOptions::default()
    };
    if let Ok(report) = Report::compute(&images, &opts) {
        // The Markdown rendering prints every number the report holds; no cell may be NaN
        // (category names are the user's and may spell anything).
        let text = report.to_markdown();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            for cell in cells.iter().skip(3) {
                assert!(!cell.starts_with("NaN"), "NaN in {line}");
            }
        }
    }
}
