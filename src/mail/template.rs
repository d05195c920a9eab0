//! Email templates: text and HTML rendered from one context, compiled in (`templates/email/`).
//!
//! The HTML template is auto-escaped; the text one is not (it is plain text). Each kind has a
//! context struct and a subject line; [`Rendered`] is what the queue stores.

use askama::Template;

/// The portal's name in emails (their `portal` field): the System URL's host.
pub fn portal_name(system_url: &crate::config::SystemUrl) -> String {
    system_url.host().to_owned()
}

/// A rendered email: template name, subject, text and HTML bodies.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub template: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders a kind's two templates from one context.
macro_rules! email_kind {
    ($ctx:ident, $name:literal, $text_path:literal, $html_path:literal, $text:ident, $html:ident) => {
        #[derive(Template)]
        #[template(path = $text_path, escape = "none")]
        struct $text<'a> {
            c: &'a $ctx,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            c: &'a $ctx,
        }

        impl $ctx {
            /// Renders subject, text and HTML.
            ///
            /// # Errors
            /// Only on a template bug.
            pub fn render(&self) -> Result<Rendered, askama::Error> {
                Ok(Rendered {
                    template: $name,
                    subject: self.subject(),
                    text: $text { c: self }.render()?,
                    html: $html { c: self }.render()?,
                })
            }
        }
    };
}

/// "Reset your password".
pub struct PasswordReset {
    pub portal: String,
    pub name: String,
    pub link: String,
    pub expires: String,
}
impl PasswordReset {
    fn subject(&self) -> String {
        format!("Reset your {} password", self.portal)
    }
}
email_kind!(
    PasswordReset,
    "password_reset",
    "email/password_reset.txt",
    "email/password_reset.html",
    PasswordResetText,
    PasswordResetHtml
);

/// "Your password was changed".
pub struct PasswordChanged {
    pub portal: String,
    pub name: String,
    pub when: String,
    pub reset_link: String,
}
impl PasswordChanged {
    fn subject(&self) -> String {
        format!("Your {} password was changed", self.portal)
    }
}
email_kind!(
    PasswordChanged,
    "password_changed",
    "email/password_changed.txt",
    "email/password_changed.html",
    PasswordChangedText,
    PasswordChangedHtml
);

/// "Confirm your email address".
pub struct VerifyEmail {
    pub portal: String,
    pub name: String,
    pub email: String,
    pub link: String,
    pub expires: String,
}
impl VerifyEmail {
    fn subject(&self) -> String {
        format!("Confirm your email address for {}", self.portal)
    }
}
email_kind!(
    VerifyEmail,
    "verify_email",
    "email/verify_email.txt",
    "email/verify_email.html",
    VerifyEmailText,
    VerifyEmailHtml
);

/// "You are invited to administer the portal".
pub struct InviteAdmin {
    pub portal: String,
    pub inviter: String,
    pub role: String,
    pub link: String,
    pub expires: String,
}
impl InviteAdmin {
    fn subject(&self) -> String {
        format!("You are invited to administer {}", self.portal)
    }
}
email_kind!(
    InviteAdmin,
    "invite_admin",
    "email/invite_admin.txt",
    "email/invite_admin.html",
    InviteAdminText,
    InviteAdminHtml
);

/// "You are invited to share a client account".
pub struct InviteUser {
    pub portal: String,
    pub inviter: String,
    pub link: String,
    pub expires: String,
}
impl InviteUser {
    fn subject(&self) -> String {
        format!(
            "{} invited you to their {} account",
            self.inviter, self.portal
        )
    }
}
email_kind!(
    InviteUser,
    "invite_user",
    "email/invite_user.txt",
    "email/invite_user.html",
    InviteUserText,
    InviteUserHtml
);

/// A message other parts of a portal send (sign-up welcome, order confirmation): a subject and
/// a plain-text body whose blank-line-separated paragraphs become HTML paragraphs.
pub struct Generic {
    pub subject: String,
    pub body: String,
}
impl Generic {
    fn subject(&self) -> String {
        self.subject.clone()
    }

