//! The networks: DCGAN generator and discriminator (logit + last hidden feature map), the
//! encoder (alpha-GAN's E, f-AnoGAN's izi E), alpha-GAN's code discriminator, a PatchGAN
//! image discriminator, and SQUID's in-painting auto-encoder ([`squid`]). All take 1-channel
//! N×N images in [-1, 1], N a power of two ≥ 16.

pub mod squid;

pub use squid::{Squid, SquidNetConfig, SquidOutput};

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, tanh};

use crate::{ModelError, Result};

/// DCGAN's weight initialisation: N(0, 0.02).
pub(crate) fn dcgan_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

/// BatchNorm with DCGAN's initialisation (γ ~ N(1, 0.02), β = 0).
pub(crate) fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels).init(device);
    bn.gamma = bn
        .gamma
        .map(|g| g.random_like(burn::tensor::Distribution::Normal(1.0, 0.02)));
    bn
}

/// Number of stride-2 stages between 4×4 and N×N: log₂(N) − 2.
pub fn stages(image_size: usize) -> Result<usize> {
    if image_size < 16 || !image_size.is_power_of_two() {
        return Err(ModelError::InvalidConfig(format!(
            "image size {image_size}: must be a power of two, at least 16"
        )));
    }
    Ok(image_size.trailing_zeros() as usize - 2)
}

/// Shape of a DCGAN generator / discriminator pair.
#[derive(Config, Debug, PartialEq)]
pub struct DcganConfig {
    /// Side N of the square images (a power of two ≥ 16).
    #[config(default = 64)]
    pub image_size: usize,
    /// Latent size.
    #[config(default = 100)]
    pub latent_dim: usize,
    /// Generator width (PyTorch tutorial's `ngf`).
    #[config(default = 64)]
    pub gen_width: usize,
    /// Discriminator width (`ndf`).
    #[config(default = 64)]
    pub disc_width: usize,
    /// BatchNorm in the discriminator (off for WGAN-GP critics, whose penalty is per sample).
    #[config(default = true)]
    pub disc_batch_norm: bool,
}

impl DcganConfig {
    /// Checks the shape.
    pub fn validate(&self) -> Result<()> {
        stages(self.image_size)?;
        if self.latent_dim == 0 || self.gen_width == 0 || self.disc_width == 0 {
            return Err(ModelError::InvalidConfig(
                "latent size and widths must be positive".into(),
            ));
        }
        Ok(())
    }

    /// Channels of the discriminator's last hidden map (its feature layer).
    pub fn feature_channels(&self) -> usize {
        self.disc_width << stages(self.image_size).unwrap_or(1).saturating_sub(1)
    }

    /// Builds the generator.
    pub fn init_generator(&self, device: &Device) -> Result<Generator> {
        self.validate()?;
        let n = stages(self.image_size)?;
        let mut blocks = Vec::with_capacity(n);
        let mut ch = self.gen_width << (n - 1);
        let conv = |cin, cout, stride, pad| {
            ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([stride, stride])
                .with_padding([pad, pad])
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device)
        };
        blocks.push(GenBlock {
            conv: conv(self.latent_dim, ch, 1, 0),
            bn: batch_norm(ch, device),
        });
        for _ in 1..n {
            blocks.push(GenBlock {
                conv: conv(ch, ch / 2, 2, 1),
                bn: batch_norm(ch / 2, device),
            });
            ch /= 2;
        }
        Ok(Generator {
            blocks,
            out: conv(ch, 1, 2, 1),
            latent_dim: self.latent_dim,
            image_size: self.image_size,
        })
    }

    /// Builds the discriminator.
    pub fn init_discriminator(&self, device: &Device) -> Result<Discriminator> {
        self.validate()?;
        Ok(Discriminator {
            trunk: Trunk::new(
                self.disc_width,
                stages(self.image_size)?,
                self.disc_batch_norm,
                device,
            ),
            out: Conv2dConfig::new([self.feature_channels(), 1], [4, 4])
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device),
        })
    }
}

/// Transposed convolution, BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct GenBlock {
    conv: ConvTranspose2d,
    bn: BatchNorm,
}

