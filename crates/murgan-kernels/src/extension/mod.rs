//! murgan's own CPU kernels, wired into Burn as a backend extension on `flex` with handwritten
//! backward passes: the DCGAN's stride-2 layers (4 × 4 kernel, stride 2, padding 1) and
//! BatchNorm fused with its activation, in inference mode and in training mode.
//!
//! Burn's `flex` convolutions multiply one image at a time; these fold a group of images into
//! each product (see [`kernels`]). Each stride-2 layer is the other's input gradient with the
//! same weight, so the backward pass of either uses the other's kernel; the weight gradient of
//! both is one kernel.

mod kernels;

use std::sync::{Arc, Mutex, PoisonError};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Bytes, DType, Tensor, TensorData};
use kernels::{Geom, winograd};

/// murgan's kernels as backend operations (`flex` and autodiff over `flex` only).
#[backend_extension(Flex, Autodiff)]
pub(crate) trait CpuKernels: Backend {
    /// Convolution: `x` `[B, c_hi, 2h, 2w]`, `weight` `[c_lo, c_hi, 4, 4]` → `[B, c_lo, h, w]`.
    fn stride2_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Transposed convolution: `x` `[B, c_lo, h, w]`, `weight` `[c_lo, c_hi, 4, 4]` →
    /// `[B, c_hi, 2h, 2w]`.
    fn stride2_conv_transpose(x: FloatTensor<Self>, weight: FloatTensor<Self>)
    -> FloatTensor<Self>;
    /// `LeakyReLU(x · scale[c] + shift[c])` over `x` `[B, C, H, W]` with slope `slope` for
    /// negative values (ReLU for 0): BatchNorm in inference mode and its activation in one pass.
    /// Differentiable in `x` only.
    fn channel_affine_leaky(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        slope: f32,
    ) -> FloatTensor<Self>;
    /// Each channel's mean and biased variance over `x` `[B, C, H, W]`, as `[2, C]` (means,
    /// then variances): BatchNorm's batch statistics. Not tracked: the backward pass of
    /// [`batch_norm_train_leaky`](CpuKernels::batch_norm_train_leaky) accounts for them.
    fn channel_mean_var(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `LeakyReLU(γ[c]·(x − mean[c])/√(var[c] + ε) + β[c])` with slope `slope` (ReLU for 0),
    /// `stats` being `channel_mean_var(x)`: BatchNorm in training mode and its activation in
    /// one pass. Differentiable in `x` (through the statistics too), γ and β.
    fn batch_norm_train_leaky(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f32,
        slope: f32,
    ) -> FloatTensor<Self>;
}

/// The `f32` values of a `flex` tensor in row-major order (copied only if it is a view).
fn values(tensor: &FlexTensor) -> FlexTensor {
    tensor.to_contiguous()
}

fn slice(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("murgan's kernels are only given f32 tensors, made contiguous")
}

fn dims4(tensor: &FlexTensor) -> [usize; 4] {
    let shape = tensor.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

impl CpuKernels for Flex {
    fn channel_affine_leaky(
        x: FlexTensor,
        scale: FlexTensor,
        shift: FlexTensor,
        slope: f32,
    ) -> FlexTensor {
        affine_leaky(&x, &scale, &shift, slope)
    }

    fn channel_mean_var(x: FlexTensor) -> FlexTensor {
        let x = values(&x);
        let shape = dims4(&x);
        let stats = kernels::channel_mean_var(slice(&x), shape);
        FlexTensor::from_data(TensorData::new(stats, [2, shape[1]]))
    }

    fn batch_norm_train_leaky(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        stats: FlexTensor,
        epsilon: f32,
        slope: f32,
    ) -> FlexTensor {
        batch_norm_train_forward(&x, &gamma, &beta, &stats, epsilon, slope)
    }

    fn stride2_conv(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let (x, weight) = (values(&x), values(&weight));
        let [batch, c_hi, hi_h, hi_w] = dims4(&x);
        let c_lo = dims4(&weight)[0];
        let geo = Geom {
            batch,
            c_hi,
            c_lo,
            h: hi_h / 2,
            w: hi_w / 2,
        };
        let y = if winograd::applies(geo) {
            winograd::conv(slice(&x), &prepared(&weight, geo, Form::WinogradConv), geo)
        } else {
            kernels::conv(slice(&x), slice(&weight), geo)
        };
        FlexTensor::from_data(TensorData::new(y, [batch, c_lo, geo.h, geo.w]))
    }

    fn stride2_conv_transpose(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let (x, weight) = (values(&x), values(&weight));
        let [batch, c_lo, h, w] = dims4(&x);
        let c_hi = dims4(&weight)[1];
        let geo = Geom {
            batch,
            c_hi,
            c_lo,
            h,
            w,
        };
        let y = if winograd::applies(geo) {
            let u = prepared(&weight, geo, Form::WinogradTranspose);
            winograd::conv_transpose(slice(&x), &u, geo)
        } else {
            kernels::conv_transpose(slice(&x), &prepared(&weight, geo, Form::Phases), geo)
        };
        FlexTensor::from_data(TensorData::new(y, [batch, c_hi, 2 * h, 2 * w]))
    }
}

/// `LeakyReLU(x · scale + shift)` per channel (see `CpuKernels::channel_affine_leaky`).
fn affine_leaky(x: &FlexTensor, scale: &FlexTensor, shift: &FlexTensor, slope: f32) -> FlexTensor {
    let (x, scale, shift) = (values(x), values(scale), values(shift));
    let shape = dims4(&x);
    let y = kernels::affine_leaky(slice(&x), shape, slice(&scale), slice(&shift), slope);
    FlexTensor::from_data(TensorData::new(y, shape))
}

/// Its input gradient from the output `y`.
fn affine_leaky_backward(
    grad: &FlexTensor,
    y: &FlexTensor,
    scale: &FlexTensor,
    slope: f32,
) -> FlexTensor {
    let (grad, y, scale) = (values(grad), values(y), values(scale));
    let shape = dims4(&grad);
    let dx = kernels::affine_leaky_backward(slice(&grad), slice(&y), shape, slice(&scale), slope);
    FlexTensor::from_data(TensorData::new(dx, shape))
}

/// `1/√(var + ε)` per channel from `[means…, variances…]`.
fn inv_std(stats: &[f32], epsilon: f32) -> Vec<f32> {
    let channels = stats.len() / 2;
    stats[channels..]
        .iter()
        .map(|&v| (1.0 / (f64::from(v) + f64::from(epsilon)).sqrt()) as f32)
        .collect()
}

/// BatchNorm in training mode with its activation (see `CpuKernels::batch_norm_train_leaky`):
/// the per-channel affine map `x · γ·s + (β − mean·γ·s)`, `s = 1/√(var + ε)`, then the
/// activation, in one pass.
fn batch_norm_train_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    stats: &FlexTensor,
    epsilon: f32,
    slope: f32,
) -> FlexTensor {
    let (x, gamma, beta, stats) = (values(x), values(gamma), values(beta), values(stats));
    let (gamma, beta, stats) = (slice(&gamma), slice(&beta), slice(&stats));
    let scale: Vec<f32> = gamma
        .iter()
        .zip(inv_std(stats, epsilon))
        .map(|(g, s)| g * s)
        .collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(stats)
        .zip(&scale)
        .map(|((b, m), a)| b - m * a)
        .collect();
    let shape = dims4(&x);
    let y = kernels::affine_leaky(slice(&x), shape, &scale, &shift, slope);
    FlexTensor::from_data(TensorData::new(y, shape))
}

/// How many prepared weights [`prepared`] keeps: the 64 × 64 DCGAN's eight stride-2 layers in
/// both of their forms (a search runs each layer forward and, for its input gradient, as the
/// other layer). More would only hold on to stale weights in training.
const CACHED_WEIGHTS: usize = 16;

/// A weight rearranged for one of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `kernels::phase_weights`, for the unfolded transposed convolution.
    Phases,
    /// `winograd::conv_weights`, for the Winograd convolution.
    WinogradConv,
    /// `winograd::transpose_weights`, for the Winograd transposed convolution.
    WinogradTranspose,
}

