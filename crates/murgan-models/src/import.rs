//! Importing PyTorch `state_dict` files (`.pt`/`.pth`) into murgan checkpoints (feature
//! `pytorch`), through Burn's PyTorch store. Shapes (image size, latent size, widths, code
//! discriminator) are read from the tensors, so no flag has to repeat them.
//!
//! Two layouts are understood:
//!
//! **AnoGAN: the PyTorch DCGAN tutorial's `netG` / `netD`** (an `nn.Sequential` called `main`),
//! for N×N images with s = log₂N − 2 stride-2 stages:
//!
//! | PyTorch key | murgan |
//! |---|---|
//! | G `main.{3k}.weight`, k < s | `blocks.k.conv.weight` (transposed convolution) |
//! | G `main.{3k+1}.{weight,bias,running_mean,running_var}` | `blocks.k.bn.{gamma,beta,running_mean,running_var}` |
//! | G `main.{3s}.weight` | `out.weight` |
//! | D `main.0.weight` | `trunk.blocks.0.conv.weight` (no BatchNorm) |
//! | D `main.{3k−1}.weight`, 1 ≤ k < s | `trunk.blocks.k.conv.weight` |
//! | D `main.{3k}.*` | `trunk.blocks.k.bn.*` |
//! | D `main.{3s−1}.weight` | `out.weight` |
//!
//! **alpha-GAN: murgan's networks mirrored in PyTorch** (`*_E.pth`, `*_G.pth`, `*_D.pth`,
//! `*_C.pth`; `scripts/make_torch_fixture.py` defines the modules): the keys are murgan's own
//! (`blocks.k.conv.weight`, `trunk.blocks.k.bn.weight`, `fc.weight`, `hidden.k.weight`,
//! `out.weight` …). BatchNorm `weight`/`bias` become `gamma`/`beta` and linear weights are
//! transposed by Burn's PyTorch adapter. `num_batches_tracked` is not used.
//!
//! Every network's tensors must all be found with the expected shapes; anything missing or
//! misshapen is an error naming the file and the tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::store::{
    FloatCastAdapter, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore,
};
use burn::tensor::DType;
use murgan_data::PreprocessConfig;

use crate::checkpoint::{DataSummary, ModelKind, ModelMeta, SCHEMA_VERSION, Staged};
use crate::kind::{AlphaGanConfig, AnoGanConfig, DiscriminatorKind, TrainConfig};
use crate::load::Networks;
use crate::nets::{CodeDiscriminatorConfig, DcganConfig};
use crate::{ModelError, Result};

pub use crate::kind::Role;

impl Role {
    /// The role a file name says (`netG.pth`, `model_G.pth`, `generator.pt`, `x_C.pth` …).
    pub fn of_file(path: &Path) -> Option<Role> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        if ext != "pth" && ext != "pt" {
            return None;
        }
        let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
        let last = stem.rsplit(['_', '-', '.']).next().unwrap_or(&stem);
        let by_suffix = |s: &str| match s {
            "g" | "netg" | "generator" => Some(Role::Generator),
            "d" | "netd" | "discriminator" => Some(Role::Discriminator),
            "e" | "nete" | "encoder" => Some(Role::Encoder),
            "c" | "netc" | "code" => Some(Role::Code),
            _ => None,
        };
        if stem.ends_with("code_discriminator") || stem.ends_with("codediscriminator") {
            return Some(Role::Code);
        }
        by_suffix(last).or_else(|| by_suffix(&stem))
    }
}

/// The `.pth`/`.pt` files of one model, by role.
pub type Files = BTreeMap<Role, PathBuf>;

