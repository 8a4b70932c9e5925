//! DICOM input: photometric interpretations, bit depths, rescale and window, compressed and
//! unsupported transfer syntaxes, bad files, and DICOM files in data sets.

#![cfg(feature = "dicom")]
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::path::Path;

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use murgan_data::image::dicom::{self, Monochrome};
use murgan_data::image::{self as murgan_image, DecodeLimits, GrayImage};
use murgan_data::{ClassMap, DataError, Filter, folder};

const W: u32 = 12;
const H: u32 = 9;

/// The 8-bit gradient every twin is made from.
fn gradient() -> Vec<u8> {
    (0..W * H).map(|i| ((i * 37 + 11) % 256) as u8).collect()
}

fn decode(path: &Path) -> Result<GrayImage, DataError> {
    murgan_image::decode_file(path, &DecodeLimits::default())
}

/// A DICOM object's attributes, for the cases `write_monochrome` does not cover.
struct Spec {
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    photometric: &'static str,
    rescale: Option<(&'static str, &'static str)>,
    window: Option<(&'static str, &'static str)>,
    function: Option<&'static str>,
    ts: &'static str,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            bits_allocated: 16,
            bits_stored: 16,
            signed: false,
            photometric: "MONOCHROME2",
            rescale: None,
            window: None,
            function: None,
            ts: "1.2.840.10008.1.2.1",
        }
    }
}

type Element = dicom_object::mem::InMemElement;

fn write(path: &Path, spec: &Spec, pixel_data: Element) {
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let ds = |tag, v: &str| DataElement::new(tag, VR::DS, PrimitiveValue::from(v));
    let mut elements = vec![
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.1.1"),
        ),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("2.25.7"),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(spec.photometric),
        ),
        us(tags::ROWS, H as u16),
        us(tags::COLUMNS, W as u16),
        us(tags::BITS_ALLOCATED, spec.bits_allocated),
        us(tags::BITS_STORED, spec.bits_stored),
        us(tags::HIGH_BIT, spec.bits_stored - 1),
        us(tags::PIXEL_REPRESENTATION, spec.signed as u16),
        pixel_data,
    ];
    if let Some((slope, intercept)) = spec.rescale {
        elements.push(ds(tags::RESCALE_SLOPE, slope));
        elements.push(ds(tags::RESCALE_INTERCEPT, intercept));
    }
    if let Some((center, width)) = spec.window {
        elements.push(ds(tags::WINDOW_CENTER, center));
        elements.push(ds(tags::WINDOW_WIDTH, width));
    }
    if let Some(f) = spec.function {
        elements.push(DataElement::new(
            tags::VOILUT_FUNCTION,
            VR::CS,
            PrimitiveValue::from(f),
        ));
    }
    let file = InMemDicomObject::from_element_iter(elements)
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(spec.ts))
        .unwrap();
    file.write_to_file(path).unwrap();
}

fn native16(values: &[u16]) -> Element {
    DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(values.iter().copied().collect()),
    )
}

fn native8(values: &[u8]) -> Element {
    DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(values.iter().copied().collect()),
    )
}

fn encapsulated(fragment: Vec<u8>) -> Element {
    DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PixelFragmentSequence::new(vec![], vec![fragment]),
    )
}

/// DICOM RLE (PS3.5 Annex G): one segment per byte plane, most significant first, each
/// coded as literal runs of at most 128 bytes.
fn rle(planes: &[Vec<u8>]) -> Vec<u8> {
    let mut segments: Vec<Vec<u8>> = Vec::new();
    for plane in planes {
        let mut seg = Vec::new();
        for run in plane.chunks(128) {
            seg.push((run.len() - 1) as u8);
            seg.extend_from_slice(run);
        }
        if seg.len() % 2 == 1 {
            seg.push(0x80); // no-op byte keeps segments even
        }
        segments.push(seg);
    }
    let mut header = [0u32; 16];
    header[0] = segments.len() as u32;
    let mut offset = 64u32;
    for (i, s) in segments.iter().enumerate() {
        header[i + 1] = offset;
        offset += s.len() as u32;
    }
    let mut out: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
    for s in segments {
        out.extend(s);
    }
    out
}

