//! "Why was this request denied?": which rule a URL meets, what it asks, and whether a given
//! person would pass. The admin page (`/admin/forward-auth`) and `portcullis forward-auth
//! explain` show the same [`Explanation`].

use super::{ForwardAuth, Target, Who};
use crate::auth::client_permission::ClientPermissions;
use crate::db;

/// Who to judge the URL for, as an operator names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    /// An admin, by username.
    Admin(String),
    /// A client-area user, by email.
    User(String),
}

/// What the rules make of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The URL as judged (host and normalised path), or why it cannot be.
    pub judged: String,
    /// The matching rule's number and text.
    pub rule: Option<(usize, String)>,
    /// One sentence: the outcome.
    pub outcome: String,
    /// More about it: the person's standing, what to change.
    pub details: Vec<String>,
}

impl ForwardAuth {
    /// Explains how a request to `url` is decided, for `person` if named.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn explain(
        &self,
        url: &str,
        person: Option<&Person>,
    ) -> Result<Explanation, sqlx::Error> {
        let target = match Target::parse(url.trim()) {
            Ok(t) => t,
            Err(why) => {
                return Ok(Explanation {
                    judged: url.to_owned(),
                    rule: None,
                    outcome: format!(
                        "This cannot be judged: it is {why}. Give the full URL the browser opened, e.g. https://status.example.com/."
                    ),
                    details: Vec::new(),
                });
            }
        };
        let settings = self.settings.current().await;
        let rules = &settings.values.forward_rules;
        let judged = format!("{}{}", target.host, target.path);
        let Some((number, rule)) = rules.first_match(&target.host, &target.path) else {
            let mut details = vec![
                "A request that no rule covers is denied to everyone. Add a rule for it (settings page, forward_auth.rules).".to_owned(),
            ];
            if rules.0.is_empty() {
                details.push("There are no rules at all yet.".to_owned());
            } else if !rules.names_host(&target.host) {
                details.push(format!("No rule names the host {} at all.", target.host));
            }
            return Ok(Explanation {
                judged,
                rule: None,
                outcome: "Denied: no rule covers this URL.".to_owned(),
                details,
            });
        };
        let outcome = match rule.who {
            Who::Bypass => {
                "Allowed to anyone, signed in or not, with every identity header empty.".to_owned()
            }
            Who::Deny => "Denied to everyone.".to_owned(),
            Who::Realm(r) => {
                format!("Allowed to anyone signed in to the {r} area; others are sent to sign in.")
            }
            Who::Admin(p) => format!(
                "Allowed to admins whose role grants {}; others are sent to sign in, or refused when signed in without it.",
                p.as_str()
            ),
            Who::Client(p) => format!(
                "Allowed to client-area users who hold {} in their active account (owners hold every permission); others are sent to sign in, or refused.",
                p.as_str()
            ),
        };
        let mut details = Vec::new();
        if let Some(person) = person {
            details.push(self.judge_person(rule.who, person).await?);
        }
        match number {
            1 => {}
            2 => details.push("Rule 1 comes first and does not cover this URL.".to_owned()),
            n => details.push(format!(
                "Rules 1 to {} come first and do not cover this URL.",
                n - 1
            )),
        }
        Ok(Explanation {
            judged,
            rule: Some((number, rule.text())),
            outcome,
            details,
        })
    }

    /// Whether `person` would pass a rule asking for `who`, in one sentence.
    async fn judge_person(&self, who: Who, person: &Person) -> Result<String, sqlx::Error> {
        let needs_realm = who.realm();
        match person {
            Person::Admin(username) => {
                let Some(admin) = db::account::find_admin_by_username(&self.db, username).await?
                else {
                    return Ok(format!("There is no admin named {username}."));
                };
                if admin.disabled {
                    return Ok(format!("{username} is disabled: refused."));
                }
                Ok(match who {
                    Who::Bypass => format!("{username} passes, as anyone does."),
                    Who::Deny => format!("{username} is refused, as everyone is."),
                    _ if needs_realm != Some(crate::domain::Realm::Admin) => format!(
                        "{username} is an admin; this rule asks for a client-area session, which an admin's session is not."
                    ),
                    Who::Admin(p) => {
                        let held = db::role::permissions(&self.db, admin.role_id).await?;
                        if held.contains(p) {
                            format!(
                                "{username} passes: their role {} grants {}.",
                                admin.role_name,
                                p.as_str()
                            )
                        } else {
                            format!(
                                "{username} is refused: their role {} does not grant {}.",
                                admin.role_name,
                                p.as_str()
                            )
                        }
                    }
                    _ => format!("{username} passes once signed in to the admin area."),
                })
            }
            Person::User(email) => {
                let Some(user) = db::account::find_user_by_email(&self.db, email).await? else {
                    return Ok(format!(
                        "There is no client-area user with the address {email}."
                    ));
                };
                if user.disabled {
                    return Ok(format!("{email} is disabled: refused."));
                }
                Ok(match who {
                    Who::Bypass => format!("{email} passes, as anyone does."),
                    Who::Deny => format!("{email} is refused, as everyone is."),
                    _ if needs_realm != Some(crate::domain::Realm::Client) => format!(
                        "{email} is a client-area user; this rule asks for an admin session."
                    ),
                    Who::Client(p) => {
                        let accounts = db::client::memberships(&self.db, user.id).await?;
                        let granting: Vec<&str> = accounts
                            .iter()
                            .filter(|m| {
                                ClientPermissions::held(m.is_owner, &m.permissions).contains(p)
                            })
                            .map(|m| m.label.as_str())
                            .collect();
                        if granting.is_empty() {
                            format!(
                                "{email} is refused: they hold {} in none of their client accounts.",
                                p.as_str()
                            )
                        } else {
                            format!(
                                "{email} passes while their active account is one that grants {}: {}.",
                                p.as_str(),
                                granting.join(", ")
                            )
                        }
                    }
                    _ => format!("{email} passes once signed in to the client area."),
                })
            }
        }
    }
}
