//! Backup codes: ten single-use codes shown once, stored as keyed hashes.
//!
//! Each code is 10 characters from an alphabet without look-alikes (about 50 bits), shown as
//! `xxxxx-xxxxx`. Input is normalised (case, spaces, dashes) before hashing, so people can type
//! it as they like. Regenerating replaces the whole set. The operations are [`TwoFactor`]'s.

use super::TwoFactor;
use crate::db;
use crate::session::Realm;

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
        let hashes: Vec<String> = codes
            .iter()
            .filter_map(|c| normalise(c))
            .map(|c| self.sealing.keyed_hash(&c))
            .collect();
        let mut tx = self.db.begin().await?;
        db::two_factor::backup_replace(
            &mut tx,
            realm.as_str(),
            subject_id,
            &hashes,
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
        let hash = self.sealing.keyed_hash(&code);
        let used = db::two_factor::backup_use(
            &self.db,
            realm.as_str(),
            subject_id,
            &hash,
            self.clock.unix(),
        )
        .await?;
        if !used {
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
}
