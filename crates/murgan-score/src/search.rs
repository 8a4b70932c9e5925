//! AnoGAN's latent search (Schlegl et al. 2017): for each image x, find the latent z whose
//! generated image G(z) is closest to x, minimising
//!
//! `L(z) = (1 − λ)·Σ|x − G(z)| + λ·Σ|f(x) − f(G(z))|`
//!
//! (f = the discriminator's last hidden feature map) by Adam steps on z alone: the networks
//! are frozen and in eval mode. The anomaly score is L at the final z; its residual and
//! discrimination parts are reported too.
//!
//! Many images are searched together, stacked in one tensor, and every image's result is the
//! one it would get searched alone: the loss is a sum of per-image terms, the networks are in
//! eval mode (BatchNorm uses its running statistics, so images do not mix), Adam is elementwise,
//! every image starts from the same seeded latents whatever the batch, and an image that stops
//! early is taken out of the batch. f(x) is computed once per image.

use burn::module::Module;
use burn::prelude::*;
use murgan_models::nets::{Discriminator, Generator};
use murgan_models::noise::normal_noise;
use serde::{Deserialize, Serialize};

use crate::{Result, ScoreError};

/// Settings of the latent search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchConfig {
    /// Adam steps per image (the paper used 500).
    pub iterations: usize,
    /// Adam step size on z.
    pub lr: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε.
    pub epsilon: f64,
    /// Weight λ of the discrimination (feature) loss.
    pub lambda: f64,
    /// Independent searches per image from different starting latents; the lowest final loss
    /// wins. With a warm start, the first search starts from it.
    pub restarts: usize,
    /// Early stopping: an image stops when its loss fell by less than this fraction over the
    /// last `patience` steps (0: always run every step).
    pub tolerance: f64,
    /// Steps between early-stopping checks.
    pub patience: usize,
    /// Seed of the starting latents.
    pub seed: u64,
}

impl Default for SearchConfig {
    /// 500 Adam steps of size 0.05 (β = 0.9, 0.999), λ = 0.1, one start, no early stopping.
    fn default() -> Self {
        Self {
            iterations: 500,
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            lambda: 0.1,
            restarts: 1,
            tolerance: 0.0,
            patience: 20,
            seed: 0,
        }
    }
}

impl SearchConfig {
    /// Sets the number of steps.
    pub fn with_iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Sets the number of restarts.
    pub fn with_restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Sets early stopping: relative `tolerance` over `patience` steps.
    pub fn with_early_stop(mut self, tolerance: f64, patience: usize) -> Self {
        self.tolerance = tolerance;
        self.patience = patience;
        self
    }

    /// Sets the seed of the starting latents.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ScoreError::InvalidConfig(m));
        if self.restarts == 0 {
            return bad("restarts must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("search step size {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("Adam betas must be in [0, 1)".into());
        }
        if self.epsilon.is_nan() || self.epsilon <= 0.0 {
            return bad("Adam epsilon must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return bad(format!("lambda {} not in [0, 1]", self.lambda));
        }
        if !(0.0..1.0).contains(&self.tolerance) || (self.tolerance > 0.0 && self.patience == 0) {
            return bad("tolerance must be in [0, 1) with a positive patience".into());
        }
        Ok(())
    }
}

/// The search's outcome for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchResult {
    /// The anomaly score: the loss at the final latent.
    pub score: f64,
    /// Σ|x − G(z)| at the final latent.
    pub residual: f64,
    /// Σ|f(x) − f(G(z))| at the final latent.
    pub discrimination: f64,
    /// The loss at the starting latent of the winning restart.
    pub initial_score: f64,
    /// Adam steps taken by the winning restart.
    pub steps: usize,
    /// Which restart won (0 = the warm start, if any).
    pub restart: usize,
}

/// The search's outcome for a batch.
#[derive(Debug, Clone)]
pub struct SearchOutput {
    /// One result per image, in input order.
    pub results: Vec<SearchResult>,
    /// The winning latents `[B, Z]`.
    pub latents: Tensor<2>,
    /// G of the winning latents `[B, 1, N, N]` (the reconstructions).
    pub reconstructions: Tensor<4>,
}

/// Per-row residual, discrimination and loss of latents `z` against images `x` with features `fx`.
fn losses(
    g: &Generator,
    d: &Discriminator,
    x: Tensor<4>,
    fx: Tensor<4>,
    z: Tensor<2>,
    lambda: f64,
) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<4>) {
    let rows = z.dims()[0];
    let xh = g.forward(z);
    let residual = (x - xh.clone())
        .abs()
        .flatten::<2>(1, 3)
        .sum_dim(1)
        .reshape([rows]);
    let discrimination = (fx - d.features(xh.clone()))
        .abs()
        .flatten::<2>(1, 3)
        .sum_dim(1)
        .reshape([rows]);
    let loss =
        residual.clone().mul_scalar(1.0 - lambda) + discrimination.clone().mul_scalar(lambda);
    (residual, discrimination, loss, xh)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap_or_default()
}

