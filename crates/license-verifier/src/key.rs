//! Licence keys: `PREFIX-XXXXX-XXXXX-XXXXX-XXXXX-C`.
//!
//! The prefix names the product (2 to 10 of A-Z and 0-9). The twenty random characters and the
//! check character use Crockford's base32 alphabet (no I, L, O, U, so 1/I and 0/O cannot be
//! confused). The check character is Luhn mod 32 over the prefix and the random part, which
//! catches every single mistyped character and every swap of two neighbours except `0`/`Z`,
//! offline, before anything is sent.

/// Crockford's base32 alphabet.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random characters in a key (100 bits).
pub const RANDOM_CHARS: usize = 20;

/// Why a key cannot be a licence key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not `PREFIX-XXXXX-XXXXX-XXXXX-XXXXX-C`.
    Shape,
    /// A character outside the alphabet, at this position (1-based) of the typed key.
    Character { position: usize, found: char },
    /// The check character does not match: a character was mistyped.
    Checksum,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shape => f.write_str(
                "a licence key looks like PREFIX-XXXXX-XXXXX-XXXXX-XXXXX-C (four groups of five and one check character)",
            ),
            Self::Character { position, found } => write!(
                f,
                "character {position} ({found:?}) cannot appear in a licence key (letters I, L, O and U are never used)"
            ),
            Self::Checksum => f.write_str(
                "the key's check character does not match: a character was mistyped; copy the key again",
            ),
        }
    }
}

impl std::error::Error for KeyError {}

fn value(c: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|a| *a == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// The Luhn mod 32 check character of `chars` (every byte must be in [`ALPHABET`]).
fn check_char(chars: &[u8]) -> u8 {
    let mut sum = 0u32;
    // From the right, every second value is doubled and its base-32 digits added.
    for (i, c) in chars.iter().rev().enumerate() {
        let mut v = value(*c).unwrap_or(0);
        if i % 2 == 0 {
            v *= 2;
            v = v / 32 + v % 32;
        }
        sum += v;
    }
    ALPHABET[((32 - sum % 32) % 32) as usize]
}

/// Builds a key from a prefix and twenty random alphabet indexes (0..32).
///
/// # Errors
/// A prefix that is not 2 to 10 of A-Z and 0-9.
pub fn compose(prefix: &str, random: &[u8; RANDOM_CHARS]) -> Result<String, KeyError> {
    if !(2..=10).contains(&prefix.len())
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(KeyError::Shape);
    }
    let body: Vec<u8> = random
        .iter()
        .map(|r| ALPHABET[usize::from(r % 32)])
        .collect();
    let mut all: Vec<u8> = prefix.bytes().filter(|b| value(*b).is_some()).collect();
    all.extend_from_slice(&body);
    let check = check_char(&all) as char;
    let groups: Vec<&str> = body
        .chunks(5)
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    Ok(format!("{prefix}-{}-{check}", groups.join("-")))
}

/// Checks a key typed or pasted by a person: case and surrounding spaces are forgiven; returns
/// the key in its canonical form.
///
/// # Errors
/// The shape, a character or the check character is wrong.
pub fn validate(typed: &str) -> Result<String, KeyError> {
    let key = typed.trim().to_ascii_uppercase();
    let parts: Vec<&str> = key.split('-').collect();
    if parts.len() != 6
        || !(2..=10).contains(&parts[0].len())
        || parts[1..5].iter().any(|p| p.len() != 5)
        || parts[5].len() != 1
    {
        return Err(KeyError::Shape);
    }
    let mut position = 0;
    for (i, part) in parts.iter().enumerate() {
        for c in part.chars() {
            position += 1;
            let allowed = if i == 0 {
                c.is_ascii_uppercase() || c.is_ascii_digit()
            } else {
                c.is_ascii() && value(c as u8).is_some()
            };
            if !allowed {
                return Err(KeyError::Character { position, found: c });
            }
        }
        position += 1; // the dash
    }
    // Prefix letters outside the alphabet (I, L, O, U) do not take part in the check.
    let mut all: Vec<u8> = parts[0].bytes().filter(|b| value(*b).is_some()).collect();
    for part in &parts[1..5] {
        all.extend_from_slice(part.as_bytes());
    }
    if check_char(&all) != parts[5].as_bytes()[0] {
        return Err(KeyError::Checksum);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let random: [u8; RANDOM_CHARS] =
            core::array::from_fn(|i| u8::try_from((i * 7 + 3) % 32).unwrap_or(0));
        compose("ACME", &random).expect("key")
    }

    #[test]
    fn composed_keys_validate_and_lowercase_is_forgiven() {
        let key = sample();
        assert_eq!(key.len(), "ACME-XXXXX-XXXXX-XXXXX-XXXXX-C".len());
        assert_eq!(validate(&key), Ok(key.clone()));
        assert_eq!(validate(&format!("  {}\n", key.to_lowercase())), Ok(key));
    }

    #[test]
    fn every_single_substitution_and_these_neighbour_swaps_are_caught() {
        let key = sample();
        let bytes = key.as_bytes();
        let start = key.find('-').expect("dash") + 1;
        for i in start..bytes.len() {
            if bytes[i] == b'-' {
                continue;
            }
            for c in ALPHABET {
                if *c == bytes[i] {
                    continue;
                }
                let mut typo = bytes.to_vec();
                typo[i] = *c;
                let typo = String::from_utf8(typo).expect("ascii");
                assert!(validate(&typo).is_err(), "{typo} should fail");
            }
            let j = i + 1;
            if j < bytes.len() && bytes[j] != b'-' && bytes[i] != bytes[j] {
                let mut swapped = bytes.to_vec();
                swapped.swap(i, j);
                let swapped = String::from_utf8(swapped).expect("ascii");
                assert_eq!(validate(&swapped), Err(KeyError::Checksum), "{swapped}");
            }
        }
    }

    #[test]
    fn bad_shapes_and_characters_are_named() {
        assert_eq!(validate("ACME-123"), Err(KeyError::Shape));
        let key = sample();
        let with_o = format!("{}O{}", &key[..5], &key[6..]);
        assert_eq!(
            validate(&with_o),
            Err(KeyError::Character {
                position: 6,
                found: 'O'
            })
        );
    }
}
