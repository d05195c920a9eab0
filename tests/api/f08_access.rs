//! F08 and the roles: every admin route is gated by a permission (checked by walking the route
//! table with an admin whose role grants nothing) and by the very permission its gate in the
//! table names (every other permission is refused, that one alone lets through), the Access
//! Denied page says what, which, whose role and who can grant it, roles are edited with
//! checkboxes, the last Full Administrator is protected, and deleting another admin removes
//! them and ends their sessions.

use crate::helpers::{PASSWORD, csrf_from, location, new_client, spawn_app};
use portcullis::auth::permission::Permission;
use portcullis::web::routes::{self, Gate};
use serde_json::Value;

/// Admin routes that need no permission: sign-in and its second step, one-time links, the
/// landing page (which redirects by role) and an admin's own account pages.
const NO_PERMISSION: [&str; 25] = [
    "/admin",
    "/admin/login",
    "/admin/logout",
    "/admin/password/reset",
    "/admin/password/reset/{token}",
    "/admin/invite/{token}",
    "/admin/setup/{token}",
    "/admin/login/2fa",
    "/admin/login/2fa/cancel",
    "/admin/login/2fa/enrol",
    "/admin/login/2fa/webauthn/options",
    "/admin/login/2fa/webauthn",
    "/admin/login/2fa/duo",
    "/admin/login/2fa/duo/callback",
    "/admin/sessions",
    "/admin/sessions/end",
    "/admin/sessions/end-others",
    "/admin/sessions/confirm",
    "/admin/account/password",
    // Signing in to an admin-realm OpenID application: any admin may, and the application
    // reads the role from the `roles` claim (tests/api/oidc_flow.rs).
    "/admin/oidc/authorize",
    "/admin/oidc/authorize/continue",
    "/admin/oidc/consent",
    "/admin/oidc/logout",
    "/admin/oidc/logout/confirm",
    // Forward authentication's round trip for admin-realm rules: it only redirects, and the
    // rule's permission is checked on every proxied request (tests/api/forward_auth.rs).
    "/admin/forward-auth/signin",
];

/// Every `(method, path, gate)` of the route table under `/admin`.
fn admin_routes() -> Vec<(&'static str, &'static str, Gate)> {
    routes::table()
        .into_iter()
        .filter(|r| r.path == "/admin" || r.path.starts_with("/admin/"))
        .map(|r| (r.method.as_str(), r.path, r.gate))
        .collect()
}

#[tokio::test]
async fn every_admin_route_outside_the_short_list_needs_a_permission() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let client = app.admin_with_role("nobody", "Nobody", &[]).await;
    // A role without main_homepage lands on a page it may see, not on Access Denied.
    let r = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&r), "/admin/account/security");
    let page = app.text_with(&client, "/admin/account/security").await;
    let csrf = csrf_from(&page);
    let routes = admin_routes();
    assert!(routes.len() > 40, "the route table was read: {routes:?}");
    let mut unguarded = Vec::new();
    // Signing out (here, or confirmed at the OpenID end-session endpoint) would end the walk;
    // it needs no permission anyway.
    let signs_out = |p: &str| p == "/admin/logout" || p == "/admin/oidc/logout/confirm";
    for (method, path, gate) in routes.iter().filter(|(_, p, _)| !signs_out(p)) {
        let concrete = path.replace("{id}", "1").replace("{token}", "x");
        let request = match *method {
            "GET" => client.get(app.url(&concrete)),
            _ => client
                .post(app.url(&concrete))
                .header("x-csrf-token", &csrf)
                .form(&[("csrf_token", csrf.as_str())]),
        };
        let r = request
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let denied = status == 403
            && r.json::<Value>()
                .await
                .is_ok_and(|j| j["error"] == "access_denied");
        let exempt = NO_PERMISSION.contains(path) || path.starts_with("/admin/account/security");
        if !denied && !exempt {
            unguarded.push(format!("{method} {path} -> {status}"));
        }
        // The table says the same: a permission in the gate of every route outside the list
        // (`/admin` names main_homepage but redirects instead of refusing).
        if exempt == gate.permission().is_some() && *path != "/admin" {
            unguarded.push(format!("{method} {path}: the table's gate is {gate:?}"));
        }
        if denied && exempt {
            unguarded.push(format!(
                "{method} {path} is denied but listed as needing no permission"
            ));
        }
    }
    assert!(
        unguarded.is_empty(),
        "admin routes without a permission gate: {unguarded:#?}"
    );
}

