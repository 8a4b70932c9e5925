//! Plots are written as valid PNG and SVG files.
#![cfg(feature = "plot")]
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use murgan_metrics::{Roc, histogram_plot, roc_plot};

#[test]
fn roc_and_histogram_files() {
    let dir = tempfile::tempdir().unwrap();
    let labels = [false, false, true, true, false, true];
    let a = Roc::new(&labels, &[0.1, 0.4, 0.35, 0.8, 0.2, 0.9]).unwrap();
    let b = Roc::new(&labels, &[0.5, 0.4, 0.3, 0.8, 0.2, 0.1]).unwrap();
    let png = dir.path().join("roc.png");
    roc_plot(&png, "ROC", &[("L1".into(), &a), ("L2".into(), &b)]).unwrap();
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (640, 480));
    // Not a blank canvas: the curves put coloured pixels on it.
    let rgb = img.to_rgb8();
    assert!(rgb.pixels().any(|p| p.0 == [31, 119, 180]));
    let svg = dir.path().join("roc.svg");
    roc_plot(&svg, "ROC", &[("L1".into(), &a)]).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("AUC 0.889"),
        "{}",
        &text[..200.min(text.len())]
    );
    let hist = dir.path().join("hist.png");
    histogram_plot(&hist, "scores", &[0.1, 0.2, 0.2, 0.4], &[0.5, 0.9], 10).unwrap();
    assert!(image::open(&hist).is_ok());
    assert!(roc_plot(&dir.path().join("roc.gif"), "x", &[("a".into(), &a)]).is_err());
    assert!(histogram_plot(&dir.path().join("h.png"), "x", &[], &[], 10).is_err());
}
