//! Residual heatmaps: where an image differs from the model's reconstruction, smoothed, on the
//! original image's pixel grid (the padding of the square network input undone), and drawn
//! as a colour overlay on the grey X-ray.

use std::path::Path;

use image::{ImageBuffer, Luma, Rgb, RgbImage, imageops};
use murgan_data::image::{GrayImage, Placement, text};

use crate::{Result, ScoreError};

/// A per-pixel anomaly map on the original image's grid: |x − x̂| in intensity units
/// (0 = identical, 1 = black against white), smoothed.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Width (the original image's).
    pub width: u32,
    /// Height (the original image's).
    pub height: u32,
    /// `width × height` values, row-major.
    pub values: Vec<f32>,
}

/// Separable Gaussian blur of an `w × h` map with edges clamped; `sigma` in pixels (0: none).
pub fn gaussian_blur(values: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 || w == 0 || h == 0 {
        return values.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f32 = kernel.iter().sum();
    let pass = |src: &[f32], along_x: bool| {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let o = k as isize - radius;
                    let (sx, sy) = if along_x {
                        ((x as isize + o).clamp(0, w as isize - 1) as usize, y)
                    } else {
                        (x, (y as isize + o).clamp(0, h as isize - 1) as usize)
                    };
                    acc += weight * src[sy * w + sx];
                }
                out[y * w + x] = acc / norm;
            }
        }
        out
    };
    pass(&pass(values, true), false)
}

impl Heatmap {
    /// The heatmap of an N×N network input `x` and its reconstruction `xh` (values in [-1, 1]):
    /// cut to the image content (`placement`), smoothed with a Gaussian of `sigma` network
    /// pixels, and resized to the original image's size.
    pub fn from_reconstruction(
        x: &[f32],
        xh: &[f32],
        n: usize,
        placement: &Placement,
        sigma: f32,
    ) -> Result<Self> {
        let p = placement;
        let (x0, y0, w, h) = (
            p.x as usize,
            p.y as usize,
            p.width as usize,
            p.height as usize,
        );
        if x.len() != n * n || xh.len() != n * n || x0 + w > n || y0 + h > n || w == 0 || h == 0 {
            return Err(ScoreError::Shape(format!(
                "heatmap of a {n}×{n} input with content {w}×{h} at ({x0}, {y0})"
            )));
        }
        let mut content = Vec::with_capacity(w * h);
        for row in y0..y0 + h {
            for col in x0..x0 + w {
                let i = row * n + col;
                content.push((x[i] - xh[i]).abs() / 2.0);
            }
        }
        let smooth = gaussian_blur(&content, w, h, sigma);
        let buf: ImageBuffer<Luma<f32>, Vec<f32>> =
            ImageBuffer::from_raw(w as u32, h as u32, smooth)
                .ok_or_else(|| ScoreError::Shape("heatmap buffer".into()))?;
        let (ow, oh) = (p.original_width.max(1), p.original_height.max(1));
        let values = if (ow, oh) == (w as u32, h as u32) {
            buf.into_raw()
        } else {
            imageops::resize(&buf, ow, oh, imageops::FilterType::Triangle).into_raw()
        };
        Ok(Self {
            width: ow,
            height: oh,
            values,
        })
    }

    /// The largest value.
    pub fn max(&self) -> f32 {
        self.values.iter().copied().fold(0.0, f32::max)
    }

    /// The (x, y) of the largest value.
    pub fn argmax(&self) -> (u32, u32) {
        let i = self
            .values
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        (
            (i % self.width as usize) as u32,
            (i / self.width as usize) as u32,
        )
    }

