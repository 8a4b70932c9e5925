//! The `reproduce_table` example end to end on a tiny synthetic set: the table, its JSON and
//! pictures are written, a restarted run reuses finished categories, and a run with other
//! settings into the same folder is refused.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// `cargo test` (without `--test`) builds the examples next to the test
/// binaries' folder; before `cargo test --test reproduce_table` alone, `cargo build --example
/// reproduce_table`.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("reproduce_table{}", std::env::consts::EXE_SUFFIX))
}

fn run(out: &std::path::Path, iterations: &str) -> Output {
    Command::new(example())
        .args([
            "--out",
            out.to_str().unwrap(),
            "--categories",
            "HAND,WRIST",
            "--per-category",
            "6",
        ])
        .args([
            "--iterations",
            iterations,
            "--image-size",
            "16",
            "--width",
            "4",
            "--latent",
            "8",
        ])
        .args([
            "--batch-size",
            "4",
            "--search-steps",
            "3",
            "--bootstrap",
            "20",
        ])
        .args([
            "--encoder-iterations",
            "2",
            "--kappa",
            "0.5",
            "--restarts",
            "2",
        ])
        .output()
        .unwrap()
}

#[test]
fn writes_the_table_resumes_and_refuses_other_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reproduce");
    let first = run(&out, "4");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(
        table.contains("NOT MURA")
            && table.contains("| HAND | 0.78 |")
            && table.contains("| WRIST | 0.97 |"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("table.json")).unwrap()).unwrap();
    let cats = json["categories"].as_array().unwrap();
    assert_eq!(cats.len(), 2);
    for c in cats {
        let image = c["image"].as_object().unwrap();
        for column in [
            "AnoGAN",
            "f-AnoGAN",
            "alpha-GAN L1",
            "L2",
            "feature",
            "D",
            "C",
            "SQUID",
            "SQUID coarse",
            // The normal references were fitted: the combined scores are columns.
            "SQUID combined",
            "f-AnoGAN combined",
        ] {
            assert!(image.contains_key(column), "{column} missing in {c}");
        }
        let dir = out.join(c["category"].as_str().unwrap());
        for f in [
            "roc.png",
            "heatmap.png",
            "scores.csv",
            "result.json",
            "hist_anogan.png",
        ] {
            assert!(dir.join(f).is_file(), "{f}");
        }
    }
    assert_eq!(json["settings"]["gan_iterations"], 4);
    assert_eq!(json["settings"]["encoder_iterations"], 2);
    assert_eq!(json["settings"]["kappa"], 0.5);
    assert_eq!(json["settings"]["search"]["restarts"], 2);
    assert!(out.join("settings.json").is_file());

    // Restarted: nothing is recomputed and the table is the same.
    let again = run(&out, "4");
    assert!(again.status.success());
    let log = String::from_utf8_lossy(&again.stderr);
    assert_eq!(log.matches("done earlier").count(), 2, "{log}");
    assert_eq!(
        std::fs::read_to_string(out.join("table.md")).unwrap(),
        table
    );

    // Other settings into the same folder: refused, nothing overwritten.
    let other = run(&out, "5");
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("other settings"));
}
