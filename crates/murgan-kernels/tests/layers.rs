//! murgan's layer paths on `flex` (the batched matrix-product layers, the stride-2 kernels and
//! the fused inference BatchNorm + activation, with their handwritten backward) against Burn's
//! own kernels: same outputs, same gradients for the input and the weights, for the shapes that
//! take murgan's paths and for those that fall back to Burn's.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use burn::module::{Module, ModuleMapper};
use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use murgan_kernels as cpu_layers;

fn device() -> Device {
    Device::flex().autodiff()
}

/// Deterministic values in about [-1, 1], different for each `salt`.
fn ramp<const D: usize>(shape: [usize; D], salt: usize) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| (((i * 7919 + salt * 104_729) % 2003) as f32 / 1001.0) - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &device())
}

/// Gives every parameter of `module` deterministic values from `salt`: weights, biases and β
/// about ±0.02 (DCGAN's scale, non-zero so that the bias paths are exercised), γ about 1 ± 0.02.
fn seeded<M: Module>(module: M, salt: usize) -> M {
    struct Fill {
        salt: usize,
        name: String,
    }
    impl ModuleMapper for Fill {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.name = name.to_string();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            self.salt += 1;
            let (salt, gamma) = (self.salt, self.name == "gamma");
            param.map(|t| {
                let grad = t.is_require_grad() || t.device().is_autodiff();
                let v = ramp(t.dims(), salt).mul_scalar(0.02).to_device(&t.device());
                let v = if gamma { v.add_scalar(1.0) } else { v };
                v.set_require_grad(grad)
            })
        }
    }
    module.map(&mut Fill {
        salt,
        name: String::new(),
    })
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-5 * scale.max(1.0) * 10.0,
        "{what}: max |difference| {worst} (scale {scale})"
    );
}

/// Forward values, input gradient and weight gradient of one run.
type Run = (Vec<f32>, Vec<f32>, Vec<f32>);

/// Output, input gradient and weight gradient all agree.
fn assert_same(what: &str, ours: &Run, burn: &Run) {
    assert_close(&format!("{what} output"), &ours.0, &burn.0);
    assert_close(&format!("{what} input grad"), &ours.1, &burn.1);
    assert_close(&format!("{what} weight grad"), &ours.2, &burn.2);
}

/// Forward values, input gradient and weight gradient of `f` for a weighted sum loss.
fn run<F>(x: Tensor<4>, f: F, weight: Tensor<4>) -> Run
where
    F: Fn(Tensor<4>) -> Tensor<4>,
{
    let x = x.require_grad();
    let y = f(x.clone());
    let r = ramp(y.dims(), 3);
    let grads = (y.clone() * r).sum().backward();
    (
        values(y),
        values(x.grad(&grads).unwrap()),
        values(weight.grad(&grads).unwrap()),
    )
}

#[test]
fn the_matrix_form_is_taken_on_flex() {
    assert!(cpu_layers::enabled(&Device::flex()));
    assert!(cpu_layers::enabled(&Device::flex().autodiff()));
}

#[test]
fn transposed_convolutions_match_burn() {
    // (batch, C_in, C_out, input side, stride, padding, bias): the generator's first layer
    // (the matrix form), stride-2 layers (murgan's kernel: one group of images, several
    // groups, with a bias; Winograd's, with and without), then a stride-1 padded layer
    // (Burn's kernel).
    for (batch, ci, co, side, stride, pad, bias) in [
        (3, 10, 12, 1, 1, 0, false),
        (3, 7, 5, 1, 1, 0, true),
        (3, 12, 6, 4, 2, 1, false),
        (3, 5, 1, 16, 2, 1, false),
        (40, 6, 4, 4, 2, 1, false),
        (3, 4, 3, 2, 2, 1, true),
        (16, 128, 64, 8, 2, 1, true),
        (64, 64, 96, 4, 2, 1, false),
        (3, 4, 3, 5, 1, 1, false),
    ] {
        let layer = seeded(
            ConvTranspose2dConfig::new([ci, co], [4, 4])
                .with_stride([stride, stride])
                .with_padding([pad, pad])
                .with_bias(bias)
                .init(&device()),
            7,
        );
        let x = ramp([batch, ci, side, side], ci);
        let w = layer.weight.val();
        let ours = run(
            x.clone(),
            |x| cpu_layers::conv_transpose(&layer, x),
            w.clone(),
        );
        let burn = run(x, |x| layer.forward(x), w);
        assert_eq!(
            ours.0.len(),
            batch * co * ((side - 1) * stride + 4 - 2 * pad).pow(2)
        );
        assert_same(&format!("conv_transpose {ci}→{co} at {side}"), &ours, &burn);
    }
}

