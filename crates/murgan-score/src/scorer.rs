//! One entry point for every model: a [`Scorer`] turns a batch of preprocessed images into
//! anomaly scores, their named components and the reconstructions.
//!
//! Every component's direction is fixed here, before any evaluation: **higher = more
//! anomalous**. Discriminator outputs enter as negated logits (an image the discriminator finds
//! unreal scores high).

use burn::prelude::*;
use murgan_models::nets::{
    CodeDiscriminator, Discriminator, Encoder, Generator, ImageDiscriminator, Squid,
};
use murgan_models::{ComponentReference, Networks, NormalReference};
use serde::{Deserialize, Serialize};

use crate::search::{SearchConfig, latent_search};
use crate::{Result, ScoreError};

/// How a model's images are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// AnoGAN's latent search from seeded starting latents (AnoGAN, f-AnoGAN).
    Search,
    /// f-AnoGAN's one-pass izi score: mean (x − x̂)² + κ·mean (f(x) − f(x̂))², x̂ = G(E(x)).
    Izi,
    /// The latent search warm-started from the izi encoder's code (f-AnoGAN).
    IziSearch,
    /// alpha-GAN's reconstruction, feature and discriminator scores.
    Reconstruction,
    /// SQUID's score: the discriminator's judgement of the in-painted reconstruction,
    /// −D(x̂) (SQUID).
    Inpainting,
}

impl Method {
    /// `search`, `izi`, `izi-search`, `reconstruction` or `inpainting`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Search => "search",
            Method::Izi => "izi",
            Method::IziSearch => "izi-search",
            Method::Reconstruction => "reconstruction",
            Method::Inpainting => "inpainting",
        }
    }
}

impl Method {
    /// The components the method computes beside its own score.
    pub fn components(self) -> &'static [&'static str] {
        match self {
            Method::Search => &["residual", "discrimination"],
            Method::Izi => &[
                "residual",
                "feature",
                "d",
                "residual_coarse",
                "residual_peak",
            ],
            Method::IziSearch => &["residual", "discrimination", "izi"],
            Method::Reconstruction => &["l1", "l2", "feature", "d", "c"],
            Method::Inpainting => &["residual", "residual_coarse", "d", "residual_peak"],
        }
    }

    /// The components the `combined` score adds up once standardised on normal images, each
    /// with whether its logarithm is standardised: the coarse residual (what the model could
    /// not rebuild) and the discriminator's judgement of the image (what it finds unreal), two
    /// views of an image that fail on different images. Empty: the method has no `combined`.
    pub fn combined_parts(self) -> &'static [(&'static str, bool)] {
        match self {
            Method::Izi | Method::Inpainting => &[("residual_coarse", true), ("d", false)],
            Method::Search | Method::IziSearch | Method::Reconstruction => &[],
        }
    }
}

/// The name of the component that adds up the standardised [`Method::combined_parts`].
pub const COMBINED: &str = "combined";

impl std::str::FromStr for Method {
    type Err = ScoreError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "search" | "latent" => Ok(Method::Search),
            "izi" => Ok(Method::Izi),
            "izi-search" => Ok(Method::IziSearch),
            "reconstruction" => Ok(Method::Reconstruction),
            "inpainting" | "squid" => Ok(Method::Inpainting),
            other => Err(ScoreError::InvalidConfig(format!(
                "unknown scoring method {other:?}: expected search, izi, izi-search, reconstruction or inpainting"
            ))),
        }
    }
}

/// Scoring settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ScoringOptions {
    /// The method (`None`: the model's default: AnoGAN `search`, f-AnoGAN `izi`, alpha-GAN
    /// `reconstruction`, SQUID `inpainting`).
    pub method: Option<Method>,
    /// Latent-search settings (methods `search` and `izi-search`).
    pub search: SearchConfig,
    /// The component that is the main score (`None`: the method's own score). The method's own
    /// score then becomes a component named after the method (e.g. `izi`). A model declares its
    /// main score when it is trained (`model.json`'s `main_score`), before any evaluation.
    pub main: Option<String>,
    /// How normal images scored (a model's `model.json` `reference`, fitted after training):
    /// with it, methods that have [`Method::combined_parts`] add the component `combined`.
    pub reference: Option<NormalReference>,
}