/// Recently prepared weights, most recent first: the weight's storage, its shape, the form,
/// the result.
type WeightCache = Vec<(Arc<Bytes>, [usize; 4], Form, Arc<Vec<f32>>)>;

static WEIGHT_CACHE: Mutex<WeightCache> = Mutex::new(Vec::new());

/// A (contiguous) weight in `form`, from a cache keyed by the weight's storage.
///
/// A search runs the same weights through the layers thousands of times, and at batch 1
/// rearranging them costs more than the product. The cache holds a reference to each
/// weight's storage, and `flex` never writes to storage that is shared (it copies first), so
/// the same storage with the same shape always holds the same values; holding it also keeps
/// the address from being reused. Training updates weights every step and so misses, at the
/// cost of one rearranged copy of those weights per step.
fn prepared(weight: &FlexTensor, geo: Geom, form: Form) -> Arc<Vec<f32>> {
    let storage = weight.data_arc();
    let shape = dims4(weight);
    let mut cache = WEIGHT_CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = cache
        .iter()
        .position(|(s, d, f, _)| Arc::ptr_eq(s, &storage) && *d == shape && *f == form)
    {
        let entry = cache.remove(at);
        let result = Arc::clone(&entry.3);
        cache.insert(0, entry);
        return result;
    }
    let values = slice(weight);
    let result = Arc::new(match form {
        Form::Phases => kernels::phase_weights(values, geo),
        Form::WinogradConv => winograd::conv_weights(values, geo),
        Form::WinogradTranspose => winograd::transpose_weights(values, geo),
    });
    cache.insert(0, (storage, shape, form, Arc::clone(&result)));
    cache.truncate(CACHED_WEIGHTS);
    result
}

