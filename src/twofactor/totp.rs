//! TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of tolerance either way),
//! computed by `totp-rs`, with the replay guard and enrolment material (otpauth URI and QR code)
//! on top.
//!
//! `totp-rs` reports which time step matched; the caller records it, and a code for that step or
//! an earlier one is refused afterwards (see `db::two_factor::totp_accept_step`).

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u16 = 1;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Portcullis";

/// A fresh 160-bit seed, the size RFC 4226 recommends.
///
/// # Errors
/// When the system's random source fails.
pub fn generate_seed() -> Result<[u8; 20], getrandom::Error> {
    crate::token::random_bytes::<20>()
}

fn build(seed: &[u8], account: &str) -> Totp {
    // Colons separate issuer and account in the otpauth label, so they cannot appear in either.
    let account: String = account.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::from(seed.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        // Seeds we generate are 160 bits, but an imported 80-bit seed must still work.
        .build_noncompliant()
}

/// The seed in base32 (RFC 4648, no padding): what people type into an app without a camera.
pub fn base32(seed: &[u8]) -> String {
    Secret::from(seed.to_vec())
        .to_base32()
        .trim_end_matches('=')
        .to_owned()
}

/// The `otpauth://` URI authenticator apps read from the QR code.
pub fn otpauth_uri(seed: &[u8], account: &str) -> String {
    build(seed, account)
        .to_url()
        .unwrap_or_else(|_| format!("otpauth://totp/{ISSUER}?secret={}", base32(seed)))
}

/// The QR code of the otpauth URI as an inline SVG, rendered here (no external service sees the
/// seed).
pub fn qr_svg(uri: &str) -> String {
    match QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline in HTML: the XML declaration before <svg> has no place there.
            svg.find("<svg")
                .map_or_else(String::new, |start| svg[start..].to_owned())
        }
        Err(_) => String::new(),
    }
}

/// The time step a code matches at `now` (unix seconds), within one step either way.
pub fn matching_step(seed: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now).ok()?;
    let step = build(seed, "").check(&code, now)?;
    i64::try_from(step).ok()
}

/// The code for `now` (tests and the CLI's diagnostics; sign-in never needs to generate one).
pub fn code_at(seed: &[u8], now: i64) -> String {
    build(seed, "")
        .generate(u64::try_from(now).unwrap_or(0))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B, SHA-1 rows: the seed is ASCII "12345678901234567890"; the published
    // codes are 8 digits, and a 6-digit code is their last six.
    const RFC_SEED: &[u8] = b"12345678901234567890";
    const VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc_6238_vectors() {
        for (time, eight) in VECTORS {
            assert_eq!(code_at(RFC_SEED, time), eight[2..], "t = {time}");
            let step = time / 30;
            assert_eq!(matching_step(RFC_SEED, &eight[2..], time), Some(step));
        }
    }

    #[test]
    fn one_step_either_way_is_accepted_two_are_not() {
        let seed = [42u8; 20];
        let now = 1_800_000_015;
        let code = code_at(&seed, now);
        assert_eq!(matching_step(&seed, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(&seed, &code, now - 30), Some(now / 30));
        assert_eq!(matching_step(&seed, &code, now + 60), None);
        assert_eq!(matching_step(&seed, &code, now - 60), None);
    }

    #[test]
    fn malformed_codes_never_match() {
        let seed = [1u8; 20];
        for bad in ["", "12345", "1234567", "abcdef", "12 34 5x", "１２３４５６"] {
            assert_eq!(matching_step(&seed, bad, 1_800_000_000), None, "{bad}");
        }
        // Spaces people type between groups are ignored.
        let code = code_at(&seed, 1_800_000_000);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matching_step(&seed, &spaced, 1_800_000_000).is_some());
    }

    #[test]
    fn enrolment_material() {
        let seed = [7u8; 20];
        let b32 = base32(&seed);
        assert_eq!(b32.len(), 32);
        let uri = otpauth_uri(&seed, "ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Portcullis:ada%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={b32}")), "{uri}");
        let svg = qr_svg(&uri);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    }
}
