//! Preprocessing: resize keeping the aspect ratio, zero-pad to N×N, optionally equalise the
//! histogram and augment, and normalise to [-1, 1].

use std::path::Path;

use image::{ImageBuffer, Luma, imageops};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{DecodeLimits, GrayImage, decode_file};
use crate::{DataError, Result};

/// Random augmentation, applied to training images only (never when scoring).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Probability of a horizontal flip.
    pub flip_probability: f32,
    /// Largest rotation, in degrees, either way.
    pub max_rotation_deg: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            flip_probability: 0.5,
            max_rotation_deg: 5.0,
        }
    }
}

/// How images are turned into network input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Output side N: images become N×N.
    pub size: u32,
    /// Histogram-equalise the image content (before padding).
    pub equalize: bool,
    /// Augmentation, or `None` (always `None` for evaluation).
    pub augment: Option<Augment>,
    /// Decoder limits.
    pub limits: DecodeLimits,
}

impl PreprocessConfig {
    /// N×N output, no equalisation, no augmentation, default limits.
    pub fn new(size: u32) -> Self {
        Self {
            size,
            equalize: false,
            augment: None,
            limits: DecodeLimits::default(),
        }
    }

    /// Turns histogram equalisation on or off.
    pub fn with_equalize(mut self, equalize: bool) -> Self {
        self.equalize = equalize;
        self
    }