#[test]
fn a_16_bit_dicom_of_a_png_times_257_decodes_exactly_as_the_png() {
    let tmp = tempfile::tempdir().unwrap();
    let g = gradient();
    let png = tmp.path().join("twin.png");
    image::GrayImage::from_raw(W, H, g.clone())
        .unwrap()
        .save(&png)
        .unwrap();
    let values: Vec<u16> = g.iter().map(|&v| v as u16 * 257).collect();
    let dcm = tmp.path().join("twin.dcm");
    dicom::write_monochrome(&dcm, W, H, &values, 16, Monochrome::Two).unwrap();
    let inverted: Vec<u16> = values.iter().map(|v| 65535 - v).collect();
    let dcm1 = tmp.path().join("twin-mono1.dcm");
    dicom::write_monochrome(&dcm1, W, H, &inverted, 16, Monochrome::One).unwrap();
    let eight = tmp.path().join("twin8.dcm");
    write(
        &eight,
        &Spec {
            bits_allocated: 8,
            bits_stored: 8,
            ..Spec::default()
        },
        native8(&g),
    );

    let reference = decode(&png).unwrap();
    assert_eq!(decode(&dcm).unwrap(), reference, "MONOCHROME2, 16 bits");
    assert_eq!(decode(&dcm1).unwrap(), reference, "MONOCHROME1 twin");
    assert_eq!(decode(&eight).unwrap(), reference, "8 bits allocated");
    // The same bytes in memory (the web app's path) decode the same way.
    let bytes = std::fs::read(&dcm).unwrap();
    let from_bytes =
        murgan_image::decode_bytes(&bytes, Path::new("upload"), &DecodeLimits::default());
    assert_eq!(from_bytes.unwrap(), reference);
    assert_eq!(
        murgan_image::detect_format(&bytes),
        Some(murgan_image::SourceFormat::Dicom)
    );
}

#[test]
fn native_transfer_syntaxes_decode_alike_and_deflated_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let values: Vec<u16> = gradient().iter().map(|&v| v as u16 * 257).collect();
    let mut decoded = Vec::new();
    for (name, ts) in [
        ("explicit-le", "1.2.840.10008.1.2.1"),
        ("implicit-le", "1.2.840.10008.1.2"),
        ("explicit-be", "1.2.840.10008.1.2.2"),
    ] {
        let p = tmp.path().join(format!("{name}.dcm"));
        write(
            &p,
            &Spec {
                ts,
                window: Some(("30000", "40000")),
                ..Spec::default()
            },
            native16(&values),
        );
        decoded.push(decode(&p).unwrap_or_else(|e| panic!("{name}: {e}")));
    }
    assert_eq!(decoded[0], decoded[1], "implicit VR");
    assert_eq!(decoded[0], decoded[2], "big endian");

    let p = tmp.path().join("deflated.dcm");
    write(
        &p,
        &Spec {
            ts: "1.2.840.10008.1.2.1.99",
            ..Spec::default()
        },
        native16(&values),
    );
    let err = decode(&p).unwrap_err();
    assert!(matches!(err, DataError::UnsupportedFormat { .. }), "{err}");
    assert!(err.to_string().contains("1.2.840.10008.1.2.1.99"), "{err}");
}

#[test]
fn bits_stored_sets_the_range_and_signed_values_are_offset() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 bits stored; the unused top nibble holds garbage that must be masked off.
    let mut values = vec![0u16; (W * H) as usize];
    values[1] = 4095;
    values[2] = 0xF000 | 2048;
    let p12 = tmp.path().join("b12.dcm");
    write(
        &p12,
        &Spec {
            bits_stored: 12,
            ..Spec::default()
        },
        native16(&values),
    );
    let g = decode(&p12).unwrap();
    assert_eq!(&g.pixels[..3], &[0.0, 1.0, 2048.0 / 4095.0]);

    // Signed 16-bit: −32768 is black, 32767 white, 0 just above the middle.
    let signed: Vec<u16> = [-32768i16, 32767, 0]
        .into_iter()
        .chain(std::iter::repeat_n(0, (W * H) as usize - 3))
        .map(|v| v as u16)
        .collect();
    let ps = tmp.path().join("signed.dcm");
    write(
        &ps,
        &Spec {
            signed: true,
            ..Spec::default()
        },
        native16(&signed),
    );
    let g = decode(&ps).unwrap();
    assert_eq!(&g.pixels[..3], &[0.0, 1.0, (32768.0f64 / 65535.0) as f32]);
}

