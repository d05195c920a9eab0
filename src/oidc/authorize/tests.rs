//! The checks after the redirect URI is trusted, each refusal with its spec's error code.

use super::*;
use crate::domain::{AdminId, Realm};
use crate::oidc::draft::{AuthMethod, SigningAlg};

fn application(kind: Kind) -> Application {
    Application {
        id: 1,
        client_id: "billing".into(),
        name: "Billing".into(),
        realm: Realm::Client,
        kind,
        auth_method: if kind == Kind::Public {
            AuthMethod::None
        } else {
            AuthMethod::ClientSecretBasic
        },
        signing_alg: SigningAlg::Rs256,
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        redirect_uris: vec!["https://billing.example.com/cb".into()],
        post_logout_redirect_uris: vec![],
        id_token_seconds: 300,
        access_token_seconds: 900,
        refresh_token_seconds: 2_592_000,
        first_party: false,
        backchannel_logout_uri: None,
        secret_set_at: None,
        created_at: 0,
        updated_at: 0,
        created_by: AdminId(1),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn run(kind: Kind, list: &[(&str, &str)]) -> Result<AuthorizationRequest, (&'static str, String)> {
    let base = [("response_type", "code"), ("scope", "openid email")];
    let mut all = pairs(&base);
    for (k, v) in list {
        all.retain(|(name, _)| name != k);
        all.push(((*k).to_owned(), (*v).to_owned()));
    }
    check(&application(kind), &Params::new(&all))
}

fn refused(kind: Kind, list: &[(&str, &str)]) -> (&'static str, String) {
    run(kind, list).expect_err("refused")
}

#[test]
fn a_plain_code_request_passes_with_openid_first_and_no_repeats() {
    let r = run(
        Kind::Confidential,
        &[("scope", "email openid email"), ("nonce", "n-1")],
    )
    .unwrap();
    assert_eq!(r.scopes, ["openid", "email"]);
    assert_eq!(r.nonce.as_deref(), Some("n-1"));
    assert_eq!(r.prompt, Prompt::default());
    assert_eq!(r.code_challenge, None);
}

#[test]
fn only_the_code_flow_is_served() {
    assert_eq!(
        refused(Kind::Confidential, &[("response_type", "token")]).0,
        "unsupported_response_type"
    );
    assert_eq!(
        refused(Kind::Confidential, &[("response_type", "code id_token")]).0,
        "unsupported_response_type"
    );
    assert_eq!(
        refused(Kind::Confidential, &[("response_type", "")]).0,
        "invalid_request"
    );
    assert_eq!(
        refused(Kind::Confidential, &[("response_mode", "fragment")]).0,
        "invalid_request"
    );
}

#[test]
fn scopes_need_openid_and_only_allowed_ones() {
    let (error, why) = refused(Kind::Confidential, &[("scope", "email")]);
    assert_eq!((error, why.contains("openid")), ("invalid_scope", true));
    let (error, why) = refused(Kind::Confidential, &[("scope", "openid roles")]);
    assert_eq!(error, "invalid_scope");
    assert!(
        why.contains("\"roles\"") && why.contains("openid profile email"),
        "{why}"
    );
}

#[test]
fn pkce_is_s256_only_and_required_for_public_applications() {
    let ok = run(
        Kind::Public,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    assert_eq!(ok.code_challenge.as_deref(), Some(CHALLENGE));
    let (error, why) = refused(Kind::Public, &[]);
    assert_eq!(error, "invalid_request");
    assert!(why.contains("must use PKCE"), "{why}");
    for method in [None, Some("plain")] {
        let mut list = vec![("code_challenge", CHALLENGE)];
        if let Some(m) = method {
            list.push(("code_challenge_method", m));
        }
        let (error, why) = refused(Kind::Confidential, &list);
        assert_eq!(error, "invalid_request");
        assert!(why.contains("plain is refused"), "{why}");
    }
    let (_, why) = refused(
        Kind::Public,
        &[
            ("code_challenge", "short"),
            ("code_challenge_method", "S256"),
        ],
    );
    assert!(why.contains("43 characters"), "{why}");
    let (_, why) = refused(Kind::Confidential, &[("code_challenge_method", "S256")]);
    assert!(why.contains("without code_challenge"), "{why}");
}

#[test]
fn prompt_and_max_age_are_read_and_bad_values_refused() {
    let r = run(
        Kind::Confidential,
        &[("prompt", "login consent"), ("max_age", "0")],
    )
    .unwrap();
    assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
    assert_eq!(r.max_age, Some(0));
    assert!(
        run(Kind::Confidential, &[("prompt", "none")])
            .unwrap()
            .prompt
            .none
    );
    for bad in [
        &[("prompt", "none login")][..],
        &[("prompt", "sometimes")],
        &[("max_age", "-1")],
        &[("max_age", "soon")],
    ] {
        assert_eq!(
            refused(Kind::Confidential, bad).0,
            "invalid_request",
            "{bad:?}"
        );
    }
}

#[test]
fn request_objects_repeats_and_overlong_echoes_are_refused() {
    assert_eq!(
        refused(Kind::Confidential, &[("request", "eyJ")]).0,
        "request_not_supported"
    );
    assert_eq!(
        refused(Kind::Confidential, &[("request_uri", "https://x")]).0,
        "request_uri_not_supported"
    );
    let long = "n".repeat(ECHO_MAX + 1);
    assert_eq!(
        refused(Kind::Confidential, &[("nonce", &long)]).0,
        "invalid_request"
    );
    let twice = pairs(&[
        ("response_type", "code"),
        ("scope", "openid"),
        ("scope", "openid email"),
    ]);
    let (error, why) = check(&application(Kind::Confidential), &Params::new(&twice)).unwrap_err();
    assert_eq!(error, "invalid_request");
    assert!(why.contains("scope is given more than once"), "{why}");
    // An empty value is as if the parameter were not sent (RFC 6749 §3.1).
    let empty = pairs(&[
        ("response_type", "code"),
        ("scope", "openid"),
        ("nonce", ""),
        ("nonce", "x"),
    ]);
    assert!(check(&application(Kind::Confidential), &Params::new(&empty)).is_ok());
}

#[test]
fn an_error_goes_back_with_state_and_iss_on_the_registered_uri_keeping_its_query() {
    let refusal = RedirectRefusal {
        redirect_uri: "https://billing.example.com/cb?tenant=7".into(),
        error: "invalid_scope",
        description: "scope \"roles\" is not allowed".into(),
        state: Some("s&1".into()),
    };
    let location = refusal.location("https://portal.example.com");
    let url = url::Url::parse(&location).unwrap();
    assert_eq!(url.host_str(), Some("billing.example.com"));
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("tenant"), Some("7"));
    assert_eq!(get("error"), Some("invalid_scope"));
    assert_eq!(get("state"), Some("s&1"));
    assert_eq!(get("iss"), Some("https://portal.example.com"));
}
