//! SQUID's in-painting auto-encoder (Xiang et al., CVPR 2023), murgan's own smaller version.
//!
//! The image is cut into a P × P grid of patches. One convolutional encoder turns each patch
//! into a 4 × 4 feature map; a 1 × 1 bottleneck makes it a vector f. Each grid position has a
//! **memory queue** of recent normal vectors seen at that position during training (not
//! learned: each training batch pushes its vectors in and the oldest out). f reads its
//! position's queue with attention kept to the top k slots, so what comes out (m) is made of
//! normal patterns only. **In-painting**: a transformer layer rebuilds each patch from its own
//! f (the query) and the memory readouts of its eight neighbours (keys and values), added to
//! its own m. A binary code of the grid position is appended, a 1 × 1 convolution restores
//! the channels, and the **student decoder** reassembles the image. A **teacher decoder** of
//! the same shape decodes the encoder's features directly (no memory, no in-painting; the
//! encoder gets no gradient from it), and the student's hidden maps are pulled towards the
//! teacher's (distillation). A discriminator then judges the student's reconstruction: at
//! scoring time, a reconstruction it finds unreal marks an anomalous image.
//!
//! Differences from the authors' model, chosen for 2-core CPUs: single-head attention, no
//! skip connections from encoder to decoder and no memory matrices inside the decoder.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax, tanh};

use super::{Trunk, batch_norm, dcgan_init};
use crate::{ModelError, Result};

/// Shape of a SQUID in-painting auto-encoder.
#[derive(Config, Debug, PartialEq)]
pub struct SquidNetConfig {
    /// Side N of the images (a power of two; N / `grid` at least 8).
    #[config(default = 64)]
    pub image_size: usize,
    /// Patches per side P of the grid (SQUID: 2 on chest X-rays).
    #[config(default = 2)]
    pub grid: usize,
    /// Width of the first encoder layer; it doubles at each of the patch's stride-2 stages.
    #[config(default = 16)]
    pub width: usize,
    /// Slots of each grid position's memory queue.
    #[config(default = 200)]
    pub memory_slots: usize,
    /// Memory slots each read attends to (the rest are cut to 0).
    #[config(default = 5)]
    pub top_k: usize,
}

impl SquidNetConfig {
    /// The side of a patch.
    pub fn patch_size(&self) -> usize {
        self.image_size / self.grid.max(1)
    }

    /// Stride-2 stages from a patch down to 4 × 4.
    fn stages(&self) -> usize {
        self.patch_size().trailing_zeros() as usize - 2
    }

    /// Channels of the encoder's 4 × 4 output.
    pub fn channels(&self) -> usize {
        self.width << (self.stages() - 1)
    }

    /// Channels of the bottleneck (a quarter of the encoder's).
    fn reduced(&self) -> usize {
        (self.channels() / 4).max(1)
    }

    /// Length of a patch's feature vector (what the memory holds).
    pub fn memory_dim(&self) -> usize {
        self.reduced() * 16
    }

    /// Bits of the binary position code (SQUID's ⌊log₂ P²⌋ + 1).
    fn bits(&self) -> usize {
        (self.grid * self.grid).ilog2() as usize + 1
    }

