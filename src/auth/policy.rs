//! The password policy: length bounds, no common passwords, a minimum zxcvbn strength.
//!
//! No composition rules ("one digit, one symbol"): they make passwords harder to remember and
//! no harder to guess. Lengths are checked first, so an enormous input is refused before the
//! (comparatively slow) strength estimator sees it.

use zxcvbn::feedback::Warning;

/// Bounds and strength required of new passwords in one realm.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    /// zxcvbn score from 0 to 4.
    pub min_score: u8,
}

/// Why a password was refused; the text is shown next to the password field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("Use at least {min} characters.")]
    TooShort { min: usize },
    #[error("Use at most {max} characters.")]
    TooLong { max: usize },
    #[error("This is one of the most common passwords. Choose one that is not on such lists.")]
    Common,
    #[error("This password is too easy to guess.{}", suggestion.as_ref().map(|s| format!(" {s}")).unwrap_or_default())]
    TooWeak {
        score: u8,
        min_score: u8,
        suggestion: Option<String>,
    },
}

impl PasswordPolicy {
    /// Checks a new password. `user_inputs` (email, names) count against its strength.
    ///
    /// # Errors
    /// The first rule the password breaks.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), PolicyViolation> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(PolicyViolation::TooShort {
                min: self.min_length,
            });
        }
        if length > self.max_length {
            return Err(PolicyViolation::TooLong {
                max: self.max_length,
            });
        }
        let entropy = zxcvbn::zxcvbn(password, user_inputs);
        // zxcvbn warns when the password is on its list of the most used (leaked) passwords.
        let common = entropy
            .feedback()
            .and_then(zxcvbn::feedback::Feedback::warning)
            .is_some_and(|w| {
                matches!(
                    w,
                    Warning::ThisIsATop10Password
                        | Warning::ThisIsATop100Password
                        | Warning::ThisIsACommonPassword
                )
            });
        if common {
            return Err(PolicyViolation::Common);
        }
        let score = u8::from(entropy.score());
        if score < self.min_score {
            let suggestion = entropy
                .feedback()
                .and_then(|f| f.suggestions().first().map(ToString::to_string));
            return Err(PolicyViolation::TooWeak {
                score,
                min_score: self.min_score,
                suggestion,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        max_length: 256,
        min_score: 2,
    };

    #[test]
    fn common_passwords_are_refused_as_common() {
        assert_eq!(POLICY.check("password", &[]), Err(PolicyViolation::Common));
        assert_eq!(POLICY.check("123456789", &[]), Err(PolicyViolation::Common));
    }

    #[test]
    fn length_bounds_come_first() {
        assert_eq!(
            POLICY.check("short", &[]),
            Err(PolicyViolation::TooShort { min: 8 })
        );
        assert_eq!(
            POLICY.check(&"x".repeat(257), &[]),
            Err(PolicyViolation::TooLong { max: 256 })
        );
        assert!(
            POLICY.check("ünïcødé-pässwörd-lång", &[]).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn a_passphrase_passes_even_a_strict_policy() {
        let strict = PasswordPolicy {
            min_score: 4,
            ..POLICY
        };
        assert!(strict.check("violet-harbour-crane-1987", &[]).is_ok());
    }

    #[test]
    fn the_users_own_details_make_a_password_weak() {
        let p = PasswordPolicy {
            min_score: 3,
            ..POLICY
        };
        assert!(
            p.check("adalovelace1815", &[]).is_ok()
                || p.check("adalovelace1815", &["ada", "lovelace", "1815"])
                    .is_err()
        );
        assert!(matches!(
            p.check(
                "lovelace1815",
                &["lovelace1815@example.com", "lovelace", "1815"]
            ),
            Err(PolicyViolation::TooWeak { .. } | PolicyViolation::Common)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn checking_never_panics(password in ".{0,300}") {
            let _ = POLICY.check(&password, &["user@example.com"]);
        }
    }
}
