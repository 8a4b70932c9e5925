//! The strict walk over a DICOM Part 10 stream's element headers that runs before the DICOM
//! parser sees the file (see [`check_lengths`]).

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// The deflated transfer syntax's UID.
pub(super) const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Why [`check_lengths`] stopped.
#[derive(Debug)]
pub(super) enum Walk {
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
pub(super) fn check_lengths(bytes: &[u8], start: usize) -> std::result::Result<(), Walk> {
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
