//! The password policy for new passwords: length bounds, no common passwords, a minimum zxcvbn
//! strength score.
//!
//! This module owns the rules a *new* password must meet and the user-facing text explaining a
//! refusal. There are deliberately no composition rules ("one digit, one symbol"): they make
//! passwords harder to remember and barely harder to guess, which is what the strength score
//! measures instead.
//!
//! It does not hash or store anything (see [`super::password`] and [`super::hasher`]), and it
//! is not applied at sign-in: accounts imported with older, weaker passwords can still sign in,
//! except with a password on the common list ([`is_common`], checked by `crate::signin`).
//! Callers (account creation, password change) pass the user's own details (email, username,
//! names) as `user_inputs` so that a password built from them scores as weak.

use zxcvbn::Entropy;
use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

/// The requirements a new password must meet in one realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values, not bytes).
    pub min_length: usize,
    /// Most characters; also keeps very long input away from the strength estimator.
    pub max_length: usize,
    /// Lowest acceptable zxcvbn score, from 0 (anything) to 4 (strongest).
    pub min_score: u8,
}

/// Why a new password was refused. The `Display` text is meant for the user, next to the
/// password field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Fewer than `min` characters.
    #[error("Use at least {min} characters.")]
    TooShort {
        /// The policy's minimum length.
        min: usize,
    },
    /// More than `max` characters.
    #[error("Use at most {max} characters.")]
    TooLong {
        /// The policy's maximum length.
        max: usize,
    },
    /// The password is, ignoring case, one of the most commonly used passwords.
    #[error("This is one of the most commonly used passwords. Choose a different one.")]
    Common,
    /// The estimated strength is below the policy's minimum.
    #[error(
        "This password is too easy to guess. {}",
        .suggestion.as_deref().unwrap_or(DEFAULT_SUGGESTION)
    )]
    TooWeak {
        /// The zxcvbn score the password got (0 to 4).
        score: u8,
        /// The score the policy requires.
        min_score: u8,
        /// zxcvbn's first suggestion, if it made one.
        suggestion: Option<String>,
    },
}

/// Shown when zxcvbn has no suggestion of its own (it only gives feedback for scores up to 2).
const DEFAULT_SUGGESTION: &str = "Add another word or two. Uncommon words are better.";

impl PasswordPolicy {
    /// Checks a new password against the policy. `user_inputs` are the user's own details
    /// (email, username, names); a password built from them counts as weaker.
    ///
    /// Rules are checked in order and the first one broken is returned: length, then common
    /// password, then strength.
    ///
    /// # Errors
    /// The first [`PolicyViolation`] the password commits.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), PolicyViolation> {
        // Lengths come first so an enormous input is refused before zxcvbn, which is slow on
        // long input, ever sees it.
        let length = password.chars().count();
        // ASVS 2.1.1 counts the minimum "after multiple spaces are combined": padding a short
        // password with a run of spaces does not make it long enough. The maximum stays on the
        // raw count, which is what bounds the work below.
        if combined_length(password) < self.min_length {
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
        if is_common_password(&entropy, length) {
            return Err(PolicyViolation::Common);
        }

        let score = u8::from(entropy.score());
        if score < self.min_score {
            let suggestion = entropy
                .feedback()
                .and_then(|f| f.suggestions().first())
                .map(ToString::to_string);
            return Err(PolicyViolation::TooWeak {
                score,
                min_score: self.min_score,
                suggestion,
            });
        }
        Ok(())
    }
}

/// The number of characters with each run of consecutive spaces counted as one.
fn combined_length(password: &str) -> usize {
    let mut previous_space = false;
    password
        .chars()
        .filter(|&c| {
            let space = c == ' ';
            let counts = !(space && previous_space);
            previous_space = space;
            counts
        })
        .count()
}

/// Whether `password` is, ignoring case, one of the most commonly used passwords (the rule
/// [`PolicyViolation::Common`] applies to new passwords), for the check at sign-in (ASVS 2.1.7).
/// Overlong input is never common (and is kept away from zxcvbn, which is slow on it).
pub fn is_common(password: &str) -> bool {
    let length = password.chars().count();
    length <= 256 && is_common_password(&zxcvbn::zxcvbn(password, &[]), length)
}

/// Whether zxcvbn explained the whole password as one entry of its common-passwords list.
///
/// zxcvbn lowercases before looking words up, so this is case-insensitive. Reversed and l33t
/// spellings are left to the score: they are not literally on the list.
fn is_common_password(entropy: &Entropy, length: usize) -> bool {
    let [only] = entropy.sequence() else {
        return false;
    };
    // `i` and `j` are inclusive character positions; the match must cover every character.
    only.i == 0
        && only.j.checked_add(1) == Some(length)
        && matches!(
            &only.pattern,
            MatchPattern::Dictionary(word)
                if is_passwords_dictionary(word) && !word.reversed && !word.l33t
        )
}

