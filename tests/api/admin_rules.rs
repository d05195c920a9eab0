//! The rules around admins' power: a "login as client" session ends as soon as its admin is
//! disabled, deleted or loses `login_as_client`; an admin grants (through roles and invitations)
//! only permissions they hold; an invitation needs an explicit role, and shows its link when
//! sending mail is off; and what an admin does as a client is recorded as the admin's doing.

use crate::helpers::{
    PASSWORD, TestApp, bar_links, csrf_from, location, new_client, spawn_app, spawn_with,
};

async fn client_id(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM clients ORDER BY id LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

/// `admin` (a signed-in client) starts "login as client" for the first account and returns a
/// client holding that client-area session.
async fn impersonate(app: &TestApp, admin: &reqwest::Client) -> reqwest::Client {
    let id = client_id(app).await;
    crate::helpers::otp::step_up(app, admin, "/admin/account/security", PASSWORD).await;
    let (_, csrf) = app.form_page(admin, &format!("/admin/clients/{id}")).await;
    let r = app
        .post_form(
            admin,
            &format!("/admin/clients/{id}/login-as"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303, "login as client starts");
    // The admin's client now also holds the client-area cookie.
    let home = app.follow_sign_in(admin, &r).await;
    assert_eq!(home.status(), 200);
    admin.clone()
}

/// Sam, an admin whose role "Helpdesk" (made by root, whom the test created) lets him find
/// clients and sign in as them.
async fn helpdesk_sam(app: &TestApp) -> reqwest::Client {
    app.admin_with_role(
        "sam",
        "Helpdesk",
        &["list_clients", "view_client_profile", "login_as_client"],
    )
    .await
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT actor, subject, detail, ip, user_agent FROM audit_log WHERE action = $1 ORDER BY id",
    )
    .bind(action.to_owned())
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

async fn bar_of(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Vec<String>) {
    let r = client.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, bar_links(&r.text().await.unwrap()))
}

#[tokio::test]
async fn the_bar_links_only_pages_the_role_opens_and_an_impersonated_bar_leaves_out_the_clients_own()
 {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    app.create_user("ada@example.com").await;
    let (_, full) = bar_of(&app, &app.client, "/admin/sessions").await;
    assert_eq!(
        full.len(),
        16,
        "a Full Administrator sees every page: {full:?}"
    );

    let sam = helpdesk_sam(&app).await;
    let (_, bar) = bar_of(&app, &sam, "/admin/clients").await;
    assert_eq!(
        bar,
        [
            "/admin/clients",
            "/admin/sessions",
            "/admin/account/password",
            "/admin/account/security",
        ]
    );
    // Every link offered opens; the security page (its own bar) agrees.
    for path in &bar {
        let (status, on_it) = bar_of(&app, &sam, path).await;
        assert_eq!((status, &on_it), (200, &bar), "{path}");
    }

    // As Ada: her account's pages, none of her own credentials, sessions or second factors;
    // a refused page keeps the same bar (and the banner).
    let as_ada = impersonate(&app, &sam).await;
    let expected = [
        "/clientarea",
        "/account/users",
        "/account/licenses",
        "/account/profile",
        "/account/switch",
    ];
    assert_eq!(
        bar_of(&app, &as_ada, "/clientarea").await,
        (200, expected.map(str::to_owned).to_vec())
    );
    assert_eq!(
        bar_of(&app, &as_ada, "/account/password").await,
        (403, expected.map(str::to_owned).to_vec())
    );
}

#[tokio::test]
async fn for_a_role_of_any_one_permission_every_bar_link_opens_and_every_page_left_out_does_not() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    let (_, every) = bar_of(&app, &app.client, "/admin/sessions").await;
    for (i, permission) in portcullis::auth::permission::Permission::ALL
        .iter()
        .enumerate()
    {
        let name = permission.as_str();
        let admin = app
            .admin_with_role(&format!("only{i}"), name, &[name])
            .await;
        let (_, bar) = bar_of(&app, &admin, "/admin/sessions").await;
        for path in &every {
            let status = app.status_with(&admin, path).await;
            assert_eq!(
                status == 200,
                bar.contains(path),
                "{name}: {path} answers {status}, bar {bar:?}"
            );
        }
    }
}

