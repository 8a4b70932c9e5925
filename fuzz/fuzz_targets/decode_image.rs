//! Image decoding (PNG, JPEG, DICOM) and preprocessing of arbitrary bytes.
#![no_main]

#[path = "../harness/data.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::decode_image(data));
