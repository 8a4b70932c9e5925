//! The DCGAN's layers on Burn's `flex` CPU backend, each through the fastest path murgan has
//! measured for it; on every other backend (and wherever a path does not apply), Burn's own.
//!
//! - The 1 × 1 → 4 × 4 layer (the generator's first) and the 4 × 4 → 1 × 1 layer (the
//!   discriminator's last) as one matrix product over the whole batch. Burn's `flex` runs a
//!   convolution as one small product per image; for these two layers that is a matrix–vector
//!   product per image that re-reads the whole weight matrix (3.3 MB for the 64 × 64
//!   generator's first layer) 64 times at batch 64. Folding the batch into the rows makes them
//!   plain `[B, ·] · [·, ·]` products. Every step is an ordinary tensor operation, so autodiff
//!   and the weights' layout (PyTorch's, as in Burn's own modules) stay as they are.
//! - The stride-2 layers (4 × 4 kernel, padding 1: the bulk of both networks) through murgan's
//!   own kernels (the `extension` module), which fold a group of images into each product and give the
//!   transposed convolution one product per output phase instead of a col2im; their backward
//!   pass is handwritten (each layer is the other's input gradient). Layers of at least 64
//!   channels a side with at least 256 output blocks of 2 × 2 (the 64 × 64 DCGAN of width 64 at
//!   batch 64) go through Winograd's F(2 × 2, 2 × 2) instead: 9 products per block and channel
//!   where the unfolded product takes 16. Written with Burn's tensor
//!   operations instead (im2col / col2im around one product) these layers were 1.1–6× slower
//!   (`crates/murgan-kernels/examples/conv_layers.rs`, docs/performance.md).
//! - BatchNorm and the (Leaky)ReLU after it ([`batch_norm_leaky_relu`]): in inference mode one
//!   per-channel pass instead of Burn's five (subtract, divide, multiply, add, activate), each
//!   allocating a tensor and each recorded for the backward pass; in training mode one pass for
//!   the batch statistics and one for the output, with a handwritten backward through the
//!   statistics, instead of Burn's reductions over swapped dimensions and its separate
//!   activation.
//!
//! The results equal Burn's layers up to float rounding, outputs and gradients (tested).
//! Which path a layer takes is decided per call by [`enabled`].
//!
//! ```
//! use burn::nn::conv::Conv2dConfig;
//! use burn::nn::PaddingConfig2d;
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let layer = Conv2dConfig::new([1, 4], [4, 4])
//!     .with_stride([2, 2])
//!     .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
//!     .init(&device);
//! let x = Tensor::<4>::ones([2, 1, 16, 16], &device);
//! let ours = murgan_kernels::conv(&layer, x.clone());
//! assert_eq!(ours.dims(), [2, 4, 8, 8]);
//! let diff = (ours - layer.forward(x)).abs().max().into_scalar::<f32>();
//! assert!(diff < 1e-5);
//! ```

#![warn(missing_docs)]

#[cfg(feature = "flex")]
mod extension;
mod layers;

pub use layers::{batch_norm_leaky_relu, conv, conv_transpose, enabled};
