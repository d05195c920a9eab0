//! libFuzzer target: `portcullis::fuzzing::duo_jwt` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis::fuzzing::duo_jwt(data));
