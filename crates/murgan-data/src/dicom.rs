//! DICOM radiographs (feature `dicom`, on by default): Part 10 files with or without the
//! 128-byte preamble, MONOCHROME1/MONOCHROME2, 8–16 bits stored (unsigned or signed), the
//! transfer syntaxes the `dicom` crates decode in pure Rust (native little/big endian,
//! RLE lossless, JPEG baseline/extended/lossless). Deflated data sets are refused: their
//! element lengths cannot be checked before inflating (see `check_lengths`).
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

use crate::pipeline::{DecodeLimits, GrayImage};
use crate::{DataError, Result};

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
    // file whose structure passes the strict walk reaches it (see `check_lengths`).
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

/// The deflated transfer syntax's UID.
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Why [`check_lengths`] stopped.
#[derive(Debug)]
enum Walk {
    /// The data set is deflated.
    Deflated,
    /// The transfer syntax UID is not one the DICOM crates know.
    UnknownSyntax(String),
    /// A header is truncated or a length runs past the end.
    Bad(String),
}

impl From<&str> for Walk {
    fn from(m: &str) -> Self {
        Walk::Bad(m.to_string())
    }
}

impl From<String> for Walk {
    fn from(m: String) -> Self {
        Walk::Bad(m)
    }
}

/// Walks the element headers of a Part 10 stream (`bytes[start..]` follows the "DICM" magic)
/// before the DICOM parser sees it, and refuses anything not well formed.
///
/// The parser allocates (and zero-fills) whatever length an element declares, so a few bytes
/// can ask for gigabytes; and on malformed input its reading of the structure is hard to
/// predict (fuzzing found four different ways past a lenient check). So this walk is strict:
/// the file meta group must be explicit VR little endian elements of group 0002 exactly filling
/// its group length; data set headers are decoded with `dicom-parser`'s own decoder for the
/// transfer syntax; explicit VRs must be valid codes; item and delimiter tags may appear only
/// where a sequence, an item or encapsulated pixel data expects them; every defined length must
/// fit in what remains of the file and of its enclosing item or sequence; and the walk must end
/// at the end of the data with every sequence closed. A file passing it has one reading, and no
/// declared length exceeds the file. Deflated data sets are refused: their lengths cannot be
/// checked before inflating.
fn check_lengths(bytes: &[u8], start: usize) -> std::result::Result<(), Walk> {
    use dicom_core::VR;
    use dicom_core::header::{HasLength, Header};
    use dicom_parser::stateful::decode::{DynStatefulDecoder, StatefulDecode};

    let (ts_uid, meta_end) = walk_meta(bytes, start)?;
    if ts_uid == DEFLATED {
        return Err(Walk::Deflated);
    }
    let Some(ts) = TransferSyntaxRegistry.get(&ts_uid) else {
        return Err(Walk::UnknownSyntax(ts_uid));
    };
    // Implicit VR Little Endian is the one standard transfer syntax without explicit VRs.
    let explicit = ts_uid != "1.2.840.10008.1.2";
    let data = &bytes[meta_end.min(bytes.len())..];
    let mut decoder = DynStatefulDecoder::new_with_ts(data, ts, 0)
        .map_err(|e| Walk::Bad(format!("data set: {e}")))?;
    // What comes next: elements (at the root or in an item), items of a sequence, or
    // fragments of encapsulated pixel data. Defined lengths end a context at a byte position.
    enum Ctx {
        Sequence(Option<usize>),
        Item(Option<usize>),
        Pixels,
    }
    const ITEM: (u16, u16) = (0xFFFE, 0xE000);
    const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
    const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
    let mut stack: Vec<Ctx> = Vec::new();
    loop {
        let pos = decoder.position() as usize;
        while let Some(Ctx::Sequence(Some(end)) | Ctx::Item(Some(end))) = stack.last() {
            if pos < *end {
                break;
            }
            stack.pop();
        }
        if pos >= data.len() {
            return if stack.is_empty() {
                Ok(())
            } else {
                Err("data set ends inside a sequence".into())
            };
        }
        // The innermost defined end: nothing may run past it.
        let limit = stack
            .iter()
            .rev()
            .find_map(|c| match c {
                Ctx::Sequence(Some(end)) | Ctx::Item(Some(end)) => Some(*end),
                _ => None,
            })
            .unwrap_or(data.len());
        let header = decoder
            .decode_header()
            .map_err(|e| Walk::Bad(format!("data set byte {pos}: {e}")))?;
        let after = decoder.position() as usize;
        let tag = (header.tag().0, header.tag().1);
        if explicit && tag.0 != 0xFFFE && !valid_vr(&data[pos + 4..pos + 6]) {
            return Err(Walk::Bad(format!(
                "element {} at data set byte {pos}: invalid VR",
                header.tag()
            )));
        }
        let len = header.length().get();
        if let Some(len) = len {
            let left = limit.saturating_sub(after);
            if len as usize > left {
                return Err(too_long(&format!("{}", header.tag()), pos, len, left));
            }
            // The parser reads whole numbers of binary values and would lose its place on
            // the bytes left over (fuzz finding #5: an FD of 26 bytes).
            let unit = match header.vr() {
                VR::FD | VR::OD | VR::SV | VR::UV => 8,
                VR::FL | VR::OF | VR::SL | VR::UL | VR::OL | VR::AT => 4,
                VR::SS | VR::US | VR::OW => 2,
                _ => 1,
            };
            if tag.0 != 0xFFFE && len % unit != 0 {
                return Err(Walk::Bad(format!(
                    "element {} at data set byte {pos}: {len} bytes is not a whole number of {} values",
                    header.tag(),
                    header.vr()
                )));
            }
        }
        match (stack.last(), tag) {
            (Some(Ctx::Pixels), ITEM) => {
                let len = len.ok_or("pixel fragment of undefined length")?;
                decoder
                    .skip_bytes(len)
                    .map_err(|e| Walk::Bad(format!("pixel fragment: {e}")))?;
            }
            (Some(Ctx::Sequence(_)), ITEM) => {
                stack.push(Ctx::Item(len.map(|l| after + l as usize)));
            }
            (Some(Ctx::Sequence(None) | Ctx::Pixels), SEQUENCE_END) => {
                stack.pop();
            }
            (Some(Ctx::Item(None)), ITEM_END) => {
                stack.pop();
            }
            (Some(Ctx::Sequence(_) | Ctx::Pixels), _) => {
                return Err(Walk::Bad(format!(
                    "{} at data set byte {pos} where an item was expected",
                    header.tag()
                )));
            }
            (_, (0xFFFE, _)) => {
                return Err(Walk::Bad(format!(
                    "{} at data set byte {pos} outside a sequence",
                    header.tag()
                )));
            }
            _ => match len {
                None if tag == (0x7FE0, 0x0010) => stack.push(Ctx::Pixels),
                None if !explicit || matches!(header.vr(), VR::SQ) => {
                    stack.push(Ctx::Sequence(None));
                }
                None => {
                    return Err(Walk::Bad(format!(
                        "element {} at data set byte {pos}: undefined length on a {} value",
                        header.tag(),
                        header.vr()
                    )));
                }
                Some(len) if header.vr() == VR::SQ => {
                    stack.push(Ctx::Sequence(Some(after + len as usize)));
                }
                Some(len) => {
                    decoder
                        .skip_bytes(len)
                        .map_err(|e| Walk::Bad(format!("data set byte {pos}: {e}")))?;
                }
            },
        }
    }
}