    /// Checks the shape.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.grid == 0 || !self.image_size.is_multiple_of(self.grid) {
            return bad(format!(
                "SQUID grid {}: must divide the image size {}",
                self.grid, self.image_size
            ));
        }
        let p = self.patch_size();
        if !p.is_power_of_two() || p < 8 {
            return bad(format!(
                "SQUID patches of {p} pixels (image {} / grid {}): must be a power of two, at least 8",
                self.image_size, self.grid
            ));
        }
        if self.width == 0 || self.memory_slots == 0 || self.top_k == 0 {
            return bad("SQUID width, memory slots and top k must be positive".into());
        }
        if self.top_k > self.memory_slots {
            return bad(format!(
                "SQUID top k {} exceeds the memory's {} slots",
                self.top_k, self.memory_slots
            ));
        }
        Ok(())
    }

    /// Builds the network (memory queues empty: all zeros).
    pub fn init(&self, device: &Device) -> Result<Squid> {
        self.validate()?;
        let (c, r, dim) = (self.channels(), self.reduced(), self.memory_dim());
        let linear = |i, o| {
            LinearConfig::new(i, o)
                .with_initializer(dcgan_init())
                .init(device)
        };
        let conv1 = |i, o| {
            Conv2dConfig::new([i, o], [1, 1])
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device)
        };
        let positions = self.grid * self.grid;
        let memory = Tensor::<3>::zeros([positions, self.memory_slots, dim], device);
        let inpaint = InPaint {
            reduce: conv1(c, r),
            reduce_bn: batch_norm(r, device),
            memory: Param::from_tensor(memory).set_require_grad(false),
            query: linear(dim, dim),
            key: linear(dim, dim),
            value: linear(dim, dim),
            out: linear(dim, dim),
            norm1: LayerNormConfig::new(dim).init(device),
            ff1: linear(dim, (dim / 4).max(1)),
            ff2: linear((dim / 4).max(1), dim),
            norm2: LayerNormConfig::new(dim).init(device),
            expand: conv1(r + self.bits(), c),
            expand_bn: batch_norm(c, device),
            grid: self.grid,
            top_k: self.top_k,
            bits: self.bits(),
        };
        Ok(Squid {
            encoder: Trunk::new(self.width, self.stages(), true, device),
            inpaint,
            student: Decoder::new(c, self.stages(), device),
            teacher: Decoder::new(c, self.stages(), device),
            grid: self.grid,
            image_size: self.image_size,
        })
    }
}

/// Transposed convolution (×2), then BatchNorm and ReLU, or tanh on the output layer.
#[derive(Module, Debug)]
pub struct UpBlock {
    conv: ConvTranspose2d,
    bn: Option<BatchNorm>,
}

impl UpBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = murgan_kernels::conv_transpose(&self.conv, x);
        match &self.bn {
            Some(bn) => murgan_kernels::batch_norm_leaky_relu(Some(bn), y, 0.0),
            None => tanh(y),
        }
    }
}

/// A decoder: patch maps `[B·P², C, 4, 4]` → image `[B, 1, N, N]`; the patches are put back
/// on their grid after the first block, so the later blocks see the whole image (no seams).
#[derive(Module, Debug)]
pub struct Decoder {
    blocks: Vec<UpBlock>,
}

impl Decoder {
    fn new(channels: usize, stages: usize, device: &Device) -> Self {
        let mut blocks = Vec::with_capacity(stages);
        let mut ch = channels;
        for s in 0..stages {
            let last = s + 1 == stages;
            let out = if last { 1 } else { (ch / 2).max(1) };
            blocks.push(UpBlock {
                conv: ConvTranspose2dConfig::new([ch, out], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_bias(false)
                    .with_initializer(dcgan_init())
                    .init(device),
                bn: (!last).then(|| batch_norm(out, device)),
            });
            ch = out;
        }
        Self { blocks }
    }

    /// The image and every hidden map (for distillation).
    fn forward(&self, x: Tensor<4>, grid: usize) -> (Tensor<4>, Vec<Tensor<4>>) {
        let mut hidden = Vec::with_capacity(self.blocks.len());
        let mut x = x;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if i == 0 {
                x = from_patches(x, grid);
            }
            if i + 1 < self.blocks.len() {
                hidden.push(x.clone());
            }
        }
        (x, hidden)
    }
}

/// `[B, C, H, W]` → `[B·P², C, H/P, W/P]`, patches in row-major grid order.
pub fn to_patches(x: Tensor<4>, grid: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let (ph, pw) = (h / grid, w / grid);
    x.reshape([b, c, grid, ph, grid, pw])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([b * grid * grid, c, ph, pw])
}

/// The inverse of [`to_patches`].
pub fn from_patches(x: Tensor<4>, grid: usize) -> Tensor<4> {
    let [n, c, ph, pw] = x.dims();
    let b = n / (grid * grid);
    x.reshape([b, grid, grid, c, ph, pw])
        .permute([0, 3, 1, 4, 2, 5])
        .reshape([b, c, grid * ph, grid * pw])
}

