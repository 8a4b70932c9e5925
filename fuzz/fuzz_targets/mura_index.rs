//! MURA's two CSV indexes with arbitrary contents, next to a real study.
#![no_main]

use std::sync::OnceLock;

#[path = "../harness/data.rs"]
mod harness;

static FIXTURE: OnceLock<harness::MuraFixture> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    FIXTURE
        .get_or_init(|| harness::MuraFixture::new(tempfile::tempdir().expect("temp dir").keep()))
        .check(data)
});