    /// Sets the augmentation.
    pub fn with_augment(mut self, augment: Option<Augment>) -> Self {
        self.augment = augment;
        self
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(8..=4096).contains(&self.size) {
            return Err(DataError::InvalidParameter(format!(
                "image size {} out of range 8..=4096",
                self.size
            )));
        }
        if let Some(a) = self.augment
            && (!(0.0..=1.0).contains(&a.flip_probability)
                || !(0.0..=45.0).contains(&a.max_rotation_deg))
        {
            return Err(DataError::InvalidParameter(
                "augmentation: flip probability must be in [0, 1] and rotation in [0, 45] degrees"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Where the image content sits inside the padded N×N square.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Original width in pixels.
    pub original_width: u32,
    /// Original height in pixels.
    pub original_height: u32,
    /// Left edge of the content in the square.
    pub x: u32,
    /// Top edge of the content in the square.
    pub y: u32,
    /// Content width in the square.
    pub width: u32,
    /// Content height in the square.
    pub height: u32,
}

/// A preprocessed image: N×N values in [-1, 1] (padding is -1) and where the content lies.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    /// Side N.
    pub size: u32,
    /// N×N values in [-1, 1], row-major.
    pub pixels: Vec<f32>,
    /// The content's place in the square, to map results back to the original image.
    pub placement: Placement,
}

/// Decodes and preprocesses one file. `seed` drives the augmentation, if any.
pub fn load(path: &Path, config: &PreprocessConfig, seed: u64) -> Result<Preprocessed> {
    let gray = decode_file(path, &config.limits)?;
    preprocess(&gray, config, seed)
}

/// Preprocesses a decoded gray image.
pub fn preprocess(img: &GrayImage, config: &PreprocessConfig, seed: u64) -> Result<Preprocessed> {
    config.validate()?;
    if img.width == 0 || img.height == 0 || img.pixels.len() != (img.width * img.height) as usize {
        return Err(DataError::InvalidParameter(format!(
            "image of {}×{} with {} values",
            img.width,
            img.height,
            img.pixels.len()
        )));
    }
    let n = config.size;
    let scale = n as f32 / img.width.max(img.height) as f32;
    let w = ((img.width as f32 * scale).round() as u32).clamp(1, n);
    let h = ((img.height as f32 * scale).round() as u32).clamp(1, n);
    let buf: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(img.width, img.height, img.pixels.clone())
            .ok_or_else(|| DataError::InvalidParameter("image buffer size mismatch".into()))?;
    let resized = if (w, h) == (img.width, img.height) {
        buf
    } else {
        imageops::resize(&buf, w, h, imageops::FilterType::Triangle)
    };
    let mut content = resized.into_raw();
    for v in &mut content {
        *v = v.clamp(0.0, 1.0);
    }
    if config.equalize {
        equalize(&mut content);
    }
    let (x0, y0) = ((n - w) / 2, (n - h) / 2);
    let mut square = vec![0.0f32; (n * n) as usize];
    for row in 0..h {
        let src = &content[(row * w) as usize..((row + 1) * w) as usize];
        let start = ((y0 + row) * n + x0) as usize;
        square[start..start + w as usize].copy_from_slice(src);
    }
    for v in &mut square {
        *v = *v * 2.0 - 1.0;
    }
    let mut out = Preprocessed {
        size: n,
        pixels: square,
        placement: Placement {
            original_width: img.width,
            original_height: img.height,
            x: x0,
            y: y0,
            width: w,
            height: h,
        },
    };
    if let Some(aug) = config.augment {
        augment(&mut out, &aug, seed);
    }
    Ok(out)
}

/// Applies a seeded random flip and rotation to a preprocessed image (padding stays -1).
pub fn augment(image: &mut Preprocessed, aug: &Augment, seed: u64) {
    let n = image.size as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if rng.random::<f32>() < aug.flip_probability {
        flip_horizontal(&mut image.pixels, n);
    }
    let angle = rng.random_range(-aug.max_rotation_deg..=aug.max_rotation_deg);
    if angle != 0.0 {
        image.pixels = rotate(&image.pixels, n, angle.to_radians(), -1.0);
    }
}
/// Histogram equalisation of values in [0, 1] over 256 bins.
pub fn equalize(values: &mut [f32]) {
    const BINS: usize = 256;
    let bin = |v: f32| ((v.clamp(0.0, 1.0) * (BINS - 1) as f32).round() as usize).min(BINS - 1);
    let mut hist = [0usize; BINS];
    for &v in values.iter() {
        hist[bin(v)] += 1;
    }
    let mut cdf = [0usize; BINS];
    let mut acc = 0;
    for (c, h) in cdf.iter_mut().zip(hist) {
        acc += h;
        *c = acc;
    }
    let total = values.len();
    let cdf_min = cdf.iter().copied().find(|&c| c > 0).unwrap_or(0);
    if total <= cdf_min {
        return; // a constant image stays as it is
    }
    let denom = (total - cdf_min) as f32;
    for v in values.iter_mut() {
        *v = (cdf[bin(*v)].saturating_sub(cdf_min)) as f32 / denom;
    }
}

/// Mirrors an n×n image left–right in place.
pub fn flip_horizontal(square: &mut [f32], n: usize) {
    for row in square.chunks_exact_mut(n) {
        row.reverse();
    }
}

/// Rotates an n×n image about its centre by `angle` radians (bilinear; `fill` outside).
pub fn rotate(square: &[f32], n: usize, angle: f32, fill: f32) -> Vec<f32> {
    let (s, c) = angle.sin_cos();
    warp(square, n, fill, |dx, dy| {
        (c * dx + s * dy, -s * dx + c * dy)
    })
}

/// Zooms an n×n image about its centre by `scale` (> 1 enlarges) and moves it by `(dx, dy)`
/// pixels (bilinear; `fill` where the moved image leaves the square).
pub fn zoom_shift(square: &[f32], n: usize, scale: f32, dx: f32, dy: f32, fill: f32) -> Vec<f32> {
    warp(square, n, fill, |x, y| ((x - dx) / scale, (y - dy) / scale))
}

/// Resamples an n×n image bilinearly: output pixel `(x, y)`, as an offset from the centre, takes
/// the value at offset `source(x, y)` of the input (`fill` outside it).
fn warp(square: &[f32], n: usize, fill: f32, source: impl Fn(f32, f32) -> (f32, f32)) -> Vec<f32> {
    let centre = (n as f32 - 1.0) / 2.0;
    let at = |x: isize, y: isize| {
        if x < 0 || y < 0 || x >= n as isize || y >= n as isize {
            fill
        } else {
            square[y as usize * n + x as usize]
        }
    };
    let mut out = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..n {
            let (sx, sy) = source(x as f32 - centre, y as f32 - centre);
            let (sx, sy) = (sx + centre, sy + centre);
            let (fx, fy) = (sx.floor(), sy.floor());
            let (ax, ay) = (sx - fx, sy - fy);
            let (ix, iy) = (fx as isize, fy as isize);
            out[y * n + x] = (1.0 - ay) * ((1.0 - ax) * at(ix, iy) + ax * at(ix + 1, iy))
                + ay * ((1.0 - ax) * at(ix, iy + 1) + ax * at(ix + 1, iy + 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(w: u32, h: u32, f: impl Fn(u32, u32) -> f32) -> GrayImage {
        let pixels = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect();
        GrayImage {
            width: w,
            height: h,
            pixels,
        }
    }

    #[test]
    fn resize_keeps_aspect_and_pads_with_minus_one() {
        let img = gray(40, 20, |_, _| 1.0);
        let p = preprocess(&img, &PreprocessConfig::new(16), 0).unwrap();
        assert_eq!(
            p.placement,
            Placement {
                original_width: 40,
                original_height: 20,
                x: 0,
                y: 4,
                width: 16,
                height: 8
            }
        );
        assert_eq!(p.pixels.len(), 256);
        assert_eq!(p.pixels[0], -1.0); // top padding row
        assert!((p.pixels[4 * 16] - 1.0).abs() < 1e-6); // first content row
        assert_eq!(p.pixels[12 * 16], -1.0); // bottom padding
        assert!(p.pixels.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn equalize_spreads_values() {
        let mut v: Vec<f32> = (0..100).map(|i| 0.4 + 0.001 * i as f32).collect();
        equalize(&mut v);
        let (min, max) = v
            .iter()
            .fold((1.0f32, 0.0f32), |(a, b), &x| (a.min(x), b.max(x)));
        assert_eq!(min, 0.0);
        assert_eq!(max, 1.0);
        let mut c = vec![0.3f32; 10];
        equalize(&mut c);
        assert!(c.iter().all(|&x| x == 0.3));
    }

    #[test]
    fn augmentation_is_seeded() {
        let img = gray(32, 32, |x, y| ((x * 7 + y * 3) % 32) as f32 / 31.0);
        let cfg = PreprocessConfig::new(32).with_augment(Some(Augment {
            flip_probability: 0.5,
            max_rotation_deg: 10.0,
        }));
        let a = preprocess(&img, &cfg, 42).unwrap();
        let b = preprocess(&img, &cfg, 42).unwrap();
        let c = preprocess(&img, &cfg, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.pixels, c.pixels);
        let plain = preprocess(&img, &PreprocessConfig::new(32), 42).unwrap();
        assert_ne!(a.pixels, plain.pixels);
    }

    #[test]
    fn flip_and_rotate() {
        let mut sq = vec![0.0, 1.0, 2.0, 3.0];
        flip_horizontal(&mut sq, 2);
        assert_eq!(sq, vec![1.0, 0.0, 3.0, 2.0]);
        let img: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let r = rotate(&img, 3, std::f32::consts::FRAC_PI_2, 0.0);
        // a quarter turn moves the centre nowhere and corners to corners
        assert!((r[4] - 4.0).abs() < 1e-5);
        let mut corners = [r[0], r[2], r[6], r[8]];
        corners.sort_by(f32::total_cmp);
        for (got, want) in corners.iter().zip([0.0, 2.0, 6.0, 8.0]) {
            assert!((got - want).abs() < 1e-4, "{r:?}");
        }
    }

    #[test]
    fn zoom_and_shift() {
        let img: Vec<f32> = (0..16).map(|i| i as f32).collect();
        assert_eq!(zoom_shift(&img, 4, 1.0, 0.0, 0.0, -1.0), img);
        // one pixel right: column 0 is fill, column k holds the old column k - 1
        let right = zoom_shift(&img, 4, 1.0, 1.0, 0.0, -1.0);
        for y in 0..4 {
            assert_eq!(right[y * 4], -1.0);
            for x in 1..4 {
                assert!(
                    (right[y * 4 + x] - img[y * 4 + x - 1]).abs() < 1e-5,
                    "{right:?}"
                );
            }
        }
        // enlarged twofold about the centre: the corners now show the inner ring's values
        let line: Vec<f32> = (0..5).flat_map(|_| (0..5).map(|x| x as f32)).collect();
        let zoomed = zoom_shift(&line, 5, 2.0, 0.0, 0.0, -1.0);
        let row: Vec<f32> = zoomed[..5].to_vec();
        for (got, want) in row.iter().zip([1.0, 1.5, 2.0, 2.5, 3.0]) {
            assert!((got - want).abs() < 1e-5, "{row:?}");
        }
    }
}