/// Memory queues, their top-k read, and the in-painting transformer layer.
#[derive(Module, Debug)]
pub struct InPaint {
    reduce: Conv2d,
    reduce_bn: BatchNorm,
    /// `[P², slots, dim]`: each grid position's queue of normal feature vectors, oldest first.
    memory: Param<Tensor<3>>,
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    norm1: LayerNorm,
    ff1: Linear,
    ff2: Linear,
    norm2: LayerNorm,
    expand: Conv2d,
    expand_bn: BatchNorm,
    grid: usize,
    top_k: usize,
    bits: usize,
}

impl InPaint {
    /// Attention weights of queries `[P², B, S]` logits: softmax, then all but the top k set
    /// to 0 and the rest renormalised (values from the cut weights, gradients from the softmax:
    /// SQUID's straight-through estimator).
    fn shrink(&self, logits: Tensor<3>) -> Tensor<3> {
        let y = softmax(logits, 2);
        let k = self.top_k.min(y.dims()[2]);
        let kept = y.clone().detach();
        let threshold = kept.clone().topk(k, 2).narrow(2, k - 1, 1);
        let mask = kept.clone().greater_equal(threshold).float();
        let cut = kept.clone() * mask;
        let sum = cut.clone().sum_dim(2).clamp_min(1e-12);
        let hard = cut / sum;
        y.clone() + (hard - kept).detach()
    }

    /// For every patch, the readouts of its eight neighbours (0 beyond the grid's edge):
    /// `[B, P², D]` → `[B·P², 8, D]`.
    fn neighbours(&self, m: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = m.dims();
        let g = self.grid as isize;
        let zero = Tensor::<3>::zeros([b, 1, d], &m.device());
        let padded = Tensor::cat(vec![m, zero], 1);
        let mut index = Vec::with_capacity(n * 8);
        for r in 0..g {
            for c in 0..g {
                for dr in -1..=1 {
                    for dc in -1..=1 {
                        if dr == 0 && dc == 0 {
                            continue;
                        }
                        let (rr, cc) = (r + dr, c + dc);
                        let inside = (0..g).contains(&rr) && (0..g).contains(&cc);
                        index.push(if inside { rr * g + cc } else { g * g } as i64);
                    }
                }
            }
        }
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [n * 8]), &padded.device());
        padded.select(1, index).reshape([b * n, 8, d])
    }

    /// The binary code of each patch's grid position, as constant maps `[B·P², bits, h, w]`.
    fn positions(&self, batch: usize, h: usize, w: usize, device: &Device) -> Tensor<4> {
        let n = self.grid * self.grid;
        let mut code = Vec::with_capacity(n * self.bits);
        for i in 0..n {
            for bit in (0..self.bits).rev() {
                code.push(((i >> bit) & 1) as f32);
            }
        }
        Tensor::<2>::from_data(TensorData::new(code, [n, self.bits]), device)
            .reshape([1, n, self.bits, 1, 1])
            .expand([batch, n, self.bits, h, w])
            .reshape([batch * n, self.bits, h, w])
    }

    /// In-paints patch maps `[B·P², C, 4, 4]`; also returns the bottleneck vectors
    /// `[P², B, D]` that training pushes into the memory.
    fn forward(&self, x: Tensor<4>, batch: usize) -> (Tensor<4>, Tensor<3>) {
        let [bn, _, h, w] = x.dims();
        let n = bn / batch;
        let device = x.device();
        let f = murgan_kernels::conv(&self.reduce, x);
        let f = murgan_kernels::batch_norm_leaky_relu(Some(&self.reduce_bn), f, 0.0);
        let r = f.dims()[1];
        let d = r * h * w;
        let f = f.reshape([batch, n, d]);
        let queries = f.clone().swap_dims(0, 1);
        // Read each position's queue (constant: no gradient reaches the memory).
        let memory = self.memory.val().detach();
        let weights = self.shrink(queries.clone().matmul(memory.clone().swap_dims(1, 2)));
        let m = weights.matmul(memory).swap_dims(0, 1); // [B, P², D]
        // In-painting: the patch (query) rebuilt from its neighbours' readouts.
        let nb = self.neighbours(m.clone());
        let q = self.query.forward(f.reshape([bn, 1, d]));
        let k = self.key.forward(nb.clone());
        let v = self.value.forward(nb);
        let scale = 1.0 / (d as f64).sqrt();
        let a = softmax(q.matmul(k.swap_dims(1, 2)).mul_scalar(scale), 2);
        let o = self.out.forward(a.matmul(v));
        let own = m.reshape([bn, 1, d]);
        let z = relu(self.norm1.forward(o) + own);
        let z = relu(
            self.norm2
                .forward(self.ff2.forward(relu(self.ff1.forward(z.clone()))))
                + z,
        );
        let z = z.reshape([bn, r, h, w]);
        let z = Tensor::cat(vec![z, self.positions(batch, h, w, &device)], 1);
        let y = murgan_kernels::conv(&self.expand, z);
        let y = murgan_kernels::batch_norm_leaky_relu(Some(&self.expand_bn), y, 0.0);
        (y, queries.detach())
    }
}

