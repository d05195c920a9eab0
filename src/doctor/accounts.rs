//! Account checks: `admin.roles` (roles that land nowhere, admins whose role grants nothing,
//! no Full Administrator able to sign in) and `client.owners` (accounts whose owner cannot sign
//! in and has no way in pending).

use super::{CheckResult, Severity};
use crate::app::AppState;
use crate::auth::permission::{LANDING, Permission};

/// Permissions that are useless without another: the page or button of the first lives on a
/// page gated by the second ("Create X" without "Manage X", F08).
const NEEDS: [(Permission, Permission); 4] = [
    (Permission::ManageBannedIps, Permission::ViewBannedIps),
    (Permission::LoginAsClient, Permission::ViewClientProfile),
    (
        Permission::ManageClientAccounts,
        Permission::ViewClientProfile,
    ),
    (Permission::ViewClientProfile, Permission::ListClients),
];

/// Roles, their holders, and whether someone can still administer the portal.
pub async fn roles(state: &AppState) -> CheckResult {
    const ID: &str = super::id::ADMIN_ROLES;
    let result: Result<CheckResult, sqlx::Error> = async {
        let admins = crate::db::account::count_admins(&state.db).await?;
        if admins == 0 {
            return Ok(CheckResult::ok(
                ID,
                "No administrators yet: `portcullis serve` prints the setup link for the first one.",
            ));
        }
        if crate::db::role::enabled_full_administrators(&state.db).await? == 0 {
            return Ok(CheckResult::problem(
                ID,
                Severity::Error,
                "No enabled Full Administrator can sign in.",
                "Every Full Administrator is disabled or was deleted, so nobody can manage roles and admins.",
                "Create one on the server: `printf '%s' \"$PASSWORD\" | portcullis admin create --username NAME --email EMAIL --password-stdin`.",
            ));
        }
        let mut findings = Vec::new();
        for role in crate::db::role::list(&state.db).await? {
            if role.admins == 0 {
                continue;
            }
            let granted = crate::db::role::permissions(&state.db, role.id).await?;
            if granted.is_empty() {
                findings.push(format!(
                    "{} ({} admin(s)) grants no permission: they can only manage their own account.",
                    role.name, role.admins
                ));
            } else if !LANDING.iter().any(|(p, _)| granted.contains(*p)) {
                findings.push(format!(
                    "{} ({} admin(s)) has no page to land on after sign-in (none of {}).",
                    role.name,
                    role.admins,
                    LANDING
                        .iter()
                        .map(|(p, _)| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for (has, needs) in NEEDS {
                if granted.contains(has) && !granted.contains(needs) {
                    findings.push(format!(
                        "{} ({} admin(s)) grants {} without {}, whose page holds its form or button.",
                        role.name,
                        role.admins,
                        has.as_str(),
                        needs.as_str()
                    ));
                }
            }
        }
        Ok(if findings.is_empty() {
            CheckResult::ok(ID, "Every role in use grants a page to land on, and a Full Administrator can sign in.")
        } else {
            CheckResult::problem(
                ID,
                Severity::Warning,
                "Some admins hold a role that gives them nothing useful to open, or a permission they cannot reach.",
                "A role without any landing permission leaves its admins on their own account pages after sign-in, and a permission without the one whose page holds its form cannot be used: both end in the classic \"Access Denied\".",
                "Edit the role at /admin/roles (add main_homepage, or the permission named in the details), or give those admins another role.",
            )
            .with_details(findings)
        })
    }
    .await;
    result.unwrap_or_else(|e| CheckResult::storage_failed(ID, &e))
}

/// The owner has no password or is disabled, and no unused password reset link is pending
/// (an invitation never gives an existing owner a way in: it creates or adds other users).
/// Client accounts whose owner has no password (or is disabled) and no pending reset link.
pub async fn owners(state: &AppState) -> CheckResult {
    const ID: &str = super::id::CLIENT_OWNERS;
    let now = state.clock.unix();
    // The count is taken apart from the listed examples, which stop at 20.
    let found = crate::db::client::stuck_owners(&state.db, now, 20).await;
    match found {
        Err(e) => CheckResult::storage_failed(ID, &e),
        Ok((0, _)) => {
            CheckResult::ok(ID, "Every client account's owner can sign in or has a reset link pending.")
        }
        Ok((total, rows)) => CheckResult::problem(
            ID,
            Severity::Warning,
            format!("{total} client account(s) have an owner who cannot sign in."),
            "The owner has no password (for example an imported account) or is disabled, and no password reset link is pending, so nobody can act for the account.",
            "Send the owner a password reset (they can request one at /password/reset), or use \"Log in as the owner\" at /admin/clients/ID to act for them.",
        )
        .with_details(
            rows.into_iter()
                .map(|(id, email)| format!("account #{id}: {email}"))
                .collect(),
        ),
    }
}
