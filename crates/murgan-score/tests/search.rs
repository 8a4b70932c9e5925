//! The latent search and the scorers on tiny seeded networks.
#![allow(clippy::unwrap_used)]

use burn::module::{ModuleMapper, Param};
use burn::prelude::*;
use murgan_models::Networks;
use murgan_models::init::seeded;
use murgan_models::nets::{
    CodeDiscriminatorConfig, DcganConfig, Discriminator, EncoderConfig, Generator,
    ImageDiscriminator,
};
use murgan_score::{Method, ScoreError, Scorer, ScoringOptions, SearchConfig, latent_search};

const N: usize = 16;

fn shape() -> DcganConfig {
    DcganConfig::new()
        .with_image_size(N)
        .with_latent_dim(8)
        .with_gen_width(4)
        .with_disc_width(4)
}

/// Multiplies every weight of one rank: `Amplify(k, 4)` scales the convolution kernels (DCGAN's
/// N(0, 0.02) initial weights leave an untrained generator almost blind to its latent, which
/// would make the search trivially flat); `Amplify(k, 2)` the weight matrices of a fully
/// connected network (the code discriminator), so that its logits differ visibly between
/// images.
struct Amplify(f32, usize);

impl ModuleMapper for Amplify {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D == self.1 {
            let k = self.0;
            param.map(|t| t.mul_scalar(k))
        } else {
            param
        }
    }
}

fn nets(device: &Device) -> (Generator, Discriminator) {
    let s = shape();
    (
        seeded(s.init_generator(device).unwrap(), 1)
            .map(&mut Amplify(25.0, 4))
            .valid(),
        seeded(s.init_discriminator(device).unwrap(), 2)
            .map(&mut Amplify(25.0, 4))
            .valid(),
    )
}

/// `count` deterministic images in [-1, 1].
fn images(count: usize) -> Vec<Vec<f32>> {
    (0..count)
        .map(|k| {
            (0..N * N)
                .map(|i| (((i * 7 + k * 13) % 17) as f32 / 8.0 - 1.0) * 0.8)
                .collect()
        })
        .collect()
}

fn tensor(imgs: &[Vec<f32>], device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(imgs.concat(), [imgs.len(), 1, N, N]),
        device,
    )
}

