//! Seeds derived from a run's seed: every random draw in murgan is a function of
//! `(seed, index)`, so runs reproduce and resumed runs continue exactly.

/// Draws an augmentation seed for item `index` of a run seeded with `seed`.
pub fn item_seed(seed: u64, index: u64) -> u64 {
    // SplitMix64 of the pair: cheap, stable across platforms and versions.
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