impl ScoringOptions {
    /// Whether `self` and `other` give the same scores: the same method and, for the methods
    /// that search latents, the same search settings (the one-pass methods ignore them).
    pub fn scores_like(&self, other: &ScoringOptions) -> bool {
        self.method == other.method
            && self.main == other.main
            && (self.main.as_deref() != Some(COMBINED) || self.reference == other.reference)
            && match self.method {
                Some(Method::Izi | Method::Reconstruction | Method::Inpainting) => true,
                Some(Method::Search | Method::IziSearch) | None => self.search == other.search,
            }
    }

    /// Whether scoring with `method` and these settings yields the component `name`
    /// (`combined` only with a reference fitted for `method`).
    pub fn has_component(&self, method: Method, name: &str) -> bool {
        method.components().contains(&name)
            || (name == COMBINED && combined_reference(method, self.reference.as_ref()).is_some())
    }

    /// The settings a model was calibrated with (its threshold holds only for them), or the
    /// defaults when it has no calibration.
    pub fn for_model(meta: &murgan_models::ModelMeta) -> Self {
        let calibrated = meta.calibration.as_ref().and_then(|c| {
            serde_json::from_value::<ScoringOptions>(c.scoring.clone())
                .ok()
                .map(|mut o| {
                    // A calibration from before the reference was fitted still gets it.
                    o.reference = o.reference.or_else(|| meta.reference.clone());
                    o
                })
        });
        calibrated.unwrap_or_else(|| ScoringOptions {
            main: meta.main_score.clone(),
            reference: meta.reference.clone(),
            ..Default::default()
        })
    }
}

/// An image's anomaly score and its named parts (all: higher = more anomalous).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// The model's main anomaly score.
    pub score: f64,
    /// Every component, in the scorer's fixed order.
    pub components: Vec<(String, f64)>,
}

