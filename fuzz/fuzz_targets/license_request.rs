//! libFuzzer target: `portcullis::fuzzing::license_request` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis::fuzzing::license_request(data));
