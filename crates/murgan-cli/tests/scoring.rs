//! The `murgan` binary on trained models: score, evaluate and calibrate, and the xray preset.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};

use common::{lines_json, murgan, ok, p, stdout_json};

/// A small synthetic MURA set under `dir` (8 studies per category, 48×48): `dir/MURA-v1.1`.
fn synth(dir: &Path, categories: &str) {
    ok(&murgan(&[
        "synth",
        "--out",
        p(dir),
        "--per-category",
        "8",
        "--image-size",
        "48",
        "--categories",
        categories,
    ]));
}

#[test]
fn score_evaluate_and_calibrate_a_trained_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("MURA-v1.1"), tmp.path().join("run"));
    synth(tmp.path(), "HAND,ELBOW");
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
    for column in [
        "score",
        "residual",
        "feature",
        "d",
        "residual_coarse",
        "residual_peak",
    ] {
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
fn the_xray_preset_equalises_and_declares_the_combined_main_score() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("MURA-v1.1"), tmp.path().join("run"));
    synth(tmp.path(), "HAND");
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
    assert_eq!(meta["main_score"], "combined");
    assert_eq!(meta["reference"]["method"], "izi");
    assert_eq!(meta["config"]["model"]["disc_batch_norm"], false);
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
    // The main score is `combined`; f-AnoGAN's izi score is reported beside it.
    assert_eq!(
        eval["score"]["image"]["ALL"]["auc"],
        eval["components"]["combined"]["image"]["ALL"]["auc"]
    );
    assert!(
        eval["components"]["izi"]["image"]["ALL"]["auc"].is_number(),
        "{eval}"
    );
    // Another method, which has no `combined`, scores with its own score.
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

/// SQUID through the front door: train, resume to a longer run, score with heatmaps,
/// evaluate and calibrate, like the other kinds.
#[test]
fn squid_trains_scores_evaluates_and_calibrates() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("MURA-v1.1"), tmp.path().join("run"));
    synth(tmp.path(), "HAND");
    let train = |iterations: &str, resume: bool| {
        let mut args = vec![
            "train",
            "--model",
            "squid",
            "--data",
            p(&data),
            "--out",
            p(&run),
            "--image-size",
            "32",
            "--iterations",
            iterations,
            "--batch-size",
            "8",
            "--width",
            "4",
            "--jitter",
            "0.05",
        ];
        if resume {
            args.push("--resume");
        }
        murgan(&args)
    };
    ok(&train("2", false));
    ok(&train("3", true));
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("checkpoints/iter-000003/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["kind"], "squid");
    // The training images' shift and zoom is part of the recorded configuration.
    let text = meta.to_string();
    assert!(
        text.contains(r#""jitter":{"max_scale":0.05,"max_shift":0.05}"#),
        "{text}"
    );
    // Training ends by fitting the normal reference of the `combined` score.
    let parts: Vec<&str> = meta["reference"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["residual_coarse", "d"]);
    assert!(
        run.join("checkpoints/iter-000003/autoencoder.bpk")
            .is_file()
    );
    assert!(run.join("losses.png").is_file());

    let hand = data.join("valid/XR_HAND");
    let heat = tmp.path().join("heat");
    let out = murgan(&[
        "score",
        "--model",
        p(&run),
        p(&hand),
        "--json",
        "--heatmaps",
        p(&heat),
    ]);
    ok(&out);
    let lines = lines_json(&out);
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l["score"].as_f64().unwrap().is_finite(), "{l}");
        assert!(l["components"]["residual"].as_f64().unwrap() >= 0.0, "{l}");
    }
    assert!(std::fs::read_dir(&heat).unwrap().count() > 0);
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
    assert!(eval["score"]["image"]["ALL"]["auc"].is_number(), "{eval}");
    assert!(
        eval["components"]["d"]["image"]["ALL"]["auc"].is_number(),
        "{eval}"
    );
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
    assert!(
        lines_json(&out)
            .iter()
            .all(|l| l["is_anomalous"].is_boolean())
    );
}
