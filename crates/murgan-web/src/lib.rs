//! murgan's web app: a page where a user drops an X-ray and sees its anomaly score, verdict,
//! reconstruction and heatmap, and the JSON API behind it.
//!
//! - `GET /` the page (self-contained: no CDN, no web font; works offline)
//! - `POST /api/score[?category=C]` an image as the raw body or a multipart `file` field →
//!   score, components, threshold, verdict, heatmap and reconstruction as PNG data URLs
//! - `GET /api/models`, `GET /healthz`
//!
//! Models are loaded once at start. Scoring runs on blocking threads behind a bounded number
//! of permits: when all are taken, the server answers 503 at once instead of queueing without
//! bound. Uploads live in memory only and are dropped after the answer; nothing is written to
//! disk. A user's mistake (too large, not an image, truncated, decompression bomb, unknown
//! category) gets a 4xx with a JSON `{"error": ...}`, never a 500 or a panic.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use murgan_core::data::{DataError, image};
use murgan_core::{Detector, Device};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The page, served by the binary itself.
const INDEX_HTML: &str = include_str!("../assets/index.html");

/// What can go wrong while starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The models folder holds no usable checkpoint.
    #[error(
        "no trained model in {0}: train one first, e.g. `murgan train --model fanogan --data DATA --category HAND --out {0}/hand`, then start the server again"
    )]
    NoModels(PathBuf),
    /// A checkpoint could not be loaded.
    #[error("{path}: {source}")]
    Model {
        /// The checkpoint or run folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: murgan_core::Error,
    },
    /// The folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A loaded model and the names it answers to.
#[derive(Debug)]
pub struct Model {
    /// The name (its folder's name).
    pub name: String,
    /// The categories it was trained on.
    pub categories: Vec<String>,
    detector: Mutex<Detector>,
    summary: Value,
}

impl Model {
    /// Wraps a detector under `name`.
    pub fn new(name: String, detector: Detector) -> Self {
        let meta = detector.meta();
        let summary = json!({
            "name": name,
            "kind": meta.kind.name(),
            "method": detector.method().name(),
            "categories": meta.categories,
            "image_size": meta.image_size,
            "components": detector.component_names(),
            "threshold": detector.threshold(),
            "iteration": meta.iteration,
        });
        Self {
            categories: meta.categories.clone(),
            name,
            detector: Mutex::new(detector),
            summary,
        }
    }

    fn answers_to(&self, wanted: &str) -> bool {
        self.name.eq_ignore_ascii_case(wanted)
            || self.categories.iter().any(|c| {
                c.eq_ignore_ascii_case(wanted)
                    || c.eq_ignore_ascii_case(wanted.trim_start_matches("XR_"))
            })
    }
}

/// Loads every model under `dir`: `dir` itself when it is a checkpoint or a training run, else
/// each sub-folder that is one (named after the sub-folder).
pub fn load_models(dir: &Path, device: &Device) -> Result<Vec<Model>, WebError> {
    let load = |path: &Path, name: String| {
        Detector::load_with(path, device, None)
            .map(|d| Model::new(name, d))
            .map_err(|source| WebError::Model {
                path: path.to_path_buf(),
                source,
            })
    };
    if murgan_core::models::load::resolve(dir).is_ok() {
        let name = dir
            .file_name()
            .map_or("model".into(), |n| n.to_string_lossy().into_owned());
        return Ok(vec![load(dir, name)?]);
    }
    let entries = std::fs::read_dir(dir).map_err(|source| WebError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && murgan_core::models::load::resolve(p).is_ok())
        .collect();
    dirs.sort();
    let models = dirs
        .iter()
        .map(|p| {
            load(
                p,
                p.file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if models.is_empty() {
        return Err(WebError::NoModels(dir.to_path_buf()));
    }
    Ok(models)
}

/// Server settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted, in bytes (20 MiB).
    pub max_body_bytes: usize,
    /// Scoring requests admitted at once (running or waiting); more get 503 (0: refuse all).
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 << 20,
            max_in_flight: 8,
        }
    }
}

/// The shared state of the handlers.
#[derive(Clone)]
struct AppState {
    models: Arc<Vec<Arc<Model>>>,
    permits: Arc<Semaphore>,
    limits: Limits,
}