impl Scores {
    /// The component called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.components
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// Scores and reconstructions of a batch.
#[derive(Debug, Clone)]
pub struct ScoredBatch {
    /// One per image, in input order.
    pub scores: Vec<Scores>,
    /// What the model rebuilt of each image, `[B, 1, N, N]` in [-1, 1].
    pub reconstructions: Tensor<4>,
}

/// Scores images with a loaded model's networks.
#[derive(Debug, Clone)]
pub struct Scorer {
    networks: Networks,
    method: Method,
    options: ScoringOptions,
}

fn per_image_mean(t: Tensor<4>) -> Tensor<1> {
    let b = t.dims()[0];
    t.flatten::<2>(1, 3).mean_dim(1).reshape([b])
}

fn host(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

impl Scorer {
    /// A scorer for `networks`; fails when the method does not fit the model. The networks are
    /// put in eval mode here (BatchNorm on its running statistics, no autodiff), whatever mode
    /// they come in, so images never affect each other's scores and scoring never changes a
    /// model.
    pub fn new(networks: Networks, options: ScoringOptions) -> Result<Self> {
        options.search.validate()?;
        let networks = networks.valid();
        let default = match &networks {
            Networks::AnoGan { .. } => Method::Search,
            Networks::AlphaGan { .. } => Method::Reconstruction,
            Networks::FAnoGan {
                encoder: Some(_), ..
            } => Method::Izi,
            Networks::FAnoGan { encoder: None, .. } => Method::Search,
            Networks::Squid { .. } => Method::Inpainting,
        };
        let method = options.method.unwrap_or(default);
        let ok = match (&networks, method) {
            (Networks::AnoGan { .. }, Method::Search) => true,
            (Networks::AlphaGan { .. }, Method::Reconstruction) => true,
            (Networks::Squid { .. }, Method::Inpainting) => true,
            (Networks::FAnoGan { .. }, Method::Search) => true,
            (Networks::FAnoGan { encoder, .. }, Method::Izi | Method::IziSearch) => {
                if encoder.is_none() {
                    return Err(ScoreError::Unsupported(format!(
                        "scoring method {}: this f-AnoGAN checkpoint is from the GAN phase, its izi encoder is not trained yet (use method search, or a later checkpoint)",
                        method.name()
                    )));
                }
                true
            }
            _ => false,
        };
        if !ok {
            return Err(ScoreError::Unsupported(format!(
                "scoring method {} does not apply to this model (AnoGAN: search; f-AnoGAN: izi, izi-search, search; alpha-GAN: reconstruction; SQUID: inpainting)",
                method.name()
            )));
        }
        if let Some(main) = &options.main
            && !options.has_component(method, main)
        {
            let why = if main == COMBINED && !method.combined_parts().is_empty() {
                " (and no reference of normal scores for `combined`: `murgan train` fits one \
                 after the last iteration)"
            } else {
                ""
            };
            return Err(ScoreError::InvalidConfig(format!(
                "main score {main:?}: method {} has the components {}{why}",
                method.name(),
                method.components().join(", ")
            )));
        }
        Ok(Self {
            networks,
            method,
            options,
        })
    }

    /// The method in use.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The settings in use, with the method resolved (what a calibration must match).
    pub fn options(&self) -> ScoringOptions {
        ScoringOptions {
            method: Some(self.method),
            ..self.options.clone()
        }
    }

    /// The networks.
    pub fn networks(&self) -> &Networks {
        &self.networks
    }

    /// The names of the components this scorer reports, in order: with a declared main
    /// component, the method's own score comes first, under the method's name; `combined`
    /// comes last when the scorer has a reference for it.
    pub fn component_names(&self) -> Vec<&'static str> {
        let mut names = self.base_component_names().to_vec();
        if self.reference().is_some() {
            names.push(COMBINED);
        }
        names
    }

    /// The reference `combined` is computed with, when it applies to this scorer's method.
    fn reference(&self) -> Option<&NormalReference> {
        combined_reference(self.method, self.options.reference.as_ref())
    }

    /// Fits a reference for the `combined` score from the scores this scorer gave normal
    /// images (`None` when the method has no [`Method::combined_parts`] or `scores` is empty).
    pub fn fit_reference(&self, scores: &[Scores], source: &str) -> Option<NormalReference> {
        let parts = self.method.combined_parts();
        if parts.is_empty() || scores.is_empty() {
            return None;
        }
        let components = parts
            .iter()
            .map(|&(name, log)| {
                let values: Option<Vec<f64>> = scores.iter().map(|s| s.get(name)).collect();
                values.map(|v| ComponentReference::fit(name, log, &v))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(NormalReference {
            method: self.method.name().to_string(),
            images: scores.len(),
            source: source.to_string(),
            components,
        })
    }

    fn base_component_names(&self) -> &'static [&'static str] {
        match (self.method, self.options.main.is_some()) {
            (m, false) => m.components(),
            (Method::Search, true) => &["search", "residual", "discrimination"],
            (Method::Izi, true) => &[
                "izi",
                "residual",
                "feature",
                "d",
                "residual_coarse",
                "residual_peak",
            ],
            (Method::IziSearch, true) => &["izi-search", "residual", "discrimination", "izi"],
            (Method::Reconstruction, true) => &["l1", "l2", "feature", "d", "c"],
            (Method::Inpainting, true) => &[
                "inpainting",
                "residual",
                "residual_coarse",
                "d",
                "residual_peak",
            ],
        }
    }

    /// The component that is the main score, if not the method's own.
    pub fn main(&self) -> Option<&str> {
        self.options.main.as_deref()
    }

    /// The side N of the N×N images the networks take.
    pub fn image_size(&self) -> usize {
        match &self.networks {
            Networks::AnoGan { generator, .. }
            | Networks::AlphaGan { generator, .. }
            | Networks::FAnoGan { generator, .. } => generator.image_size(),
            Networks::Squid { autoencoder, .. } => autoencoder.image_size(),
        }
    }

    /// Scores a batch `[B, 1, N, N]` of preprocessed images (values in [-1, 1]).
    pub fn score(&self, x: Tensor<4>) -> Result<ScoredBatch> {
        let [b, c, h, w] = x.dims();
        let n = self.image_size();
        if b == 0 || c != 1 || h != n || w != n {
            return Err(ScoreError::Shape(format!(
                "batch of shape [{b}, {c}, {h}, {w}], the model takes [B ≥ 1, 1, {n}, {n}]"
            )));
        }
        let x = x.inner();
        let mut batch = match (&self.networks, self.method) {
            (
                Networks::AnoGan {
                    generator,
                    discriminator,
                }
                | Networks::FAnoGan {
                    generator,
                    discriminator,
                    ..
                },
                Method::Search,
            ) => self.search(generator, discriminator, x, None, None)?,
            (
                Networks::FAnoGan {
                    generator,
                    discriminator,
                    encoder: Some(encoder),
                    kappa,
                },
                m @ (Method::Izi | Method::IziSearch),
            ) => {
                let izi = izi(generator, discriminator, encoder, *kappa, x.clone());
                if m == Method::Izi {
                    izi
                } else {
                    let z0 = encoder.forward(x.clone());
                    let izi_scores: Vec<f64> = izi.scores.iter().map(|s| s.score).collect();
                    self.search(generator, discriminator, x, Some(z0), Some(izi_scores))?
                }
            }
            (
                Networks::AlphaGan {
                    encoder,
                    generator,
                    discriminator,
                    code,
                },
                Method::Reconstruction,
            ) => alpha(encoder, generator, discriminator, code, x),
            (
                Networks::Squid {
                    autoencoder,
                    discriminator,
                },
                Method::Inpainting,
            ) => squid(autoencoder, discriminator, x),
            _ => {
                return Err(ScoreError::Unsupported(format!(
                    "scoring method {} does not apply to this model",
                    self.method.name()
                )));
            }
        };
        if let Some(reference) = self.reference() {
            for s in &mut batch.scores {
                let sum = reference
                    .components
                    .iter()
                    .map(|c| s.get(&c.name).map_or(f64::NAN, |v| c.z(v)))
                    .sum();
                s.components.push((COMBINED.to_string(), sum));
            }
        }
        if let Some(main) = &self.options.main {
            for s in &mut batch.scores {
                let value = s.get(main).unwrap_or(f64::NAN);
                // alpha-GAN's own score is already its `l1` component.
                if self.method != Method::Reconstruction {
                    s.components
                        .insert(0, (self.method.name().to_string(), s.score));
                }
                s.score = value;
            }
        }
        for (index, s) in batch.scores.iter().enumerate() {
            for (what, value) in std::iter::once(("score", s.score))
                .chain(s.components.iter().map(|(k, v)| (k.as_str(), *v)))
            {
                if !value.is_finite() {
                    return Err(ScoreError::NonFinite {
                        index,
                        what: what.to_string(),
                        value,
                    });
                }
            }
        }
        Ok(batch)
    }

    fn search(
        &self,
        g: &Generator,
        d: &Discriminator,
        x: Tensor<4>,
        warm: Option<Tensor<2>>,
        izi: Option<Vec<f64>>,
    ) -> Result<ScoredBatch> {
        let out = latent_search(g, d, x, warm, &self.options.search)?;
        let scores = out
            .results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut components = vec![
                    ("residual".to_string(), r.residual),
                    ("discrimination".to_string(), r.discrimination),
                ];
                if let Some(izi) = &izi {
                    components.push(("izi".to_string(), izi[i]));
                }
                Scores {
                    score: r.score,
                    components,
                }
            })
            .collect();
        Ok(ScoredBatch {
            scores,
            reconstructions: out.reconstructions,
        })
    }
}