#[tokio::test]
async fn each_admin_route_is_refused_without_exactly_the_permission_its_gate_names() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    // One admin whose role root changes between requests: permissions are read on every request.
    let root = app.signed_in_admin("root").await;
    let role_id = app.create_role("Probe", &[]).await;
    app.create_admin_in_role("probe", role_id).await;
    let client = app.signed_in_admin("probe").await;
    let page = app.text_with(&client, "/admin/account/security").await;
    let csrf = csrf_from(&page);
    let send = |method: &str, path: &str| {
        let url = app.url(&path.replace("{id}", "1").replace("{token}", "x"));
        let request = if method == "GET" {
            client.get(url)
        } else {
            client
                .post(url)
                .header("x-csrf-token", &csrf)
                .form(&[("csrf_token", csrf.as_str())])
        };
        request.header("accept", "application/json").send()
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for (method, path, gate) in admin_routes() {
        let exempt = NO_PERMISSION.contains(&path) || path.starts_with("/admin/account/security");
        let Some(permission) = gate.permission() else {
            if !exempt {
                problems.push(format!("{method} {path}: the gate names no permission"));
            }
            continue;
        };
        let what = format!("{method} {path} ({})", permission.as_str());

        // Every permission but the named one: Access Denied, naming it and what it allows.
        let others: Vec<&str> = Permission::ALL
            .iter()
            .filter(|p| **p != permission)
            .map(|p| p.as_str())
            .collect();
        app.edit_role(&root, role_id, "Probe", &others).await;
        let r = send(method, path).await.unwrap();
        let (status, to) = (r.status().as_u16(), location(&r));
        if path == "/admin" {
            // The landing page sends a role without the dashboard to its first page instead.
            if status != 303 || to == "/admin" || to.starts_with("/admin/login") {
                problems.push(format!("{what} without it -> {status} {to}"));
            }
        } else {
            let json: Value = r.json().await.unwrap_or_default();
            let named = json["error"] == "access_denied"
                && json["access"]["missing"] == serde_json::json!([permission.as_str()])
                && json["access"]["action"] == permission.action();
            if status != 403 || !named {
                problems.push(format!("{what} without it -> {status} {to} {json}"));
            }
        }

        // Only the named one: let through (whatever the empty form then gets).
        app.edit_role(&root, role_id, "Probe", &[permission.as_str()])
            .await;
        let r = send(method, path).await.unwrap();
        let (status, to) = (r.status().as_u16(), location(&r));
        let body = r.text().await.unwrap();
        let landed = path != "/admin" || status == 200;
        // A 403 past the gate is the handler's own rule (an admin with only manage_admins may
        // not delete a Full Administrator), not the gate: the gate's refusal is access_denied.
        let gated = status == 403 && body.contains("\"access_denied\"");
        if gated || to.starts_with("/admin/login") || !landed {
            problems.push(format!("{what} with only it -> {status} {to} {body}"));
        }
        checked += 1;
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked >= 35, "{checked} gated route methods");
}