/// The search's result for `img` searched on its own.
fn search_alone(
    g: &Generator,
    d: &Discriminator,
    img: &[f32],
    config: &SearchConfig,
) -> murgan_score::SearchResult {
    let x = tensor(&[img.to_vec()], &Device::flex());
    latent_search(g, d, x, None, config).unwrap().results[0]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn batched_search_equals_searching_each_image_alone() {
    let device = Device::flex();
    let (g, d) = nets(&device);
    let imgs = images(4);
    for config in [
        SearchConfig::default().with_iterations(25).with_restarts(2),
        // Early stopping takes images out of the batch at different steps.
        SearchConfig::default()
            .with_iterations(60)
            .with_early_stop(0.02, 5),
    ] {
        let batch = latent_search(&g, &d, tensor(&imgs, &device), None, &config).unwrap();
        assert_eq!(batch.results.len(), 4);
        assert_eq!(batch.reconstructions.dims(), [4, 1, N, N]);
        assert_eq!(batch.latents.dims(), [4, 8]);
        // Reverse order too: an image's result must not depend on its neighbours or place.
        let reversed: Vec<Vec<f32>> = imgs.iter().rev().cloned().collect();
        let rev = latent_search(&g, &d, tensor(&reversed, &device), None, &config).unwrap();
        for (i, img) in imgs.iter().enumerate() {
            let alone = search_alone(&g, &d, img, &config);
            let together = batch.results[i];
            for r in [together, rev.results[3 - i]] {
                assert!(close(r.score, alone.score), "image {i}: {r:?} vs {alone:?}");
                assert!(close(r.residual, alone.residual));
                assert!(close(r.discrimination, alone.discrimination));
                assert_eq!((r.steps, r.restart), (alone.steps, alone.restart));
            }
        }
    }
}

/// Eval-mode outputs of G and D on fixed inputs: they change if the running statistics do.
fn eval_outputs(g: &Generator, d: &Discriminator) -> Vec<f32> {
    let device = Device::flex();
    let z = Tensor::<2>::from_data(
        TensorData::new((0..16).map(|i| (i as f32 * 0.37).sin()).collect(), [2, 8]),
        &device,
    );
    let (g, d) = (g.valid(), d.valid());
    let x = g.forward(z);
    let (logit, _) = d.forward(x.clone());
    let mut v: Vec<f32> = x.into_data().convert::<f32>().try_into_vec().unwrap();
    v.extend(
        logit
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap(),
    );
    v
}

#[test]
fn training_mode_networks_are_searched_and_scored_in_eval_mode() {
    // Networks as a trainer holds them: on the autodiff device, BatchNorm in training mode.
    let ad = Device::flex().autodiff();
    let s = shape();
    let g = seeded(s.init_generator(&ad).unwrap(), 1).map(&mut Amplify(25.0, 4));
    let d = seeded(s.init_discriminator(&ad).unwrap(), 2).map(&mut Amplify(25.0, 4));
    let before = eval_outputs(&g, &d);
    let device = Device::flex();
    let imgs = images(3);
    let config = SearchConfig::default().with_iterations(15);
    let batch = latent_search(&g, &d, tensor(&imgs, &device), None, &config).unwrap();
    // Batch statistics would make each image's result depend on the others.
    for (i, img) in imgs.iter().enumerate() {
        let alone = search_alone(&g, &d, img, &config);
        assert!(
            close(batch.results[i].score, alone.score),
            "image {i}: {:?} vs {alone:?}",
            batch.results[i]
        );
    }
    // The same results as with the networks put in eval mode by the caller.
    let (gv, dv) = (g.valid(), d.valid());
    let eval = latent_search(&gv, &dv, tensor(&imgs, &device), None, &config).unwrap();
    for (a, b) in batch.results.iter().zip(&eval.results) {
        assert!(close(a.score, b.score), "{a:?} vs {b:?}");
    }

    // The Scorer, given training-mode networks, scores images independently as well.
    let scorer = Scorer::new(
        Networks::AnoGan {
            generator: g.clone(),
            discriminator: d.clone(),
        },
        ScoringOptions {
            method: None,
            search: config.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let together = scorer.score(tensor(&imgs, &device)).unwrap().scores;
    let first = scorer.score(tensor(&imgs[..1], &device)).unwrap().scores;
    assert!(close(together[0].score, first[0].score));
    // Nothing wrote new running statistics into the networks.
    assert_eq!(eval_outputs(&g, &d), before);
}

#[test]
fn search_lowers_the_loss_and_scores_are_finite() {
    let device = Device::flex();
    let (g, d) = nets(&device);
    let config = SearchConfig::default().with_iterations(40);
    let out = latent_search(&g, &d, tensor(&images(3), &device), None, &config).unwrap();
    for r in &out.results {
        assert!(r.score.is_finite() && r.residual.is_finite() && r.discrimination.is_finite());
        assert!(r.score < r.initial_score * 0.99, "{r:?}");
        assert_eq!(r.steps, 40);
        let expected = 0.9 * r.residual + 0.1 * r.discrimination;
        assert!(close(r.score, expected), "{r:?}");
    }
    // More steps search further.
    let longer = latent_search(
        &g,
        &d,
        tensor(&images(3), &device),
        None,
        &config.clone().with_iterations(120),
    )
    .unwrap();
    let sum = |o: &murgan_score::SearchOutput| o.results.iter().map(|r| r.score).sum::<f64>();
    assert!(sum(&longer) < sum(&out));
}

#[test]
fn early_stopping_stops_and_warm_start_is_used() {
    let device = Device::flex();
    let (g, d) = nets(&device);
    let x = tensor(&images(2), &device);
    let stop = SearchConfig::default()
        .with_iterations(400)
        .with_early_stop(0.05, 10);
    let out = latent_search(&g, &d, x.clone(), None, &stop).unwrap();
    assert!(
        out.results.iter().all(|r| r.steps < 400),
        "{:?}",
        out.results
    );

    // Zero steps from a warm start: the score is the loss at the warm start itself.
    let z0 = Tensor::<2>::from_data(TensorData::new(vec![0.3f32; 16], [2, 8]), &device);
    let zero = SearchConfig::default().with_iterations(0);
    let warm = latent_search(&g, &d, x.clone(), Some(z0.clone()), &zero).unwrap();
    let latents: Vec<f32> = warm
        .latents
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap();
    assert!(latents.iter().all(|v| (v - 0.3).abs() < 1e-6));
    assert_eq!(warm.results[0].steps, 0);

    let bad = Tensor::<2>::zeros([3, 8], &device);
    assert!(matches!(
        latent_search(&g, &d, x.clone(), Some(bad), &zero),
        Err(ScoreError::Shape(_))
    ));
    for config in [
        SearchConfig::default().with_restarts(0),
        SearchConfig {
            lambda: 1.5,
            ..Default::default()
        },
        SearchConfig {
            lr: f64::NAN,
            ..Default::default()
        },
        SearchConfig::default().with_early_stop(0.1, 0),
    ] {
        assert!(matches!(
            latent_search(&g, &d, x.clone(), None, &config),
            Err(ScoreError::InvalidConfig(_))
        ));
    }
}

#[test]
fn scorers_report_their_components_with_fixed_directions() {
    let device = Device::flex();
    let s = shape();
    let encoder = |bounded| {
        seeded(
            EncoderConfig::new()
                .with_image_size(N)
                .with_latent_dim(8)
                .with_width(4)
                .with_bounded(bounded)
                .init(&device)
                .unwrap(),
            3,
        )
        .valid()
    };
    let (g, d) = nets(&device);
    let x = tensor(&images(2), &device);

    // f-AnoGAN izi: score = residual + κ·feature.
    let fano = Networks::FAnoGan {
        generator: g.clone(),
        discriminator: d.clone(),
        encoder: Some(encoder(true)),
        kappa: 2.0,
    };
    let scorer = Scorer::new(fano.clone(), ScoringOptions::default()).unwrap();
    assert_eq!(scorer.method(), Method::Izi);
    let out = scorer.score(x.clone()).unwrap();
    let (logit, _) = d.forward(x.clone());
    let logit: Vec<f32> = logit.into_data().convert::<f32>().try_into_vec().unwrap();
    let xs: Vec<f32> = x
        .clone()
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap();
    let xh: Vec<f32> = out
        .reconstructions
        .clone()
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap();
    for (i, sc) in out.scores.iter().enumerate() {
        let (r, f) = (sc.get("residual").unwrap(), sc.get("feature").unwrap());
        assert!(close(sc.score, r + 2.0 * f), "{sc:?}");
        assert!(close(sc.get("d").unwrap(), -f64::from(logit[i])));
        // 8 × 8 blocks of 2 × 2 pixels at N = 16.
        let block = |v: &[f32], by: usize, bx: usize| {
            let at = |y: usize, x: usize| f64::from(v[i * N * N + y * N + x]);
            (at(2 * by, 2 * bx)
                + at(2 * by, 2 * bx + 1)
                + at(2 * by + 1, 2 * bx)
                + at(2 * by + 1, 2 * bx + 1))
                / 4.0
        };
        let squared: Vec<f32> = xs.iter().zip(&xh).map(|(a, b)| (a - b) * (a - b)).collect();
        let (mut coarse, mut peak) = (0.0, 0.0f64);
        for by in 0..8 {
            for bx in 0..8 {
                coarse += (block(&xs, by, bx) - block(&xh, by, bx)).powi(2) / 64.0;
                peak = peak.max(block(&squared, by, bx));
            }
        }
        assert!(
            close(sc.get("residual_coarse").unwrap(), coarse),
            "{sc:?} vs {coarse}"
        );
        // The peak: the largest block mean of (x − x̂)², above the image-wide mean.
        assert!(
            close(sc.get("residual_peak").unwrap(), peak),
            "{sc:?} vs {peak}"
        );
        assert!(peak > r, "{peak} vs {r}");
    }
    // Scoring is deterministic.
    assert_eq!(scorer.score(x.clone()).unwrap().scores, out.scores);

    // A declared main component: the score is `d`, the izi score a component named `izi`.
    let judged = Scorer::new(
        fano.clone(),
        ScoringOptions {
            main: Some("d".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        judged.component_names(),
        [
            "izi",
            "residual",
            "feature",
            "d",
            "residual_coarse",
            "residual_peak"
        ]
    );
    let by_d = judged.score(x.clone()).unwrap();
    for (j, plain) in by_d.scores.iter().zip(&out.scores) {
        assert_eq!(j.score, plain.get("d").unwrap());
        assert_eq!(j.get("izi").unwrap(), plain.score);
        assert_eq!(j.get("residual"), plain.get("residual"));
    }
    // A main score the method does not compute is refused, naming what it has.
    let err = Scorer::new(
        fano.clone(),
        ScoringOptions {
            main: Some("c".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"c\"") && err.contains("residual_coarse"),
        "{err}"
    );

    // izi-search: the search starts at E(x); the izi score is kept as a component.
    let options = ScoringOptions {
        method: Some(Method::IziSearch),
        search: SearchConfig::default().with_iterations(10),
        ..Default::default()
    };
    let refined = Scorer::new(fano, options)
        .unwrap()
        .score(x.clone())
        .unwrap();
    assert_eq!(
        refined.scores[0]
            .components
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["residual", "discrimination", "izi"]
    );
    assert!(close(
        refined.scores[1].get("izi").unwrap(),
        out.scores[1].score
    ));

    // alpha-GAN: the main score is L1; D and C enter negated.
    let alpha = Networks::AlphaGan {
        encoder: encoder(false),
        generator: g.clone(),
        discriminator: ImageDiscriminator::Dcgan(d.clone()),
        code: seeded(
            CodeDiscriminatorConfig::new()
                .with_latent_dim(8)
                .with_hidden(8)
                .init(&device)
                .unwrap(),
            4,
        )
        .map(&mut Amplify(100.0, 2))
        .valid(),
    };
    let scorer = Scorer::new(alpha.clone(), ScoringOptions::default()).unwrap();
    assert_eq!(scorer.component_names(), ["l1", "l2", "feature", "d", "c"]);
    let out = scorer.score(x.clone()).unwrap();
    // Every component recomputed from the networks: L1 and L2 per image, D and C negated.
    let Networks::AlphaGan { encoder, code, .. } = &alpha else {
        unreachable!()
    };
    let host = |t: Tensor<1>| -> Vec<f64> {
        let v: Vec<f32> = t.into_data().convert::<f32>().try_into_vec().unwrap();
        v.into_iter().map(f64::from).collect()
    };
    let z = encoder.forward(x.clone());
    let diff = (x.clone() - g.forward(z.clone())).flatten::<2>(1, 3);
    let l1 = host(diff.clone().abs().mean_dim(1).reshape([2]));
    let l2 = host(diff.powi_scalar(2).mean_dim(1).reshape([2]));
    let (logit, _) = d.forward(x.clone());
    let logit = host(logit);
    let c_logit = host(code.forward(z));
    for (i, sc) in out.scores.iter().enumerate() {
        assert_eq!(sc.score, sc.get("l1").unwrap());
        assert!(
            close(sc.get("l1").unwrap(), l1[i]),
            "{sc:?} vs L1 {}",
            l1[i]
        );
        assert!(
            close(sc.get("l2").unwrap(), l2[i]),
            "{sc:?} vs L2 {}",
            l2[i]
        );
        // A code the code discriminator finds prior-like (high logit) is normal: low score.
        assert!(close(sc.get("d").unwrap(), -logit[i]));
        assert!(close(sc.get("c").unwrap(), -c_logit[i]));
    }
    // The two images differ, so a swapped or constant component would show.
    assert!((l1[0] - l1[1]).abs() > 1e-6, "{l1:?}");
    // Large enough that a flipped sign would exceed `close`'s tolerance.
    assert!((c_logit[0] - c_logit[1]).abs() > 1e-3, "{c_logit:?}");
    assert!(c_logit.iter().all(|c| c.abs() > 1e-3), "{c_logit:?}");

    // Wrong method, untrained encoder, wrong image size: clear errors.
    let ano = Networks::AnoGan {
        generator: g.clone(),
        discriminator: d.clone(),
    };
    let izi = ScoringOptions {
        method: Some(Method::Izi),
        ..Default::default()
    };
    assert!(matches!(
        Scorer::new(ano.clone(), izi.clone()),
        Err(ScoreError::Unsupported(_))
    ));
    let early = Networks::FAnoGan {
        generator: g,
        discriminator: d,
        encoder: None,
        kappa: 1.0,
    };
    let err = Scorer::new(early, izi).unwrap_err().to_string();
    assert!(err.contains("not trained yet"), "{err}");
    let scorer = Scorer::new(ano, ScoringOptions::default()).unwrap();
    assert!(matches!(
        scorer.score(Tensor::zeros([1, 1, 32, 32], &device)),
        Err(ScoreError::Shape(_))
    ));
    let _ = s;
}