/// `reference` when it was fitted with `method` on components `method` computes.
fn combined_reference(
    method: Method,
    reference: Option<&NormalReference>,
) -> Option<&NormalReference> {
    reference.filter(|r| {
        !method.combined_parts().is_empty()
            && r.method == method.name()
            && !r.components.is_empty()
            && r.components
                .iter()
                .all(|c| method.components().contains(&c.name.as_str()))
    })
}

/// Block means of `t` (`[B, C, N, N]`) over an 8 × 8 grid of `N/8`-pixel blocks: what is left of
/// an image at a coarse scale (mean intensity per region), without edges and texture.
fn coarse(t: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = t.dims();
    let (gh, gw) = (8.min(h), 8.min(w));
    let (kh, kw) = (h / gh, w / gw);
    t.reshape([b * c * gh, kh, gw, kw])
        .mean_dim(3)
        .mean_dim(1)
        .reshape([b, c, gh, gw])
}

/// Per image: mean (x − x̂)², its coarse counterpart on [`coarse`] block means, and its peak,
/// the largest mean (x − x̂)² of one [`coarse`] block (a focal finding — a fracture, a lesion,
/// a screw — that the image-wide mean dilutes).
fn residuals(x: &Tensor<4>, xh: &Tensor<4>) -> Residuals {
    let squared = (x.clone() - xh.clone()).powi_scalar(2);
    let b = squared.dims()[0];
    let peak = host(
        coarse(squared.clone())
            .reshape([b as i32, -1])
            .max_dim(1)
            .reshape([b]),
    );
    Residuals {
        pixel: host(per_image_mean(squared)),
        coarse: host(per_image_mean(
            (coarse(x.clone()) - coarse(xh.clone())).powi_scalar(2),
        )),
        peak,
    }
}

