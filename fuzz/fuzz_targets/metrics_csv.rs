//! `murgan metrics` input: a scores CSV with arbitrary contents.
#![no_main]

#[path = "../harness/metrics.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::metrics_csv(data));
