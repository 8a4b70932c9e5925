//! Training logs: every loss of every iteration in `losses.csv` (long format:
//! `iteration,phase,loss,value`), its smoothed curves for the caller to draw, and sample grids.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use murgan_data::image::GrayImage;

use crate::{ModelError, Result};

/// The loss log of a run.
#[derive(Debug)]
pub struct LossLog {
    path: PathBuf,
    pending: String,
}

const HEADER: &str = "iteration,phase,loss,value\n";

impl LossLog {
    /// Opens the log; rows after iteration `keep_up_to` (work lost since the checkpoint a run
    /// resumes from) are dropped, so the log matches the weights.
    pub fn open(path: &Path, keep_up_to: usize) -> Result<Self> {
        let old = if keep_up_to > 0 {
            fs::read_to_string(path).unwrap_or_default()
        } else {
            String::new()
        };
        let mut text = String::from(HEADER);
        for line in old.lines().skip(1) {
            if let [it, _, _, value] = line.split(',').collect::<Vec<_>>().as_slice()
                && let (Ok(it), Ok(_)) = (it.parse::<usize>(), value.parse::<f32>())
                && it <= keep_up_to
            {
                text.push_str(line);
                text.push('\n');
            }
        }
        murgan_data::atomic::write_atomic(path, text.as_bytes())?;
        Ok(Self {
            path: path.to_path_buf(),
            pending: String::new(),
        })
    }

    /// Records the losses of one iteration.
    pub fn push(
        &mut self,
        iteration: usize,
        phase: &str,
        losses: &[(&'static str, f32)],
    ) -> Result<()> {
        for (name, v) in losses {
            self.pending
                .push_str(&format!("{iteration},{phase},{name},{v}\n"));
        }
        if self.pending.len() > 64 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends pending rows to the file.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| ModelError::io(&self.path, e))?;
        f.write_all(self.pending.as_bytes())
            .map_err(|e| ModelError::io(&self.path, e))?;
        self.pending.clear();
        Ok(())
    }
}

/// A named curve: (name, [(x, y)]).
pub type Series = (String, Vec<(f64, f64)>);

/// The loss curves of a run's `losses.csv`, one series per `phase/loss`, each a moving average
/// over 1 % of its points (single batches are noisy): what a caller draws as `losses.png`.
pub fn loss_series(csv: &Path) -> Result<Vec<Series>> {
    let text = fs::read_to_string(csv).map_err(|e| ModelError::io(csv, e))?;
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        if let [it, phase, name, value] = line.split(',').collect::<Vec<_>>().as_slice()
            && let (Ok(it), Ok(v)) = (it.parse::<usize>(), value.parse::<f64>())
        {
            series
                .entry(format!("{phase}/{name}"))
                .or_default()
                .push((it as f64, v));
        }
    }
    Ok(series
        .into_iter()
        .map(|(name, pts)| {
            let window = (pts.len() / 100).max(1);
            let avg = pts
                .iter()
                .enumerate()
                .map(|(i, &(x, _))| {
                    let lo = i.saturating_sub(window - 1);
                    let mean = pts[lo..=i].iter().map(|p| p.1).sum::<f64>() / (i + 1 - lo) as f64;
                    (x, mean)
                })
                .collect();
            (name, avg)
        })
        .collect())
}

/// Lays out square images (values in [-1, 1]) in a grid of `cols` columns with a 2-pixel gap.
pub fn sample_grid(images: &[Vec<f32>], size: usize, cols: usize) -> GrayImage {
    let cols = cols.max(1);
    let rows = images.len().div_ceil(cols).max(1);
    let gap = 2;
    let (w, h) = (cols * (size + gap) + gap, rows * (size + gap) + gap);
    let mut pixels = vec![1.0f32; w * h];
    for (k, img) in images.iter().enumerate() {
        let (x0, y0) = (
            gap + (k % cols) * (size + gap),
            gap + (k / cols) * (size + gap),
        );
        for y in 0..size {
            for x in 0..size {
                let v = img.get(y * size + x).copied().unwrap_or(-1.0);
                pixels[(y0 + y) * w + x0 + x] = ((v + 1.0) / 2.0).clamp(0.0, 1.0);
            }
        }
    }
    GrayImage {
        width: w as u32,
        height: h as u32,
        pixels,
    }
}
