//! libFuzzer target: `portcullis::fuzzing::cookies` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis::fuzzing::cookies(data));
