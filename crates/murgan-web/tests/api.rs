//! Every endpoint and every error case, in process; and a load check over loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use murgan_core::Device;
use murgan_core::data::image::dicom::{self, Monochrome};
use murgan_core::data::image::{self, DecodeLimits};
use murgan_web::{Limits, load_models, router};
use serde_json::Value;
use std::path::Path;
use tower::ServiceExt as _;

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, json)
}

fn post(uri: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri).body(Body::from(body)).unwrap()
}

fn app(limits: Limits) -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let models = common::train_model(dir.path());
    let loaded = load_models(&models, &Device::flex()).unwrap();
    (dir, router(loaded, limits))
}

#[tokio::test]
async fn endpoints_answer_and_user_mistakes_get_json_errors() {
    let (_dir, app) = app(Limits::default());
    let (s, body) = call(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!((s, body), (StatusCode::OK, Value::String("ok".into())));
    let (s, page) = call(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("<input type=\"file\"") && !page.contains("https://"));

    let (s, models) = call(
        &app,
        Request::get("/api/models").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(models[0]["name"], "hand");
    assert_eq!(models[0]["kind"], "fanogan");
    assert_eq!(
        models[0]["components"],
        serde_json::json!([
            "residual",
            "feature",
            "d",
            "residual_coarse",
            "residual_peak"
        ])
    );

    // A raw PNG body, the only model: a score, its parts, pictures, no verdict (uncalibrated).
    let (s, r) = call(&app, post("/api/score", common::xray_png(40, 30, 0))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let score = r["score"].as_f64().unwrap();
    let (res, feat) = (
        r["components"]["residual"].as_f64().unwrap(),
        r["components"]["feature"].as_f64().unwrap(),
    );
    assert!((score - (res + feat)).abs() < 1e-6);
    assert!(
        r["heatmap"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert!(
        r["reconstruction"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(40), Some(30))
    );
    assert!(r["is_anomalous"].is_null() && r["threshold"].is_null());

    // Its DICOM twin (16-bit values × 257, stored as MONOCHROME1 so inverted): the same
    // score, and the original comes back as the PNG murgan saw.
    let png = common::xray_png(40, 30, 0);
    let gray = image::decode_bytes(&png, Path::new("x.png"), &DecodeLimits::default()).unwrap();
    let inverted: Vec<u16> = gray
        .pixels
        .iter()
        .map(|v| 65535 - (v * 255.0).round() as u16 * 257)
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dcm = tmp.path().join("x.dcm");
    dicom::write_monochrome(&dcm, 40, 30, &inverted, 16, Monochrome::One).unwrap();
    let (s, d) = call(&app, post("/api/score", std::fs::read(&dcm).unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["score"], r["score"]);
    assert_eq!(
        d["original"].as_str().unwrap(),
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(image::png_bytes(&gray).unwrap())
        )
    );

    // The same image as a multipart form, by category: the same score.
    let boundary = "XBOUNDARYX";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend(common::xray_png(40, 30, 0));
    form.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let req = Request::post("/api/score?category=hand")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(form))
        .unwrap();
    let (s, m) = call(&app, req).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["score"], r["score"]);

    // Mistakes: each a 4xx with a JSON error that names the problem.
    let mut truncated = common::xray_png(40, 30, 0);
    truncated.truncate(truncated.len() / 2);
    let bomb = common::png_header_only(50_000, 50_000);
    let mut junk_dicom = vec![0u8; 128];
    junk_dicom.extend_from_slice(b"DICM\x02\x00\x00\x00garbage");
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post("/api/score", vec![0u8; (20 << 20) + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than",
        ),
        (
            post("/api/score", b"hello, not an image".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not a PNG, JPEG or DICOM",
        ),
        (
            post("/api/score", truncated),
            StatusCode::BAD_REQUEST,
            "truncated",
        ),
        (
            post("/api/score", junk_dicom),
            StatusCode::BAD_REQUEST,
            "DICOM",
        ),
        (
            post("/api/score", bomb),
            StatusCode::BAD_REQUEST,
            "too large",
        ),
        (
            post("/api/score", Vec::new()),
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            post("/api/score?category=KNEE", common::xray_png(8, 8, 0)),
            StatusCode::NOT_FOUND,
            "KNEE",
        ),
        (
            Request::get("/nowhere").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "no such page",
        ),
    ];
    for (req, want, words) in cases {
        let (s, e) = call(&app, req).await;
        assert_eq!(s, want, "{e}");
        let msg = e["error"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains(words), "{want}: {msg:?} lacks {words:?}");
    }
}

/// A SQUID model is served like the others: listed with its kind and components, scored
/// with a heatmap and a reconstruction.
#[tokio::test]
async fn a_squid_model_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let models = common::train_squid(dir.path());
    let app = router(
        load_models(&models, &Device::flex()).unwrap(),
        Limits::default(),
    );
    let (s, models) = call(
        &app,
        Request::get("/api/models").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(models[0]["kind"], "squid");
    assert_eq!(models[0]["method"], "inpainting");
    assert_eq!(
        models[0]["components"],
        serde_json::json!(["residual", "residual_coarse", "d", "residual_peak"])
    );
    let (s, r) = call(&app, post("/api/score", common::xray_png(40, 30, 0))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["score"].as_f64().unwrap().is_finite());
    assert!(r["components"]["residual"].as_f64().unwrap() >= 0.0);
    for picture in ["heatmap", "reconstruction"] {
        assert!(
            r[picture]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,"),
            "{picture}"
        );
    }
}

#[tokio::test]
async fn a_saturated_server_answers_503_at_once() {
    let (_dir, app) = app(Limits {
        max_in_flight: 0,
        ..Limits::default()
    });
    let started = Instant::now();
    let (s, e) = call(&app, post("/api/score", common::xray_png(16, 16, 0))).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(e["error"].as_str().unwrap().contains("busy"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Sends one HTTP/1.1 request over a fresh loopback connection; returns the status code.
async fn http_post(addr: std::net::SocketAddr, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/score HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_200_requests_from_16_clients_all_answered() {
    let (_dir, app) = app(Limits {
        max_in_flight: 32,
        ..Limits::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(murgan_web::serve(listener, app, async {
        let _ = stop_rx.await;
    }));
    let png = std::sync::Arc::new(common::xray_png(64, 48, 1));
    let started = Instant::now();
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let png = png.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..(200 / 16 + usize::from(c < 200 % 16)) {
                    let t = Instant::now();
                    let status = http_post(addr, &png).await;
                    out.push((status, t.elapsed()));
                }
                out
            })
        })
        .collect();
    let mut results = Vec::new();
    for c in clients {
        results.extend(c.await.unwrap());
    }
    let wall = started.elapsed();
    assert_eq!(results.len(), 200, "every request answered");
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(
        ok,
        200,
        "statuses: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    let mut ms: Vec<f64> = results.iter().map(|(_, d)| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    eprintln!(
        "load: 200 requests, 16 clients, {:.2} s wall, {:.0} req/s; latency ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
        wall.as_secs_f64(),
        200.0 / wall.as_secs_f64(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        ms[ms.len() - 1]
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
