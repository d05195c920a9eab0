//! Backup codes: ten single-use codes shown once, stored as salted keyed hashes.
//!
//! Each code is 10 characters from an alphabet without look-alikes (about 50 bits), shown as
//! `xxxxx-xxxxx`. Input is normalised (case, spaces, dashes) before hashing, so people can type
//! it as they like. Regenerating replaces the whole set. The operations are [`TwoFactor`]'s.
//!
//! Storage (ASVS 2.6.2, under 112 bits of entropy): every code has its own random 128-bit
//! salt and is stored as `HMAC(key, salt ":" code)` with the sealing key's MAC key (outside the
//! database), so equal codes of two people have different hashes and nothing can be searched
//! across rows. Codes stored before salts (salt `NULL`, `HMAC(key, code)`) still verify until
//! they are used or the set is regenerated.

use subtle::ConstantTimeEq as _;

use super::TwoFactor;
use crate::db;
use crate::sealing::SealingKey;
use crate::session::Realm;

/// Random bytes of salt per stored code.
const SALT_BYTES: usize = 16;

/// Codes per set.
pub const COUNT: usize = 10;
const LENGTH: usize = 10;
// No 0/o, 1/l/i: codes are read off paper.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Generates a set of codes, formatted for display.
///
/// # Errors
/// When the system's random source fails.
pub fn generate() -> Result<Vec<String>, getrandom::Error> {
    (0..COUNT)
        .map(|_| {
            let bytes = crate::token::random_bytes::<LENGTH>()?;
            let chars: String = bytes
                .iter()
                // 256 is not a multiple of 31: the bias is below 1 in 8 per character, which
                // costs well under a bit of the code's 49.5 bits.
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .collect();
            Ok(format!("{}-{}", &chars[..5], &chars[5..]))
        })
        .collect()
}

/// The canonical form of typed input, or `None` when it cannot be a backup code.
pub fn normalise(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What is stored for a new normalised code: a fresh random salt (hex) and the code's keyed
/// hash with it.
///
/// # Errors
/// When the system's random source fails.
fn stored_form(sealing: &SealingKey, code: &str) -> Result<(String, String), getrandom::Error> {
    let salt = crate::token::hex(&crate::token::random_bytes::<SALT_BYTES>()?);
    let hash = code_hash(sealing, Some(&salt), code);
    Ok((salt, hash))
}

/// The stored hash of a normalised code with its salt; `None` gives the unsalted form of
/// codes stored before salts.
fn code_hash(sealing: &SealingKey, salt: Option<&str>, code: &str) -> String {
    match salt {
        // The salt is fixed-length hex and a code has no colon, so the input is unambiguous.
        Some(salt) => sealing.keyed_hash(&format!("{salt}:{code}")),
        None => sealing.keyed_hash(code),
    }
}

impl TwoFactor {
    /// Replaces the subject's codes with a new set; returns the codes to show once. Callers
    /// check the rules (step-up, or a sign-in's enrolment) and write the audit entry.
    ///
    /// # Errors
    /// Storage errors, or a failing random source.
    pub(super) async fn new_backup_codes(
        &self,
        realm: Realm,
        subject_id: i64,
    ) -> anyhow::Result<Vec<String>> {
        let codes = generate()?;
        let mut stored = Vec::with_capacity(codes.len());
        for code in codes.iter().filter_map(|c| normalise(c)) {
            stored.push(stored_form(&self.sealing, &code)?);
        }
        let mut tx = self.db.begin().await?;
        db::two_factor::backup_replace(
            &mut tx,
            realm.as_str(),
            subject_id,
            &stored,
            self.clock.unix(),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Uses a code: `Some(remaining)` when it was a valid unused code, `None` otherwise.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn redeem_backup_code(
        &self,
        realm: Realm,
        subject_id: i64,
        input: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let Some(code) = normalise(input) else {
            return Ok(None);
        };
        // Each row has its own salt, so the typed code is hashed once per unused row (ten at
        // most, microseconds each) and compared in constant time; every row is checked, match
        // or not, so the time does not say which one matched.
        let rows = db::two_factor::backup_unused(&self.db, realm.as_str(), subject_id).await?;
        let mut matched = None;
        for row in &rows {
            let expected = code_hash(&self.sealing, row.salt.as_deref(), &code);
            if bool::from(expected.as_bytes().ct_eq(row.code_hash.as_bytes())) {
                matched = Some(row.id);
            }
        }
        let Some(id) = matched else {
            return Ok(None);
        };
        // Conditional on still being unused: two concurrent redemptions of one code cannot
        // both succeed.
        if !db::two_factor::backup_use(&self.db, id, self.clock.unix()).await? {
            return Ok(None);
        }
        self.backup_remaining(realm, subject_id).await.map(Some)
    }

    /// How many unused backup codes the subject has.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn backup_remaining(
        &self,
        realm: Realm,
        subject_id: i64,
    ) -> Result<i64, sqlx::Error> {
        db::two_factor::backup_remaining(&self.db, realm.as_str(), subject_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_well_formed_and_normalise() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 11);
            let canonical = normalise(code).unwrap();
            assert_eq!(normalise(&code.to_uppercase()), Some(canonical.clone()));
            let spaced = format!(" {} {} ", &code[..5], &code[6..]);
            assert_eq!(normalise(&spaced), Some(canonical));
        }
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("abcde-fghi0"), None, "0 is not in the alphabet");
    }

    #[test]
    fn two_people_given_the_same_code_store_different_salts_and_hashes() {
        let key = SealingKey::from_bytes(&[5; 32], None);
        let (salt_a, hash_a) = stored_form(&key, "abcdefghjk").unwrap();
        let (salt_b, hash_b) = stored_form(&key, "abcdefghjk").unwrap();
        assert_eq!(salt_a.len(), 2 * SALT_BYTES, "128 bits of salt");
        assert_ne!(salt_a, salt_b);
        assert_ne!(hash_a, hash_b);
        // Each still verifies with its own salt, and neither is the unsalted hash.
        assert_eq!(code_hash(&key, Some(&salt_a), "abcdefghjk"), hash_a);
        assert_eq!(code_hash(&key, Some(&salt_b), "abcdefghjk"), hash_b);
        assert_ne!(code_hash(&key, None, "abcdefghjk"), hash_a);
    }
}
