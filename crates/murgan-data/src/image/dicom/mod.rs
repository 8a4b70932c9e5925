//! DICOM radiographs (feature `dicom`, on by default): Part 10 files with or without the
//! 128-byte preamble, MONOCHROME1/MONOCHROME2, 8–16 bits stored (unsigned or signed), the
//! transfer syntaxes the `dicom` crates decode in pure Rust (native little/big endian,
//! RLE lossless, JPEG baseline/extended/lossless). Deflated data sets are refused: their
//! element lengths cannot be checked before inflating (see `structure`).
//!
//! Gray levels follow the DICOM display pipeline:
//! 1. stored values are masked to BitsStored (and sign-extended when PixelRepresentation = 1);
//! 2. with a Window Center/Width, the rescaled value `stored × slope + intercept` goes through
//!    the VOI LUT function (LINEAR, LINEAR_EXACT or SIGMOID, PS3.3 C.11.2.1.2) to [0, 1];
//! 3. without a window, stored values map linearly from their whole range
//!    [0, 2^BitsStored − 1] (signed: [−2^(BitsStored−1), 2^(BitsStored−1) − 1]) to [0, 1],
//!    so a 16-bit file holding an 8-bit PNG's values × 257 decodes exactly as that PNG; a
//!    negative rescale slope flips the result, as it flips the rescaled values;
//! 4. MONOCHROME1 (minimum = white) is inverted, so it decodes as its MONOCHROME2 twin.
//!
//! Multi-frame objects give their first frame. Colour and palette images are refused: murgan
//! works on single-channel radiographs.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use dicom_pixeldata::{PhotometricInterpretation, PixelDecoder, PixelRepresentation};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::{DecodeLimits, GrayImage};
use crate::{DataError, Result};
use structure::{DEFLATED, Walk, check_lengths};

mod structure;

/// Where a DICOM stream starts its "DICM" magic: after a 128-byte preamble or at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preamble {
    /// 128 bytes of preamble, then "DICM".
    Present,
    /// "DICM" at byte 0 (the preamble was stripped).
    Absent,
}

/// Whether `head` (the first ≥ 132 bytes of a file) starts a DICOM Part 10 stream.
pub(crate) fn sniff(head: &[u8]) -> Option<Preamble> {
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        Some(Preamble::Present)
    } else if head.starts_with(b"DICM") {
        Some(Preamble::Absent)
    } else {
        None
    }
}