/// What one training pass of a [`Squid`] computes.
#[derive(Debug, Clone)]
pub struct SquidOutput {
    /// The student's reconstruction (through memory and in-painting), `[B, 1, N, N]`.
    pub reconstruction: Tensor<4>,
    /// The teacher's reconstruction (straight from the encoder's features).
    pub teacher: Tensor<4>,
    /// Σ over the decoders' hidden layers of mean (student − teacher)².
    pub distillation: Tensor<1>,
    /// The bottleneck vectors `[P², B, D]` (detached), for [`Squid::enqueue`].
    pub queries: Tensor<3>,
}

/// SQUID's in-painting auto-encoder: image `[B, 1, N, N]` → reconstruction.
#[derive(Module, Debug)]
pub struct Squid {
    encoder: Trunk,
    inpaint: InPaint,
    student: Decoder,
    teacher: Decoder,
    grid: usize,
    image_size: usize,
}

impl Squid {
    /// The reconstruction of `x` (what scoring uses): memory and in-painting, student decoder.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b = x.dims()[0];
        let e = self.encoder.forward(to_patches(x, self.grid));
        let (z, _) = self.inpaint.forward(e, b);
        self.student.forward(z, self.grid).0
    }

    /// Every output of a training pass. The teacher decodes the encoder's features detached
    /// (SQUID's stop-gradient): only the student's path trains the encoder.
    pub fn forward_train(&self, x: Tensor<4>) -> SquidOutput {
        let b = x.dims()[0];
        let e = self.encoder.forward(to_patches(x, self.grid));
        let (z, queries) = self.inpaint.forward(e.clone(), b);
        let (reconstruction, s_hidden) = self.student.forward(z, self.grid);
        let (teacher, t_hidden) = self.teacher.forward(e.detach(), self.grid);
        let device = reconstruction.device();
        let distillation = s_hidden
            .into_iter()
            .zip(t_hidden)
            .map(|(s, t)| (s - t).powi_scalar(2).mean())
            .fold(Tensor::<1>::zeros([1], &device), |acc, l| acc + l);
        SquidOutput {
            reconstruction,
            teacher,
            distillation,
            queries,
        }
    }

    /// Pushes a batch's bottleneck vectors `[P², B, D]` into the memory queues, dropping the
    /// oldest (first-in, first-out; a batch larger than the queue keeps its last vectors).
    pub fn enqueue(mut self, queries: Tensor<3>) -> Self {
        let [_, slots, _] = self.inpaint.memory.dims();
        let b = queries.dims()[1];
        self.inpaint.memory = self.inpaint.memory.map(|m| {
            let grad = m.is_require_grad();
            let next = if b >= slots {
                queries.narrow(1, b - slots, slots)
            } else {
                Tensor::cat(vec![m.detach().narrow(1, b, slots - b), queries], 1)
            };
            next.detach().set_require_grad(grad)
        });
        self
    }

    /// The memory queues `[P², slots, D]`.
    pub fn memory(&self) -> Tensor<3> {
        self.inpaint.memory.val()
    }

    /// The side N of the images it takes.
    pub fn image_size(&self) -> usize {
        self.image_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default()
    }

    #[test]
    fn patches_round_trip_in_grid_order() {
        let device = Device::flex();
        let x = Tensor::<1, Int>::arange(0..64, &device)
            .float()
            .reshape([1, 1, 8, 8]);
        let p = to_patches(x.clone(), 2);
        assert_eq!(p.dims(), [4, 1, 4, 4]);
        // Patch 1 is the top-right quarter: its first pixel is (0, 4).
        assert_eq!(values(p.clone().narrow(0, 1, 1))[0], 4.0);
        // Patch 2 is the bottom-left quarter: its first pixel is (4, 0).
        assert_eq!(values(p.clone().narrow(0, 2, 1))[0], 32.0);
        assert_eq!(values(from_patches(p, 2)), values(x));
    }

    fn tiny() -> (Squid, Device) {
        let device = Device::flex();
        let config = SquidNetConfig::new()
            .with_image_size(16)
            .with_grid(2)
            .with_width(4)
            .with_memory_slots(6)
            .with_top_k(2);
        (
            config.init(&device).unwrap_or_else(|e| panic!("{e}")),
            device,
        )
    }

    #[test]
    fn shapes_and_the_memory_queue() {
        let (net, device) = tiny();
        let x = Tensor::<4>::random([3, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let out = net.forward_train(x.clone());
        assert_eq!(out.reconstruction.dims(), [3, 1, 16, 16]);
        assert_eq!(out.teacher.dims(), [3, 1, 16, 16]);
        // 4 positions, batch 3, bottleneck 1 channel × 4 × 4.
        assert_eq!(out.queries.dims(), [4, 3, 16]);
        assert_eq!(net.memory().dims(), [4, 6, 16]);
        let q = values(out.queries.clone());
        let net = net.enqueue(out.queries.clone());
        let m = values(net.memory());
        // Position 0: slots 0–2 still empty, slots 3–5 the batch's three vectors, in order.
        assert!(m[..3 * 16].iter().all(|v| *v == 0.0));
        assert_eq!(&m[3 * 16..6 * 16], &q[..3 * 16]);
        // A second batch pushes the first one forward (first in, first out).
        let net = net.enqueue(out.queries);
        let m = values(net.memory());
        assert_eq!(&m[..3 * 16], &q[..3 * 16]);
        assert_eq!(&m[3 * 16..6 * 16], &q[..3 * 16]);
    }

    #[test]
    fn a_batch_larger_than_the_queue_keeps_its_last_vectors() {
        let (net, device) = tiny();
        // 4 positions, a batch of 8 vectors of length 16, numbered 0..8 at every position.
        let q = Tensor::<1, Int>::arange(0..8, &device)
            .float()
            .reshape([1, 8, 1])
            .expand([4, 8, 16]);
        let m = values(net.enqueue(q).memory());
        // The queue holds 6 slots: vectors 2..8, oldest first.
        let firsts: Vec<f32> = m[..6 * 16].iter().step_by(16).copied().collect();
        assert_eq!(firsts, vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn shrink_keeps_the_top_k_weights() {
        let (net, device) = tiny();
        let logits =
            Tensor::<1>::from_floats([0.0, 3.0, 1.0, 2.0, -1.0, 0.5], &device).reshape([1, 1, 6]);
        let w = values(net.inpaint.shrink(logits));
        assert_eq!(w.iter().filter(|v| **v > 0.0).count(), 2);
        assert!(w[1] > w[3] && w[3] > 0.0);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn neighbours_are_zero_beyond_the_grid() {
        let (net, device) = tiny();
        // Patch i's readout is the constant i + 1.
        let m = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device)
            .reshape([1, 4, 1])
            .expand([1, 4, 2]);
        let nb = values(net.inpaint.neighbours(m));
        // Patch 0 (top left): neighbours in reading order are 0,0,0, 0,2, 0,3,4.
        let first: Vec<f32> = nb[..16].iter().step_by(2).copied().collect();
        assert_eq!(first, vec![0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_shapes_are_refused() {
        let c = SquidNetConfig::new();
        assert!(c.clone().with_grid(3).validate().is_err());
        assert!(
            c.clone()
                .with_image_size(32)
                .with_grid(8)
                .validate()
                .is_err()
        );
        assert!(c.clone().with_top_k(500).validate().is_err());
        assert!(c.validate().is_ok());
    }
}
