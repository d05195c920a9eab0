//! The grant bound held by the services themselves, not only by the pages in front of them: an
//! admin invites with, and creates roles holding, only permissions they hold, whichever front
//! end asks.

use crate::helpers::{TestApp, spawn_app};
use portcullis::admin::{AdminInviteError, Admins, Granter};
use portcullis::auth::permission::{Permission, PermissionSet};
use portcullis::domain::{AdminId, RoleId};
use portcullis::role::{RoleCreateError, Roles};

/// Hank, whose role "People" lets him manage admins and roles and nothing else, as the
/// services see him.
async fn hank(app: &TestApp) -> Granter {
    app.create_admin("root").await;
    app.admin_with_role("hank", "People", &["manage_admins", "manage_roles"])
        .await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'hank'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let row = Admins::from(&app.state)
        .find(AdminId(id))
        .await
        .unwrap()
        .expect("hank exists");
    let held = Roles::from(&app.state)
        .permissions(RoleId(row.role_id))
        .await
        .unwrap();
    Granter::new(&row, held)
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_admins_service_refuses_an_invitation_with_a_role_beyond_the_inviter() {
    let app = spawn_app().await;
    let hank = hank(&app).await;
    let admins = Admins::from(&app.state);
    let refused = admins
        .invite(&hank, "eve@example.com", Some(RoleId(1)))
        .await;
    let Err(AdminInviteError::Beyond(refusal)) = refused else {
        panic!("inviting a Full Administrator was not refused: {refused:?}");
    };
    let message = refusal.to_string();
    assert!(
        message
            .contains("The role Full Administrator holds permissions your role (People) does not")
            && message.contains("configure_general_settings"),
        "{message}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM one_time_tokens WHERE purpose = 'invite_admin'"
        )
        .await,
        0,
        "no link was stored"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM mail_messages WHERE template = 'invite_admin'"
        )
        .await,
        0,
        "no invitation was queued"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'admin.invite'"
        )
        .await,
        0
    );

    // His own role he can give.
    let people = RoleId(count(&app, "SELECT id FROM roles WHERE name = 'People'").await);
    admins
        .invite(&hank, "pat@example.com", Some(people))
        .await
        .expect("an invitation with the inviter's own role is sent");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM mail_messages WHERE template = 'invite_admin'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_roles_service_refuses_to_create_a_role_holding_more_than_its_creator() {
    let app = spawn_app().await;
    let hank = hank(&app).await;
    let roles = Roles::from(&app.state);
    let bans: PermissionSet = [Permission::ManageBannedIps].into_iter().collect();
    let refused = roles.create(&hank, "Bouncers", bans).await;
    let Err(RoleCreateError::Beyond(refusal)) = refused else {
        panic!("a role beyond its creator was created: {refused:?}");
    };
    assert!(
        refusal.to_string().contains("manage_banned_ips"),
        "{refusal}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM roles WHERE name = 'Bouncers'").await,
        0
    );

    // What he holds he can put into a new role, and the creation is recorded.
    let staff: PermissionSet = [Permission::ManageAdmins].into_iter().collect();
    let id = roles
        .create(&hank, "Staff", staff)
        .await
        .expect("a role within its creator's permissions is created");
    assert_eq!(roles.permissions(id).await.unwrap(), staff);
    assert_eq!(
        count(
            &app,
            // Only Staff's entry: the set-up made People on the roles page, audited too.
            "SELECT COUNT(*) FROM audit_log WHERE action = 'role.created' AND detail = 'Staff'"
        )
        .await,
        1
    );
}