/// The residual components of a batch, one value per image.
struct Residuals {
    pixel: Vec<f64>,
    coarse: Vec<f64>,
    peak: Vec<f64>,
}

/// f-AnoGAN's izi score, with the discriminator's judgement and the coarse residual as
/// extra components.
fn izi(g: &Generator, d: &Discriminator, e: &Encoder, kappa: f64, x: Tensor<4>) -> ScoredBatch {
    let b = x.dims()[0];
    let xh = g.forward(e.forward(x.clone()));
    let r = residuals(&x, &xh);
    let (logit, fx) = d.forward(x);
    let feature = host(per_image_mean((fx - d.features(xh.clone())).powi_scalar(2)));
    // An image the discriminator finds unreal has a low logit: negated, as alpha-GAN's `d`.
    let d_score = host(logit.reshape([b]).neg());
    let scores = (0..b)
        .map(|i| Scores {
            score: r.pixel[i] + kappa * feature[i],
            components: vec![
                ("residual".into(), r.pixel[i]),
                ("feature".into(), feature[i]),
                ("d".into(), d_score[i]),
                ("residual_coarse".into(), r.coarse[i]),
                ("residual_peak".into(), r.peak[i]),
            ],
        })
        .collect();
    ScoredBatch {
        scores,
        reconstructions: xh,
    }
}

/// alpha-GAN's scores. The main score is the L1 reconstruction error.
fn alpha(
    e: &Encoder,
    g: &Generator,
    d: &ImageDiscriminator,
    c: &CodeDiscriminator,
    x: Tensor<4>,
) -> ScoredBatch {
    let b = x.dims()[0];
    let z = e.forward(x.clone());
    let xh = g.forward(z.clone());
    let diff = x.clone() - xh.clone();
    let l1 = host(per_image_mean(diff.clone().abs()));
    let l2 = host(per_image_mean(diff.powi_scalar(2)));
    let (logits, fx) = d.forward(x);
    let (_, fxh) = d.forward(xh.clone());
    let feature = host(per_image_mean((fx - fxh).powi_scalar(2)));
    // An image the discriminator finds unreal, a code the code discriminator finds unlike the
    // prior: both have low logits, so both enter negated.
    let d_score = host(logits.mean_dim(1).reshape([b]).neg());
    let c_score = host(c.forward(z).neg());
    let scores = (0..b)
        .map(|i| Scores {
            score: l1[i],
            components: vec![
                ("l1".into(), l1[i]),
                ("l2".into(), l2[i]),
                ("feature".into(), feature[i]),
                ("d".into(), d_score[i]),
                ("c".into(), c_score[i]),
            ],
        })
        .collect();
    ScoredBatch {
        scores,
        reconstructions: xh,
    }
}

/// SQUID's score, −D(x̂) of the in-painted reconstruction x̂ (a reconstruction the
/// discriminator finds unreal marks an anomaly), with the pixel and coarse residuals and the
/// discriminator's judgement of the image itself, −D(x), as components.
fn squid(model: &Squid, d: &Discriminator, x: Tensor<4>) -> ScoredBatch {
    let b = x.dims()[0];
    let xh = model.forward(x.clone());
    let r = residuals(&x, &xh);
    let (logit_rec, _) = d.forward(xh.clone());
    let (logit_x, _) = d.forward(x);
    let own = host(logit_rec.reshape([b]).neg());
    let d_score = host(logit_x.reshape([b]).neg());
    let scores = (0..b)
        .map(|i| Scores {
            score: own[i],
            components: vec![
                ("residual".into(), r.pixel[i]),
                ("residual_coarse".into(), r.coarse[i]),
                ("d".into(), d_score[i]),
                ("residual_peak".into(), r.peak[i]),
            ],
        })
        .collect();
    ScoredBatch {
        scores,
        reconstructions: xh,
    }
}