    /// The heatmap drawn over `original` (same size): an "inferno" colour map whose opacity
    /// grows with the value; `scale` is the value drawn at full colour (`None`: this map's max).
    pub fn overlay(&self, original: &GrayImage, scale: Option<f32>) -> Result<RgbImage> {
        if (original.width, original.height) != (self.width, self.height) {
            return Err(ScoreError::Shape(format!(
                "overlay of a {}×{} heatmap on a {}×{} image",
                self.width, self.height, original.width, original.height
            )));
        }
        let top = scale.unwrap_or_else(|| self.max()).max(1e-6);
        let mut img = RgbImage::new(self.width, self.height);
        for (i, px) in img.pixels_mut().enumerate() {
            let t = (self.values[i] / top).clamp(0.0, 1.0);
            let gray = original.pixels[i].clamp(0.0, 1.0) * 255.0;
            let colour = inferno(t);
            let a = 0.7 * t;
            *px = Rgb(colour.map(|c| (gray * (1.0 - a) + c * a).round() as u8));
        }
        Ok(img)
    }

    /// [`Heatmap::overlay`] encoded as PNG bytes.
    pub fn overlay_png(&self, original: &GrayImage, scale: Option<f32>) -> Result<Vec<u8>> {
        let img = self.overlay(original, scale)?;
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| ScoreError::Shape(format!("encoding the overlay: {e}")))?;
        Ok(png)
    }

    /// The original and the overlay side by side under a label band ("image", "anomaly
    /// heatmap"), as PNG bytes; enlarged by an integer factor (nearest neighbour) when the
    /// image is under 256 pixels on its shorter side, so the panel stays readable.
    pub fn panel_png(&self, original: &GrayImage, scale: Option<f32>) -> Result<Vec<u8>> {
        let overlay = self.overlay(original, scale)?;
        let (w, h) = (self.width, self.height);
        let f = text::factor_to_reach(w.min(h), 256);
        let (band_scale, gap) = (2, 6);
        let band = text::text_height(band_scale) + 2 * gap;
        let mut labels = GrayImage {
            width: 2 * w * f,
            height: band,
            pixels: vec![1.0; (2 * w * f * band) as usize],
        };
        text::draw_text(&mut labels, gap, gap, "image", band_scale, 0.0);
        text::draw_text(
            &mut labels,
            w * f + gap,
            gap,
            "anomaly heatmap",
            band_scale,
            0.0,
        );
        let mut panel = RgbImage::new(2 * w * f, h * f + band);
        for (x, y, px) in panel.enumerate_pixels_mut() {
            *px = if y < band {
                let g = (labels.pixels[(y * 2 * w * f + x) as usize] * 255.0) as u8;
                Rgb([g, g, g])
            } else {
                let (sx, sy) = (x / f, (y - band) / f);
                if sx < w {
                    let v = original.pixels[(sy * w + sx) as usize].clamp(0.0, 1.0);
                    let g = (v * 255.0).round() as u8;
                    Rgb([g, g, g])
                } else {
                    *overlay.get_pixel(sx - w, sy)
                }
            };
        }
        let mut png = Vec::new();
        panel
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| ScoreError::Shape(format!("encoding the panel: {e}")))?;
        Ok(png)
    }

    /// Writes [`Heatmap::overlay`] to a PNG file, atomically.
    pub fn write_overlay(
        &self,
        path: &Path,
        original: &GrayImage,
        scale: Option<f32>,
    ) -> Result<()> {
        let png = self.overlay_png(original, scale)?;
        murgan_data::atomic::write_atomic(path, &png)?;
        Ok(())
    }
}

