//! Recognising a pasted password hash: an operator moving accounts from another system may
//! pipe a stored hash (`$2y$10$...`, WHMCS's `md5:salt`) into `--password-stdin`, which would
//! then become the password text itself (the person could never sign in with their real
//! password, and the hash would sit there as a password). Creation commands refuse such input
//! and point at the import, which keeps hashes as hashes.

/// What the refusal says: the import path for hashes, and what this command wants instead.
pub const REFUSAL: &str = "to move existing hashes, use the import (portcullis import whmcs, \
    coming); this command takes a password";

/// The name of the hash format `input` has, if it has one of the known shapes: bcrypt
/// (`$2a$`/`$2b$`/`$2x$`/`$2y$`), Argon2 (`$argon2`), crypt MD5/SHA-256/SHA-512 (`$1$`, `$5$`,
/// `$6$`), WHMCS's MD5 with salt (32 hex, `:`, a salt), or bare MD5/SHA-1/SHA-256 hex (32, 40
/// or 64 hex digits). Surrounding whitespace is ignored (a pasted line).
///
/// A passphrase of exactly 32, 40 or 64 hex digits is refused too: it cannot be told from a
/// digest, and a password of hex digits only is better replaced than kept.
pub fn known_hash_format(input: &str) -> Option<&'static str> {
    let s = input.trim();
    let is_hex = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit());
    // A modular-crypt hash: `$id$`, then more `$`-separated fields with no spaces.
    let crypt = |prefix: &str| {
        s.strip_prefix(prefix).is_some_and(|rest| {
            !rest.contains(char::is_whitespace)
                && ((rest.len() >= 8 && rest.contains('$')) || rest.len() >= 20)
        })
    };
    if ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|p| crypt(p)) {
        return Some("bcrypt");
    }
    if s.starts_with("$argon2") && !s.contains(char::is_whitespace) && s.matches('$').count() >= 3 {
        return Some("Argon2");
    }
    if crypt("$1$") {
        return Some("MD5-crypt");
    }
    if crypt("$5$") || crypt("$6$") {
        return Some("SHA-crypt");
    }
    if let Some((hash, salt)) = s.split_once(':')
        && hash.len() == 32
        && is_hex(hash)
        && !salt.is_empty()
        && salt.len() <= 64
        && !salt.contains(char::is_whitespace)
    {
        return Some("WHMCS md5:salt");
    }
    if matches!(s.len(), 32 | 40 | 64) && is_hex(s) {
        return Some("hex digest");
    }
    None
}

/// Refuses input of a known hash format, with [`REFUSAL`] naming the format.
///
/// # Errors
/// The message to show, when `input` looks like a hash.
pub fn refuse_pasted_hash(input: &str) -> Result<(), String> {
    match known_hash_format(input) {
        Some(format) => Err(format!(
            "the password on standard input is a {format} hash: {REFUSAL}"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::known_hash_format;

    #[test]
    fn the_known_shapes_are_recognised() {
        for (input, format) in [
            (
                "$2y$10$abcdefghijklmnopqrstuuT1Bm4w0f0sCGaCCEXHLq0/2b7dEY.Ma",
                "bcrypt",
            ),
            (
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                "bcrypt",
            ),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
                "Argon2",
            ),
            ("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "MD5-crypt"),
            (
                "$5$rounds=5000$usesomesillystri$KqJWpanXZHKq2BOB43TSaYhEWsQ1Lr5QNyPCDH/Tp.6",
                "SHA-crypt",
            ),
            (
                "$6$saltsalt$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
                "SHA-crypt",
            ),
            ("5f4dcc3b5aa765d61d8327deb882cf99:Xy7", "WHMCS md5:salt"),
            ("5f4dcc3b5aa765d61d8327deb882cf99", "hex digest"),
            ("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "hex digest"),
            (
                "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n",
                "hex digest",
            ),
        ] {
            assert_eq!(known_hash_format(input), Some(format), "{input}");
        }
    }

    #[test]
    fn passwords_are_not_taken_for_hashes() {
        for input in [
            "tidal-Quartz-lantern-91",
            "correct horse battery staple",
            "$2y$ is how bcrypt hashes start, said my password",
            "$money$ makes the world go round",
            "deadbeef",
            "5f4dcc3b5aa765d61d8327deb882cf9",
            "a:b",
        ] {
            assert_eq!(known_hash_format(input), None, "{input}");
        }
    }
}