/// Decodes a DICOM Part 10 file held in memory into one gray channel in [0, 1]; `path` names
/// it in errors.
pub(crate) fn decode(
    bytes: &[u8],
    preamble: Preamble,
    path: &Path,
    limits: &DecodeLimits,
) -> Result<GrayImage> {
    let fail = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message: format!("DICOM: {message}"),
    };
    let start = match preamble {
        Preamble::Present => 132,
        Preamble::Absent => 4,
    };
    // The parser allocates whatever length an element declares before reading it: only a
    // file whose structure passes the strict walk reaches it (see `structure`).
    check_lengths(bytes, start).map_err(|e| match e {
        Walk::Deflated => DataError::UnsupportedFormat {
            path: path.to_path_buf(),
            message: format!(
                "DICOM transfer syntax Deflated Explicit VR Little Endian ({DEFLATED}) is not \
                 read: its element lengths cannot be checked before inflating"
            ),
        },
        Walk::UnknownSyntax(uid) => DataError::UnsupportedFormat {
            path: path.to_path_buf(),
            message: format!("DICOM transfer syntax {uid:?} is unknown to murgan's DICOM reader"),
        },
        Walk::Bad(m) => fail(format!("cannot parse: {m}")),
    })?;
    let obj = OpenFileOptions::new()
        .read_preamble(match preamble {
            Preamble::Present => ReadPreamble::Always,
            Preamble::Absent => ReadPreamble::Never,
        })
        .from_reader(bytes)
        .map_err(|e| fail(format!("cannot parse: {e}")))?;

    let ts_uid = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let Some(ts) = TransferSyntaxRegistry.get(&ts_uid) else {
        return Err(DataError::UnsupportedFormat {
            path: path.to_path_buf(),
            message: format!("DICOM transfer syntax {ts_uid} is unknown to murgan's DICOM reader"),
        });
    };
    if !ts.can_decode_all() {
        return Err(DataError::UnsupportedFormat {
            path: path.to_path_buf(),
            message: format!(
                "DICOM transfer syntax {} ({ts_uid}) is not supported by this build",
                ts.name()
            ),
        });
    }

    let u16_of = |tag, name: &str| -> Result<u16> {
        let e = obj
            .element(tag)
            .map_err(|_| fail(format!("missing {name}")))?;
        e.to_int::<u16>()
            .map_err(|e| fail(format!("bad {name}: {e}")))
    };
    let rows = u16_of(tags::ROWS, "Rows")? as u32;
    let cols = u16_of(tags::COLUMNS, "Columns")? as u32;
    if rows == 0 || cols == 0 {
        return Err(fail(format!("empty image ({cols}×{rows})")));
    }
    if cols > limits.max_width || rows > limits.max_height {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            message: format!(
                "{cols}×{rows} exceeds {}×{}",
                limits.max_width, limits.max_height
            ),
        });
    }
    let bits_allocated = u16_of(tags::BITS_ALLOCATED, "BitsAllocated")?;
    if bits_allocated != 8 && bits_allocated != 16 {
        return Err(fail(format!(
            "BitsAllocated {bits_allocated} (murgan reads 8- and 16-bit samples)"
        )));
    }
    let needed = rows as u64 * cols as u64 * (bits_allocated as u64 / 8) * 2;
    if needed > limits.max_alloc {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            message: format!("{needed} bytes needed > limit {}", limits.max_alloc),
        });
    }

    let px = obj.decode_pixel_data_frame(0).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("TransferSyntax") || msg.contains("transfer syntax") {
            DataError::UnsupportedFormat {
                path: path.to_path_buf(),
                message: format!("DICOM transfer syntax {} ({ts_uid}): {msg}", ts.name()),
            }
        } else {
            fail(format!(
                "cannot decode pixel data ({} / {ts_uid}): {msg}",
                ts.name()
            ))
        }
    })?;
    let invert = match px.photometric_interpretation() {
        PhotometricInterpretation::Monochrome1 => true,
        PhotometricInterpretation::Monochrome2 => false,
        other => {
            return Err(fail(format!(
                "photometric interpretation {other} (murgan reads MONOCHROME1/MONOCHROME2 radiographs)"
            )));
        }
    };
    if px.samples_per_pixel() != 1 {
        return Err(fail(format!(
            "{} samples per pixel (expected 1)",
            px.samples_per_pixel()
        )));
    }
    let (rows, cols) = (px.rows(), px.columns());
    let bits_stored = px.bits_stored();
    let bits_allocated = px.bits_allocated();
    if bits_stored == 0 || bits_stored > bits_allocated || bits_allocated > 16 {
        return Err(fail(format!(
            "BitsStored {bits_stored} with BitsAllocated {bits_allocated}"
        )));
    }
    let shift = (px.high_bit() + 1).saturating_sub(bits_stored);
    let signed = px.pixel_representation() == PixelRepresentation::Signed;
    let data = px
        .frame_data(0)
        .map_err(|e| fail(format!("pixel data: {e}")))?;
    let n = rows as usize * cols as usize;
    let stored =
        stored_values(data, n, bits_allocated, bits_stored, shift, signed).ok_or_else(|| {
            fail(format!(
                "pixel data holds {} bytes, {cols}×{rows}×{bits_allocated} bits need {}",
                data.len(),
                n * bits_allocated as usize / 8
            ))
        })?;

    let rescale = px
        .rescale()
        .ok()
        .and_then(|r| r.first().copied())
        .map(|r| (r.slope, r.intercept))
        .unwrap_or((1.0, 0.0));
    let window = px
        .window()
        .ok()
        .flatten()
        .and_then(|w| w.first().copied())
        .filter(|w| w.width.is_finite() && w.center.is_finite() && w.width > 0.0);
    let function = px
        .voi_lut_function()
        .ok()
        .flatten()
        .and_then(|f| f.first().copied())
        .unwrap_or_default();

    let (lo, hi) = stored_range(bits_stored, signed);
    let pixels = stored
        .into_iter()
        .map(|s| {
            let v = match window {
                Some(w) => {
                    let v = voi(
                        s as f64 * rescale.0 + rescale.1,
                        w.center,
                        w.width,
                        function,
                    );
                    if invert { 1.0 - v } else { v }
                }
                // Counted from the far end when inverted, so a MONOCHROME1 file decodes
                // bit for bit as its MONOCHROME2 twin.
                None if invert != (rescale.0 < 0.0) => (hi - s as f64) / (hi - lo),
                None => (s as f64 - lo) / (hi - lo),
            };
            v.clamp(0.0, 1.0) as f32
        })
        .collect();
    Ok(GrayImage {
        width: cols,
        height: rows,
        pixels,
    })
}

/// The stored values of one frame, masked to BitsStored and sign-extended; `None` when the
/// buffer is too short.
fn stored_values(
    data: &[u8],
    n: usize,
    bits_allocated: u16,
    bits_stored: u16,
    shift: u16,
    signed: bool,
) -> Option<Vec<i32>> {
    let mask: u32 = (1u32 << bits_stored) - 1;
    let extend = |raw: u32| -> i32 {
        let v = (raw >> shift) & mask;
        if signed && v & (1 << (bits_stored - 1)) != 0 {
            v as i32 - (1i32 << bits_stored)
        } else {
            v as i32
        }
    };
    match bits_allocated {
        8 => Some(data.get(..n)?.iter().map(|&b| extend(b as u32)).collect()),
        16 => Some(
            data.get(..n * 2)?
                .chunks_exact(2)
                .map(|c| extend(u16::from_ne_bytes([c[0], c[1]]) as u32))
                .collect(),
        ),
        _ => None,
    }
}