/// The weight gradient of either layer from its low-resolution side `lo` `[B, c_lo, h, w]` and
/// high-resolution side `hi` `[B, c_hi, 2h, 2w]` (see `kernels::weight_grad`).
fn weight_grad(lo: &FlexTensor, hi: &FlexTensor, weight: &FlexTensor) -> FlexTensor {
    let (lo, hi) = (values(lo), values(hi));
    let [batch, c_lo, h, w] = dims4(&lo);
    let c_hi = dims4(&hi)[1];
    let geo = Geom {
        batch,
        c_hi,
        c_lo,
        h,
        w,
    };
    let dw = kernels::weight_grad(slice(&lo), slice(&hi), geo);
    FlexTensor::from_data(TensorData::new(dw, dims4(weight)))
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight) = ops.state;
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, weight_grad(&grad, &x, &weight));
        }
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, Flex::stride2_conv_transpose(grad, weight));
        }
    }
}

#[derive(Debug)]
struct ConvTransposeBackward;

impl Backward<Flex, 2> for ConvTransposeBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight) = ops.state;
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, weight_grad(&x, &grad, &weight));
        }
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, Flex::stride2_conv(grad, weight));
        }
    }
}

#[derive(Debug)]
struct AffineLeakyBackward;

impl Backward<Flex, 1> for AffineLeakyBackward {
    type State = (FlexTensor, FlexTensor, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (y, scale, slope) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, affine_leaky_backward(&grad, &y, &scale, slope));
        }
    }
}

/// The backward pass of an operation whose result is a constant (it has no tracked inputs).
#[derive(Debug)]
struct Constant;

impl Backward<Flex, 0> for Constant {
    type State = ();

    fn backward(self, _: Ops<Self::State, 0>, _: &mut Gradients, _: &mut Checkpointer) {}
}

#[derive(Debug)]
struct BatchNormTrainBackward;

/// What the training-mode BatchNorm's backward pass needs: `x`, the output `y`, the batch
/// statistics, γ, ε and the activation's slope.
type BatchNormState = (FlexTensor, FlexTensor, FlexTensor, FlexTensor, f32, f32);

impl Backward<Flex, 3> for BatchNormTrainBackward {
    type State = BatchNormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = values(&grads.consume::<Flex>(&ops.node));
        let (x, y, stats, gamma, epsilon, slope) = ops.state;
        let (x, y, stats, gamma) = (values(&x), values(&y), values(&stats), values(&gamma));
        let shape = dims4(&x);
        let stats = slice(&stats);
        let (mean, inv_std) = (&stats[..shape[1]], inv_std(stats, epsilon));
        let (dx, d_gamma, d_beta) = kernels::batch_norm_leaky_backward(
            slice(&grad),
            slice(&x),
            slice(&y),
            shape,
            (mean, &inv_std, slice(&gamma)),
            slope,
        );
        let channels = [shape[1]];
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape)));
        }
        if let Some(node) = node_gamma {
            let d_gamma = FlexTensor::from_data(TensorData::new(d_gamma, channels));
            grads.register::<Flex>(node.id, d_gamma);
        }
        if let Some(node) = node_beta {
            let d_beta = FlexTensor::from_data(TensorData::new(d_beta, channels));
            grads.register::<Flex>(node.id, d_beta);
        }
    }
}

impl<C: CheckpointStrategy> CpuKernels for Autodiff<Flex, C> {
    fn channel_mean_var(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let stats = Flex::channel_mean_var(x.primitive().clone());
        Constant.prepare::<C>([]).compute_bound().stateless(stats)
    }

