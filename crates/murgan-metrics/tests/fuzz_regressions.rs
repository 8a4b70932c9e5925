//! Replays the `metrics_csv` fuzzer's seed corpus and findings (`fuzz/corpus/metrics_csv`,
//! `fuzz/regressions/metrics_csv`) through its checks (`fuzz/harness/metrics.rs`).

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/harness/metrics.rs"]
mod harness;

#[test]
fn metrics_csv_cases() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|d| std::fs::read_dir(fuzz.join(d).join("metrics_csv")).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        eprintln!("{}", f.display());
        harness::metrics_csv(&std::fs::read(&f).unwrap());
    }
}
