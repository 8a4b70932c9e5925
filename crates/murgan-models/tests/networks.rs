//! Output shapes of every network at 64 and 128, and the discriminator's feature map.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use burn::prelude::*;
use murgan_models::nets::{
    CodeDiscriminatorConfig, DcganConfig, EncoderConfig, PatchConfig, stages,
};

#[test]
fn shapes_at_64_and_128() {
    let device = Device::flex();
    for n in [64usize, 128] {
        let cfg = DcganConfig::new()
            .with_image_size(n)
            .with_latent_dim(10)
            .with_gen_width(2)
            .with_disc_width(2);
        let g = cfg.init_generator(&device).unwrap();
        let d = cfg.init_discriminator(&device).unwrap();
        let x = g.forward(Tensor::random(
            [3, 10],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        ));
        assert_eq!(x.dims(), [3, 1, n, n]);
        let v: Vec<f32> = x
            .clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .unwrap();
        assert!(v.iter().all(|p| p.is_finite()));
        // The last activation is tanh: a huge latent (the layers before it are positively
        // homogeneous, and a fresh BatchNorm in eval mode is an identity) drives it into saturation at
        // both ends and never beyond. A missing or one-sided activation fails here.
        let far: Vec<f32> = cfg
            .init_generator(&device)
            .unwrap()
            .valid()
            .forward(
                Tensor::random(
                    [3, 10],
                    burn::tensor::Distribution::Normal(0.0, 1.0),
                    &device,
                )
                .mul_scalar(1e10),
            )
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .unwrap();
        let (lo, hi) = far
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &p| (l.min(p), h.max(p)));
        assert!(lo >= -1.0 && hi <= 1.0, "outside tanh's range: {lo} {hi}");
        assert!(lo < -0.99 && hi > 0.99, "not saturated: {lo} {hi}");
        let (logit, f) = d.forward(x.clone());
        assert_eq!(logit.dims(), [3]);
        // Last hidden layer: width · 2^(log2(N) − 3) channels at 4×4.
        let ch = 2 << (stages(n).unwrap() - 1);
        assert_eq!(f.dims(), [3, ch, 4, 4]);
        assert_eq!(cfg.feature_channels(), ch);
        let e = EncoderConfig::new()
            .with_image_size(n)
            .with_latent_dim(10)
            .with_width(2)
            .with_bounded(true)
            .init(&device)
            .unwrap();
        let z = e.forward(x.clone());
        assert_eq!(z.dims(), [3, 10]);
        let zv: Vec<f32> = z.into_data().convert::<f32>().try_into_vec().unwrap();
        assert!(zv.iter().all(|p| p.abs() < 1.0), "bounded codes");
        let p = PatchConfig::new().with_width(2).init(&device).unwrap();
        let (patches, pf) = p.forward(x);
        // n → n/2 → n/4 → n/8 → n/8 − 1 → n/8 − 2 patches a side.
        let side = n / 8 - 2;
        assert_eq!(patches.dims(), [3, side * side]);
        assert_eq!(pf.dims(), [3, 16, n / 8 - 1, n / 8 - 1]);
    }
    let c = CodeDiscriminatorConfig::new()
        .with_latent_dim(10)
        .with_hidden(8)
        .init(&device)
        .unwrap();
    assert_eq!(c.forward(Tensor::zeros([5, 10], &device)).dims(), [5]);
}

#[test]
fn bad_shapes_are_refused() {
    let device = Device::flex();
    for n in [0usize, 8, 48, 100] {
        assert!(
            DcganConfig::new()
                .with_image_size(n)
                .init_generator(&device)
                .is_err(),
            "{n}"
        );
    }
    assert!(
        DcganConfig::new()
            .with_latent_dim(0)
            .init_generator(&device)
            .is_err()
    );
    assert!(
        CodeDiscriminatorConfig::new()
            .with_layers(0)
            .init(&device)
            .is_err()
    );
}

/// Every float the module holds (weights and BatchNorm running statistics), in visiting order.
fn floats<M: burn::module::Module>(module: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let v = param.val().into_data().convert::<f32>().try_to_vec::<f32>();
            self.0.push(v.unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

#[test]
fn a_discriminator_held_constant_still_counts_the_batch_into_its_statistics() {
    // The trainers run D without weight gradients in the generator's update
    // (`d.clone().no_grad()`); its BatchNorm must still update the running statistics of the D
    // being trained, exactly as the tracked D would.
    let device = Device::flex().autodiff();
    let cfg = DcganConfig::new()
        .with_image_size(16)
        .with_latent_dim(4)
        .with_gen_width(2)
        .with_disc_width(4);
    let x = Tensor::<4>::random(
        [3, 1, 16, 16],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let tracked = cfg.init_discriminator(&device).unwrap();
    // The same weights and statistics in storage of its own (a clone would share them).
    let fresh = cfg
        .init_discriminator(&device)
        .unwrap()
        .load_record(tracked.clone().into_record());
    let constant = tracked.clone().no_grad();
    let before = floats(&tracked);
    // A running-statistics update becomes visible at the next forward pass (Burn syncs it
    // there), so each side runs two.
    let _ = constant.forward(x.clone());
    let _ = tracked.forward(x.clone());
    let after_constant = floats(&tracked);
    assert_ne!(
        before, after_constant,
        "the running statistics did not move"
    );

    assert_eq!(floats(&fresh), before);
    let _ = fresh.forward(x.clone());
    let _ = fresh.forward(x);
    assert_eq!(floats(&fresh), after_constant);
}