/// The range of stored values for `bits` bits.
fn stored_range(bits: u16, signed: bool) -> (f64, f64) {
    let full = (1u64 << bits) as f64;
    if signed {
        (-full / 2.0, full / 2.0 - 1.0)
    } else {
        (0.0, full - 1.0)
    }
}

/// DICOM's VOI LUT functions (PS3.3 C.11.2.1.2), mapped to [0, 1].
fn voi(x: f64, c: f64, w: f64, function: dicom_pixeldata::VoiLutFunction) -> f64 {
    use dicom_pixeldata::VoiLutFunction::*;
    match function {
        Linear => {
            if w <= 1.0 {
                return if x <= c - 0.5 { 0.0 } else { 1.0 };
            }
            let lo = c - 0.5 - (w - 1.0) / 2.0;
            let hi = c - 0.5 + (w - 1.0) / 2.0;
            if x <= lo {
                0.0
            } else if x > hi {
                1.0
            } else {
                (x - (c - 0.5)) / (w - 1.0) + 0.5
            }
        }
        LinearExact => ((x - c) / w + 0.5).clamp(0.0, 1.0),
        Sigmoid => 1.0 / (1.0 + (-4.0 * (x - c) / w).exp()),
    }
}

/// Which way a monochrome DICOM image's values run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monochrome {
    /// MONOCHROME1: the minimum value is white (inverted on reading).
    One,
    /// MONOCHROME2: the minimum value is black (as PNG).
    Two,
}

/// Writes `values` (row-major, `width × height`, each < 2^`bits_stored`) as an uncompressed
/// (explicit VR little endian) 16-bit-allocated DICOM file, atomically: the inverse of
/// reading, for converting images and for tests.
pub fn write_monochrome(
    path: &Path,
    width: u32,
    height: u32,
    values: &[u16],
    bits_stored: u16,
    photometric: Monochrome,
) -> Result<()> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    let invalid = |m: String| DataError::InvalidParameter(format!("{}: {m}", path.display()));
    if values.len() != width as usize * height as usize || values.is_empty() {
        return Err(invalid(format!(
            "{} values for a {width}×{height} image",
            values.len()
        )));
    }
    let (Ok(rows), Ok(cols)) = (u16::try_from(height), u16::try_from(width)) else {
        return Err(invalid(format!(
            "{width}×{height} exceeds DICOM's 65535 a side"
        )));
    };
    if !(1..=16).contains(&bits_stored) || values.iter().any(|&v| (v as u32) >> bits_stored != 0) {
        return Err(invalid(format!("values do not fit in {bits_stored} bits")));
    }
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let photometric = match photometric {
        Monochrome::One => "MONOCHROME1",
        Monochrome::Two => "MONOCHROME2",
    };
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(SECONDARY_CAPTURE),
        ),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("2.25.1"),
        ),
        DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("OT")),
        us(tags::SAMPLES_PER_PIXEL, 1),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(photometric),
        ),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, bits_stored),
        us(tags::HIGH_BIT, bits_stored - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(values.iter().copied().collect()),
        ),
    ]);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .map_err(|e| invalid(format!("DICOM meta: {e}")))?;
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)
        .map_err(|e| invalid(format!("DICOM write: {e}")))?;
    crate::atomic::write_atomic(path, &bytes)
}

/// The SOP class of files [`write_monochrome`] writes (Secondary Capture Image Storage).
const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_finds_the_magic_with_and_without_preamble() {
        let mut with = vec![0u8; 128];
        with.extend_from_slice(b"DICM....");
        assert_eq!(sniff(&with), Some(Preamble::Present));
        assert_eq!(sniff(b"DICM\x02\x00"), Some(Preamble::Absent));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), None);
    }

    #[test]
    fn stored_values_mask_and_sign_extend() {
        // 12 bits stored in 16, top nibble holding overlay garbage.
        let raw = [0xFFFFu16, 0x0800, 0x07FF];
        let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let unsigned = stored_values(&bytes, 3, 16, 12, 0, false).unwrap_or_default();
        assert_eq!(unsigned, vec![0x0FFF, 0x0800, 0x07FF]);
        let signed = stored_values(&bytes, 3, 16, 12, 0, true).unwrap_or_default();
        assert_eq!(signed, vec![-1, -2048, 2047]);
        assert_eq!(stored_values(&bytes, 4, 16, 12, 0, false), None);
    }

    #[test]
    fn linear_window_follows_the_standard() {
        use dicom_pixeldata::VoiLutFunction::Linear;
        // c = 100, w = 51: [75, 125) linear, edges saturate.
        assert_eq!(voi(74.0, 100.0, 51.0, Linear), 0.0);
        assert_eq!(voi(126.0, 100.0, 51.0, Linear), 1.0);
        assert!((voi(99.5, 100.0, 51.0, Linear) - 0.5).abs() < 1e-12);
    }
}