/// The app: every route, with request logging.
pub fn router(models: Vec<Model>, limits: Limits) -> Router {
    let state = AppState {
        models: Arc::new(models.into_iter().map(Arc::new).collect()),
        permits: Arc::new(Semaphore::new(limits.max_in_flight)),
        limits,
    };
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/models", get(list_models))
        .route("/api/score", post(score))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page".into()) })
        // The handler reads the body itself, under its own limit, to answer 413 as JSON.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {:.1} ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    );
    response
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn list_models(State(state): State<AppState>) -> Json<Value> {
    Json(Value::Array(
        state.models.iter().map(|m| m.summary.clone()).collect(),
    ))
}

#[derive(Deserialize)]
struct ScoreQuery {
    category: Option<String>,
}

fn data_url(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// Reads the upload: the raw body, or the `file` (else first) field of a multipart form.
async fn upload(req: Request, limit: usize) -> Result<(Bytes, String), Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload is larger than the limit of {} MiB", limit >> 20),
        )
    })?;
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        return Ok((bytes, "upload".into()));
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let bad = |m: String| error(StatusCode::BAD_REQUEST, m);
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(format!("not a valid multipart form: {e}")))?;
    let mut first = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("reading the form: {e}")))?
    {
        let is_file = field.name() == Some("file");
        let name = field.file_name().unwrap_or("upload").to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("reading the form: {e}")))?;
        if is_file {
            return Ok((data, name));
        }
        first.get_or_insert((data, name));
    }
    first.ok_or_else(|| bad("the form holds no file".into()))
}

async fn score(
    State(state): State<AppState>,
    Query(query): Query<ScoreQuery>,
    req: Request,
) -> Response {
    let model = match &query.category {
        Some(c) => match state.models.iter().find(|m| m.answers_to(c)) {
            Some(m) => m.clone(),
            None => {
                let known: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no model for category {c:?}; models: {}", known.join(", ")),
                );
            }
        },
        None if state.models.len() == 1 => state.models[0].clone(),
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "several models are loaded: choose one with ?category=".into(),
            );
        }
    };
    let (bytes, name) = match upload(req, state.limits.max_body_bytes).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if bytes.is_empty() {
        return error(StatusCode::BAD_REQUEST, "the upload is empty".into());
    }
    // Refused before taking a scoring slot; the decoder recognises formats the same way.
    if !image::detect_format(&bytes).is_some_and(image::is_supported) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{name}: not a PNG, JPEG or DICOM image"),
        );
    }
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is busy scoring other images; try again shortly".into(),
        );
    };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        score_bytes(&model, &bytes, &name)
    });
    match job.await {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err((status, message))) => error(status, message),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("scoring failed: {e}"),
        ),
    }
}

/// Decodes and scores an upload (on a blocking thread).
fn score_bytes(model: &Model, bytes: &[u8], name: &str) -> Result<Value, (StatusCode, String)> {
    let started = Instant::now();
    let detector = model.detector.lock().unwrap_or_else(|p| p.into_inner());
    let limits = detector.preprocess_config().limits;
    let gray = image::decode_bytes(bytes, Path::new(name), &limits).map_err(|e| {
        let status = match e {
            DataError::UnsupportedFormat { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, e.to_string())
    })?;
    let report = detector
        .score(&gray)
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let heatmap = report
        .heatmap
        .overlay_png(&gray, None)
        .map_err(|e| internal(e.to_string()))?;
    let reconstruction =
        image::png_bytes(&report.reconstruction).map_err(|e| internal(e.to_string()))?;
    let original = image::png_bytes(&gray).map_err(|e| internal(e.to_string()))?;
    let components: serde_json::Map<String, Value> = report
        .components
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    Ok(json!({
        "model": model.name,
        "kind": detector.kind().name(),
        "method": detector.method().name(),
        "score": report.score,
        "components": components,
        "threshold": report.threshold,
        "is_anomalous": report.is_anomalous,
        "width": gray.width,
        "height": gray.height,
        "original": data_url(&original),
        "heatmap": data_url(&heatmap),
        "reconstruction": data_url(&reconstruction),
        "elapsed_ms": started.elapsed().as_secs_f64() * 1e3,
    }))
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
