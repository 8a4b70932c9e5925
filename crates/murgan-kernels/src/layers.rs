//! The layer entry points: each takes a Burn layer and its input and picks the path.

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

/// Whether murgan's own paths are used for tensors on `device`: only the `flex` CPU backend,
/// and not when `MURGAN_NATIVE_CONV` is set (to measure Burn's own kernels).
/// Always `false` when murgan-kernels is built without its `flex` feature.
pub fn enabled(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        device.clone().inner() == Device::flex() && std::env::var_os("MURGAN_NATIVE_CONV").is_none()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// `layer.forward(x)` for a transposed convolution: one batched matrix product when it maps a
/// 1 × 1 input to 4 × 4 (kernel 4, stride 1, no padding); murgan's stride-2 kernel for kernel
/// 4, stride 2, padding 1; Burn's kernel otherwise (and for groups, dilation or output padding).
pub fn conv_transpose(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let [b, ci, h, w] = x.dims();
    let plain = layer.kernel_size == [4, 4]
        && layer.padding_out == [0, 0]
        && layer.groups == 1
        && layer.dilation == [1, 1];
    if !plain || !enabled(&x.device()) {
        return layer.forward(x);
    }
    let weight = layer.weight.val();
    let co = weight.dims()[1];
    let y = if layer.stride == [1, 1] && layer.padding == [0, 0] && [h, w] == [1, 1] {
        // [B, C_in] · [C_in, C_out·16]: the output map is the product itself.
        x.reshape([b, ci])
            .matmul(weight.reshape([ci, co * 16]))
            .reshape([b, co, 4, 4])
    } else if layer.stride == [2, 2] && layer.padding == [1, 1] && stride_two(&x, &weight, false) {
        stride_two_transpose(x, weight)
    } else {
        return layer.forward(x);
    };
    with_bias(y, layer.bias.as_ref())
}

/// `layer.forward(x)` for a convolution: one batched matrix product when it maps a 4 × 4 input
/// to 1 × 1 (kernel 4, no padding); murgan's stride-2 kernel for kernel 4, stride 2, padding 1
/// and an even-sided input; Burn's kernel otherwise (and for groups or dilation).
pub fn conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, ci, h, w] = x.dims();
    let plain = layer.kernel_size == [4, 4] && layer.groups == 1 && layer.dilation == [1, 1];
    if !plain || !enabled(&x.device()) {
        return layer.forward(x);
    }
    let weight = layer.weight.val();
    let co = weight.dims()[0];
    let unpadded = matches!(
        layer.padding,
        PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    let y = if unpadded && [h, w] == [4, 4] {
        // [B, C_in·16] · [C_in·16, C_out]: one output pixel.
        x.reshape([b, ci * 16])
            .matmul(weight.reshape([co, ci * 16]).transpose())
            .reshape([b, co, 1, 1])
    } else if layer.stride == [2, 2]
        && matches!(layer.padding, PaddingConfig2d::Explicit(1, 1, 1, 1))
        && stride_two(&x, &weight, true)
    {
        stride_two_conv(x, weight)
    } else {
        return layer.forward(x);
    };
    with_bias(y, layer.bias.as_ref())
}

/// Whether murgan's stride-2 kernels take `x` and `weight` (compiled in with the `flex`
/// feature, both `f32`, and for a convolution's input, even sides).
#[cfg(feature = "flex")]
fn stride_two(x: &Tensor<4>, weight: &Tensor<4>, high_resolution: bool) -> bool {
    crate::extension::supports(x, weight, high_resolution)
}

#[cfg(not(feature = "flex"))]
fn stride_two(_: &Tensor<4>, _: &Tensor<4>, _: bool) -> bool {
    false
}

#[cfg(feature = "flex")]
fn stride_two_conv(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    crate::extension::conv(x, weight)
}

#[cfg(feature = "flex")]
fn stride_two_transpose(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    crate::extension::conv_transpose(x, weight)
}

#[cfg(not(feature = "flex"))]
fn stride_two_conv(_: Tensor<4>, _: Tensor<4>) -> Tensor<4> {
    unreachable!("stride_two() is false without the flex feature")
}

#[cfg(not(feature = "flex"))]
fn stride_two_transpose(_: Tensor<4>, _: Tensor<4>) -> Tensor<4> {
    unreachable!("stride_two() is false without the flex feature")
}

