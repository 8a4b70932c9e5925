//! Training logs: every loss of every iteration in `losses.csv` (long format:
//! `iteration,phase,loss,value`), its smoothed curves for the caller to draw, and sample grids.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use murgan_data::image::{GrayImage, text};

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

/// Smallest side of a tile in a sample sheet, in pixels: smaller images are enlarged by an
/// integer factor (nearest neighbour) to reach it.
pub const MIN_TILE: u32 = 128;

/// Lays out square N×N images (values in [-1, 1]) in labelled sections: each section a line of
/// text, then its images in rows of `cols`, on white with 4-pixel gaps. Tiles are enlarged to at
/// least [`MIN_TILE`] pixels, so a 4-column sheet is over 512 pixels wide.
pub fn sample_sheet(sections: &[(&str, Vec<Vec<f32>>)], size: usize, cols: usize) -> GrayImage {
    let cols = cols.max(1);
    let factor = text::factor_to_reach(size as u32, MIN_TILE) as usize;
    let tile = size * factor;
    let (gap, scale) = (4, 2);
    let label = text::text_height(scale) as usize + 2 * gap;
    let width = cols * (tile + gap) + gap;
    let height: usize = sections
        .iter()
        .map(|(_, images)| label + images.len().div_ceil(cols) * (tile + gap))
        .sum::<usize>()
        + gap;
    let mut sheet = GrayImage {
        width: width as u32,
        height: height as u32,
        pixels: vec![1.0; width * height],
    };
    let mut y0 = 0;
    for (name, images) in sections {
        text::draw_text(&mut sheet, gap as u32, (y0 + gap) as u32, name, scale, 0.0);
        y0 += label;
        for (k, img) in images.iter().enumerate() {
            let (x0, ty) = (
                gap + (k % cols) * (tile + gap),
                y0 + (k / cols) * (tile + gap),
            );
            for y in 0..tile {
                for x in 0..tile {
                    let v = img
                        .get((y / factor) * size + x / factor)
                        .copied()
                        .unwrap_or(-1.0);
                    sheet.pixels[(ty + y) * width + x0 + x] = ((v + 1.0) / 2.0).clamp(0.0, 1.0);
                }
            }
        }
        y0 += images.len().div_ceil(cols) * (tile + gap);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_sheet_is_large_labelled_and_places_each_image() {
        let (n, white, black) = (16, vec![1.0f32; 256], vec![-1.0f32; 256]);
        let sheet = sample_sheet(
            &[
                ("real", vec![white.clone(), black.clone()]),
                ("samples", vec![black]),
            ],
            n,
            4,
        );
        // 16 px tiles enlarged 8× to 128; 4 columns; two sections of one row each.
        let (tile, label) = (128, 14 + 8);
        assert_eq!(sheet.width as usize, 4 * (tile + 4) + 4);
        assert_eq!(sheet.height as usize, 2 * (label + tile + 4) + 4);
        let at = |x: usize, y: usize| sheet.pixels[y * sheet.width as usize + x];
        // The label is drawn in black in its band; the band is otherwise white.
        let band: Vec<f32> = (0..label)
            .flat_map(|y| (0..120).map(move |x| (x, y)))
            .map(|(x, y)| at(x, y))
            .collect();
        assert!(band.contains(&0.0) && band.contains(&1.0));
        // First section: a white tile, then a black one; the second section's tile is black.
        assert_eq!(at(4 + 60, label + 60), 1.0);
        assert_eq!(at(4 + tile + 4 + 60, label + 60), 0.0);
        assert_eq!(at(4 + 60, 2 * label + tile + 4 + 60), 0.0);
    }
}
