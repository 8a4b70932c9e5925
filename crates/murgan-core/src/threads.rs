//! Where compute-heavy work runs on the CPU backend.

/// Runs `work` on a worker thread of a fresh rayon pool with the default number of threads (one
/// per core), and returns what it returns.
///
/// Burn's CPU backend and murgan's kernels hand their parallel parts to rayon. Called from an
/// ordinary thread (a program's `main`), that thread sleeps while the pool's workers compute,
/// but between parallel parts it runs the serial ones (element-wise operations on small
/// tensors, the optimiser, autodiff bookkeeping) while the workers spin looking for work: three
/// busy threads on two cores. On a worker, the caller is one of the pool's threads. On the
/// 2-core VM a main-job category (four trainings) took 19 % less and a SQUID training step 3–10 %
/// less, while izi scoring got slower (docs/performance.md), so only training is run this way.
/// The results are the same either way (the main job's table, to the last digit). Runs `work` on
/// the calling thread if the pool cannot be built.
pub fn in_compute_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("murgan-compute-{i}"))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_worker_of_a_pool_as_wide_as_the_default()
    -> Result<(), rayon::ThreadPoolBuildError> {
        let default_width = rayon::ThreadPoolBuilder::new()
            .build()?
            .current_num_threads();
        let (worker, width, value) = in_compute_pool(|| {
            (
                rayon::current_thread_index(),
                rayon::current_num_threads(),
                6 * 7,
            )
        });
        assert!(worker.is_some(), "not run on a pool worker");
        assert_eq!(width, default_width);
        assert_eq!(value, 42);
        // The caller itself is no worker.
        assert_eq!(rayon::current_thread_index(), None);
        Ok(())
    }
}
