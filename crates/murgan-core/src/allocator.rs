//! Process-wide tuning of the C allocator for tensor work on the CPU.
//!
//! Burn's `flex` backend allocates a fresh buffer for almost every operation, many of them
//! megabytes large. glibc's malloc serves such blocks with `mmap` and returns them with
//! `munmap`, so each step of a latent search or a training loop maps, zero-fills (page faults)
//! and unmaps the same few hundred megabytes again, and every unmap stops the other threads to
//! flush their TLBs. Keeping freed blocks in the heap removes that churn; the peak resident
//! memory stays the same because the same sizes are reused (measured in docs/performance.md).

/// Keeps large freed blocks in the process instead of returning them to the OS (glibc on
/// Linux: `M_MMAP_THRESHOLD` at its 32 MiB maximum, no trimming of the heap top). Call it once,
/// best at the start of `main`; it changes the whole process, which is why the library never
/// calls it by itself. Returns whether the settings were applied (`false`
/// on other C libraries and systems, where it does nothing).
pub fn tune_allocator() -> bool {
    imp::tune()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    /// glibc accepts thresholds up to half its heap size, 32 MiB on 64-bit systems.
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;

    pub fn tune() -> bool {
        // SAFETY: mallopt only changes allocator parameters; it takes the allocator's own lock
        // and has no memory-safety preconditions.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn tune() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn applies_on_glibc_linux_and_allocation_still_works() {
        let linux_gnu = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(super::tune_allocator(), linux_gnu);
        // Freed blocks above the old threshold are reused, not lost.
        for k in 1..4u8 {
            let v = vec![k; 48 << 20];
            assert_eq!(v[v.len() - 1], k);
        }
    }
}
