//! Running the `murgan` binary from the CLI tests.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)] // each test file uses what it needs

use std::path::Path;
use std::process::{Command, Output};

/// Runs `murgan ARGS` and waits for it.
pub fn murgan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_murgan"))
        .args(args)
        .output()
        .unwrap()
}

/// Asserts that a run succeeded, showing its stderr if not.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Its stdout as JSON, after checking that it succeeded.
pub fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Its stdout as JSON lines.
pub fn lines_json(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
