//! Process-wide settings for command-line programs built on murgan.

/// Makes writing to a closed pipe end the process quietly, as it does for other Unix tools
/// (`murgan evaluate ... | head`), instead of Rust's default of ignoring `SIGPIPE`, which turns
/// the failed write into a panic inside `println!`. For binaries, at the start of `main`; it
/// changes the whole process, so the library never calls it. Returns whether it was applied
/// (`false` where it does nothing: off Linux with glibc).
pub fn default_sigpipe() -> bool {
    imp::default_sigpipe()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    pub fn default_sigpipe() -> bool {
        // SAFETY: restoring a signal's default disposition installs no handler of ours; it is
        // done once at start-up, before any thread that could be writing to a pipe exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) != libc::SIG_ERR }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn default_sigpipe() -> bool {
        false
    }
}