/// The "inferno" colour map at t ∈ [0, 1], as RGB in [0, 255].
fn inferno(t: f32) -> [f32; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 4.0],
        [87.0, 16.0, 110.0],
        [188.0, 55.0, 84.0],
        [249.0, 142.0, 9.0],
        [252.0, 255.0, 164.0],
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_is_labelled_and_enlarged_to_256_pixels() {
        let (w, h) = (20u32, 10u32);
        let original = GrayImage {
            width: w,
            height: h,
            pixels: (0..w * h).map(|i| (i % w) as f32 / w as f32).collect(),
        };
        let heat = Heatmap {
            width: w,
            height: h,
            values: (0..w * h).map(|i| (i / w) as f32).collect(),
        };
        let png = heat.panel_png(&original, None).unwrap_or_default();
        let panel = image::load_from_memory(&png).map(|i| i.to_rgb8());
        let Ok(panel) = panel else {
            panic!("not a PNG");
        };
        // 10 px high: enlarged 26× to 260, under a 26-pixel label band.
        let (f, band) = (26, 26);
        assert_eq!(panel.dimensions(), (2 * w * f, h * f + band));
        let overlay = heat
            .overlay(&original, None)
            .unwrap_or_else(|_| RgbImage::new(1, 1));
        for (x, y) in [(0, 0), (7, 3), (19, 9)] {
            let g = (original.pixels[(y * w + x) as usize] * 255.0).round() as u8;
            let at = |px: u32, py: u32| *panel.get_pixel(px * f + 13, band + py * f + 13);
            assert_eq!(at(x, y), Rgb([g, g, g]), "image at {x},{y}");
            assert_eq!(at(w + x, y), *overlay.get_pixel(x, y), "heatmap at {x},{y}");
        }
        // The band holds black text on white over both halves.
        let dark =
            |x0: u32| (x0..x0 + 100).any(|x| (0..band).any(|y| panel.get_pixel(x, y)[0] == 0));
        assert!(dark(0) && dark(w * f));
    }

    #[test]
    fn blur_keeps_mass_and_spreads_a_peak() {
        let mut v = vec![0.0f32; 81];
        v[40] = 1.0;
        let b = gaussian_blur(&v, 9, 9, 1.0);
        let sum: f32 = b.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        assert!(b[40] < 1.0 && b[40] > b[41] && b[41] > 0.0);
        assert_eq!(gaussian_blur(&v, 9, 9, 0.0), v);
    }

    #[test]
    fn padding_is_cut_and_size_restored() {
        // Content 4×8 at x = 2 of an 8×8 square; the original is 16×32 (4× larger).
        let n = 8;
        let placement = Placement {
            original_width: 16,
            original_height: 32,
            x: 2,
            y: 0,
            width: 4,
            height: 8,
        };
        let x = vec![-1.0f32; n * n];
        let mut xh = x.clone();
        // A difference in the padding must not show; one in the content must.
        xh[0] = 1.0;
        xh[5 * n + 3] = 1.0; // content pixel (1, 5)
        let h = Heatmap::from_reconstruction(&x, &xh, n, &placement, 0.0).unwrap();
        assert_eq!((h.width, h.height), (16, 32));
        let (ax, ay) = h.argmax();
        assert!(
            (3..=8).contains(&ax) && (19..=24).contains(&ay),
            "{ax},{ay}"
        );
        assert!((h.max() - 1.0).abs() < 0.3);
        let bad = Placement { x: 6, ..placement };
        assert!(Heatmap::from_reconstruction(&x, &xh, n, &bad, 0.0).is_err());
    }

    #[test]
    fn overlay_colours_hot_pixels_and_checks_size() {
        let h = Heatmap {
            width: 2,
            height: 1,
            values: vec![0.0, 0.5],
        };
        let gray = GrayImage {
            width: 2,
            height: 1,
            pixels: vec![0.5, 0.5],
        };
        let img = h.overlay(&gray, None).unwrap();
        let (cold, hot) = (img.get_pixel(0, 0), img.get_pixel(1, 0));
        assert_eq!(cold.0, [128, 128, 128]);
        assert_ne!(hot.0, cold.0);
        assert!(
            h.overlay_png(&gray, Some(1.0))
                .unwrap()
                .starts_with(b"\x89PNG")
        );
        let small = GrayImage {
            width: 1,
            height: 1,
            pixels: vec![0.0],
        };
        assert!(h.overlay(&small, None).is_err());
    }
}