#[test]
fn convolutions_match_burn() {
    // (batch, C_in, C_out, input side, stride, padding, bias): the discriminator's last layer
    // (the matrix form), stride-2 layers (murgan's kernel: with a bias, without, several
    // groups of images; Winograd's, with and without), then layers that stay on Burn's kernel
    // (stride 1; an odd side).
    for (batch, ci, co, side, stride, pad, bias) in [
        (3, 6, 1, 4, 1, 0, false),
        (3, 9, 3, 4, 1, 0, true),
        (3, 4, 8, 8, 2, 1, true),
        (3, 1, 4, 32, 2, 1, false),
        (40, 3, 5, 8, 2, 1, false),
        (16, 64, 64, 16, 2, 1, true),
        (64, 96, 64, 8, 2, 1, false),
        (3, 3, 2, 6, 1, 1, false),
        (3, 3, 2, 7, 2, 1, false),
    ] {
        let layer = seeded(
            Conv2dConfig::new([ci, co], [4, 4])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(bias)
                .init(&device()),
            11,
        );
        let x = ramp([batch, ci, side, side], ci + 1);
        let w = layer.weight.val();
        let ours = run(x.clone(), |x| cpu_layers::conv(&layer, x), w.clone());
        let burn = run(x, |x| layer.forward(x), w);
        assert_same(&format!("conv {ci}→{co} at {side}"), &ours, &burn);
    }
}

/// A BatchNorm with distinct γ, β and running statistics per channel, on the plain device, its
/// training flag on (as initialised).
fn batch_norm(channels: usize) -> BatchNorm {
    let dev = Device::flex();
    let mut bn = BatchNormConfig::new(channels).init(&dev);
    let ramp1 = |salt: usize, offset: f32| {
        let v: Vec<f32> = (0..channels)
            .map(|i| offset + ((i * 37 + salt * 11) % 17) as f32 / 17.0)
            .collect();
        Tensor::<1>::from_data(TensorData::new(v, [channels]), &dev)
    };
    bn.gamma = Param::from_tensor(ramp1(1, 0.5));
    bn.beta = Param::from_tensor(ramp1(2, -0.5));
    bn.running_mean = RunningState::new(ramp1(3, -0.5));
    bn.running_var = RunningState::new(ramp1(4, 0.2));
    bn
}

/// Output and input gradient of `f` for a weighted sum loss.
fn run_input<F>(x: Tensor<4>, f: F) -> (Vec<f32>, Vec<f32>)
where
    F: Fn(Tensor<4>) -> Tensor<4>,
{
    let x = x.require_grad();
    let y = f(x.clone());
    let r = ramp(y.dims(), 5);
    let grads = (y.clone() * r).sum().backward();
    (values(y), values(x.grad(&grads).unwrap()))
}

#[test]
fn fused_batch_norm_and_activation_match_burn() {
    // ReLU (the generator) and LeakyReLU(0.2) (the discriminator), with a BatchNorm in
    // inference mode and without one.
    for (slope, with_bn) in [(0.0f32, true), (0.2, true), (0.2, false), (0.0, false)] {
        // In inference mode, as the scorer holds its networks.
        let bn = batch_norm(6).valid();
        let x = ramp([3, 6, 5, 4], 9);
        let ours = run_input(x.clone(), |x| {
            cpu_layers::batch_norm_leaky_relu(with_bn.then_some(&bn), x, slope)
        });
        let burn = run_input(x, |x| {
            let x = if with_bn { bn.forward(x) } else { x };
            if slope == 0.0 {
                relu(x)
            } else {
                leaky_relu(x, f64::from(slope))
            }
        });
        let what = format!("slope {slope}, BatchNorm {with_bn}");
        assert_close(&format!("{what} output"), &ours.0, &burn.0);
        assert_close(&format!("{what} input grad"), &ours.1, &burn.1);
        // Both signs occur, so the activation's two branches are both checked.
        assert!(burn.0.iter().any(|&v| v > 0.0) && burn.0.iter().any(|&v| v <= 0.0));
    }
}

/// Output, input gradient, γ and β gradients, and the running mean and variance afterwards, of
/// BatchNorm in training mode followed by `activation`, for a weighted sum loss.
fn train_bn<F>(bn: &BatchNorm, x: Tensor<4>, activation: F) -> [Vec<f32>; 6]
where
    F: Fn(&BatchNorm, Tensor<4>) -> Tensor<4>,
{
    let x = x.require_grad();
    let y = activation(bn, x.clone());
    let r = ramp(y.dims(), 5);
    let grads = (y.clone() * r).sum().backward();
    [
        values(y),
        values(x.grad(&grads).unwrap()),
        values(bn.gamma.val().grad(&grads).unwrap()),
        values(bn.beta.val().grad(&grads).unwrap()),
        values(bn.running_mean.value()),
        values(bn.running_var.value()),
    ]
}