/// Finds the files of a `kind` model among `inputs` (files, or folders whose files are
/// considered): AnoGAN needs G and D, alpha-GAN needs E, G, D and C. Two files for one role,
/// or a role missing, is an error listing what was found.
pub fn find_files(kind: ModelKind, inputs: &[PathBuf]) -> Result<Files> {
    let mut candidates = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|e| ModelError::io(input, e))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            candidates.extend(found);
        } else if input.is_file() {
            candidates.push(input.clone());
        } else {
            return Err(ModelError::io(
                input,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            ));
        }
    }
    if matches!(kind, ModelKind::FAnoGan | ModelKind::Squid) {
        return Err(ModelError::InvalidConfig(
            "import-torch reads anogan (DCGAN tutorial) and alphagan models".into(),
        ));
    }
    let needed = kind.roles();
    let mut files = Files::new();
    for path in candidates {
        let Some(role) = Role::of_file(&path) else {
            continue;
        };
        if !needed.contains(&role) {
            continue;
        }
        if let Some(previous) = files.insert(role, path.clone()) {
            return Err(ModelError::InvalidConfig(format!(
                "two files for the {}: {} and {}",
                role.label(),
                previous.display(),
                path.display()
            )));
        }
    }
    let missing: Vec<&str> = needed
        .iter()
        .filter(|r| !files.contains_key(r))
        .map(|r| r.label())
        .collect();
    if !missing.is_empty() {
        return Err(ModelError::InvalidConfig(format!(
            "no file for the {} among {} (names like netG.pth / netD.pth, or *_E/_G/_D/_C.pth)",
            missing.join(", "),
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(files)
}

/// A model read from PyTorch files, ready to be written as a murgan checkpoint.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Which model.
    pub kind: ModelKind,
    /// Its configuration as `model.json` stores it (shapes read from the tensors; training
    /// settings are defaults: it was trained elsewhere).
    pub config: serde_json::Value,
    /// Side N of its N×N images.
    pub image_size: usize,
    /// Its networks, in eval mode.
    pub networks: Networks,
}

/// Tensor name → shape, as stored in one file.
type Shapes = BTreeMap<String, Vec<usize>>;

fn corrupt(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::CorruptCheckpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn shapes(path: &Path) -> Result<Shapes> {
    let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
    let tensors = store
        .get_all_tensors()
        .map_err(|e| corrupt(path, format!("not a readable PyTorch state_dict: {e}")))?;
    Ok(tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.to_vec()))
        .collect())
}

fn dim(shapes: &Shapes, key: &str, axis: usize, path: &Path) -> Result<usize> {
    shapes
        .get(key)
        .and_then(|s| s.get(axis).copied())
        .ok_or_else(|| {
            corrupt(
                path,
                format!("tensor {key} missing (or of too few dimensions)"),
            )
        })
}

/// Loads `path` into `module` under the given key renames (`(from regex, to)`), demanding
/// that every tensor of the module is found with its shape.
fn load<M: Module>(mut module: M, path: &Path, renames: &[(String, String)]) -> Result<M> {
    let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
    for (from, to) in renames {
        store = store.with_key_remapping(from, to.clone());
    }
    // Every float tensor becomes f32, whatever the file stores (a `.half()` or `.bfloat16()`
    // model's state_dict): murgan's networks and CPU kernels compute in f32.
    let tensors: Vec<_> = store
        .get_all_tensors()
        .map_err(|e| corrupt(path, format!("cannot load: {e}")))?
        .values()
        .cloned()
        .collect();
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32));
    let result = module.apply(tensors, None, Some(Box::new(adapter)), true);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let mut problems: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        problems.extend(result.missing.iter().map(|(k, _)| format!("{k} missing")));
        return Err(corrupt(path, problems.join("; ")));
    }
    Ok(module.valid())
}

fn count(shapes: &Shapes, prefix: &str, suffix: &str) -> usize {
    (0..)
        .take_while(|k| shapes.contains_key(&format!("{prefix}{k}{suffix}")))
        .count()
}

fn image_size(stages: usize, path: &Path) -> Result<usize> {
    if !(2..=12).contains(&stages) {
        return Err(corrupt(
            path,
            format!("{stages} up-sampling stages: not a DCGAN"),
        ));
    }
    Ok(4 << stages)
}

