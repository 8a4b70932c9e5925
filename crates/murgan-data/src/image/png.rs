//! Gray images as 8-bit PNG bytes or files (written atomically).

use std::path::Path;

use super::GrayImage;
use crate::atomic::{write_atomic, write_renamed};
use crate::{DataError, Result};

/// Encodes a gray image (values in [0, 1]) as 8-bit PNG bytes.
pub fn png_bytes(img: &GrayImage) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = img
        .pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let buf = image::GrayImage::from_raw(img.width, img.height, bytes).ok_or_else(|| {
        DataError::InvalidParameter(format!(
            "a {}×{} image with {} values",
            img.width,
            img.height,
            img.pixels.len()
        ))
    })?;
    let mut png = Vec::new();
    buf.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| DataError::InvalidParameter(format!("encoding a PNG: {e}")))?;
    Ok(png)
}

/// Writes a gray image as an 8-bit PNG, atomically.
pub fn write_png(path: &Path, img: &GrayImage) -> Result<()> {
    write_atomic(path, &png_bytes_for(path, img)?)
}

/// [`write_png`] without syncing the file first ([`write_renamed`]): for images that can be
/// made again, thousands at a time (synthetic sets).
pub fn write_png_renamed(path: &Path, img: &GrayImage) -> Result<()> {
    write_renamed(path, &png_bytes_for(path, img)?)
}

/// [`png_bytes`], its error naming the file the bytes were for.
fn png_bytes_for(path: &Path, img: &GrayImage) -> Result<Vec<u8>> {
    png_bytes(img).map_err(|e| DataError::InvalidParameter(format!("{}: {e}", path.display())))
}
