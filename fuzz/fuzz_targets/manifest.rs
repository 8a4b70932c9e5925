//! A CSV manifest with arbitrary contents.
#![no_main]

use std::sync::OnceLock;

#[path = "../harness/data.rs"]
mod harness;

static FIXTURE: OnceLock<harness::ManifestFixture> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    FIXTURE
        .get_or_init(|| {
            harness::ManifestFixture::new(tempfile::tempdir().expect("temp dir").keep())
        })
        .check(data)
});
