//! The image pipeline on real files: bit depths, colour types, formats, and every kind of
//! bad file; the loader's skip-and-report behaviour and its cache.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::fs;

use murgan_data::image::{self as murgan_image, DecodeLimits, PreprocessConfig};
use murgan_data::{Cache, DataError, Loader};

#[test]
fn bit_depths_and_colour_types_decode_to_the_same_gray() {
    let tmp = tempfile::tempdir().unwrap();
    let g8 = image::GrayImage::from_fn(16, 8, |x, _| image::Luma([(x * 16) as u8]));
    let g16 = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(16, 8, |x, _| {
        image::Luma([(x * 16) as u16 * 257])
    });
    let rgb = image::RgbImage::from_fn(16, 8, |x, _| image::Rgb([(x * 16) as u8; 3]));
    let rgba = image::RgbaImage::from_fn(16, 8, |x, _| {
        image::Rgba([(x * 16) as u8, (x * 16) as u8, (x * 16) as u8, 255])
    });
    let paths = ["g8.png", "g16.png", "rgb.png", "rgba.png", "rgb.jpg"].map(|n| tmp.path().join(n));
    g8.save(&paths[0]).unwrap();
    g16.save(&paths[1]).unwrap();
    rgb.save(&paths[2]).unwrap();
    rgba.save(&paths[3]).unwrap();
    rgb.save(&paths[4]).unwrap();
    let limits = DecodeLimits::default();
    let reference = murgan_image::decode_file(&paths[0], &limits).unwrap();
    assert_eq!((reference.width, reference.height), (16, 8));
    for p in &paths[1..4] {
        let g = murgan_image::decode_file(p, &limits).unwrap();
        let max_diff = g
            .pixels
            .iter()
            .zip(&reference.pixels)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1.0 / 255.0, "{}: {max_diff}", p.display());
    }
    let jpg = murgan_image::decode_file(&paths[4], &limits).unwrap();
    let max_diff = jpg
        .pixels
        .iter()
        .zip(&reference.pixels)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 0.1, "jpeg: {max_diff}");
    // 16-bit precision is kept, not truncated to 8 bits.
    let fine = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(2, 1, |x, _| {
        image::Luma([1000 + x as u16])
    });
    fine.save(tmp.path().join("fine.png")).unwrap();
    let f = murgan_image::decode_file(&tmp.path().join("fine.png"), &limits).unwrap();
    assert!(f.pixels[1] > f.pixels[0]);
}

#[test]
fn every_bad_file_gives_a_typed_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    common::png(&d.join("good.png"), 64, 64);
    let good = fs::read(d.join("good.png")).unwrap();
    fs::write(d.join("truncated.png"), &good[..good.len() / 2]).unwrap();
    fs::write(d.join("empty.png"), b"").unwrap();
    fs::write(d.join("text.png"), b"this is not an image at all").unwrap();
    fs::write(d.join("bomb.png"), common::png_header_only(50_000, 50_000)).unwrap();
    let limits = DecodeLimits::default();
    let cfg = PreprocessConfig::new(32);
    let check = |name: &str, pred: fn(&DataError) -> bool| {
        let err = murgan_image::load(&d.join(name), &cfg, 0).unwrap_err();
        assert!(pred(&err), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{name}: {err}");
    };
    check("truncated.png", |e| matches!(e, DataError::Decode { .. }));
    check("empty.png", |e| matches!(e, DataError::EmptyFile { .. }));
    check("text.png", |e| {
        matches!(e, DataError::UnsupportedFormat { .. })
    });
    check("bomb.png", |e| matches!(e, DataError::TooLarge { .. }));
    check("missing.png", |e| matches!(e, DataError::Io { .. }));
    let small = DecodeLimits {
        max_file_bytes: 10,
        ..limits
    };
    assert!(matches!(
        murgan_image::decode_file(&d.join("good.png"), &small),
        Err(DataError::TooLarge { .. })
    ));
    assert!(murgan_image::decode_bytes(&good, std::path::Path::new("mem.png"), &limits).is_ok());
}

#[test]
fn loader_skips_and_reports_bad_files_and_caches() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    common::png(&d.join("a.png"), 40, 20);
    common::png(&d.join("b.png"), 20, 40);
    fs::write(d.join("bad.png"), b"garbage").unwrap();
    let records = vec![
        common::normal_record(d.join("a.png")),
        common::normal_record(d.join("bad.png")),
        common::normal_record(d.join("b.png")),
    ];
    let cache = Cache::new(d.join("cache")).unwrap();
    let loader = Loader::new(PreprocessConfig::new(16)).with_cache(cache.clone());
    let first = loader.load_all(&records);
    assert_eq!(
        first.images.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert_eq!(first.failures.len(), 1);
    assert!(first.failures[0].0.ends_with("bad.png"));
    assert_eq!(fs::read_dir(cache.dir()).unwrap().count(), 2);
    // Second pass reads the cache and gives the same values.
    let second = loader.load_all(&records);
    assert_eq!(first.images, second.images);
    // A corrupt cache entry is a miss, not a failure.
    for e in fs::read_dir(cache.dir()).unwrap() {
        fs::write(e.unwrap().path(), b"MGC1junk").unwrap();
    }
    let third = loader.load_all(&records);
    assert_eq!(first.images, third.images);
    // Changing the preprocessing changes the key.
    let eq = Loader::new(PreprocessConfig::new(16).with_equalize(true)).with_cache(cache);
    let fourth = eq.load_all(&records);
    assert_ne!(first.images[0].1.pixels, fourth.images[0].1.pixels);
}
