//! Seeded noise: every draw is a function of `(seed, iteration, stream)`, so training and
//! scoring reproduce exactly, and a resumed run draws what an uninterrupted one would.

use burn::prelude::*;
use murgan_data::seed::item_seed;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Standard-normal noise `[rows, cols]` drawn from `(seed, iteration, stream)`.
pub fn normal_noise(
    seed: u64,
    iteration: usize,
    stream: u64,
    rows: usize,
    cols: usize,
    device: &Device,
) -> Tensor<2> {
    let mut rng = ChaCha8Rng::seed_from_u64(item_seed(item_seed(seed, iteration as u64), stream));
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}
