//! The DCGAN layers that map a 1 × 1 input to 4 × 4 (the generator's first layer) or a
//! 4 × 4 input to 1 × 1 (the discriminator's last) as one matrix product over the whole batch.
//!
//! Burn's `flex` CPU backend runs a convolution as one small matrix product per image; for
//! these two layers that is a matrix–vector product per image that re-reads the whole weight
//! matrix (3.3 MB for the 64 × 64 generator's first layer) 64 times at batch 64. Folding the
//! batch into the rows makes them plain `[B, ·] · [·, ·]` products with nothing to rearrange.
//! Every step is an ordinary tensor operation, so autodiff and the weights' layout (PyTorch's,
//! as in Burn's own modules) stay as they are; the results equal Burn's convolutions up to
//! float rounding (tested). The stride-2 layers stay on Burn's kernels: written the same way
//! (im2col / col2im around one product) they were 1.1–6× slower on `flex`, its copies and pads
//! costing more than the larger product saves (`examples/conv_layers.rs`, docs/performance.md).
//!
//! Which path a layer takes is decided per call by [`enabled`]: the matrix form on the `flex`
//! device, Burn's own kernels elsewhere (the GPU backends have their own convolution kernels).

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;

/// Whether the matrix-product path is used for tensors on `device`: only the `flex` CPU
/// backend, and not when `MURGAN_NATIVE_CONV` is set (to measure Burn's own kernels).
pub fn enabled(device: &Device) -> bool {
    device.clone().inner() == Device::flex() && std::env::var_os("MURGAN_NATIVE_CONV").is_none()
}

/// `layer.forward(x)` for a transposed convolution, through one batched matrix product when
/// it maps a 1 × 1 input to 4 × 4 (kernel 4, stride 1, no padding, groups or dilation).
pub fn conv_transpose(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let [b, ci, h, w] = x.dims();
    let matrix = layer.kernel_size == [4, 4]
        && layer.stride == [1, 1]
        && layer.padding == [0, 0]
        && layer.padding_out == [0, 0]
        && layer.groups == 1
        && layer.dilation == [1, 1]
        && [h, w] == [1, 1];
    if !matrix || !enabled(&x.device()) {
        return layer.forward(x);
    }
    let weight = layer.weight.val();
    let co = weight.dims()[1];
    // [B, C_in] · [C_in, C_out·16]: the output map is the product itself.
    let y = x
        .reshape([b, ci])
        .matmul(weight.reshape([ci, co * 16]))
        .reshape([b, co, 4, 4]);
    with_bias(y, layer.bias.as_ref())
}

/// `layer.forward(x)` for a convolution, through one batched matrix product when it maps a
/// 4 × 4 input to 1 × 1 (kernel 4, no padding, groups or dilation).
pub fn conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, ci, h, w] = x.dims();
    let matrix = layer.kernel_size == [4, 4]
        && matches!(
            layer.padding,
            PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
        )
        && layer.groups == 1
        && layer.dilation == [1, 1]
        && [h, w] == [4, 4];
    if !matrix || !enabled(&x.device()) {
        return layer.forward(x);
    }
    let weight = layer.weight.val();
    let co = weight.dims()[0];
    // [B, C_in·16] · [C_in·16, C_out]: one output pixel.
    let y = x
        .reshape([b, ci * 16])
        .matmul(weight.reshape([co, ci * 16]).transpose())
        .reshape([b, co, 1, 1]);
    with_bias(y, layer.bias.as_ref())
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