/// DCGAN generator: latent `[B, Z]` → image `[B, 1, N, N]` in (-1, 1).
#[derive(Module, Debug)]
pub struct Generator {
    blocks: Vec<GenBlock>,
    out: ConvTranspose2d,
    latent_dim: usize,
    image_size: usize,
}

impl Generator {
    /// Generates images from latents `[B, Z]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, d] = z.dims();
        let mut x = z.reshape([b, d, 1, 1]);
        for block in &self.blocks {
            let y = murgan_kernels::conv_transpose(&block.conv, x);
            x = murgan_kernels::batch_norm_leaky_relu(Some(&block.bn), y, 0.0);
        }
        tanh(murgan_kernels::conv_transpose(&self.out, x))
    }

    /// The latent size.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// The side N of the images it generates.
    pub fn image_size(&self) -> usize {
        self.image_size
    }
}

/// Convolution (stride 2), optional BatchNorm, LeakyReLU(0.2).
#[derive(Module, Debug)]
pub struct DownBlock {
    conv: Conv2d,
    bn: Option<BatchNorm>,
}

impl DownBlock {
    fn new(
        cin: usize,
        cout: usize,
        stride: usize,
        pad: usize,
        norm: bool,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new([cin, cout], [4, 4])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .with_initializer(dcgan_init())
                .init(device),
            bn: norm.then(|| batch_norm(cout, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = murgan_kernels::conv(&self.conv, x);
        murgan_kernels::batch_norm_leaky_relu(self.bn.as_ref(), x, 0.2)
    }
}

/// The convolutional trunk shared by the discriminator and the encoder: N×N → 4×4.
#[derive(Module, Debug)]
pub struct Trunk {
    blocks: Vec<DownBlock>,
}

impl Trunk {
    pub(crate) fn new(width: usize, stages: usize, norm: bool, device: &Device) -> Self {
        let mut blocks = vec![DownBlock::new(1, width, 2, 1, false, device)];
        let mut ch = width;
        for _ in 1..stages {
            blocks.push(DownBlock::new(ch, ch * 2, 2, 1, norm, device));
            ch *= 2;
        }
        Self { blocks }
    }

    pub(crate) fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }
}

/// DCGAN discriminator: image → (logit `[B]`, features `[B, C, 4, 4]`).
#[derive(Module, Debug)]
pub struct Discriminator {
    trunk: Trunk,
    out: Conv2d,
}

impl Discriminator {
    /// The feature map of the last hidden layer (used for feature matching).
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        self.trunk.forward(x)
    }

    /// Logits (real > 0) and the feature map.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<4>) {
        let f = self.features(x);
        let b = f.dims()[0];
        (murgan_kernels::conv(&self.out, f.clone()).reshape([b]), f)
    }
}

/// Shape of an encoder image → latent.
#[derive(Config, Debug, PartialEq)]
pub struct EncoderConfig {
    /// Side N of the images.
    #[config(default = 64)]
    pub image_size: usize,
    /// Latent size.
    #[config(default = 100)]
    pub latent_dim: usize,
    /// Width of the convolutional trunk.
    #[config(default = 64)]
    pub width: usize,
    /// Squash codes into (-1, 1) with tanh (f-AnoGAN's izi); alpha-GAN leaves them free.
    #[config(default = false)]
    pub bounded: bool,
}

impl EncoderConfig {
    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> Result<Encoder> {
        let n = stages(self.image_size)?;
        if self.latent_dim == 0 || self.width == 0 {
            return Err(ModelError::InvalidConfig(
                "latent size and width must be positive".into(),
            ));
        }
        let features = (self.width << (n - 1)) * 16;
        Ok(Encoder {
            trunk: Trunk::new(self.width, n, true, device),
            fc: LinearConfig::new(features, self.latent_dim)
                .with_initializer(dcgan_init())
                .init(device),
            bounded: self.bounded,
        })
    }
}

/// Encoder: image `[B, 1, N, N]` → latent `[B, Z]`.
#[derive(Module, Debug)]
pub struct Encoder {
    trunk: Trunk,
    fc: Linear,
    bounded: bool,
}

impl Encoder {
    /// Encodes images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let z = self.fc.forward(self.trunk.forward(x).flatten::<2>(1, 3));
        if self.bounded { tanh(z) } else { z }
    }
}