    fn batch_norm_train_leaky(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f32,
        slope: f32,
    ) -> FloatTensor<Self> {
        let stats = stats.into_primitive();
        let prepared = BatchNormTrainBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (gamma, beta) = (gamma.into_primitive(), beta.into_primitive());
        let x_value = x.into_primitive();
        let y = batch_norm_train_forward(&x_value, &gamma, &beta, &stats, epsilon, slope);
        match prepared {
            OpsKind::Tracked(prep) => {
                prep.finish((x_value, y.clone(), stats, gamma, epsilon, slope), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn channel_affine_leaky(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        slope: f32,
    ) -> FloatTensor<Self> {
        let (scale, shift) = (scale.into_primitive(), shift.into_primitive());
        match AffineLeakyBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = affine_leaky(x.primitive(), &scale, &shift, slope);
                prep.finish((y.clone(), scale, slope), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(affine_leaky(x.primitive(), &scale, &shift, slope))
            }
        }
    }

    fn stride2_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        with_backward::<_, C>(ConvBackward, x, weight, Flex::stride2_conv)
    }

    fn stride2_conv_transpose(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_backward::<_, C>(
            ConvTransposeBackward,
            x,
            weight,
            Flex::stride2_conv_transpose,
        )
    }
}

/// Runs the `flex` layer `forward` on `x` and `weight` and, when either is tracked, records
/// `backward` with both as its state.
fn with_backward<BO, C>(
    backward: BO,
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    forward: fn(FlexTensor, FlexTensor) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>>
where
    BO: Backward<Flex, 2, State = (FlexTensor, FlexTensor)>,
    C: CheckpointStrategy,
{
    match backward
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (x, weight) = (x.primitive().clone(), weight.primitive().clone());
            let y = forward(x.clone(), weight.clone());
            prep.finish((x, weight), y)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(forward(x.into_primitive(), weight.into_primitive()))
        }
    }
}

/// Whether [`conv`] and [`conv_transpose`] can take `x` with `weight`: both `f32`, with a map
/// whose high-resolution side is exactly twice the low-resolution one.
pub(crate) fn supports(x: &Tensor<4>, weight: &Tensor<4>, high_resolution: bool) -> bool {
    let [_, _, h, w] = x.dims();
    let sides = if high_resolution {
        h >= 2 && w >= 2 && h % 2 == 0 && w % 2 == 0
    } else {
        h >= 1 && w >= 1
    };
    sides && x.dtype() == DType::F32 && weight.dtype() == DType::F32
}

/// `LeakyReLU(x · scale[c] + shift[c])` with negative slope `slope` (ReLU for 0), `x`
/// `[B, C, H, W]`, `scale` and `shift` `[C]` and not tracked. Only for tensors on `flex`.
pub(crate) fn affine_leaky_relu(
    x: Tensor<4>,
    scale: Tensor<1>,
    shift: Tensor<1>,
    slope: f32,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::channel_affine_leaky(
        x.into_dispatch(),
        scale.into_dispatch(),
        shift.into_dispatch(),
        slope,
    ))
}

/// BatchNorm's batch statistics of `x` `[B, C, H, W]`: `[2, C]`, means then biased variances,
/// not tracked. Only for tensors on `flex`.
pub(crate) fn channel_mean_var(x: Tensor<4>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::channel_mean_var(
        x.into_dispatch(),
    ))
}

/// BatchNorm in training mode (γ, β, ε; `stats` from [`channel_mean_var`] of `x`) and a
/// (Leaky)ReLU of slope `slope`, differentiable in `x`, γ and β. Only for tensors on `flex`.
pub(crate) fn batch_norm_train_leaky(
    x: Tensor<4>,
    (gamma, beta): (Tensor<1>, Tensor<1>),
    stats: Tensor<2>,
    epsilon: f32,
    slope: f32,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::batch_norm_train_leaky(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        stats.into_dispatch(),
        epsilon,
        slope,
    ))
}

/// Convolution with a 4 × 4 kernel, stride 2, padding 1, no bias: `[B, C_in, 2h, 2w]` →
/// `[B, C_out, h, w]`. Only for tensors on the `flex` device.
pub(crate) fn conv(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::stride2_conv(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// Transposed convolution with a 4 × 4 kernel, stride 2, padding 1, no bias:
/// `[B, C_in, h, w]` → `[B, C_out, 2h, 2w]`. Only for tensors on the `flex` device.
pub(crate) fn conv_transpose(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::stride2_conv_transpose(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}