/// `LeakyReLU(bn(x))` with negative slope `slope` (ReLU for 0), or `LeakyReLU(x)` without a
/// BatchNorm. On `flex`, with the BatchNorm in inference mode (or absent) and its γ and β not
/// being trained, one fused per-channel pass (`x · γ/√(var + ε) + β − mean · γ/√(var + ε)`,
/// then the activation) with a handwritten backward; in training mode, murgan's fused kernel
/// (batch statistics, output, and a backward through the statistics to x, γ and β) and Burn's
/// update of the running statistics; otherwise Burn's BatchNorm and activation.
pub fn batch_norm_leaky_relu(bn: Option<&BatchNorm>, x: Tensor<4>, slope: f32) -> Tensor<4> {
    let device = x.device();
    if let Some(bn) = bn
        && enabled(&device)
        && device.is_autodiff()
        && bn.training.is_enabled()
        && fused_activation_supported(&x)
        && all_f32(bn)
        // γ and β on the autodiff device too (plain weights meeting an autodiff input are
        // left to Burn, which treats them as constants).
        && bn.gamma.val().is_autodiff()
        && bn.beta.val().is_autodiff()
    {
        return fused_training(bn, x, slope);
    }
    let fused = enabled(&device)
        && fused_activation_supported(&x)
        && bn.is_none_or(|bn| {
            let inference = !(device.is_autodiff() && bn.training.is_enabled());
            inference
                && all_f32(bn)
                && !bn.gamma.val().is_require_grad()
                && !bn.beta.val().is_require_grad()
        });
    if !fused {
        let x = match bn {
            Some(bn) => bn.forward(x),
            None => x,
        };
        return if slope == 0.0 {
            relu(x)
        } else {
            leaky_relu(x, f64::from(slope))
        };
    }
    let c = x.dims()[1];
    let (scale, shift) = match bn {
        Some(bn) => {
            let inner = device.clone().inner();
            let gamma = bn.gamma.val().detach().to_device(&inner);
            let beta = bn.beta.val().detach().to_device(&inner);
            let mean = bn.running_mean.value().to_device(&inner);
            let var = bn.running_var.value().to_device(&inner);
            let scale = gamma / var.add_scalar(bn.epsilon).sqrt();
            let shift = beta - mean * scale.clone();
            (scale, shift)
        }
        None => (
            Tensor::ones([c], &device.clone().inner()),
            Tensor::zeros([c], &device.clone().inner()),
        ),
    };
    fused_affine_leaky(x, scale.to_device(&device), shift.to_device(&device), slope)
}

/// Whether γ, β and the running statistics are all `f32`.
fn all_f32(bn: &BatchNorm) -> bool {
    [
        bn.gamma.val().dtype(),
        bn.beta.val().dtype(),
        bn.running_mean.value().dtype(),
        bn.running_var.value().dtype(),
    ]
    .iter()
    .all(|&d| d == burn::tensor::DType::F32)
}

/// BatchNorm in training mode and its activation through murgan's fused kernel, updating the
/// running statistics as Burn's `BatchNorm::forward` does (momentum-weighted, biased variance).
#[cfg(feature = "flex")]
fn fused_training(bn: &BatchNorm, x: Tensor<4>, slope: f32) -> Tensor<4> {
    let device = x.device();
    let channels = x.dims()[1];
    let stats = crate::extension::channel_mean_var(x.clone());
    let y = crate::extension::batch_norm_train_leaky(
        x,
        (bn.gamma.val(), bn.beta.val()),
        stats.clone(),
        bn.epsilon as f32,
        slope,
    );
    let update = |state: &burn::module::RunningState<Tensor<1>>, row: usize| {
        let batch = stats.clone().narrow(0, row, 1).reshape([channels]);
        let running = state
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - bn.momentum)
            .add(batch.mul_scalar(bn.momentum));
        state.update(running.detach());
    };
    update(&bn.running_mean, 0);
    update(&bn.running_var, 1);
    y
}

#[cfg(not(feature = "flex"))]
fn fused_training(_: &BatchNorm, _: Tensor<4>, _: f32) -> Tensor<4> {
    unreachable!("enabled() is false without the flex feature")
}

#[cfg(feature = "flex")]
fn fused_activation_supported(x: &Tensor<4>) -> bool {
    x.dtype() == burn::tensor::DType::F32
}

#[cfg(not(feature = "flex"))]
fn fused_activation_supported(_: &Tensor<4>) -> bool {
    false
}

#[cfg(feature = "flex")]
fn fused_affine_leaky(x: Tensor<4>, scale: Tensor<1>, shift: Tensor<1>, slope: f32) -> Tensor<4> {
    crate::extension::affine_leaky_relu(x, scale, shift, slope)
}

#[cfg(not(feature = "flex"))]
fn fused_affine_leaky(_: Tensor<4>, _: Tensor<1>, _: Tensor<1>, _: f32) -> Tensor<4> {
    unreachable!("fused_activation_supported() is false without the flex feature")
}

/// `y` (`[B, C, H, W]`) plus a per-channel bias, if the layer has one.
fn with_bias(y: Tensor<4>, bias: Option<&Param<Tensor<1>>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let c = y.dims()[1];
            y + bias.val().reshape([1, c, 1, 1])
        }
        None => y,
    }
}
