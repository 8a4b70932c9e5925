//! Criterion benchmarks of the metrics murgan computes on every evaluation: exact ROC-AUC,
//! average precision and the bootstrap CI, on 40,000 scores (the size of MURA).

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use murgan_core::metrics::{average_precision, bootstrap_auc_ci, roc_auc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn inputs(n: usize) -> (Vec<bool>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let labels: Vec<bool> = (0..n).map(|_| rng.random_bool(0.4)).collect();
    let scores = labels
        .iter()
        .map(|&l| rng.random::<f64>() + if l { 0.3 } else { 0.0 })
        .collect();
    (labels, scores)
}

fn bench(c: &mut Criterion) {
    let (labels, scores) = inputs(40_000);
    c.bench_function("cpu_roc_auc_40k", |b| b.iter(|| roc_auc(&labels, &scores)));
    c.bench_function("cpu_average_precision_40k", |b| {
        b.iter(|| average_precision(&labels, &scores))
    });
    let (l2, s2) = inputs(2_000);
    let mut g = c.benchmark_group("bootstrap");
    g.sample_size(10);
    g.bench_function("cpu_bootstrap_auc_ci_2k_x200", |b| {
        b.iter(|| bootstrap_auc_ci(&l2, &s2, 200, 0.95, 0))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