/// Whether two bytes are a DICOM value representation code.
fn valid_vr(vr: &[u8]) -> bool {
    short_vr(vr)
        || matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        )
}

/// Whether an explicit VR has a 2-byte length (the others have 2 reserved bytes and 4).
fn short_vr(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

fn too_long(what: &str, pos: usize, len: u32, left: usize) -> Walk {
    Walk::Bad(format!(
        "{what} at data set byte {pos} claims {len} bytes, {left} remain"
    ))
}

/// Walks the file meta group: a group length element, then explicit VR little endian
/// elements of group 0002 with valid VRs that exactly fill that length. Returns the transfer
/// syntax UID and where the data set starts.
fn walk_meta(bytes: &[u8], start: usize) -> std::result::Result<(String, usize), Walk> {
    let u16_at = |p: usize| {
        bytes
            .get(p..p + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |p: usize| {
        bytes
            .get(p..p + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if u16_at(start) != Some(0x0002)
        || u16_at(start + 2) != Some(0x0000)
        || bytes.get(start + 4..start + 8) != Some(b"UL\x04\x00".as_slice())
    {
        return Err("no file meta group length".into());
    }
    let group_length = u32_at(start + 8).ok_or("truncated file meta group")? as usize;
    let first = start + 12;
    let end = first
        .checked_add(group_length)
        .filter(|&e| e <= bytes.len())
        .ok_or("file meta group longer than the file")?;
    let mut p = first;
    let mut ts = String::new();
    while p < end {
        let truncated = || Walk::from("truncated file meta group");
        let (group, element) = (
            u16_at(p).ok_or_else(truncated)?,
            u16_at(p + 2).ok_or_else(truncated)?,
        );
        let vr = bytes.get(p + 4..p + 6).ok_or_else(truncated)?;
        if group != 0x0002 || !valid_vr(vr) || vr == b"SQ" {
            return Err(Walk::Bad(format!(
                "file meta element ({group:04X},{element:04X}) at byte {p} is malformed"
            )));
        }
        let (len, header) = if short_vr(vr) {
            (u16_at(p + 6).ok_or_else(truncated)? as usize, 8)
        } else {
            (u32_at(p + 8).ok_or_else(truncated)? as usize, 12)
        };
        let left = end.saturating_sub(p + header);
        if len > left {
            return Err(Walk::Bad(format!(
                "file meta element (0002,{element:04X}) at byte {p} claims {len} bytes, {left} remain in the group"
            )));
        }
        if element == 0x0010 {
            let uid = String::from_utf8_lossy(&bytes[p + header..p + header + len]);
            ts = uid.trim_end_matches(['\0', ' ']).to_string();
        }
        p += header + len;
    }
    Ok((ts, end))
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