    /// The body's paragraphs.
    pub fn paragraphs(&self) -> Vec<&str> {
        self.body
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}
email_kind!(
    Generic,
    "generic",
    "email/generic.txt",
    "email/generic.html",
    GenericText,
    GenericHtml
);

/// "Your two-step verification changed": every change to a person's second factors, and an
/// administrator's reset of them, with what, when, from where and what to do if it was not them.
pub struct TwoFactorChanged {
    pub portal: String,
    pub name: String,
    /// The subject line.
    pub subject: String,
    /// What changed, as a sentence.
    pub what: String,
    pub when: String,
    /// The address the change came from, or who made it.
    pub from: String,
    pub reset_link: String,
    pub security_link: String,
    /// Whom to tell: "contact support" or "tell another administrator".
    pub contact: String,
}
impl TwoFactorChanged {
    fn subject(&self) -> String {
        self.subject.clone()
    }
}
email_kind!(
    TwoFactorChanged,
    "two_factor_changed",
    "email/two_factor_changed.txt",
    "email/two_factor_changed.html",
    TwoFactorChangedText,
    TwoFactorChangedHtml
);

/// "A wrong second factor after your password": told to the owner when a second-factor step
/// fails after the correct password (`crate::throttle`), at most once an hour.
pub struct SecondFactorFailed {
    pub portal: String,
    pub name: String,
    pub when: String,
    /// The address the sign-in came from.
    pub ip: String,
    /// The signed-in page that changes the password.
    pub password_link: String,
    /// The reset form, for an owner who cannot sign in.
    pub reset_link: String,
}
impl SecondFactorFailed {
    fn subject(&self) -> String {
        format!("Someone used your {} password", self.portal)
    }
}
email_kind!(
    SecondFactorFailed,
    "second_factor_failed",
    "email/second_factor_failed.txt",
    "email/second_factor_failed.html",
    SecondFactorFailedText,
    SecondFactorFailedHtml
);

/// "A sign-in from a new place": told to the owner after a sign-in from a network none of their
/// sign-ins of the last 90 days came from (`crate::signin::new_place`). No secret in it.
pub struct NewPlaceSignIn {
    pub portal: String,
    pub name: String,
    pub when: String,
    /// The address the sign-in came from.
    pub ip: String,
    /// The browser's user agent, as sent.
    pub device: String,
    /// The signed-in page listing (and ending) sessions.
    pub sessions_link: String,
    /// The signed-in page that changes the password.
    pub password_link: String,
}
impl NewPlaceSignIn {
    fn subject(&self) -> String {
        format!("A new sign-in to your {} account", self.portal)
    }
}
email_kind!(
    NewPlaceSignIn,
    "new_place_signin",
    "email/new_place_signin.txt",
    "email/new_place_signin.html",
    NewPlaceSignInText,
    NewPlaceSignInHtml
);

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(s: &str) -> String {
        s.replace("TOKEN123", "[token]")
    }

    #[test]
    fn password_reset_snapshot() {
        let r = PasswordReset {
            portal: "Example Hosting".into(),
            name: "Ada".into(),
            link: "https://portal.example.com/password/reset/TOKEN123".into(),
            expires: "2026-11-28 14:00 UTC".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("password_reset_subject", r.subject);
        insta::assert_snapshot!("password_reset_text", redact(&r.text));
        insta::assert_snapshot!("password_reset_html", redact(&r.html));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = Generic {
            subject: "Order <42>".into(),
            body: "Thanks for <b>ordering</b> & more.\n\nSecond paragraph.".into(),
        }
        .render()
        .unwrap();
        assert!(
            r.html
                .contains("Thanks for &#60;b&#62;ordering&#60;/b&#62; &#38; more.")
                || r.html.contains("&lt;b&gt;"),
            "{}",
            r.html
        );
        assert_eq!(r.html.matches("<p>").count(), 2);
        assert!(r.text.contains("<b>ordering</b> & more"));
    }

    #[test]
    fn other_kinds_snapshot() {
        let changed = PasswordChanged {
            portal: "Example Hosting".into(),
            name: "Ada".into(),
            when: "2026-11-28 12:00 UTC".into(),
            reset_link: "https://portal.example.com/password/reset".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("password_changed_text", changed.text);
        let verify = VerifyEmail {
            portal: "Example Hosting".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            link: "https://portal.example.com/verify-email/TOKEN123".into(),
            expires: "2026-11-28 13:00 UTC".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("verify_email_html", redact(&verify.html));
    }
}