/// Whether a dictionary match came from zxcvbn's common-passwords list.
fn is_passwords_dictionary(word: &DictionaryPattern) -> bool {
    // zxcvbn 3 makes the field public but its type (`DictionaryType`) lives in a private
    // module, so it cannot be named here; its `Debug` name is the only stable handle. A rename
    // would make this false, never true, and the tests below would catch it.
    format!("{:?}", word.dictionary_name) == "Passwords"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_run_of_spaces_counts_as_one_character_towards_the_minimum() {
        let policy = PasswordPolicy {
            min_length: 12,
            max_length: 128,
            min_score: 0,
        };
        // 12 characters, 4 of them one run of spaces: 9 once the run is combined.
        assert_eq!(
            policy.check("Qz7#    kW9v", &[]),
            Err(PolicyViolation::TooShort { min: 12 })
        );
        // Single spaces between words each count.
        assert_eq!(policy.check("Qz 7# kW 9v x", &[]), Ok(()));
        assert_eq!(combined_length("a    b  c "), 6);
        assert_eq!(combined_length("    "), 1);
        assert_eq!(combined_length(""), 0);
    }

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        max_length: 256,
        min_score: 3,
    };

    #[test]
    fn common_passwords_are_refused_as_common() {
        for password in [
            "password",
            "PASSWORD",
            "Password",
            "iloveyou",
            "1234567890",
            "qwertyuiop",
        ] {
            assert_eq!(
                POLICY.check(password, &[]),
                Err(PolicyViolation::Common),
                "{password}"
            );
        }
    }

    #[test]
    fn digit_run_is_weak_rather_than_common() {
        // "123456789012" is not itself on zxcvbn's list: zxcvbn explains it as two ascending
        // digit sequences (1-9, 0-2), so it is refused as TooWeak (score 1), not as Common.
        assert!(matches!(
            POLICY.check("123456789012", &[]),
            Err(PolicyViolation::TooWeak { score: 1, .. })
        ));
    }

    #[test]
    fn l33t_or_padded_common_passwords_are_weak_not_common() {
        for password in ["p@ssw0rd", "password1!x"] {
            assert!(
                matches!(
                    POLICY.check(password, &[]),
                    Err(PolicyViolation::TooWeak { .. })
                ),
                "{password}"
            );
        }
    }

    #[test]
    fn length_bounds() {
        let policy = PasswordPolicy {
            min_length: 12,
            max_length: 64,
            min_score: 0,
        };
        assert_eq!(
            policy.check("elevenchars", &[]),
            Err(PolicyViolation::TooShort { min: 12 })
        );
        assert_eq!(policy.check("twelve chars", &[]), Ok(()));
        assert_eq!(policy.check(&"q".repeat(64), &[]), Ok(()));
        assert_eq!(
            policy.check(&"q".repeat(65), &[]),
            Err(PolicyViolation::TooLong { max: 64 })
        );
        // A 10 KB input is refused on length alone.
        assert_eq!(
            policy.check(&"x".repeat(10_240), &[]),
            Err(PolicyViolation::TooLong { max: 64 })
        );
        // Characters, not bytes: twelve two-byte characters are long enough.
        assert_eq!(policy.check(&"é".repeat(12), &[]), Ok(()));
        assert_eq!(
            policy.check(&"é".repeat(11), &[]),
            Err(PolicyViolation::TooShort { min: 12 })
        );
    }

    #[test]
    fn strong_passphrase_passes() {
        assert_eq!(
            POLICY.check("violet harbour crane quietly 1987", &[]),
            Ok(())
        );
        assert_eq!(POLICY.check("Tq7#vLm2!xRw9pZe", &[]), Ok(()));
    }

    #[test]
    fn weak_password_gets_a_suggestion() {
        let Err(PolicyViolation::TooWeak {
            score,
            min_score,
            suggestion,
        }) = POLICY.check("bluedragon77", &[])
        else {
            panic!("expected TooWeak");
        };
        assert!(score < 3);
        assert_eq!(min_score, 3);
        assert!(suggestion.is_some());
    }

    #[test]
    fn users_own_details_lower_the_score() {
        let email = "zanthrop.quillby@example.com";
        let password = "zanthrop.quillby@example.com";
        let without = zxcvbn::zxcvbn(password, &[]).score();
        let with = zxcvbn::zxcvbn(password, &[email]).score();
        assert!(with < without, "{with:?} !< {without:?}");
        assert_eq!(POLICY.check(password, &[]), Ok(()));
        assert!(matches!(
            POLICY.check(password, &[email]),
            Err(PolicyViolation::TooWeak { .. })
        ));
    }

    #[test]
    fn messages_are_user_facing() {
        assert_eq!(
            PolicyViolation::TooShort { min: 12 }.to_string(),
            "Use at least 12 characters."
        );
        let weak = PolicyViolation::TooWeak {
            score: 1,
            min_score: 3,
            suggestion: None,
        };
        assert!(weak.to_string().ends_with(DEFAULT_SUGGESTION));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn check_never_panics(password in ".{0,300}", input in ".{0,40}") {
            let _ = POLICY.check(&password, &[input.as_str(), "user@example.com"]);
            let anything = PasswordPolicy { min_length: 0, max_length: 300, min_score: 4 };
            let _ = anything.check(&password, &[]);
        }
    }
}