#[test]
fn rescale_and_window_follow_the_dicom_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    // Stored 0, 1000, 1024, 1100, 4095 with slope 1, intercept −1024 (CT-like units):
    // rescaled −1024, −24, 0, 76, 3071. Window centre 0, width 201: linear on
    // (−100.5, 99.5] as (x + 0.5)/200 + 0.5, 0 below, 1 above.
    let mut values = vec![0u16; (W * H) as usize];
    values[..5].copy_from_slice(&[0, 1000, 1024, 1100, 4095]);
    let p = tmp.path().join("window.dcm");
    write(
        &p,
        &Spec {
            bits_stored: 12,
            rescale: Some(("1", "-1024")),
            window: Some(("0", "201")),
            ..Spec::default()
        },
        native16(&values),
    );
    let g = decode(&p).unwrap();
    let want = [
        0.0,
        (-24.0 + 0.5) / 200.0 + 0.5,
        0.5 / 200.0 + 0.5,
        76.5 / 200.0 + 0.5,
        1.0,
    ];
    for (got, want) in g.pixels[..5].iter().zip(want) {
        assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    }

    // LINEAR_EXACT: (x − c)/w + 0.5; MONOCHROME1 inverts after the window.
    let p = tmp.path().join("exact.dcm");
    write(
        &p,
        &Spec {
            bits_stored: 12,
            rescale: Some(("2", "0")),
            window: Some(("1000", "400")),
            function: Some("LINEAR_EXACT"),
            photometric: "MONOCHROME1",
            ..Spec::default()
        },
        native16(&values),
    );
    let g = decode(&p).unwrap();
    // rescaled 0, 2000, 2048, 2200, 8190 → all outside [800, 1200] but the first is below.
    assert_eq!(&g.pixels[..5], &[1.0, 0.0, 0.0, 0.0, 0.0]);

    // Without a window a rescale changes nothing (the stored range maps linearly).
    let p = tmp.path().join("rescale-only.dcm");
    write(
        &p,
        &Spec {
            bits_stored: 12,
            rescale: Some(("3", "-50")),
            ..Spec::default()
        },
        native16(&values),
    );
    let g = decode(&p).unwrap();
    assert!((g.pixels[1] - 1000.0 / 4095.0).abs() < 1e-7);
}

#[test]
fn rle_and_jpeg_compressed_files_decode() {
    let tmp = tempfile::tempdir().unwrap();
    let g = gradient();
    let reference: Vec<f32> = g.iter().map(|&v| v as f32 / 255.0).collect();

    let p = tmp.path().join("rle8.dcm");
    write(
        &p,
        &Spec {
            bits_allocated: 8,
            bits_stored: 8,
            ts: "1.2.840.10008.1.2.5",
            ..Spec::default()
        },
        encapsulated(rle(std::slice::from_ref(&g))),
    );
    assert_eq!(decode(&p).unwrap().pixels, reference, "RLE 8-bit");

    let values: Vec<u16> = g.iter().map(|&v| v as u16 * 257).collect();
    let high: Vec<u8> = values.iter().map(|v| (v >> 8) as u8).collect();
    let low: Vec<u8> = values.iter().map(|v| *v as u8).collect();
    let p = tmp.path().join("rle16.dcm");
    write(
        &p,
        &Spec {
            ts: "1.2.840.10008.1.2.5",
            ..Spec::default()
        },
        encapsulated(rle(&[high, low])),
    );
    assert_eq!(decode(&p).unwrap().pixels, reference, "RLE 16-bit");

    // JPEG baseline, encoded by the dicom crates' own transcoder: lossy, so close.
    use dicom_pixeldata::Transcode;
    let native = tmp.path().join("native8.dcm");
    write(
        &native,
        &Spec {
            bits_allocated: 8,
            bits_stored: 8,
            ..Spec::default()
        },
        native8(&g),
    );
    let mut obj = dicom_object::open_file(&native).unwrap();
    obj.transcode(&dicom_transfer_syntax_registry::entries::JPEG_BASELINE.erased())
        .unwrap();
    let jpeg = tmp.path().join("jpeg.dcm");
    obj.write_to_file(&jpeg).unwrap();
    let decoded = decode(&jpeg).unwrap();
    let mean_abs: f32 = decoded
        .pixels
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / reference.len() as f32;
    assert!(mean_abs < 0.08, "JPEG baseline mean |diff| {mean_abs}");
}