/// Rows `keep` of a host matrix with `width` columns.
fn gather(data: &[f32], width: usize, keep: &[usize]) -> Vec<f32> {
    keep.iter()
        .flat_map(|&r| data[r * width..(r + 1) * width].iter().copied())
        .collect()
}

/// Searches latents for the images `x` (`[B, 1, N, N]`, values in [-1, 1]). `warm_start`
/// (`[B, Z]`, e.g. an izi encoder's codes) is the first restart's starting point; the others
/// start from seeded N(0, I) draws shared by every image.
///
/// `g` and `d` are used in eval mode whatever mode they come in ([`Module::valid`] is applied
/// here): BatchNorm normalises with its running statistics, so images never affect each other's
/// results, and the networks' weights and statistics stay untouched.
pub fn latent_search(
    g: &Generator,
    d: &Discriminator,
    x: Tensor<4>,
    warm_start: Option<Tensor<2>>,
    config: &SearchConfig,
) -> Result<SearchOutput> {
    config.validate()?;
    let (g, d) = (&g.valid(), &d.valid());
    let device = x.device().inner();
    let x = x.inner();
    let [b, c, h, w] = x.dims();
    if b == 0 {
        return Err(ScoreError::Shape("empty batch".into()));
    }
    let zdim = g.latent_dim();
    let restarts = config.restarts;
    let rows = b * restarts;

    // Starting latents, restart-major: row = r·B + i.
    let mut z0 = Vec::with_capacity(rows * zdim);
    for r in 0..restarts {
        match (&warm_start, r) {
            (Some(ws), 0) => {
                if ws.dims() != [b, zdim] {
                    return Err(ScoreError::Shape(format!(
                        "warm start of shape {:?}, expected [{b}, {zdim}]",
                        ws.dims()
                    )));
                }
                z0.extend(to_vec(ws.clone().inner()));
            }
            _ => {
                let draw = to_vec(normal_noise(config.seed, r, 11, 1, zdim, &device));
                for _ in 0..b {
                    z0.extend_from_slice(&draw);
                }
            }
        }
    }

    // The constant side: images and their features, computed once, as host rows.
    let fx = d.features(x.clone());
    let fdims = fx.dims();
    let (xw, fw) = (c * h * w, fdims[1] * fdims[2] * fdims[3]);
    let x_host = to_vec(x);
    let fx_host = to_vec(fx);
    let row_x = |r: usize| &x_host[(r % b) * xw..(r % b + 1) * xw];
    let row_f = |r: usize| &fx_host[(r % b) * fw..(r % b + 1) * fw];

    let mut final_z: Vec<Vec<f32>> = vec![Vec::new(); rows];
    let mut steps = vec![config.iterations; rows];
    let mut initial = vec![f64::NAN; rows];
    let mut active: Vec<usize> = (0..rows).collect();

    let build = |active: &[usize]| {
        let n = active.len();
        let xs: Vec<f32> = active
            .iter()
            .flat_map(|&r| row_x(r).iter().copied())
            .collect();
        let fs: Vec<f32> = active
            .iter()
            .flat_map(|&r| row_f(r).iter().copied())
            .collect();
        (
            Tensor::<4>::from_data(TensorData::new(xs, [n, c, h, w]), &device).autodiff(),
            Tensor::<4>::from_data(
                TensorData::new(fs, [n, fdims[1], fdims[2], fdims[3]]),
                &device,
            )
            .autodiff(),
        )
    };
    let (mut xt, mut ft) = build(&active);
    let mut z = Tensor::<2>::from_data(TensorData::new(z0.clone(), [rows, zdim]), &device);
    let mut m = Tensor::<2>::zeros([rows, zdim], &device);
    let mut v = Tensor::<2>::zeros([rows, zdim], &device);
    let mut last_check: Vec<f64> = Vec::new();
    let (b1, b2) = (config.beta1, config.beta2);

    for step in 0..config.iterations {
        let zg = z.clone().autodiff().require_grad();
        let (_, _, loss, _) = losses(g, d, xt.clone(), ft.clone(), zg.clone(), config.lambda);
        let check = step == 0 || (config.tolerance > 0.0 && step % config.patience == 0);
        let seen = check.then(|| to_vec(loss.clone().inner()));
        let grads = loss.sum().backward();
        let grad = zg
            .grad(&grads)
            .ok_or_else(|| ScoreError::Unsupported("no gradient reached the latent".into()))?;

        // Adam on z (PyTorch's formulation).
        let t = (step + 1) as i32;
        m = m.mul_scalar(b1) + grad.clone().mul_scalar(1.0 - b1);
        v = v.mul_scalar(b2) + grad.powi_scalar(2).mul_scalar(1.0 - b2);
        let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let denom = v.clone().div_scalar(bc2).sqrt().add_scalar(config.epsilon);
        z = z - m.clone().div(denom).mul_scalar(config.lr / bc1);

        let Some(seen) = seen else { continue };
        if step == 0 {
            for (&r, &l) in active.iter().zip(&seen) {
                initial[r] = l as f64;
            }
        }
        if config.tolerance > 0.0 && step > 0 {
            // `seen` is the loss before this step's update: compare with the previous check.
            let keep: Vec<usize> = (0..active.len())
                .filter(|&k| {
                    let (prev, now) = (last_check[k], seen[k] as f64);
                    prev - now >= config.tolerance * prev.abs()
                })
                .collect();
            if keep.len() < active.len() {
                let z_host = to_vec(z.clone());
                for k in (0..active.len()).filter(|k| !keep.contains(k)) {
                    let r = active[k];
                    final_z[r] = z_host[k * zdim..(k + 1) * zdim].to_vec();
                    steps[r] = step + 1;
                }
                if keep.is_empty() {
                    active.clear();
                    break;
                }
                let rebuild = |t: Tensor<2>| {
                    let host = to_vec(t);
                    Tensor::<2>::from_data(
                        TensorData::new(gather(&host, zdim, &keep), [keep.len(), zdim]),
                        &device,
                    )
                };
                z = Tensor::from_data(
                    TensorData::new(gather(&z_host, zdim, &keep), [keep.len(), zdim]),
                    &device,
                );
                m = rebuild(m);
                v = rebuild(v);
                active = keep.iter().map(|&k| active[k]).collect();
                (xt, ft) = build(&active);
                last_check = keep.iter().map(|&k| seen[k] as f64).collect();
                continue;
            }
        }
        last_check = seen.iter().map(|&l| l as f64).collect();
    }
    if !active.is_empty() {
        let z_host = to_vec(z);
        for (k, &r) in active.iter().enumerate() {
            final_z[r] = z_host[k * zdim..(k + 1) * zdim].to_vec();
        }
    }
    if config.iterations == 0 {
        final_z = z0.chunks(zdim).map(<[f32]>::to_vec).collect();
    }

    // Final losses of every row, then the best restart per image.
    let all: Vec<usize> = (0..rows).collect();
    let (xa, fa) = build(&all);
    let zf = Tensor::<2>::from_data(TensorData::new(final_z.concat(), [rows, zdim]), &device);
    let (res, dis, loss, xh) = losses(g, d, xa.inner(), fa.inner(), zf.clone(), config.lambda);
    let (res, dis, loss) = (to_vec(res), to_vec(dis), to_vec(loss));
    let xh_host = to_vec(xh);
    let mut results = Vec::with_capacity(b);
    let (mut best_z, mut best_x) = (Vec::new(), Vec::new());
    for i in 0..b {
        let r = (0..restarts)
            .map(|k| k * b + i)
            .min_by(|&p, &q| loss[p].total_cmp(&loss[q]))
            .unwrap_or(i);
        for (what, value) in [
            ("score", loss[r]),
            ("residual", res[r]),
            ("discrimination", dis[r]),
        ] {
            if !value.is_finite() {
                return Err(ScoreError::NonFinite {
                    index: i,
                    what: what.into(),
                    value: value as f64,
                });
            }
        }
        if initial[r].is_nan() {
            initial[r] = loss[r] as f64;
        }
        results.push(SearchResult {
            score: loss[r] as f64,
            residual: res[r] as f64,
            discrimination: dis[r] as f64,
            initial_score: initial[r],
            steps: if config.iterations == 0 { 0 } else { steps[r] },
            restart: r / b,
        });
        best_z.extend_from_slice(&final_z[r]);
        best_x.extend_from_slice(&xh_host[r * xw..(r + 1) * xw]);
    }
    Ok(SearchOutput {
        results,
        latents: Tensor::from_data(TensorData::new(best_z, [b, zdim]), &device),
        reconstructions: Tensor::from_data(TensorData::new(best_x, [b, c, h, w]), &device),
    })
}
