//! F08 and the roles: every admin route is gated by a permission (checked by walking the route
//! table with an admin whose role grants nothing), the Access Denied page says what, which,
//! whose role and who can grant it, roles are edited with checkboxes, and the last Full
//! Administrator is protected.

use crate::helpers::{PASSWORD, TestApp, csrf_from, location, new_client, spawn_app};
use serde_json::Value;

/// Admin routes that need no permission: sign-in and its second step, one-time links, the
/// landing page (which redirects by role) and an admin's own account pages.
const NO_PERMISSION: [&str; 18] = [
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
    "/admin/account/password",
];

/// Every `(method, path)` of the route table under `/admin`, read from its source.
fn admin_routes() -> Vec<(&'static str, String)> {
    let source = include_str!("../../src/web/routes.rs");
    let mut routes = Vec::new();
    for line in source
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(".route(\""))
    {
        let path = line[8..].split('"').next().unwrap().to_owned();
        if !(path == "/admin" || path.starts_with("/admin/")) {
            continue;
        }
        let handlers = line.split("//").next().unwrap();
        if handlers.contains("get(") {
            routes.push(("GET", path.clone()));
        }
        if handlers.contains("post(") {
            routes.push(("POST", path.clone()));
        }
    }
    routes
}

pub(crate) async fn admin_with_role(
    app: &TestApp,
    username: &str,
    role: &str,
    permissions: &[&str],
) -> reqwest::Client {
    app.create_admin(username).await;
    let role_id: i64 = sqlx::query_scalar(
        "INSERT INTO roles (name, built_in, created_at) VALUES ($1, 0, 0) RETURNING id",
    )
    .bind(role.to_owned())
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    for p in permissions {
        sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
            .bind(role_id)
            .bind((*p).to_owned())
            .execute(&app.state.db)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE admins SET role_id = $1 WHERE username = $2")
        .bind(role_id)
        .bind(username.to_owned())
        .execute(&app.state.db)
        .await
        .unwrap();
    let client = new_client();
    let r = app.admin_login_with(&client, username, PASSWORD).await;
    assert_eq!(r.status(), 303);
    client.get(app.url(&location(&r))).send().await.unwrap();
    client
}

#[tokio::test]
async fn every_admin_route_outside_the_short_list_needs_a_permission() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let client = admin_with_role(&app, "nobody", "Nobody", &[]).await;
    // A role without main_homepage lands on a page it may see, not on Access Denied.
    let r = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&r), "/admin/account/security");
    let page = client
        .get(app.url("/admin/account/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&page);
    let routes = admin_routes();
    assert!(routes.len() > 40, "the route table was read: {routes:?}");
    let mut unguarded = Vec::new();
    // Signing out would end the walk; it needs no permission anyway.
    for (method, path) in routes.iter().filter(|(_, p)| p != "/admin/logout") {
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
        let exempt =
            NO_PERMISSION.contains(&path.as_str()) || path.starts_with("/admin/account/security");
        if !denied && !exempt {
            unguarded.push(format!("{method} {path} -> {status}"));
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
async fn f08_access_denied_names_the_action_the_permission_the_role_and_who_can_grant_it() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let support =
        admin_with_role(&app, "sam", "Helpdesk", &["main_homepage", "view_mail_log"]).await;
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
    assert_eq!(
        support
            .get(app.url("/admin/mail"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
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
    assert_eq!(r.status(), 200);
    let billing_id: i64 = edit.rsplit('/').next().unwrap().parse().unwrap();

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
    let r = bill.get(app.url(&location(&r))).send().await.unwrap();
    assert_eq!(location(&r), "/admin/mail");
    assert_eq!(
        bill.get(app.url("/admin/mail"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        bill.get(app.url("/admin/bans"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

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
    assert_eq!(r.status(), 200);
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
    let second = new_client();
    let r = app.admin_login_with(&second, "second", PASSWORD).await;
    second.get(app.url(&location(&r))).send().await.unwrap();
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
