//! `murgan serve`: the web app over trained models.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use murgan_web::{Limits, load_models, router};

/// Arguments of `murgan serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// A trained model (checkpoint or run folder), or a folder of them (e.g. one per category).
    #[arg(long)]
    models: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Scoring requests admitted at once (running or waiting); more get 503.
    #[arg(long, default_value_t = 8)]
    max_in_flight: usize,
    /// Backend: cpu, wgpu or cuda (default: the first compiled in, GPUs first).
    #[arg(long)]
    device: Option<String>,
}

/// Runs `murgan serve` until Ctrl-C.
pub fn run(a: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let device = murgan_core::device(a.device.as_deref())?;
    let models = load_models(&a.models, &device)?;
    for m in &models {
        tracing::info!(
            "loaded model {} (categories: {})",
            m.name,
            m.categories.join(", ")
        );
    }
    let app = router(
        models,
        Limits {
            max_in_flight: a.max_in_flight,
            ..Limits::default()
        },
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("listening on {}", a.addr))?;
        tracing::info!(
            "serving on http://{}/ (Ctrl-C stops)",
            listener.local_addr()?
        );
        murgan_web::serve(listener, app, async {
            stop_signal().await;
            tracing::info!("shutting down");
        })
        .await
        .context("serving")
    })
}

/// Ctrl-C, or (on Unix) SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