/// Reads the DCGAN tutorial's `netG` / `netD` (see the module docs for the key mapping).
pub fn anogan_from_tutorial(
    generator: &Path,
    discriminator: &Path,
    device: &Device,
) -> Result<Imported> {
    let (gs, ds) = (shapes(generator)?, shapes(discriminator)?);
    // G: transposed convolutions at main.0, main.3, …, main.3s.
    let convs = (0..)
        .take_while(|k| gs.contains_key(&format!("main.{}.weight", 3 * k)))
        .count();
    if convs < 3 {
        return Err(corrupt(
            generator,
            "keys are not the DCGAN tutorial's (main.0.weight, main.1.weight … main.3.weight)",
        ));
    }
    let stages = convs - 1;
    let size = image_size(stages, generator)?;
    let latent = dim(&gs, "main.0.weight", 0, generator)?;
    let top = dim(&gs, "main.0.weight", 1, generator)?;
    let gen_width = top >> (stages - 1);
    let disc_width = dim(&ds, "main.0.weight", 0, discriminator)?;
    if gen_width << (stages - 1) != top {
        return Err(corrupt(
            generator,
            format!("first layer width {top} is not ngf·2^{}", stages - 1),
        ));
    }
    if !ds.contains_key(&format!("main.{}.weight", 3 * stages - 1)) {
        return Err(corrupt(
            discriminator,
            format!(
                "expected a {size}×{size} DCGAN tutorial discriminator (main.{}.weight)",
                3 * stages - 1
            ),
        ));
    }
    let model = DcganConfig::new()
        .with_image_size(size)
        .with_latent_dim(latent)
        .with_gen_width(gen_width)
        .with_disc_width(disc_width)
        .with_disc_batch_norm(true);
    let device = device.clone().inner();

    let mut g_map = Vec::new();
    for k in 0..stages {
        g_map.push((
            format!(r"^main\.{}\.(.+)$", 3 * k),
            format!("blocks.{k}.conv.$1"),
        ));
        g_map.push((
            format!(r"^main\.{}\.(.+)$", 3 * k + 1),
            format!("blocks.{k}.bn.$1"),
        ));
    }
    g_map.push((format!(r"^main\.{}\.(.+)$", 3 * stages), "out.$1".into()));
    let mut d_map = vec![(
        r"^main\.0\.(.+)$".to_string(),
        "trunk.blocks.0.conv.$1".to_string(),
    )];
    for k in 1..stages {
        d_map.push((
            format!(r"^main\.{}\.(.+)$", 3 * k - 1),
            format!("trunk.blocks.{k}.conv.$1"),
        ));
        d_map.push((
            format!(r"^main\.{}\.(.+)$", 3 * k),
            format!("trunk.blocks.{k}.bn.$1"),
        ));
    }
    d_map.push((
        format!(r"^main\.{}\.(.+)$", 3 * stages - 1),
        "out.$1".into(),
    ));

    let generator_net = load(model.init_generator(&device)?, generator, &g_map)?;
    let discriminator_net = load(model.init_discriminator(&device)?, discriminator, &d_map)?;
    Ok(Imported {
        kind: ModelKind::AnoGan,
        config: json(&AnoGanConfig {
            model,
            train: TrainConfig::new(),
        })?,
        image_size: size,
        networks: Networks::AnoGan {
            generator: generator_net,
            discriminator: discriminator_net,
        },
    })
}

