//! Per-layer timing of the 64 × 64 DCGAN convolutions on the CPU: Burn's kernels
//! (`layer.forward`) against the path murgan's networks take (`murgan-kernels`:
//! one matrix product over the batch for the 1 × 1 ↔ 4 × 4 layers, murgan's own kernels for
//! the stride-2 layers). Forward; forward + input gradient with frozen weights (what a latent
//! search does); forward + input and weight gradients (what training does); plus one 2048²
//! matrix product for scale.
//!
//! ```text
//! cargo run --release -p murgan-kernels --example conv_layers -- --batch 64 --repeats 5
//! ```

use std::time::Instant;

use anyhow::Result;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use murgan_kernels as cpu_layers;

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

/// How a layer is run: on the plain device, or on the autodiff device with frozen or trained
/// weights.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Forward,
    FrozenWeights,
    TrainedWeights,
}

/// Times one layer and prints its table row. `layer(mode, murgan, x)` runs it in `mode`,
/// through murgan's path or Burn's `forward`.
fn row<F>(label: &str, mflop: f64, repeats: usize, x: Tensor<4>, layer: F)
where
    F: Fn(Mode, bool, Tensor<4>) -> Tensor<4>,
{
    let xa = x.clone().autodiff();
    let run = |mode: Mode, murgan: bool| {
        time(repeats, || {
            if mode == Mode::Forward {
                return sync(layer(mode, murgan, x.clone()));
            }
            let xg = xa.clone().require_grad();
            let g = layer(mode, murgan, xg.clone()).sum().backward();
            if let Some(grad) = xg.grad(&g) {
                sync(grad);
            }
        }) * 1e3
    };
    let mut cells = String::new();
    for mode in [Mode::Forward, Mode::FrozenWeights, Mode::TrainedWeights] {
        // Alternating, so that both paths see the same machine.
        let (burn, murgan) = (run(mode, false), run(mode, true));
        cells += &format!(" | {burn:.1} | {murgan:.1}");
    }
    println!("{label} | {mflop:.0}{cells}");
}

fn main() -> Result<()> {
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
        "layer | MFLOP/batch | fwd Burn ms | fwd murgan ms | +dx Burn ms | +dx murgan ms | +dx+dw Burn ms | +dx+dw murgan ms"
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
            .init(&ad);
        let out = side * stride + 4 - stride - 2 * pad;
        let flops = 2.0 * (b * ci * co * 16 * side * side) as f64 / 1e6;
        let x = Tensor::<4>::random([b, ci, side, side], Distribution::Default, &dev);
        // Initialised on the autodiff device, so its weights are trained unless frozen.
        let trained = layer;
        assert!(trained.weight.val().is_require_grad());
        let frozen = trained.clone().no_grad();
        let layer = trained.valid();
        let label = format!("convT {ci}→{co} {side}→{out}");
        row(&label, flops, a.repeats, x, |mode, murgan, x| {
            let l: &ConvTranspose2d = match mode {
                Mode::Forward => &layer,
                Mode::FrozenWeights => &frozen,
                Mode::TrainedWeights => &trained,
            };
            if murgan {
                cpu_layers::conv_transpose(l, x)
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
            .init(&ad);
        let out = (side + 2 * pad - 4) / stride + 1;
        let flops = 2.0 * (b * ci * co * 16 * out * out) as f64 / 1e6;
        let x = Tensor::<4>::random([b, ci, side, side], Distribution::Default, &dev);
        // Initialised on the autodiff device, so its weights are trained unless frozen.
        let trained = layer;
        assert!(trained.weight.val().is_require_grad());
        let frozen = trained.clone().no_grad();
        let layer = trained.valid();
        let label = format!("conv {ci}→{co} {side}→{out}");
        row(&label, flops, a.repeats, x, |mode, murgan, x| {
            let l: &Conv2d = match mode {
                Mode::Forward => &layer,
                Mode::FrozenWeights => &frozen,
                Mode::TrainedWeights => &trained,
            };
            if murgan {
                cpu_layers::conv(l, x)
            } else {
                l.forward(x)
            }
        });
    }
    Ok(())
}