#[tokio::test]
async fn disabling_the_admin_ends_their_login_as_client_session_at_once() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    app.create_user("ada@example.com").await;
    let sam = helpdesk_sam(&app).await;
    let as_ada = impersonate(&app, &sam).await;
    assert_eq!(app.status_with(&as_ada, "/clientarea").await, 200);

    // root disables sam.
    let sam_id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'sam'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let role: i64 = sqlx::query_scalar("SELECT role_id FROM admins WHERE id = $1")
        .bind(sam_id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/admins/{sam_id}"))
        .await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/admins/{sam_id}"),
            &[
                ("role_id", &role.to_string()),
                ("disabled", "on"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = as_ada.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(
        r.status(),
        303,
        "the client-area session ended with the admin"
    );
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE impersonator_admin_id = $1 AND ended_at IS NULL",
    )
    .bind(sam_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(live, 0);
    let updated = audit_rows(&app, "admin.updated").await;
    assert!(
        updated[0].2.contains("disabled")
            && updated[0]
                .2
                .contains("ended 1 admin session(s) and 1 login-as-client session(s)"),
        "{updated:?}"
    );
}

#[tokio::test]
async fn losing_login_as_client_ends_the_session_at_the_next_request() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    let sam = helpdesk_sam(&app).await;
    let as_ada = impersonate(&app, &sam).await;
    // root takes login_as_client from the Helpdesk role.
    let helpdesk: i64 = sqlx::query_scalar("SELECT role_id FROM admins WHERE username = 'sam'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let root = app.signed_in_admin("root").await;
    app.edit_role(
        &root,
        helpdesk,
        "Helpdesk",
        &["list_clients", "view_client_profile"],
    )
    .await;
    let r = as_ada.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin");
    let ended: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'impersonation.end'")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(
        ended[0].0.starts_with("admin:") && ended[0].1 == "revoked",
        "{ended:?}"
    );
}

#[tokio::test]
async fn actions_as_a_client_are_the_admins_and_return_or_sign_out_end_the_impersonation() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let ada = app.create_user("ada@example.com").await;
    app.create_user("grace@example.com").await;
    app.add_to_account("ada@example.com", "grace@example.com", &["profile"])
        .await;
    let grace: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'grace@example.com'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    // Setting Grace up signed Ada out once; what follows must not.
    let set_up: i64 = sqlx::query_scalar("SELECT MAX(id) FROM audit_log")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let sam = helpdesk_sam(&app).await;
    let sam_actor = app.admin_actor("sam").await;
    let as_ada = impersonate(&app, &sam).await;
    // Inviting someone while signed in as her would outlast the visit: refused (issue 18,
    // item 6; tests/api/review_impersonation_sessions.rs).
    let (_, csrf) = app.form_page(&as_ada, "/account/users").await;
    let r = app
        .post_form(
            &as_ada,
            "/account/users/invite",
            &[("email", "mallory@example.com"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        audit_rows(&app, "account.user_invited").await.len(),
        1,
        "Ada's own invitation of Grace only"
    );
    // Removing Grace from Ada's account while signed in as her is recorded as the admin's.
    let r = app
        .post_form(
            &as_ada,
            &format!("/account/users/{grace}/remove"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let removed = audit_rows(&app, "account.user_removed").await;
    assert_eq!(removed.len(), 1);
    let (actor, subject, detail, ip, ua) = &removed[0];
    assert_eq!(actor, &sam_actor, "the admin did it, not Ada");
    assert!(subject.starts_with(&format!("user:{grace}")), "{subject}");
    assert!(detail.contains("removed from the account") && detail.contains("signed in as client:"));
    assert_eq!(ip, "127.0.0.1");
    assert!(ua.contains("portcullis-tests"), "{ua}");

    // "Return to admin" ends it as the admin's impersonation.end, not as Ada's sign-out.
    let csrf = csrf_from(&app.text_with(&as_ada, "/clientarea").await);
    let r = app
        .post_form(
            &as_ada,
            "/account/impersonation/end",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let ends = audit_rows(&app, "impersonation.end").await;
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0].0, sam_actor);
    assert_eq!(ends[0].2, "logout");
    assert!(ends[0].4.contains("portcullis-tests"));

    // Signing out of a second impersonation is also the admin's impersonation.end.
    let as_ada = impersonate(&app, &sam).await;
    let csrf = csrf_from(&app.text_with(&as_ada, "/clientarea").await);
    let r = app
        .post_form(&as_ada, "/logout", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(audit_rows(&app, "impersonation.end").await.len(), 2);
    let ada_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(ada.email.clone())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let ada_signouts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'signout' AND actor = $1 AND id > $2",
    )
    .bind(format!("client:{ada_id}"))
    .bind(set_up)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(ada_signouts, 0, "Ada never signed out");
}

#[tokio::test]
async fn an_admin_grants_only_permissions_they_hold() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let hr = app
        .admin_with_role(
            "hank",
            "People",
            &[
                "main_homepage",
                "manage_admins",
                "manage_roles",
                "view_audit_log",
            ],
        )
        .await;
    let root_id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'root'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let hank_id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'hank'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let people: i64 = sqlx::query_scalar("SELECT role_id FROM admins WHERE id = $1")
        .bind(hank_id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();

    // Hank cannot make himself a Full Administrator…
    let (_, csrf) = app
        .form_page(&hr, &format!("/admin/admins/{hank_id}"))
        .await;
    let r = app
        .post_form(
            &hr,
            &format!("/admin/admins/{hank_id}"),
            &[("role_id", "1"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Full Administrator") && page.contains("configure_general_settings"),
        "{page}"
    );
    let role: i64 = sqlx::query_scalar("SELECT role_id FROM admins WHERE id = $1")
        .bind(hank_id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(role, people, "unchanged");
    // …nor disable or delete root, who holds more than he does…
    let r = app
        .post_form(
            &hr,
            &format!("/admin/admins/{root_id}"),
            &[("role_id", "1"), ("disabled", "on"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .post_form(
            &hr,
            &format!("/admin/admins/{root_id}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let root_left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE id = $1 AND disabled = 0")
            .bind(root_id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(root_left, 1);
    // …nor invite one…
    let (_, csrf) = app.form_page(&hr, "/admin/admins").await;
    let r = app
        .post_form(
            &hr,
            "/admin/admins/invite",
            &[
                ("email", "eve@example.com"),
                ("role_id", "1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // …nor add a permission he lacks to his own role.
    let (_, csrf) = app.form_page(&hr, &format!("/admin/roles/{people}")).await;
    let r = app
        .post_form(
            &hr,
            &format!("/admin/roles/{people}"),
            &[
                ("name", "People"),
                ("main_homepage", "on"),
                ("manage_admins", "on"),
                ("manage_roles", "on"),
                ("view_audit_log", "on"),
                ("manage_banned_ips", "on"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("manage_banned_ips"));
    let granted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM role_permissions WHERE role_id = $1 AND permission = 'manage_banned_ips'",
    )
    .bind(people)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(granted, 0);

    // What he holds he can give: dropping view_audit_log from the role works.
    let r = app
        .post_form(
            &hr,
            &format!("/admin/roles/{people}"),
            &[
                ("name", "People"),
                ("main_homepage", "on"),
                ("manage_admins", "on"),
                ("manage_roles", "on"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(location(&r), format!("/admin/roles?saved={people}"));
    let saved = app.text_with(&hr, &location(&r)).await;
    assert!(saved.contains("Saved the role People."), "{saved}");
    // And inviting someone with his own role works.
    let (_, csrf) = app.form_page(&hr, "/admin/admins").await;
    let r = app
        .post_form(
            &hr,
            "/admin/admins/invite",
            &[
                ("email", "pat@example.com"),
                ("role_id", &people.to_string()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(location(&r), "/admin/admins?invited=1");
}

#[tokio::test]
async fn an_invitation_needs_a_role_and_shows_its_link_when_mail_is_off() {
    let app = spawn_with(|c| c.mail.enabled = false).await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/admins").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/admins/invite",
            &[("email", "bob@example.com"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 422, "no role chosen: nothing is assumed");
    assert!(r.text().await.unwrap().contains("Choose the role"));
    let r = app
        .post_form(
            &app.client,
            "/admin/admins/invite",
            &[
                ("email", "bob@example.com"),
                ("role_id", "3"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("mail.enabled = false"), "{page}");
    let start = page
        .find(&app.url("/admin/invite/"))
        .expect("the link is shown");
    let link: String = page[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<')
        .collect();
    let bob = new_client();
    let (form, csrf) = app.form_page(&bob, &link.replace(&app.address, "")).await;
    assert!(form.contains("bob@example.com"), "{form}");
    let path = link.replace(&app.address, "");
    let r = app
        .post_form(
            &bob,
            &path,
            &[
                ("username", "bob"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let role: i64 = sqlx::query_scalar("SELECT role_id FROM admins WHERE username = 'bob'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(role, 3, "the role chosen, Support Operator");
    let invite = audit_rows(&app, "admin.invite").await;
    assert_eq!(invite[0].0, app.admin_actor("root").await);
    assert_eq!(invite[0].1, "bob@example.com");
    assert!(invite[0].4.contains("portcullis-tests"));
}

#[tokio::test]
async fn an_admin_signed_in_as_a_client_cannot_accept_an_invitation_for_them() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let ada = app.create_user("ada@example.com").await;
    let bea = app.create_user("bea@example.com").await;
    // Bea invites Ada to her account.
    let bea_client = app.signed_in_client(&bea.email).await;
    let (_, csrf) = app.form_page(&bea_client, "/account/users").await;
    app.post_form(
        &bea_client,
        "/account/users/invite",
        &[("email", ada.email.as_str()), ("csrf_token", &csrf)],
    )
    .await;
    let body: String = sqlx::query_scalar(
        "SELECT text_body FROM mail_messages WHERE template = 'invite_user' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let start = body.find(&app.url("/invite/")).unwrap();
    let path: String = body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect::<String>()
        .replace(&app.address, "");
    // Ada's account is the first one; sam signs in as her.
    let sam = helpdesk_sam(&app).await;
    let as_ada = impersonate(&app, &sam).await;
    let page = app.text_with(&as_ada, &path).await;
    assert!(
        page.contains("Sign in as") || page.contains("sign in"),
        "{page}"
    );
    let (_, csrf) = app.form_page(&as_ada, "/clientarea").await;
    let r = app
        .post_form(&as_ada, &path, &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status(), 403);
    let joined: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM client_users cu JOIN users u ON u.id = cu.user_id WHERE u.email = 'ada@example.com'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(joined, 0, "Ada did not join Bea's account");
}

#[tokio::test]
async fn audited_events_carry_actor_subject_address_and_user_agent() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    app.create_user("ada@example.com").await;
    let off = app.create_user("off@example.com").await;
    // Raw SQL: no page or command disables a client user (an account imported disabled).
    sqlx::query("UPDATE users SET disabled = 1 WHERE email = 'off@example.com'")
        .execute(&app.state.db)
        .await
        .unwrap();
    // Three refused sign-ins, each with its reason in the log (never on the page).
    for (email, password) in [
        ("ada@example.com", "not the password"),
        ("nobody@example.com", PASSWORD),
        (off.email.as_str(), PASSWORD),
    ] {
        let r = app.client_login_with(&new_client(), email, password).await;
        assert_eq!(r.status(), 401);
    }
    let failures = audit_rows(&app, "signin.failure").await;
    let reasons: Vec<&str> = failures.iter().map(|f| f.2.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "client sign-in: wrong password",
            "client sign-in: no account has this name",
            "client sign-in: the account is disabled"
        ]
    );

    // A ban added and lifted, a setting changed, and the admin's other session ended.
    let (_, csrf) = app.form_page(&app.client, "/admin/bans").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/bans",
            &[
                ("ip", "203.0.113.9"),
                ("reason", "card testing"),
                ("minutes", "60"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .post_form(
            &app.client,
            "/admin/bans/lift",
            &[("ip", "203.0.113.9"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, csrf) = app.form_page(&app.client, "/admin/settings").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/settings",
            &[("bans.client_failures", "7"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    app.admin_login_with(&new_client(), "root", PASSWORD).await;
    crate::helpers::otp::step_up(&app, &app.client, "/admin/sessions", PASSWORD).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/sessions").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);

    let root_actor = app.admin_actor("root").await;
    for (action, actor, subject) in [
        ("ban.add", root_actor.as_str(), "203.0.113.9"),
        ("ban.lift", root_actor.as_str(), "203.0.113.9"),
        (
            "setting.change",
            root_actor.as_str(),
            "setting:bans.client_failures",
        ),
        ("session.ended", root_actor.as_str(), root_actor.as_str()),
        ("signin.failure", "anonymous", "ada@example.com"),
        ("signin.success", root_actor.as_str(), root_actor.as_str()),
    ] {
        let rows = audit_rows(&app, action).await;
        let row = rows.first().unwrap_or_else(|| panic!("no {action} entry"));
        assert_eq!(row.0, actor, "{action}: {row:?}");
        assert_eq!(row.1, subject, "{action}: {row:?}");
        assert_eq!(row.3, "127.0.0.1", "{action}: {row:?}");
        assert!(row.4.contains("portcullis-tests"), "{action}: {row:?}");
    }
}

#[tokio::test]
async fn doctor_admin_roles_names_a_permission_whose_page_the_role_lacks() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    app.admin_with_role(
        "bouncer",
        "Bouncer",
        &["main_homepage", "manage_banned_ips"],
    )
    .await;
    let check = app.doctor_check("admin.roles").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Warning,
        "{check:?}"
    );
    assert!(
        check
            .details
            .iter()
            .any(|d| d.contains("Bouncer")
                && d.contains("manage_banned_ips without view_banned_ips")),
        "{check:?}"
    );
}

#[tokio::test]
async fn doctor_client_owners_counts_every_stuck_account_beyond_the_listed_ones() {
    let app = spawn_app().await;
    for i in 0..23 {
        app.create_user(&format!("owner{i}@example.com")).await;
    }
    // Raw SQL: no page or command removes a password (accounts imported without one).
    sqlx::query("UPDATE users SET password_hash = NULL")
        .execute(&app.state.db)
        .await
        .unwrap();
    let check = app.doctor_check("client.owners").await;
    assert_eq!(check.severity, portcullis::doctor::Severity::Warning);
    assert!(
        check.summary.starts_with("23 client account(s)"),
        "{check:?}"
    );
    assert_eq!(check.details.len(), 20, "the examples stop at 20");
}

#[tokio::test]
async fn a_refused_page_during_login_as_client_keeps_the_banner_and_its_return_button() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    let sam = helpdesk_sam(&app).await;
    let as_ada = impersonate(&app, &sam).await;
    let r = as_ada.get(app.url("/account/email")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"impersonation-banner\"")
            && page.contains("You (sam) are signed in as")
            && page.contains("Return to admin"),
        "{page}"
    );
    // The button on that page works: it ends the impersonation.
    let r = app
        .post_form(
            &as_ada,
            "/account/impersonation/end",
            &[("csrf_token", &csrf_from(&page))],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/admin/clients/"));
    // A refusal outside "login as client" still has no bar.
    let ada = app.signed_in_client("ada@example.com").await;
    let page = app.text_with(&ada, "/account/sessions/nothing-here").await;
    assert!(
        page.contains("Not found") || page.contains("not found"),
        "{page}"
    );
    assert!(!page.contains("impersonation-banner"));
}

#[tokio::test]
async fn a_licence_reissued_as_a_client_is_the_admins_doing_and_names_the_client() {
    let app = spawn_app().await;
    // root makes sam's role on the roles page.
    app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    let account = client_id(&app).await;
    let (license, _) = app.issue_acme_licence(account).await;
    let sam = helpdesk_sam(&app).await;
    let sam_actor = app.admin_actor("sam").await;
    let as_ada = impersonate(&app, &sam).await;
    let (_, csrf) = app.form_page(&as_ada, "/account/licenses").await;
    let r = app
        .post_form(
            &as_ada,
            &format!("/account/licenses/{license}/reissue"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let reissued = audit_rows(&app, "license.reissued").await;
    assert_eq!(reissued.len(), 1);
    let (actor, subject, detail, ip, ua) = &reissued[0];
    assert_eq!(actor, &sam_actor, "the admin did it, not Ada");
    assert_eq!(subject, &format!("license:{license}"));
    assert!(
        detail.starts_with("by the account (signed in as client:"),
        "{detail}"
    );
    assert_eq!(ip, "127.0.0.1");
    assert!(ua.contains("portcullis-tests"), "{ua}");
}
