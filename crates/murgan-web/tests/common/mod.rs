//! A tiny trained model for the web tests, and test images.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use murgan_core::Device;
use murgan_core::data::image::{self, GrayImage};
use murgan_core::models::nets::{DcganConfig, SquidNetConfig};
use murgan_core::models::train::{
    FAnoGanConfig, FAnoGanTrainer, SquidConfig, SquidTrainer, TrainConfig, TrainingSet, run,
};

/// A bright disc on a dark background, `w × h`.
pub fn xray(w: u32, h: u32, k: u32) -> GrayImage {
    let (cx, cy, r) = (
        w as f32 / 2.0 + k as f32,
        h as f32 / 2.0,
        w.min(h) as f32 / 3.0,
    );
    GrayImage {
        width: w,
        height: h,
        pixels: (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                if (x - cx).powi(2) + (y - cy).powi(2) < r * r {
                    0.85
                } else {
                    0.1
                }
            })
            .collect(),
    }
}

/// PNG bytes of [`xray`].
pub fn xray_png(w: u32, h: u32, k: u32) -> Vec<u8> {
    image::png_bytes(&xray(w, h, k)).unwrap()
}

/// Eight preprocessed 16×16 training images.
fn training_set() -> TrainingSet {
    let config = image::PreprocessConfig::new(16);
    let images = (0..8)
        .map(|k| {
            image::preprocess(&xray(24, 20, k), &config, 0)
                .unwrap()
                .pixels
        })
        .collect();
    TrainingSet::from_images(images, 16).unwrap()
}

/// Trains a tiny SQUID (16×16, a few iterations) into `models/chest` and returns `models`.
pub fn train_squid(root: &Path) -> PathBuf {
    let models = root.join("models");
    let net = SquidNetConfig::new()
        .with_image_size(16)
        .with_width(4)
        .with_memory_slots(8)
        .with_top_k(2);
    let train = TrainConfig::new()
        .with_batch_size(4)
        .with_iterations(3)
        .with_seed(1);
    let mut t = SquidTrainer::new(
        SquidConfig::new(net, train).with_disc_width(4),
        &Device::flex(),
    )
    .unwrap();
    run(
        &mut t,
        &training_set(),
        &models.join("chest"),
        3,
        false,
        &mut |_| {},
    )
    .unwrap();
    models
}

/// Trains a tiny f-AnoGAN (16×16, a few iterations) into `models/hand` and returns `models`.
pub fn train_model(root: &Path) -> PathBuf {
    let models = root.join("models");
    let data = training_set();
    let shape = DcganConfig::new()
        .with_image_size(16)
        .with_latent_dim(8)
        .with_gen_width(4)
        .with_disc_width(4);
    let train = TrainConfig::new()
        .with_batch_size(4)
        .with_iterations(3)
        .with_seed(1);
    let cfg = FAnoGanConfig::new(shape, train).with_encoder_iterations(3);
    let mut t = FAnoGanTrainer::new(cfg, &Device::flex()).unwrap();
    run(&mut t, &data, &models.join("hand"), 6, false, &mut |_| {}).unwrap();
    models
}
/// A minimal PNG that declares `w`×`h` pixels (valid signature and IHDR CRC) but carries no
/// image data: what a decompression bomb's header looks like.
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&w.to_be_bytes());
    chunk.extend_from_slice(&h.to_be_bytes());
    chunk.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit gray
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    out
}
