//! Criterion benchmark of one DCGAN training step (G and D, batch 64, 64×64, the PyTorch
//! tutorial's networks) through `murgan-models`' trainer on the CPU backend.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use murgan_core::Device;
use murgan_core::models::nets::DcganConfig;
use murgan_core::models::train::{AnoGanConfig, AnoGanTrainer, TrainConfig, Trainer, TrainingSet};

fn bench(c: &mut Criterion) {
    murgan_core::tune_allocator();
    let (n, batch) = (64, 64);
    let images: Vec<Vec<f32>> = (0..batch)
        .map(|k| {
            (0..n * n)
                .map(|i| (((i * 7919 + k * 104_729) % 2001) as f32 / 1000.0) - 1.0)
                .collect()
        })
        .collect();
    let Ok(data) = TrainingSet::from_images(images, n) else {
        return;
    };
    let model = DcganConfig::new().with_image_size(n);
    let train = TrainConfig::new()
        .with_batch_size(batch)
        .with_iterations(usize::MAX);
    let Ok(mut trainer) = AnoGanTrainer::new(AnoGanConfig::new(model, train), &Device::flex())
    else {
        return;
    };
    let mut it = 0;
    let mut g = c.benchmark_group("train");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(50));
    g.bench_function("flex_dcgan_train_step_b64_64px", |b| {
        b.iter(|| {
            let losses = trainer.step(it, &data);
            it += 1;
            losses
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
