//! Images: what murgan reads (PNG, JPEG; 8/16-bit gray, RGB, RGBA; DICOM with feature
//! `dicom`), recognised by their first bytes and decoded under size limits into one gray
//! channel ([`GrayImage`]); the preprocessing that turns them into network input; PNG writing.
//!
//! - this module: [`GrayImage`], [`DecodeLimits`], format detection and the decoding entry
//!   points, which route a file to its decoder;
//! - `raster`: PNG and JPEG through the `image` crate;
//! - [`dicom`]: DICOM Part 10 reading (and its strict structure check), and writing;
//! - [`preprocess`]: resize, pad, equalise, augment, normalise to [-1, 1];
//! - [`png`]: gray images as 8-bit PNG bytes or files;
//! - [`text`]: labels (a 5 × 7 pixel font) and nearest-neighbour upscaling for pictures.

#[cfg(feature = "dicom")]
pub mod dicom;
pub mod png;
pub mod preprocess;
mod raster;
pub mod text;

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use png::{png_bytes, write_png, write_png_renamed};
pub use preprocess::{
    Augment, Placement, PreprocessConfig, Preprocessed, augment, equalize, flip_horizontal, load,
    preprocess, rotate, zoom_shift,
};
pub use raster::to_gray;

use crate::{DataError, Result};

/// Upper bounds on what a decoder may read or allocate, so an untrusted file (a
/// decompression bomb, a 50,000×50,000 header) is refused before any large allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeLimits {
    /// Largest width accepted, in pixels.
    pub max_width: u32,
    /// Largest height accepted, in pixels.
    pub max_height: u32,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
}

impl Default for DecodeLimits {
    /// 16,384 px a side, 1 GiB of decoder memory, 256 MiB files: every real radiograph fits.
    fn default() -> Self {
        Self {
            max_width: 16_384,
            max_height: 16_384,
            max_alloc: 1 << 30,
            max_file_bytes: 256 << 20,
        }
    }
}

/// A gray image with values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height` values in [0, 1].
    pub pixels: Vec<f32>,
}

/// Decodes an image file into one gray channel in [0, 1].
pub fn decode_file(path: &Path, limits: &DecodeLimits) -> Result<GrayImage> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    if len == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if len > limits.max_file_bytes {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            message: format!("{len} bytes > limit {}", limits.max_file_bytes),
        });
    }
    decode_reader(BufReader::new(file), path, limits)
}

/// Decodes in-memory image bytes; `name` is used in error messages.
pub fn decode_bytes(bytes: &[u8], name: &Path, limits: &DecodeLimits) -> Result<GrayImage> {
    if bytes.is_empty() {
        return Err(DataError::EmptyFile {
            path: name.to_path_buf(),
        });
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(DataError::TooLarge {
            path: name.to_path_buf(),
            message: format!("{} bytes > limit {}", bytes.len(), limits.max_file_bytes),
        });
    }
    decode_reader(Cursor::new(bytes), name, limits)
}

/// The image formats murgan reads, recognised by their first bytes (never by file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// PNG (8/16-bit gray, gray + alpha, RGB, RGBA).
    Png,
    /// JPEG (baseline and progressive).
    Jpeg,
    /// DICOM Part 10 (read only with the `dicom` feature).
    Dicom,
}

/// How many leading bytes [`detect_format`] needs to see to recognise every format.
pub const SNIFF_BYTES: usize = 132;

/// Recognises a file's format from its first [`SNIFF_BYTES`] bytes (fewer is fine for PNG
/// and JPEG); `None` for anything else.
pub fn detect_format(head: &[u8]) -> Option<SourceFormat> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(SourceFormat::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(SourceFormat::Jpeg)
    } else if (head.len() >= 132 && &head[128..132] == b"DICM") || head.starts_with(b"DICM") {
        Some(SourceFormat::Dicom)
    } else {
        None
    }
}

/// Whether this build decodes `format` (DICOM needs the `dicom` feature).
pub fn is_supported(format: SourceFormat) -> bool {
    match format {
        SourceFormat::Png | SourceFormat::Jpeg => true,
        SourceFormat::Dicom => cfg!(feature = "dicom"),
    }
}

fn decode_reader<R: Read + Seek + std::io::BufRead>(
    mut reader: R,
    path: &Path,
    limits: &DecodeLimits,
) -> Result<GrayImage> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| DataError::io(path, e))?;
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| DataError::io(path, e))?;
    let unsupported = |message: String| DataError::UnsupportedFormat {
        path: path.to_path_buf(),
        message,
    };
    let format = match detect_format(&head) {
        Some(SourceFormat::Png) => image::ImageFormat::Png,
        Some(SourceFormat::Jpeg) => image::ImageFormat::Jpeg,
        #[cfg(feature = "dicom")]
        Some(SourceFormat::Dicom) => {
            let preamble = dicom::sniff(&head).unwrap_or(dicom::Preamble::Present);
            // Bounded: the file's size was checked against `max_file_bytes`.
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .map_err(|e| DataError::io(path, e))?;
            return dicom::decode(&bytes, preamble, path, limits);
        }
        #[cfg(not(feature = "dicom"))]
        Some(SourceFormat::Dicom) => {
            return Err(unsupported(
                "DICOM file, but this build lacks murgan-data's `dicom` feature".into(),
            ));
        }
        None => {
            return Err(unsupported(
                "not a PNG, JPEG or DICOM file (unrecognised first bytes)".into(),
            ));
        }
    };
    raster::decode(reader, format, path, limits)
}
