//! The sign-in ceiling for `bench/run`: how long one Argon2id verification of a password hashed
//! by Portcullis (its production parameters) takes on one core here, and so how many sign-ins per
//! second the machine's cores could verify if they did nothing else (cores ÷ that time).
//!
//! Prints `verify_ms=<ms> cores=<n> ceiling_per_second=<n>`.

use std::time::Instant;

fn main() {
    let password = "violet-harbour-crane-1987";
    // Keyed like the server's hashes (the pepper's value does not change the cost).
    let pepper = portcullis::auth::password::Pepper::from_bytes([7; 32]);
    let stored = portcullis::auth::password::hash_password(password, &pepper).expect("hash");
    // Warm up, then time enough verifications for a steady figure.
    for _ in 0..3 {
        portcullis::auth::password::verify_password(password, &stored, &pepper).expect("verify");
    }
    let rounds = 20_u32;
    let started = Instant::now();
    for _ in 0..rounds {
        portcullis::auth::password::verify_password(password, &stored, &pepper).expect("verify");
    }
    let verify = started.elapsed().as_secs_f64() / f64::from(rounds);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    #[allow(clippy::cast_precision_loss)]
    let ceiling = cores as f64 / verify;
    println!(
        "verify_ms={:.1} cores={cores} ceiling_per_second={ceiling:.1}",
        verify * 1000.0
    );
}