/// Reads murgan's alpha-GAN networks saved from their PyTorch mirror.
pub fn alphagan_from_mirror(files: &Files, device: &Device) -> Result<Imported> {
    let file = |role: Role| {
        files
            .get(&role)
            .ok_or_else(|| ModelError::InvalidConfig(format!("no file for the {}", role.label())))
    };
    let (e, g, d, c) = (
        file(Role::Encoder)?,
        file(Role::Generator)?,
        file(Role::Discriminator)?,
        file(Role::Code)?,
    );
    let (es, gs, ds, cs) = (shapes(e)?, shapes(g)?, shapes(d)?, shapes(c)?);
    let stages = count(&gs, "blocks.", ".conv.weight");
    let size = image_size(stages, g)?;
    let latent = dim(&gs, "blocks.0.conv.weight", 0, g)?;
    let gen_width = dim(&gs, "blocks.0.conv.weight", 1, g)? >> (stages.saturating_sub(1));
    let kind = if ds.contains_key("trunk.blocks.0.conv.weight") {
        DiscriminatorKind::Dcgan
    } else if ds.contains_key("blocks.0.conv.weight") {
        DiscriminatorKind::Patch
    } else {
        return Err(corrupt(
            d,
            "neither a DCGAN (trunk.blocks…) nor a PatchGAN (blocks…) discriminator",
        ));
    };
    let disc_width = match kind {
        DiscriminatorKind::Dcgan => dim(&ds, "trunk.blocks.0.conv.weight", 0, d)?,
        DiscriminatorKind::Patch => dim(&ds, "blocks.0.conv.weight", 0, d)?,
    };
    let enc_width = dim(&es, "trunk.blocks.0.conv.weight", 0, e)?;
    if enc_width != disc_width {
        return Err(corrupt(
            e,
            format!(
                "encoder width {enc_width} differs from the discriminator's {disc_width} (murgan's alpha-GAN shares it)"
            ),
        ));
    }
    let layers = count(&cs, "hidden.", ".weight");
    let hidden = dim(&cs, "hidden.0.weight", 0, c)?;
    let config = AlphaGanConfig::new(
        DcganConfig::new()
            .with_image_size(size)
            .with_latent_dim(latent)
            .with_gen_width(gen_width)
            .with_disc_width(disc_width),
        TrainConfig::new(),
        CodeDiscriminatorConfig::new()
            .with_latent_dim(latent)
            .with_hidden(hidden)
            .with_layers(layers),
    )
    .with_discriminator(kind);
    config.validate()?;
    let device = device.clone().inner();
    Ok(Imported {
        kind: ModelKind::AlphaGan,
        config: json(&config)?,
        image_size: size,
        networks: Networks::AlphaGan {
            encoder: load(config.encoder().init(&device)?, e, &[])?,
            generator: load(config.model.init_generator(&device)?, g, &[])?,
            discriminator: load(config.init_discriminator(&device)?, d, &[])?,
            code: load(config.code.init(&device)?, c, &[])?,
        },
    })
}

/// Reads a `kind` model from its PyTorch files.
pub fn import(kind: ModelKind, files: &Files, device: &Device) -> Result<Imported> {
    match kind {
        ModelKind::AnoGan => {
            let missing = || ModelError::InvalidConfig("AnoGAN import needs netG and netD".into());
            anogan_from_tutorial(
                files.get(&Role::Generator).ok_or_else(missing)?,
                files.get(&Role::Discriminator).ok_or_else(missing)?,
                device,
            )
        }
        ModelKind::AlphaGan => alphagan_from_mirror(files, device),
        ModelKind::FAnoGan | ModelKind::Squid => Err(ModelError::InvalidConfig(
            "import-torch reads anogan (DCGAN tutorial) and alphagan models".into(),
        )),
    }
}

fn json<C: serde::Serialize>(config: &C) -> Result<serde_json::Value> {
    serde_json::to_value(config).map_err(|e| ModelError::InvalidConfig(e.to_string()))
}

impl Imported {
    /// Writes it as a finished murgan checkpoint under `out/checkpoints/` (atomically, like
    /// training does) and returns the checkpoint folder; `source` is recorded in `model.json`.
    pub fn write_checkpoint(&self, out: &Path, source: &str) -> Result<PathBuf> {
        let root = out.join("checkpoints");
        // Recorded as finished training, so loading treats every network as trained.
        let iterations = TrainConfig::new().iterations;
        let mut staged = Staged::new(&root, iterations)?;
        if let Networks::FAnoGan { .. } | Networks::Squid { .. } = &self.networks {
            return Err(ModelError::InvalidConfig(
                "f-AnoGAN and SQUID models are not imported".into(),
            ));
        }
        self.networks.save(&mut staged)?;
        staged.commit(ModelMeta {
            schema_version: SCHEMA_VERSION,
            murgan_version: env!("CARGO_PKG_VERSION").to_string(),
            kind: self.kind,
            config: self.config.clone(),
            image_size: self.image_size,
            preprocess: PreprocessConfig::new(self.image_size as u32),
            categories: Vec::new(),
            iteration: iterations,
            phase: "done".into(),
            data: DataSummary {
                root: format!("imported from PyTorch: {source}"),
                images: 0,
                failed: 0,
            },
            networks: Default::default(),
            calibration: None,
            reference: None,
            main_score: None,
        })
    }
}
