//! The app's own URLs named in `domain::paths` are routes of the one route table, so a path
//! renamed in the table and not there (or the other way round) fails here, not as a dead link
//! in a page, an email or a verify answer.

use portcullis::domain::{Realm, paths};

/// Whether the table answers `path`: a route of exactly that path, or, for a prefix ending in
/// `/` (a token link, the API, static files), a route below it.
fn routed(path: &str) -> bool {
    portcullis::web::routes::table()
        .iter()
        .any(|route| route.path == path || (path.ends_with('/') && route.path.starts_with(path)))
}

#[test]
fn every_shared_path_and_every_realm_page_is_a_route() {
    let mut named = vec![
        paths::REGISTER,
        paths::ACCOUNT_LICENSES,
        paths::ACCOUNT_USERS,
        paths::ACCOUNT_PROFILE,
        paths::MEMBER_INVITE,
        paths::VERIFY_EMAIL,
        paths::ADMIN_SETUP,
        paths::ADMIN_INVITE,
        paths::ADMIN_ADMINS,
        paths::ADMIN_ROLES,
        paths::ADMIN_CLIENTS,
        paths::ADMIN_HEALTH,
        paths::ADMIN_BANS,
        paths::ADMIN_MAIL,
        paths::ADMIN_AUDIT,
        paths::ADMIN_LICENSES,
        paths::API,
        paths::HEALTHZ,
        paths::STATIC,
    ];
    named.extend(paths::TOKEN_LINKS);
    for realm in Realm::ALL {
        named.extend([
            realm.home_path(),
            realm.login_path(),
            realm.second_factor_path(),
            realm.reset_path(),
            realm.reset_link_prefix(),
            realm.security_path(),
            realm.password_path(),
            realm.sessions_path(),
        ]);
    }
    let missing: Vec<&str> = named.into_iter().filter(|p| !routed(p)).collect();
    assert!(missing.is_empty(), "not in the route table: {missing:?}");
}

#[test]
fn one_record_pages_are_routes_of_their_lists() {
    let table = portcullis::web::routes::table();
    for (pattern, built) in [
        (
            "/admin/clients/{id}",
            paths::admin_client(portcullis::domain::ClientId(4)),
        ),
        ("/admin/licenses/{id}", paths::admin_license(4)),
    ] {
        assert!(table.iter().any(|r| r.path == pattern), "{pattern}");
        assert_eq!(built, pattern.replace("{id}", "4"));
    }
}
