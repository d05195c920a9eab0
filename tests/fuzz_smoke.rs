//! The fuzz targets' smoke pass (docs/fuzzing.md), run by `cargo test` and so by CI: every
//! checked-in seed (regressions included) and a few thousand inputs mutated from them go through
//! the same `portcullis::fuzzing` entry points the libFuzzer targets call. Building libFuzzer
//! targets costs CI a second instrumented release build; this costs one small test binary.
//!
//! The mutations come from a fixed-seed generator, so a failure here reproduces on every run;
//! the long runs (10 million executions a target) are `scripts/fuzz`'s.

use std::path::Path;

/// Inputs generated per target on top of its seeds: 3,000, fewer where one execution is slow in
/// a debug build (Ed25519 signing and verifying; figment over a file), to keep the pass cheap.
fn generated(target: &str) -> usize {
    match target {
        "license_answer" => 300,
        "config" => 1000,
        _ => 3000,
    }
}

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 8] = [
    ("forwarded", portcullis::fuzzing::forwarded),
    ("cookies", portcullis::fuzzing::cookies),
    ("csrf", portcullis::fuzzing::csrf),
    ("form", portcullis::fuzzing::form),
    ("license_request", portcullis::fuzzing::license_request),
    ("license_answer", portcullis::fuzzing::license_answer),
    ("duo_jwt", portcullis::fuzzing::duo_jwt),
    ("config", portcullis::fuzzing::config),
];

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(u64::MAX)).unwrap_or(0)
    }
}

/// Bytes that matter to these parsers, so mutations hit separators and not only noise.
const INTERESTING: &[u8] = b",;=.:[]\"%&+\r\n\t 0-9a{}/\\#\x00\xff";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.truncate(at),
            4 if !out.is_empty() => {
                // Repeat a slice: long headers, many fields, nested brackets.
                let start = rng.below(out.len());
                let len = rng.below(out.len() - start) + 1;
                let piece = out[start..start + len].to_vec();
                for _ in 0..=rng.below(8) {
                    out.splice(at.min(out.len())..at.min(out.len()), piece.iter().copied());
                }
            }
            _ => {
                let i = at.min(out.len());
                out.insert(i, u8::try_from(rng.next() & 0xff).unwrap_or(0));
            }
        }
    }
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn smoke(name: &str, target: Target) {
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    for seed in &seeds {
        target(seed);
    }
    let mut rng = Rng(0x5EED_0000 ^ u64::try_from(name.len()).unwrap_or(0));
    for i in 0..generated(name) {
        let input = if i % 10 == 9 {
            (0..rng.below(64))
                .map(|_| u8::try_from(rng.next() & 0xff).unwrap_or(0))
                .collect()
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        target(&input);
    }
}

#[test]
fn every_target_takes_its_seeds_and_thousands_of_mutations() {
    for (name, target) in TARGETS {
        let started = std::time::Instant::now();
        smoke(name, target);
        // Shown with --nocapture: where the smoke pass spends its time.
        eprintln!("fuzz smoke {name}: {:.1?}", started.elapsed());
    }
}

#[test]
fn every_fuzz_target_has_a_smoke_pass_and_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut here: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    here.sort();
    assert_eq!(on_disk, here);
}

#[test]
fn an_answer_behind_forty_thousand_interim_responses_does_not_overflow_the_stack() {
    // Regression: the verifier skipped `100 Continue` responses by recursion, one stack frame
    // (with its 64 header slots) each, so a megabyte of them overflowed a thread's stack and
    // aborted the vendor's program. The test thread has Rust's default 2 MiB stack.
    let mut input = vec![0u8];
    for _ in 0..40_000 {
        input.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    input.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    portcullis::fuzzing::license_answer(&input);
}