/// Shape of alpha-GAN's code discriminator (an MLP on the latent).
#[derive(Config, Debug, PartialEq)]
pub struct CodeDiscriminatorConfig {
    /// Latent size.
    #[config(default = 100)]
    pub latent_dim: usize,
    /// Hidden units per layer (the paper used 750).
    #[config(default = 256)]
    pub hidden: usize,
    /// Hidden layers.
    #[config(default = 2)]
    pub layers: usize,
}

impl CodeDiscriminatorConfig {
    /// Builds the code discriminator.
    pub fn init(&self, device: &Device) -> Result<CodeDiscriminator> {
        if self.latent_dim == 0 || self.hidden == 0 || self.layers == 0 {
            return Err(ModelError::InvalidConfig(
                "code discriminator sizes must be positive".into(),
            ));
        }
        let mut hidden = Vec::new();
        let mut d = self.latent_dim;
        for _ in 0..self.layers {
            hidden.push(LinearConfig::new(d, self.hidden).init(device));
            d = self.hidden;
        }
        Ok(CodeDiscriminator {
            hidden,
            out: LinearConfig::new(d, 1).init(device),
        })
    }
}

/// Code discriminator: latent `[B, Z]` → logit `[B]` (prior sample > 0, encoded < 0).
#[derive(Module, Debug)]
pub struct CodeDiscriminator {
    hidden: Vec<Linear>,
    out: Linear,
}

impl CodeDiscriminator {
    /// Logits.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<1> {
        let mut x = z;
        for layer in &self.hidden {
            x = leaky_relu(layer.forward(x), 0.2);
        }
        let b = x.dims()[0];
        self.out.forward(x).reshape([b])
    }
}

/// Shape of a PatchGAN discriminator (pix2pix's 70×70 design: three stride-2 and two
/// stride-1 4×4 convolutions, one logit per overlapping patch).
#[derive(Config, Debug, PartialEq)]
pub struct PatchConfig {
    /// Width of the first layer.
    #[config(default = 64)]
    pub width: usize,
}

impl PatchConfig {
    /// Builds the PatchGAN discriminator.
    pub fn init(&self, device: &Device) -> Result<PatchDiscriminator> {
        let w = self.width;
        if w == 0 {
            return Err(ModelError::InvalidConfig(
                "PatchGAN width must be positive".into(),
            ));
        }
        Ok(PatchDiscriminator {
            blocks: vec![
                DownBlock::new(1, w, 2, 1, false, device),
                DownBlock::new(w, 2 * w, 2, 1, true, device),
                DownBlock::new(2 * w, 4 * w, 2, 1, true, device),
                DownBlock::new(4 * w, 8 * w, 1, 1, true, device),
            ],
            out: Conv2dConfig::new([8 * w, 1], [4, 4])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(dcgan_init())
                .init(device),
        })
    }
}

/// PatchGAN discriminator: image → (per-patch logits `[B, P]`, features).
#[derive(Module, Debug)]
pub struct PatchDiscriminator {
    blocks: Vec<DownBlock>,
    out: Conv2d,
}

impl PatchDiscriminator {
    /// Per-patch logits, flattened to `[B, P]`, and the last hidden feature map.
    pub fn forward(&self, mut x: Tensor<4>) -> (Tensor<2>, Tensor<4>) {
        for block in &self.blocks {
            x = block.forward(x);
        }
        (
            murgan_kernels::conv(&self.out, x.clone()).flatten::<2>(1, 3),
            x,
        )
    }
}

/// The image discriminator of an alpha-GAN: DCGAN's (one logit per image) or a PatchGAN.
#[derive(Module, Debug)]
pub enum ImageDiscriminator {
    /// DCGAN discriminator.
    Dcgan(Discriminator),
    /// PatchGAN discriminator.
    Patch(PatchDiscriminator),
}

impl ImageDiscriminator {
    /// Logits `[B, P]` (P = 1 for DCGAN) and the last hidden feature map.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<4>) {
        match self {
            ImageDiscriminator::Dcgan(d) => {
                let (logit, f) = d.forward(x);
                let b = logit.dims()[0];
                (logit.reshape([b, 1]), f)
            }
            ImageDiscriminator::Patch(p) => p.forward(x),
        }
    }
}