#[tokio::test]
async fn f08_access_denied_names_the_action_the_permission_the_role_and_who_can_grant_it() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let support = app
        .admin_with_role("sam", "Helpdesk", &["main_homepage", "view_mail_log"])
        .await;
    let r = support.get(app.url("/admin/roles")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    for expected in [
        "create, edit and delete roles",
        "manage_roles",
        "Helpdesk",
        "root",
    ] {
        assert!(body.contains(expected), "{expected} in {body}");
    }
    let r = support
        .get(app.url("/admin/bans"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["error"], "access_denied");
    assert_eq!(json["access"]["action"], "see banned addresses");
    assert_eq!(json["access"]["missing"][0], "view_banned_ips");
    assert_eq!(json["access"]["role"], "Helpdesk");
    assert_eq!(json["access"]["granters"][0], "root");
    let denied: Vec<(String, String)> = sqlx::query_as(
        "SELECT subject, detail FROM audit_log WHERE action = 'access.denied' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(denied.len(), 2);
    assert_eq!(denied[0].0, "/admin/roles");
    assert!(denied[0].1.contains("manage_roles"));
    // What the role does grant works.
    assert_eq!(app.status_with(&support, "/admin/mail").await, 200);
}

#[tokio::test]
async fn roles_are_edited_with_grouped_checkboxes_and_take_effect_at_once() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    let (page, csrf) = app.form_page(&app.client, "/admin/roles").await;
    assert!(
        page.contains("Sales Operator") && page.contains("Support Operator"),
        "{page}"
    );
    let r = app
        .post_form(
            &app.client,
            "/admin/roles",
            &[("name", "Billing"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let edit = location(&r);
    let (form, csrf) = app.form_page(&app.client, &edit).await;
    for group in ["General", "Clients", "Staff", "Configuration", "Security"] {
        assert!(
            form.contains(&format!("<legend>{group}</legend>")),
            "{group}"
        );
    }
    let r = app
        .post_form(
            &app.client,
            &edit,
            &[
                ("name", "Billing"),
                ("view_mail_log", "1"),
                ("no_such_permission", "1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .post_form(
            &app.client,
            &edit,
            &[
                ("name", "Billing"),
                ("view_mail_log", "1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let billing_id: i64 = edit.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(location(&r), format!("/admin/roles?saved={billing_id}"));

    // Give an admin the role: mail log allowed, bans denied, /admin lands on the mail log.
    app.create_admin("bill").await;
    let bill_id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'bill'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/admins/{bill_id}"))
        .await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/admins/{bill_id}"),
            &[
                ("role_id", billing_id.to_string().as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let bill = new_client();
    let r = app.admin_login_with(&bill, "bill", PASSWORD).await;
    let r = app.follow_sign_in(&bill, &r).await;
    assert_eq!(location(&r), "/admin/mail");
    assert_eq!(app.status_with(&bill, "/admin/mail").await, 200);
    assert_eq!(app.status_with(&bill, "/admin/bans").await, 403);

    // A held role cannot be deleted; once nobody holds it, it can.
    let (_, csrf) = app.form_page(&app.client, "/admin/roles").await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/roles/{billing_id}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("held by 1 administrator"));
    let r = app
        .post_form(
            &app.client,
            "/admin/roles/1/delete",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/admins/{bill_id}"))
        .await;
    app.post_form(
        &app.client,
        &format!("/admin/admins/{bill_id}"),
        &[("role_id", "2"), ("csrf_token", &csrf)],
    )
    .await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/roles/{billing_id}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(location(&r), "/admin/roles?deleted=1");
    let listed = app.get(&location(&r)).await.text().await.unwrap();
    assert!(listed.contains("The role was deleted."), "{listed}");
    assert!(!listed.contains("Billing"), "{listed}");
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'role.%' OR action LIKE 'admin.%' ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        actions,
        [
            "role.created",
            "role.updated",
            "admin.updated",
            "admin.updated",
            "role.deleted"
        ]
    );
}

#[tokio::test]
async fn the_last_full_administrator_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/admins/1").await;
    for fields in [
        vec![("role_id", "2")],
        vec![("role_id", "1"), ("disabled", "1")],
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", &csrf));
        let r = app.post_form(&app.client, "/admin/admins/1", &fields).await;
        assert_eq!(r.status(), 400);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("last enabled Full Administrator")
        );
    }
    let r = app
        .post_form(
            &app.client,
            "/admin/admins/1/delete",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);

    // With a second Full Administrator, the first can be disabled; their sessions end at once.
    app.create_admin("second").await;
    let second = app.signed_in_admin("second").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/admins/2",
            &[("role_id", "1"), ("disabled", "1"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = second.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&r), "/admin/login");
    let r = app
        .admin_login_with(&new_client(), "second", PASSWORD)
        .await;
    assert_eq!(r.status(), 401, "a disabled admin cannot sign in");
    // Now "second" is disabled, so root is again the last one.
    let r = app
        .post_form(
            &app.client,
            "/admin/admins/1/delete",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn deleting_an_admin_removes_them_ends_their_sessions_and_is_audited() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    app.create_admin("leaving").await;
    let (root_id, id): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT id FROM admins WHERE username = 'root'), (SELECT id FROM admins WHERE username = 'leaving')",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    // The admin to delete is signed in on two browsers.
    let browsers = [new_client(), new_client()];
    for browser in &browsers {
        let r = app.admin_login_with(browser, "leaving", PASSWORD).await;
        let r = app.follow_sign_in(browser, &r).await;
        assert_eq!(r.status(), 200);
    }

    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/admins/{id}"))
        .await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/admins/{id}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/admins");

    // Gone: not stored, not listed, cannot sign in, and both browsers are signed out.
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let list = app.get("/admin/admins").await.text().await.unwrap();
    assert!(
        list.contains("root@example.com") && !list.contains("leaving@example.com"),
        "{list}"
    );
    for browser in &browsers {
        let r = browser.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(location(&r), "/admin/login");
    }
    let ended: Vec<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT ended_at, end_reason FROM sessions WHERE realm = 'admin' AND subject_id = $1",
    )
    .bind(id)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(ended.len(), 2);
    assert!(
        ended
            .iter()
            .all(|(at, reason)| at.is_some() && reason.as_deref() == Some("revoked")),
        "{ended:?}"
    );
    let r = app
        .admin_login_with(&new_client(), "leaving", PASSWORD)
        .await;
    assert_eq!(r.status(), 401);

    // Recorded, by whom and about whom; and the deleting admin is still signed in.
    let (actor, subject, detail): (String, String, String) = sqlx::query_as(
        "SELECT actor, subject, detail FROM audit_log WHERE action = 'admin.deleted'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(actor, format!("admin:{root_id}"));
    assert_eq!(subject, format!("admin:{id}"));
    assert_eq!(
        detail,
        "leaving; ended 2 admin session(s) and 0 login-as-client session(s)"
    );
    assert_eq!(app.get("/admin/admins").await.status(), 200);
}
