//! The `murgan` binary end to end: synth, dataset summary, metrics, training, serve and
//! import, and their errors (scoring: `scoring.rs`).

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::path::Path;

use common::{lines_json, murgan, p, stdout_json};

#[test]
fn synth_then_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = murgan(&[
        "synth",
        "--out",
        p(tmp.path()),
        "--per-category",
        "6",
        "--image-size",
        "32",
        "--categories",
        "hand,XR_WRIST",
        "--seed",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let written: usize = text.split_whitespace().nth(1).unwrap().parse().unwrap();

    let json = stdout_json(&murgan(&[
        "dataset",
        "summary",
        "--root",
        p(tmp.path()),
        "--json",
    ]));
    let mut images = 0;
    for split in ["train", "valid"] {
        for cat in ["HAND", "WRIST"] {
            let c = &json[split][cat];
            images += c["normal_images"].as_u64().unwrap() + c["abnormal_images"].as_u64().unwrap();
            let studies =
                c["normal_studies"].as_u64().unwrap() + c["abnormal_studies"].as_u64().unwrap();
            assert_eq!(
                studies,
                if split == "train" { 4 } else { 2 },
                "{split} {cat}"
            );
        }
    }
    assert_eq!(images as usize, written);
    assert!(json.get("test").is_none());

    let table = murgan(&[
        "dataset",
        "summary",
        "--root",
        p(&tmp.path().join("MURA-v1.1")),
    ]);
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).contains("| HAND |"));
    // Every abnormal study's finding is listed beside the CSVs.
    let findings =
        std::fs::read_to_string(tmp.path().join("MURA-v1.1/synthetic_findings.csv")).unwrap();
    assert!(findings.starts_with("study,pathology\n"), "{findings}");

    // A finding scale outside its range is refused before anything is written.
    let bad = tempfile::tempdir().unwrap();
    let out = murgan(&["synth", "--out", p(bad.path()), "--finding-scale", "0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("finding scale 0"), "{err}");
    assert!(!bad.path().join("MURA-v1.1").exists());
}

#[test]
fn summary_of_folder_and_csv_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    for (dir, n) in [("train/NORMAL", 3), ("val/NORMAL", 1), ("val/PNEUMONIA", 2)] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
        for i in 0..n {
            image::GrayImage::new(8, 8)
                .save(r.join(dir).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let json = stdout_json(&murgan(&[
        "dataset",
        "summary",
        "--root",
        p(r),
        "--format",
        "folder",
        "--normal",
        "NORMAL",
        "--json",
    ]));
    assert_eq!(json["train"]["ALL"]["normal_images"], 3);
    assert_eq!(json["valid"]["ALL"]["abnormal_images"], 2);
    assert_eq!(json["valid"]["ALL"]["abnormal_studies"], 2);

    std::fs::write(r.join("m.csv"), "path,label,study\nval/NORMAL/0.png,0,a\nval/PNEUMONIA/0.png,1,b\nval/PNEUMONIA/1.png,1,b\n").unwrap();
    let json = stdout_json(&murgan(&[
        "dataset",
        "summary",
        "--root",
        p(&r.join("m.csv")),
        "--format",
        "csv",
        "--json",
    ]));
    assert_eq!(json["train"]["ALL"]["abnormal_images"], 2);
    assert_eq!(json["train"]["ALL"]["abnormal_studies"], 1);

    let no_normal = murgan(&["dataset", "summary", "--root", p(r), "--format", "folder"]);
    assert!(!no_normal.status.success());
    assert!(String::from_utf8_lossy(&no_normal.stderr).contains("--normal"));
    let missing = murgan(&["dataset", "summary", "--root", p(&r.join("nowhere"))]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere"));
}

/// One argument list serves `dataset summary`, `train` and `evaluate`: `train` accepts the
/// abnormal classes (and uses normals only), `summary` takes `--data` and `--category`.
#[test]
fn one_data_argument_list_serves_summary_train_and_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().join("set");
    for (dir, n) in [
        ("train/NORMAL", 6),
        ("train/ODD", 4),
        ("val/NORMAL", 2),
        ("val/ODD", 2),
    ] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
        for i in 0..n {
            let bright = if dir.ends_with("ODD") { 200 } else { 40 };
            image::GrayImage::from_fn(16, 16, |x, y| {
                image::Luma([bright + ((x + y + i) % 9) as u8])
            })
            .save(r.join(dir).join(format!("{i}.png")))
            .unwrap();
        }
    }
    let data = [
        "--data",
        p(&r),
        "--format",
        "folder",
        "--normal",
        "NORMAL",
        "--abnormal",
        "ODD",
    ];
    let summary = stdout_json(&murgan(
        &[&["dataset", "summary", "--json"], &data[..]].concat(),
    ));
    assert_eq!(summary["train"]["ALL"]["abnormal_images"], 4);
    let run = tmp.path().join("run");
    let train = [
        "train",
        "--model",
        "anogan",
        "--out",
        p(&run),
        "--image-size",
        "16",
        "--iterations",
        "2",
        "--batch-size",
        "4",
        "--width",
        "2",
        "--latent",
        "4",
    ];
    let out = murgan(&[&train[..], &data[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("checkpoints/iter-000002/model.json")).unwrap(),
    )
    .unwrap();
    // Normals only: the 4 abnormal training images were not used.
    assert_eq!(meta["data"]["images"], 6);
    let eval = stdout_json(&murgan(
        &[
            &[
                "evaluate",
                "--model",
                p(&run),
                "--json",
                "--bootstrap",
                "0",
                "--search-steps",
                "2",
            ][..],
            &data[..],
        ]
        .concat(),
    ));
    let auc = eval["score"]["image"]["ALL"]["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc), "{eval}");
    // A category filter on a set without categories leaves nothing to summarise.
    let none = stdout_json(&murgan(
        &[
            &["dataset", "summary", "--json", "--category", "HAND"],
            &data[..],
        ]
        .concat(),
    ));
    assert!(none["train"]["ALL"]["normal_images"].is_null(), "{none}");
}

#[test]
fn metrics_json_plots_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("scores.csv");
    std::fs::write(
        &csv,
        "category,study,label,score\nHAND,s1,negative,0.1\nHAND,s1,negative,0.3\nHAND,s2,positive,0.9\nHAND,s3,positive,0.2\nWRIST,s4,0,0.5\nWRIST,s5,abnormal,0.7\n",
    )
    .unwrap();
    let plots = tmp.path().join("plots");
    let json = stdout_json(&murgan(&[
        "metrics",
        "--scores",
        p(&csv),
        "--json",
        "--plots",
        p(&plots),
        "--bootstrap",
        "200",
    ]));
    assert_eq!(json["image"]["HAND"]["auc"], 0.75);
    assert_eq!(json["image"]["WRIST"]["auc"], 1.0);
    assert_eq!(json["image"]["ALL"]["n_normal"], 3);
    assert_eq!(json["image"]["ALL"]["n_abnormal"], 3);
    assert!(json["image"]["ALL"]["ap"].as_f64().unwrap() > 0.0);
    assert!(
        json["image"]["ALL"]["auc_ci_low"].as_f64().unwrap()
            <= json["image"]["ALL"]["auc"].as_f64().unwrap()
    );
    assert_eq!(json["study"]["HAND"]["n_normal"], 1);
    for f in [
        "roc_image.png",
        "roc_study.png",
        "hist_HAND.png",
        "hist_ALL.png",
    ] {
        assert!(image::open(plots.join(f)).is_ok(), "{f}");
    }
    // Study HAND s1 is 0.2 by mean (ties with s3: AUC 0.75) and 0.3 by max (AUC 0.5).
    assert_eq!(json["study"]["HAND"]["auc"], 0.75);
    let max = stdout_json(&murgan(&[
        "metrics",
        "--scores",
        p(&csv),
        "--json",
        "--study-agg",
        "max",
        "--bootstrap",
        "0",
    ]));
    assert_eq!(max["study"]["HAND"]["auc"], 0.5);
    assert!(max["image"]["ALL"]["auc_ci_low"].is_null());

    std::fs::write(&csv, "label,score\n0,0.1\n1,NaN\n").unwrap();
    let nan = murgan(&["metrics", "--scores", p(&csv)]);
    assert!(!nan.status.success());
    let err = String::from_utf8_lossy(&nan.stderr);
    assert!(err.contains("scores.csv:3") && err.contains("NaN"), "{err}");

    std::fs::write(&csv, "label,score\n0,0.1\n0,0.4\n").unwrap();
    let one = murgan(&["metrics", "--scores", p(&csv)]);
    assert!(!one.status.success());
    assert!(String::from_utf8_lossy(&one.stderr).contains("both normal and abnormal"));
}

#[test]
fn train_writes_checkpoints_resumes_and_refuses_bad_choices() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("run");
    let synth = murgan(&[
        "synth",
        "--out",
        p(&data),
        "--per-category",
        "6",
        "--image-size",
        "32",
        "--categories",
        "HAND",
    ]);
    assert!(synth.status.success());
    let common = [
        "train",
        "--data",
        p(&data),
        "--out",
        p(&out),
        "--image-size",
        "16",
        "--width",
        "4",
        "--latent",
        "4",
        "--batch-size",
        "4",
        "--checkpoint-every",
        "2",
        "--category",
        "hand",
    ];
    let run = |extra: &[&str]| murgan(&[&common[..], extra].concat());
    let first = run(&[
        "--model",
        "fanogan",
        "--iterations",
        "2",
        "--encoder-iterations",
        "2",
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("checkpoints/iter-000004/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["kind"], "fanogan");
    assert_eq!(meta["iteration"], 4);
    assert_eq!(meta["phase"], "done");
    assert_eq!(meta["image_size"], 16);
    assert_eq!(meta["categories"], serde_json::json!(["HAND"]));
    assert!(meta["data"]["images"].as_u64().unwrap() > 0);
    assert!(out.join("checkpoints/iter-000002/encoder.bpk").is_file());
    assert!(out.join("losses.png").is_file());

    // Resuming a finished run trains nothing and succeeds; another learning rate is refused.
    let again = run(&[
        "--model",
        "fanogan",
        "--iterations",
        "2",
        "--encoder-iterations",
        "2",
        "--resume",
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let other = run(&[
        "--model",
        "fanogan",
        "--iterations",
        "2",
        "--encoder-iterations",
        "2",
        "--resume",
        "--lr",
        "0.1",
    ]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("does not match"));
    // A finished run extended: its encoder phase continues from the last checkpoint to 3.
    let longer = run(&[
        "--model",
        "fanogan",
        "--iterations",
        "2",
        "--encoder-iterations",
        "3",
        "--resume",
    ]);
    assert!(
        longer.status.success(),
        "{}",
        String::from_utf8_lossy(&longer.stderr)
    );
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("checkpoints/iter-000005/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (meta["iteration"].as_u64(), meta["phase"].as_str()),
        (Some(5), Some("done"))
    );

    let gpu = run(&["--model", "anogan", "--iterations", "1", "--device", "cuda"]);
    assert!(!gpu.status.success());
    assert!(String::from_utf8_lossy(&gpu.stderr).contains("--features cuda"));
    let bad = run(&["--model", "vae", "--iterations", "1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("anogan, alphagan, fanogan or squid"));
    let misplaced = run(&["--model", "anogan", "--adversarial-weight", "0.1"]);
    assert!(!misplaced.status.success());
    assert!(String::from_utf8_lossy(&misplaced.stderr).contains("SQUID setting"));
    let shaky = run(&["--model", "anogan", "--iterations", "1", "--jitter", "0.7"]);
    assert!(!shaky.status.success());
    let err = String::from_utf8_lossy(&shaky.stderr);
    assert!(err.contains("jitter") && err.contains("[0, 0.5]"), "{err}");
}

#[test]
#[cfg(feature = "serve")]
fn serve_without_models_refuses_to_start_and_says_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = murgan(&["serve", "--models", p(tmp.path()), "--addr", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no trained model") && err.contains("murgan train"),
        "{err}"
    );
}

#[test]
fn import_torch_writes_a_model_that_scores() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../murgan-models/tests/fixtures/torch");
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("x.png");
    image::GrayImage::from_fn(40, 30, |x, y| image::Luma([((x * 5 + y * 3) % 256) as u8]))
        .save(&png)
        .unwrap();
    for (model, folder, component) in [
        ("anogan", "dcgan", "discrimination"),
        ("alphagan", "alphagan", "l1"),
    ] {
        let out = tmp.path().join(model);
        let o = murgan(&[
            "import-torch",
            "--model",
            model,
            "--from",
            p(&fixture.join(folder)),
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("32×32"));
        let o = murgan(&[
            "score",
            "--model",
            p(&out),
            p(&png),
            "--json",
            "--search-steps",
            "20",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let line = &lines_json(&o)[0];
        assert!(line["score"].as_f64().unwrap().is_finite(), "{line}");
        assert!(line["components"][component].is_number(), "{line}");
    }
    // The wrong family for the files: an error saying which networks are missing.
    let o = murgan(&[
        "import-torch",
        "--model",
        "alphagan",
        "--from",
        p(&fixture.join("dcgan")),
        "--out",
        p(&tmp.path().join("bad")),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("encoder (E)") && err.contains("code discriminator (C)"),
        "{err}"
    );
    assert!(!tmp.path().join("bad").exists());
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // `murgan ... | head`: once the reader has closed the pipe, the next write ends the
    // process by SIGPIPE, as for other Unix tools, not by a panic inside `println!`.
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let out = p(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_murgan"))
        .args([
            "synth",
            "--out",
            out,
            "--per-category",
            "2",
            "--categories",
            "HAND",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        result.status.signal(),
        Some(13),
        "{:?}: {stderr}",
        result.status
    );
}
