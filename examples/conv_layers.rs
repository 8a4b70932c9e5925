//! Per-layer timing of the 64 × 64 DCGAN convolutions on the CPU: Burn's kernels against the
//! same layer as one matrix product over the whole batch — `murgan-models`' `gemm_conv` for
//! the 1 × 1 ↔ 4 × 4 layers, and for the stride-2 layers the im2col / col2im forms below,
//! which were measured and not adopted. Forward, and forward + input gradient with frozen
//! weights (what a latent search does); plus one 2048² matrix product for scale.
//!
//! ```text
//! cargo run --release --example conv_layers -- --batch 64 --repeats 5
//! ```

use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use murgan_core::burn::nn::PaddingConfig2d;
use murgan_core::burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use murgan_core::burn::prelude::*;
use murgan_core::burn::tensor::Distribution;
use murgan_core::models::gemm_conv;

#[derive(Parser)]
struct Args {
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Timed repeats per measurement (the median is printed).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<F: FnMut()>(repeats: usize, mut f: F) -> f64 {
    f();
    median(
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn sync<const D: usize>(t: Tensor<D>) {
    let _ = t.into_data();
}

/// Times one layer and prints its table row. `layer(tracked, matrix, x)` runs it with frozen
/// weights on the autodiff device (`tracked`) or the plain one, in the matrix form or Burn's.
fn row<F>(label: &str, mflop: f64, repeats: usize, x: Tensor<4>, layer: F)
where
    F: Fn(bool, bool, Tensor<4>) -> Tensor<4>,
{
    let forward = |matrix: bool| time(repeats, || sync(layer(false, matrix, x.clone())));
    let xa = x.clone().autodiff();
    let backward = |matrix: bool| {
        time(repeats, || {
            let xg = xa.clone().require_grad();
            let g = layer(true, matrix, xg.clone()).sum().backward();
            if let Some(grad) = xg.grad(&g) {
                sync(grad);
            }
        })
    };
    println!(
        "{label} | {mflop:.0} | {:.1} | {:.1} | {:.1} | {:.1}",
        forward(false) * 1e3,
        forward(true) * 1e3,
        backward(false) * 1e3,
        backward(true) * 1e3
    );
}

fn main() -> Result<()> {
    murgan_core::tune_allocator();
    let a = Args::parse();
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let n = 2048;
    let m1 = Tensor::<2>::random([n, n], Distribution::Default, &dev);
    let m2 = Tensor::<2>::random([n, n], Distribution::Default, &dev);
    let s = time(a.repeats, || sync(m1.clone().matmul(m2.clone())));
    println!(
        "matmul {n}²: {:.1} ms, {:.1} GFLOP/s",
        s * 1e3,
        2.0 * (n as f64).powi(3) / s / 1e9
    );
    let b = a.batch;
    println!(
        "layer | MFLOP/batch | fwd Burn ms | fwd matrix ms | fwd+bwd(x) Burn ms | fwd+bwd(x) matrix ms"
    );
    for (ci, co, side, stride, pad) in [
        (100, 512, 1, 1, 0),
        (512, 256, 4, 2, 1),
        (256, 128, 8, 2, 1),
        (128, 64, 16, 2, 1),
        (64, 1, 32, 2, 1),
    ] {
        let layer = ConvTranspose2dConfig::new([ci, co], [4, 4])
            .with_stride([stride, stride])
            .with_padding([pad, pad])
            .with_bias(false)
            .init(&dev);
        let out = side * stride + 4 - stride - 2 * pad;
        let flops = 2.0 * (b * ci * co * 16 * side * side) as f64 / 1e6;
        let x = Tensor::<4>::random([b, ci, side, side], Distribution::Default, &dev);
        let matrix = |l: &ConvTranspose2d, x: Tensor<4>| {
            if stride == 2 {
                stride2_transpose(x, l.weight.val())
            } else {
                gemm_conv::conv_transpose(l, x)
            }
        };
        let la = layer.clone().fork(&ad).no_grad();
        let label = format!("convT {ci}→{co} {side}→{out}");
        row(&label, flops, a.repeats, x, |tracked, use_matrix, x| {
            let l = if tracked { &la } else { &layer };
            if use_matrix {
                matrix(l, x)
            } else {
                l.forward(x)
            }
        });
    }
    for (ci, co, side, stride, pad) in [
        (1, 64, 64, 2, 1),
        (64, 128, 32, 2, 1),
        (128, 256, 16, 2, 1),
        (256, 512, 8, 2, 1),
        (512, 1, 4, 1, 0),
    ] {
        let layer = Conv2dConfig::new([ci, co], [4, 4])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .init(&dev);
        let out = (side + 2 * pad - 4) / stride + 1;
        let flops = 2.0 * (b * ci * co * 16 * out * out) as f64 / 1e6;
        let x = Tensor::<4>::random([b, ci, side, side], Distribution::Default, &dev);
        let matrix = |l: &Conv2d, x: Tensor<4>| {
            if stride == 2 {
                stride2_conv(x, l.weight.val())
            } else {
                gemm_conv::conv(l, x)
            }
        };
        let la = layer.clone().fork(&ad).no_grad();
        let label = format!("conv {ci}→{co} {side}→{out}");
        row(&label, flops, a.repeats, x, |tracked, use_matrix, x| {
            let l = if tracked { &la } else { &layer };
            if use_matrix {
                matrix(l, x)
            } else {
                l.forward(x)
            }
        });
    }
    Ok(())
}

/// Transposed convolution, kernel 4, stride 2, padding 1: `[B, C_in, H, W]` and weights
/// `[C_in, C_out, 4, 4]` → `[B, C_out, 2H, 2W]`.
///
/// Output row `o` gets input row `i` through kernel row `k` when `o + 1 = 2i + k`. Writing
/// `k = 2a + p` (`a`, `p` ∈ {0, 1}) gives `o + 1 = 2(i + a) + p`: the product's columns for
/// tap `a` land on the coarse row `i + a` at phase `p`. So the columns of each `a` are shifted
/// by one coarse row or not, summed, and the phases interleaved; the extra coarse row at each
/// end is cut off.
fn stride2_transpose(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [b, ci, h, w] = x.dims();
    let co = weight.dims()[1];
    let cols = x
        .permute([0, 2, 3, 1])
        .reshape([b * h * w, ci])
        .matmul(weight.reshape([ci, co * 16]))
        // [B, H, W, C_out, a_h, (p_h, a_w, p_w)]
        .reshape([b, h, w, co, 2, 8]);
    // Coarse rows c = i + a_h, c ∈ [0, H].
    let shift_h = |a: usize| {
        cols.clone()
            .slice(s![.., .., .., .., a..a + 1, ..])
            .pad([(0, 0), (a, 1 - a), (0, 0), (0, 0), (0, 0), (0, 0)], 0.0)
    };
    // [B, H+1, W, (C_out, p_h), a_w, p_w]
    let rows = (shift_h(0) + shift_h(1)).reshape([b, h + 1, w, co * 2, 2, 2]);
    // Coarse columns likewise.
    let shift_w = |a: usize| {
        rows.clone()
            .slice(s![.., .., .., .., a..a + 1, ..])
            .pad([(0, 0), (0, 0), (a, 1 - a), (0, 0), (0, 0), (0, 0)], 0.0)
    };
    let both = shift_w(0) + shift_w(1);
    // [B, H+1, W+1, C_out, p_h, p_w] → [B, C_out, (H+1)·2, (W+1)·2], trimmed by one each side.
    both.reshape([b, h + 1, w + 1, co, 2, 2])
        .permute([0, 3, 1, 4, 2, 5])
        .reshape([b, co, 2 * h + 2, 2 * w + 2])
        .slice(s![.., .., 1..2 * h + 1, 1..2 * w + 1])
}

/// Convolution, kernel 4, stride 2, padding 1: `[B, C_in, H, W]` and weights
/// `[C_out, C_in, 4, 4]` → `[B, C_out, H/2, W/2]`.
///
/// Output row `o` reads padded input row `2o + k`; with `k = 2a + p` that is row `o + a` of
/// the padded input folded 2 × 2 into channels (space to depth). The four shifts `a` are
/// stacked beside the channels (im2col over a 2 × 2 window), and one product with the
/// weights reordered to match gives every output pixel of the batch.
fn stride2_conv(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [b, ci, h, w] = x.dims();
    let co = weight.dims()[0];
    let (ho, wo) = (h / 2, w / 2);
    // [B, C_in, H+2, W+2] → [B, H/2+1, W/2+1, C_in, p_h, p_w]
    let folded = x
        .pad((1, 1, 1, 1), 0.0)
        .reshape([b, ci, ho + 1, 2, wo + 1, 2])
        .permute([0, 2, 4, 1, 3, 5]);
    let taps: Vec<Tensor<6>> = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .into_iter()
        .map(|(ah, aw)| {
            folded
                .clone()
                .slice(s![.., ah..ah + ho, aw..aw + wo, .., .., ..])
        })
        .collect();
    // [B, H/2, W/2, (a_h, a_w), C_in, p_h, p_w]
    let patches = Tensor::stack::<7>(taps, 3).reshape([b * ho * wo, 16 * ci]);
    // [C_out, C_in, a_h, p_h, a_w, p_w] → [(a_h, a_w, C_in, p_h, p_w), C_out]
    let kernel = weight
        .reshape([co, ci, 2, 2, 2, 2])
        .permute([2, 4, 1, 3, 5, 0])
        .reshape([16 * ci, co]);
    patches
        .matmul(kernel)
        .reshape([b, ho, wo, co])
        .permute([0, 3, 1, 2])
}
