//! PNG and JPEG decoding through the `image` crate, under murgan's limits.

use std::io::{Read, Seek};
use std::path::Path;

use image::{DynamicImage, ImageError, ImageReader};

use super::{DecodeLimits, GrayImage};
use crate::{DataError, Result};

/// Decodes a PNG or JPEG stream (`format`, already recognised) into one gray channel.
pub(super) fn decode<R: Read + Seek + std::io::BufRead>(
    reader: R,
    format: image::ImageFormat,
    path: &Path,
    limits: &DecodeLimits,
) -> Result<GrayImage> {
    let decode_err = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = ImageReader::with_format(reader, format);
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(limits.max_alloc);
    reader.limits(l);
    let img = reader.decode().map_err(|e| match e {
        ImageError::Limits(l) => DataError::TooLarge {
            path: path.to_path_buf(),
            message: l.to_string(),
        },
        ImageError::IoError(io) => decode_err(format!("truncated or unreadable: {io}")),
        other => decode_err(other.to_string()),
    })?;
    Ok(to_gray(img))
}

/// Converts any decoded image to one gray channel in [0, 1] (16-bit precision kept; alpha
/// ignored; colour by Rec. 709 luma).
pub fn to_gray(img: DynamicImage) -> GrayImage {
    let (width, height) = (img.width(), img.height());
    let pixels = match img {
        DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().map(|v| v as f32 / 255.0).collect(),
        DynamicImage::ImageLuma16(b) => b
            .into_raw()
            .into_iter()
            .map(|v| v as f32 / 65535.0)
            .collect(),
        // Colour → luma in f32 can land a rounding error above 1.0 (found by fuzzing).
        other => other
            .to_luma32f()
            .into_raw()
            .into_iter()
            .map(|v| v.clamp(0.0, 1.0))
            .collect(),
    };
    GrayImage {
        width,
        height,
        pixels,
    }
}
