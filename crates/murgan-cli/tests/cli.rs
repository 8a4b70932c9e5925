//! The `murgan` binary end to end: synth, dataset summary, metrics, and their errors.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn murgan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_murgan"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

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

    let gpu = run(&["--model", "anogan", "--iterations", "1", "--device", "cuda"]);
    assert!(!gpu.status.success());
    assert!(String::from_utf8_lossy(&gpu.stderr).contains("--features cuda"));
    let bad = run(&["--model", "vae", "--iterations", "1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("anogan, alphagan or fanogan"));
}

fn lines_json(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn score_evaluate_and_calibrate_a_trained_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("MURA-v1.1"), tmp.path().join("run"));
    let ok = |o: &Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&murgan(&[
        "synth",
        "--out",
        p(tmp.path()),
        "--per-category",
        "8",
        "--image-size",
        "48",
        "--categories",
        "HAND,ELBOW",
    ]));
    ok(&murgan(&[
        "train",
        "--model",
        "fanogan",
        "--data",
        p(&data),
        "--out",
        p(&run),
        "--image-size",
        "16",
        "--iterations",
        "4",
        "--encoder-iterations",
        "4",
        "--batch-size",
        "8",
        "--width",
        "4",
        "--latent",
        "8",
    ]));

    // `score`: one JSON line per input, a broken file gets its error and the others go on.
    let broken = tmp.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let heat = tmp.path().join("heat");
    let hand = data.join("valid/XR_HAND");
    let out = murgan(&[
        "score",
        "--model",
        p(&run),
        p(&hand),
        p(&broken),
        "--json",
        "--heatmaps",
        p(&heat),
        "--batch-size",
        "3",
    ]);
    ok(&out);
    let lines = lines_json(&out);
    let images: Vec<_> = lines.iter().filter(|l| l["error"].is_null()).collect();
    assert!(images.len() >= 2, "{lines:?}");
    for l in &images {
        let (r, f) = (
            l["components"]["residual"].as_f64().unwrap(),
            l["components"]["feature"].as_f64().unwrap(),
        );
        assert!((l["score"].as_f64().unwrap() - (r + f)).abs() < 1e-5);
        assert!(l["is_anomalous"].is_null(), "not calibrated yet");
    }
    let bad = lines.last().unwrap();
    assert!(bad["path"].as_str().unwrap().ends_with("broken.png"));
    assert!(
        bad["error"].as_str().unwrap().contains("broken.png"),
        "{bad}"
    );
    assert!(bad["score"].is_null());
    assert_eq!(std::fs::read_dir(&heat).unwrap().count(), images.len());
    // Every file failing is a failure of the command.
    assert!(
        !murgan(&["score", "--model", p(&run), p(&broken)])
            .status
            .success()
    );

    // A DICOM twin of a PNG (16 bits, values × 257) scores exactly as the PNG.
    let png = PathBuf::from(images[0]["path"].as_str().unwrap());
    let gray = image::open(&png).unwrap().to_luma8();
    let values: Vec<u16> = gray.as_raw().iter().map(|&v| v as u16 * 257).collect();
    let dcm = tmp.path().join("twin.dcm");
    murgan_core::data::image::dicom::write_monochrome(
        &dcm,
        gray.width(),
        gray.height(),
        &values,
        16,
        murgan_core::data::image::dicom::Monochrome::Two,
    )
    .unwrap();
    let out = murgan(&["score", "--model", p(&run), p(&png), p(&dcm), "--json"]);
    ok(&out);
    let twins = lines_json(&out);
    assert!(twins[1]["error"].is_null(), "{twins:?}");
    assert_eq!(twins[0]["score"], twins[1]["score"]);
    assert_eq!(twins[0]["components"], twins[1]["components"]);

    // `evaluate`: per-component metrics equal to `murgan metrics` on the CSV it wrote.
    let csv = tmp.path().join("scores.csv");
    let eval = stdout_json(&murgan(&[
        "evaluate",
        "--model",
        p(&run),
        "--data",
        p(&data),
        "--json",
        "--bootstrap",
        "50",
        "--scores-out",
        p(&csv),
        "--plots",
        p(&tmp.path().join("plots")),
    ]));
    assert!(eval["score"]["image"]["HAND"]["auc"].is_number(), "{eval}");
    for column in ["score", "residual", "feature", "d", "residual_coarse"] {
        let m = stdout_json(&murgan(&[
            "metrics",
            "--scores",
            p(&csv),
            "--column",
            column,
            "--json",
            "--bootstrap",
            "50",
        ]));
        let e = if column == "score" {
            &eval["score"]
        } else {
            &eval["components"][column]
        };
        assert_eq!(&m, e, "{column}");
    }
    assert!(tmp.path().join("plots/residual_roc_image.png").is_file());

    // `calibrate` stores a threshold; `score` then gives verdicts.
    ok(&murgan(&[
        "calibrate",
        "--model",
        p(&run),
        "--data",
        p(&data),
        "--specificity",
        "0.8",
    ]));
    let out = murgan(&["score", "--model", p(&run), p(&hand), "--json"]);
    ok(&out);
    let calibrated = lines_json(&out);
    assert!(calibrated.iter().all(|l| l["is_anomalous"].is_boolean()));
    // The izi score does not search: other search settings keep the threshold.
    let out = murgan(&[
        "score",
        "--model",
        p(&run),
        p(&hand),
        "--json",
        "--search-steps",
        "7",
    ]);
    ok(&out);
    assert!(
        lines_json(&out)
            .iter()
            .all(|l| l["is_anomalous"].is_boolean()),
        "the izi threshold was dropped for a setting izi does not use"
    );
    // A searching method is another score: no threshold for it.
    let out = murgan(&[
        "score",
        "--model",
        p(&run),
        p(&hand),
        "--json",
        "--method",
        "izi-search",
        "--search-steps",
        "3",
    ]);
    ok(&out);
    assert!(lines_json(&out).iter().all(|l| l["is_anomalous"].is_null()));

    // `evaluate` now reports the calibrated operating point beside the in-sample one, for the
    // main score only.
    let eval = stdout_json(&murgan(&[
        "evaluate",
        "--model",
        p(&run),
        "--data",
        p(&data),
        "--json",
        "--bootstrap",
        "20",
    ]));
    let all = &eval["score"]["image"]["ALL"];
    assert!(all["calibrated_threshold"].is_number(), "{all}");
    assert!(all["calibrated_specificity"].is_number(), "{all}");
    assert!(all["in_sample_specificity"].is_number(), "{all}");
    assert!(eval["components"]["residual"]["image"]["ALL"]["calibrated_threshold"].is_null());
    // MURA images cluster in studies: the image-level CI resamples whole studies.
    assert_eq!(all["auc_ci_unit"], "study", "{all}");

    // A folder with a symbolic-link loop is walked once, without following the link.
    #[cfg(unix)]
    {
        let looped = tmp.path().join("looped");
        std::fs::create_dir_all(&looped).unwrap();
        for (k, l) in calibrated.iter().take(3).enumerate() {
            let src = PathBuf::from(l["path"].as_str().unwrap());
            std::fs::copy(&src, looped.join(format!("{k}.png"))).unwrap();
        }
        std::os::unix::fs::symlink(&looped, looped.join("again")).unwrap();
        let out = murgan(&["score", "--model", p(&run), p(&looped), "--json"]);
        ok(&out);
        assert_eq!(lines_json(&out).len(), 3, "each image once");
    }
    // Another method is refused for this model, by name.
    let out = murgan(&[
        "score",
        "--model",
        p(&run),
        "--method",
        "reconstruction",
        p(&hand),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not apply"));
}

#[test]
fn the_xray_preset_equalises_and_declares_the_discriminator_score_main() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("MURA-v1.1"), tmp.path().join("run"));
    let ok = |o: &Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&murgan(&[
        "synth",
        "--out",
        p(tmp.path()),
        "--per-category",
        "8",
        "--image-size",
        "48",
        "--categories",
        "HAND",
    ]));
    ok(&murgan(&[
        "train",
        "--model",
        "fanogan",
        "--preset",
        "xray",
        "--data",
        p(&data),
        "--out",
        p(&run),
        "--image-size",
        "16",
        "--iterations",
        "3",
        "--encoder-iterations",
        "3",
        "--batch-size",
        "8",
        "--width",
        "4",
        "--latent",
        "8",
        "--bn-refresh",
        "2",
    ]));
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("checkpoints/iter-000006/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["main_score"], "d");
    assert_eq!(meta["preprocess"]["equalize"], true);
    assert_eq!(meta["config"]["train"]["bn_refresh_batches"], 2);
    let eval = stdout_json(&murgan(&[
        "evaluate",
        "--model",
        p(&run),
        "--data",
        p(&data),
        "--json",
        "--bootstrap",
        "0",
    ]));
    // The main score is the discriminator's; f-AnoGAN's izi score is reported beside it.
    assert_eq!(
        eval["score"]["image"]["ALL"]["auc"],
        eval["components"]["d"]["image"]["ALL"]["auc"]
    );
    assert!(
        eval["components"]["izi"]["image"]["ALL"]["auc"].is_number(),
        "{eval}"
    );
    // Another method, which has no `d`, scores with its own score.
    let hand = data.join("valid/XR_HAND");
    let out = murgan(&[
        "score",
        "--model",
        p(&run),
        p(&hand),
        "--json",
        "--method",
        "search",
        "--search-steps",
        "2",
    ]);
    ok(&out);
    let lines = lines_json(&out);
    assert!(!lines.is_empty());
    for l in &lines {
        let (r, d) = (
            l["components"]["residual"].as_f64().unwrap(),
            l["components"]["discrimination"].as_f64().unwrap(),
        );
        assert!((l["score"].as_f64().unwrap() - (0.9 * r + 0.1 * d)).abs() < 1e-3 * r.max(1.0));
    }
}

#[test]
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
