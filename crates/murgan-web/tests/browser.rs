//! A real browser: headless Chromium driven through WebDriver uploads an X-ray through the
//! page's file input and must see the score and the heatmap. Needs `chromedriver` and
//! `chromium` (Debian's `chromium-driver` and `chromium`, which `.ci/run` installs); without
//! them the test is skipped outside CI and fails in CI.
//!
//! `MURGAN_WEB_MODELS=DIR MURGAN_WEB_XRAY=FILE.png MURGAN_SCREENSHOT=OUT.png` runs it on a real
//! model and X-ray instead of the tiny model it trains (how the README's screenshot was made).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use murgan_core::Device;
use murgan_web::{Limits, load_models, router};

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_uploads_an_xray_and_sees_score_and_heatmap() {
    let driver_bin = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which("chromedriver"));
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(which);
    let (Some(driver_bin), Some(browser)) = (driver_bin, browser) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium and chromium-driver for the browser test"
        );
        eprintln!("skipped: chromium or chromedriver not installed");
        return;
    };

    // The server, on a free loopback port.
    let dir = tempfile::tempdir().unwrap();
    let models_dir = std::env::var_os("MURGAN_WEB_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::train_model(dir.path()));
    let models = load_models(&models_dir, &Device::flex()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(murgan_web::serve(
        listener,
        router(models, Limits::default()),
        async {
            let _ = stop_rx.await;
        },
    ));

    // chromedriver, and a headless Chromium session through it.
    let port = free_port();
    let _driver = Driver(
        Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let started = Instant::now();
    let client = loop {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("could not start a WebDriver session: {e}"),
        }
    };

    client.goto(&format!("http://{addr}/")).await.unwrap();
    // The model list fills the category menu.
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#category option"))
        .await
        .unwrap();
    let xray = match std::env::var_os("MURGAN_WEB_XRAY") {
        Some(path) => PathBuf::from(path),
        None => {
            let path = dir.path().join("hand-xray.png");
            std::fs::write(&path, common::xray_png(120, 96, 2)).unwrap();
            path
        }
    };
    let width = murgan_core::data::image::decode_file(&xray, &Default::default())
        .unwrap()
        .width;
    let input = client.find(Locator::Id("file")).await.unwrap();
    input.send_keys(xray.to_str().unwrap()).await.unwrap();

    // The score and the heatmap appear.
    let deadline = Instant::now() + Duration::from_secs(30);
    let score = loop {
        let text = client
            .find(Locator::Id("score"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !text.is_empty() {
            break text;
        }
        let status = client
            .find(Locator::Id("status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            Instant::now() < deadline,
            "no score appeared; status: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let score: f64 = score.trim().parse().unwrap();
    assert!(score.is_finite());
    let heatmap = client.find(Locator::Id("heatmap")).await.unwrap();
    let src = heatmap.attr("src").await.unwrap().unwrap_or_default();
    assert!(src.starts_with("data:image/png;base64,"), "{src:.40}");
    let loaded = client
        .execute(
            "return document.getElementById('heatmap').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        loaded.as_u64(),
        Some(u64::from(width)),
        "the heatmap is on the original's grid"
    );
    // The original is shown as murgan decoded it (so DICOM uploads display too).
    let original = client
        .execute(
            "return document.getElementById('original').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(original.as_u64(), Some(u64::from(width)), "original shown");
    let rows = client
        .find_all(Locator::Css("#history tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);

    // A screenshot of the page, for the README and for a human to look at.
    let png = client.screenshot().await.unwrap();
    let out = std::env::var_os("MURGAN_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-app.png"));
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());

    client.close().await.unwrap();
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
