//! The `[auth]` section: how many passwords are hashed at once and how many may wait, the
//! password floors per realm (12 by default in both, ASVS 2.1.1; older files may keep 6 or
//! 8), and whether admins may reset their password by mail.
//!
//! The hashing threads are `crate::auth::hasher`'s and the policy `crate::auth::policy`'s; this
//! file only bounds their settings. [`RawAuth::validate`] is called by
//! [`super::RawConfig::validate`].

use super::{ConfigError, RawAuth};

/// The validated `[auth]` section.
pub(super) struct Auth {
    pub hash_concurrency: usize,
    pub hash_queue: usize,
    pub client_min_password_length: usize,
    pub admin_min_password_length: usize,
    pub min_password_score: u8,
    pub admin_password_reset: bool,
}

impl RawAuth {
    /// Checks the hashing bounds, then the password floors, then the strength score.
    pub(super) fn validate(&self) -> Result<Auth, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hash_concurrency = match self.hash_concurrency {
            0 => cores,
            n @ 1..=256 => n as usize,
            n => {
                return Err(ConfigError::new(
                    "auth.hash_concurrency",
                    &n,
                    "0 (one per core) or a number from 1 to 256",
                ));
            }
        };
        if self.hash_queue > 100_000 {
            return Err(ConfigError::new(
                "auth.hash_queue",
                &self.hash_queue,
                "a number from 0 to 100000",
            ));
        }
        for (key, value, floor) in [
            (
                "auth.client_min_password_length",
                self.client_min_password_length,
                6,
            ),
            (
                "auth.admin_min_password_length",
                self.admin_min_password_length,
                8,
            ),
        ] {
            if !(floor..=128).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    &value,
                    // Values below 12 stay valid so existing files keep working; the message
                    // says what the default is and why (ASVS 2.1.1).
                    format!(
                        "a number from {floor} to 128 (the default, 12, is ASVS 2.1.1's minimum)"
                    ),
                ));
            }
        }
        if self.min_password_score > 4 {
            return Err(ConfigError::new(
                "auth.min_password_score",
                &self.min_password_score,
                "a zxcvbn score from 0 (anything) to 4 (strongest)",
            ));
        }
        Ok(Auth {
            hash_concurrency,
            hash_queue: self.hash_queue as usize,
            client_min_password_length: self.client_min_password_length as usize,
            admin_min_password_length: self.admin_min_password_length as usize,
            min_password_score: self.min_password_score,
            admin_password_reset: self.admin_password_reset,
        })
    }
}