#[test]
fn batch_norm_in_training_mode_matches_burn() {
    // On the autodiff device with training on, BatchNorm normalises by the batch's own
    // statistics, is differentiated through them, and updates its running ones: murgan's fused
    // pass must give Burn's output, gradients (x, γ, β) and running statistics.
    for (slope, shape) in [
        (0.2f32, [5, 4, 3, 3]),
        (0.0, [3, 6, 8, 8]),
        (0.2, [1, 3, 1, 1]),
    ] {
        let channels = shape[1];
        let x = ramp(shape, 2).mul_scalar(3.0).add_scalar(0.7);
        let trained = || {
            let mut bn = batch_norm(channels).fork(&device());
            bn.gamma = Param::from_tensor(bn.gamma.val().autodiff().require_grad());
            bn.beta = Param::from_tensor(bn.beta.val().autodiff().require_grad());
            bn
        };
        let ours = train_bn(&trained(), x.clone(), |bn, x| {
            cpu_layers::batch_norm_leaky_relu(Some(bn), x, slope)
        });
        let burn = train_bn(&trained(), x.clone(), |bn, x| {
            let y = bn.forward(x);
            if slope == 0.0 {
                relu(y)
            } else {
                leaky_relu(y, f64::from(slope))
            }
        });
        let names = [
            "output",
            "input grad",
            "γ grad",
            "β grad",
            "running mean",
            "running var",
        ];
        for ((name, a), b) in names.iter().zip(&ours).zip(&burn) {
            assert_close(&format!("slope {slope}, {shape:?}: {name}"), a, b);
        }
        if shape[0] * shape[2] * shape[3] > 1 {
            // Batch statistics, not the running ones: the inference pass must not be taken.
            let inference = values(leaky_relu(
                batch_norm(channels).valid().forward(x),
                f64::from(slope),
            ));
            let apart = ours[0]
                .iter()
                .zip(&inference)
                .any(|(a, b)| (a - b).abs() > 1e-2);
            assert!(apart, "batch and running statistics gave the same output");
            // Both branches of the activation are exercised.
            assert!(ours[0].iter().any(|&v| v > 0.0) && ours[0].iter().any(|&v| v <= 0.0));
        }
    }
}

#[test]
fn transposed_convolutions_follow_weight_changes() {
    // murgan keeps the rearranged weights of recent layers between calls; a layer whose
    // weights change (a training step), then change back, must give Burn's result every time.
    // Both layers, on the unfolded path ([2, 6, 4, 4]) and on Winograd's ([16, 64, 8, 8]).
    for (batch, ci, co, side) in [(2, 6, 4, 4), (16, 64, 64, 8)] {
        let transposed = |seed| {
            seeded(
                ConvTranspose2dConfig::new([ci, co], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_bias(false)
                    .init(&device()),
                seed,
            )
        };
        let (first, second) = (transposed(1), transposed(2));
        let x = ramp([batch, ci, side, side], 4);
        for l in [&first, &second, &first, &second] {
            let ours = values(cpu_layers::conv_transpose(l, x.clone()));
            let burn = values(l.forward(x.clone()));
            assert_close("convT after a weight change", &ours, &burn);
        }
        let a = values(cpu_layers::conv_transpose(&first, x.clone()));
        let b = values(cpu_layers::conv_transpose(&second, x));
        assert!(
            a.iter().zip(&b).any(|(p, q)| (p - q).abs() > 1e-3),
            "different weights, same output"
        );
        let plain = |seed| {
            seeded(
                Conv2dConfig::new([co, ci], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(&device()),
                seed,
            )
        };
        let (first, second) = (plain(3), plain(4));
        let x = ramp([batch, co, 2 * side, 2 * side], 6);
        for l in [&first, &second, &first, &second] {
            let ours = values(cpu_layers::conv(l, x.clone()));
            let burn = values(l.forward(x.clone()));
            assert_close("conv after a weight change", &ours, &burn);
        }
    }
}

#[test]
fn layers_can_be_called_from_inside_rayon_tasks() {
    // A kernel's product runs on the thread pool; while it waits, the calling thread may run
    // other queued rayon work — here, other layer calls that need the same thread's scratch.
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let conv = seeded(
        Conv2dConfig::new([32, 64], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(&device()),
        7,
    )
    .valid();
    let convt = seeded(
        ConvTranspose2dConfig::new([64, 32], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .with_bias(false)
            .init(&device()),
        8,
    )
    .valid();
    // One image: one group, so each product is split over the pool (Parallelism::Rayon), and
    // large enough that gemm does split it.
    let x = ramp([1, 32, 64, 64], 5).inner();
    let run = |k: usize| {
        let y = cpu_layers::conv(&conv, x.clone().mul_scalar(1.0 + k as f32 * 0.01));
        values(cpu_layers::conv_transpose(&convt, y))
    };
    let alone: Vec<Vec<f32>> = (0..16).map(run).collect();
    let nested: Vec<Vec<f32>> = pool.install(|| (0..16).into_par_iter().map(run).collect());
    for (k, (a, b)) in alone.iter().zip(&nested).enumerate() {
        assert_close(&format!("call {k} inside a rayon task"), b, a);
    }
}

#[test]
fn a_training_batch_norm_with_plain_weights_is_left_to_burn() {
    // γ and β on the plain device meeting an autodiff input: Burn's path, weights as constants.
    let bn = batch_norm(4);
    let x = ramp([3, 4, 4, 4], 7).autodiff();
    let ours = values(cpu_layers::batch_norm_leaky_relu(Some(&bn), x.clone(), 0.2));
    let burn = values(leaky_relu(batch_norm(4).forward(x), 0.2));
    assert_close("plain-weight training BatchNorm", &ours, &burn);
}