#[test]
fn unsupported_transfer_syntaxes_and_bad_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    // JPEG 2000 is not compiled in: the error names it and the file.
    let p = tmp.path().join("j2k.dcm");
    write(
        &p,
        &Spec {
            ts: "1.2.840.10008.1.2.4.90",
            ..Spec::default()
        },
        encapsulated(vec![0xFF, 0x4F, 0xFF, 0x51, 0, 0]),
    );
    let err = decode(&p).unwrap_err();
    assert!(matches!(err, DataError::UnsupportedFormat { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("JPEG 2000") && msg.contains("1.2.840.10008.1.2.4.90"));
    assert!(msg.contains("j2k.dcm"), "{msg}");

    // A transfer syntax UID nobody knows (patched in, same length): named as such.
    let p = tmp.path().join("private-ts.dcm");
    write(
        &p,
        &Spec::default(),
        native16(&vec![0u16; (W * H) as usize]),
    );
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes
        .windows(19)
        .position(|w| w == b"1.2.840.10008.1.2.1")
        .unwrap();
    bytes[at..at + 19].copy_from_slice(b"1.2.840.99999.9.9.9");
    std::fs::write(&p, &bytes).unwrap();
    let err = decode(&p).unwrap_err();
    assert!(matches!(err, DataError::UnsupportedFormat { .. }), "{err}");
    assert!(err.to_string().contains("1.2.840.99999.9.9.9"), "{err}");

    // Colour is refused with the reason.
    let p = tmp.path().join("palette.dcm");
    write(
        &p,
        &Spec {
            photometric: "PALETTE COLOR",
            bits_allocated: 8,
            bits_stored: 8,
            ..Spec::default()
        },
        native8(&gradient()),
    );
    let msg = decode(&p).unwrap_err().to_string();
    assert!(
        msg.contains("palette.dcm") && msg.contains("MONOCHROME"),
        "{msg}"
    );

    // A bit depth murgan does not read (12 bits allocated) is named.
    let p = tmp.path().join("alloc12.dcm");
    write(
        &p,
        &Spec {
            bits_allocated: 12,
            bits_stored: 12,
            ..Spec::default()
        },
        native16(&vec![0u16; (W * H) as usize]),
    );
    let msg = decode(&p).unwrap_err().to_string();
    assert!(
        msg.contains("alloc12.dcm") && msg.contains("BitsAllocated 12"),
        "{msg}"
    );

    // Truncated in the pixel data, and cut in the header: errors, not panics.
    let good = tmp.path().join("good.dcm");
    let values: Vec<u16> = gradient().iter().map(|&v| v as u16).collect();
    dicom::write_monochrome(&good, W, H, &values, 8, Monochrome::Two).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for cut in [bytes.len() - 50, 200, 140] {
        let p = tmp.path().join(format!("cut{cut}.dcm"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let err = decode(&p).unwrap_err();
        assert!(err.to_string().contains(&format!("cut{cut}.dcm")), "{err}");
    }

    // A header claiming 60,000 × 60,000 is refused before any pixel is read.
    let mut spec_obj = dicom_object::open_file(&good).unwrap();
    spec_obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(60000u16),
    ));
    spec_obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(60000u16),
    ));
    let huge = tmp.path().join("huge.dcm");
    spec_obj.write_to_file(&huge).unwrap();
    assert!(matches!(
        decode(&huge).unwrap_err(),
        DataError::TooLarge { .. }
    ));

    // Bytes that are no image at all.
    let p = tmp.path().join("notes.dcm");
    std::fs::write(&p, b"patient notes, not an image").unwrap();
    assert!(matches!(
        decode(&p).unwrap_err(),
        DataError::UnsupportedFormat { .. }
    ));
}

#[test]
fn writing_refuses_values_that_do_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.dcm");
    let err = dicom::write_monochrome(&p, 2, 1, &[0, 4096], 12, Monochrome::Two).unwrap_err();
    assert!(err.to_string().contains("12 bits"), "{err}");
    assert!(dicom::write_monochrome(&p, 3, 1, &[0, 1], 8, Monochrome::Two).is_err());
    assert!(!p.exists());
}

#[test]
fn folder_data_sets_index_dicom_files() {
    let tmp = tempfile::tempdir().unwrap();
    let values: Vec<u16> = gradient().iter().map(|&v| v as u16 * 257).collect();
    for (class, name) in [
        ("NORMAL", "a.dcm"),
        ("NORMAL", "b.DCM"),
        ("PNEUMONIA", "c.dcm"),
    ] {
        let dir = tmp.path().join("train").join(class);
        std::fs::create_dir_all(&dir).unwrap();
        dicom::write_monochrome(&dir.join(name), W, H, &values, 16, Monochrome::Two).unwrap();
    }
    let classes = ClassMap::normal(["NORMAL"]).with_abnormal(["PNEUMONIA"]);
    let set = folder::open(tmp.path(), &classes).unwrap();
    let records = set.select(&Filter::all());
    assert_eq!(records.len(), 3);
    for r in records {
        assert_eq!(decode(&r.path).unwrap().width, W);
    }
}
