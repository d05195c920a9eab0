//! A relying party for the provider tests: the `openidconnect` crate (written by others) over
//! our reqwest, and the browser steps that take a person through the authorization endpoint.

use super::{PASSWORD, TestApp, cookieless_client, csrf_from, location};
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use portcullis::domain::AdminId;
use portcullis::oidc::application::{Application, Applications};
use portcullis::oidc::draft::ApplicationDraft;
use serde_json::Value;

/// The redirect URI the test applications register (nothing listens there: the tests read the
/// redirect instead of following it).
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// `openidconnect`'s HTTP client: a closure over our reqwest (no cookies, no redirects).
pub async fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = super::cookieless_client();
    let (parts, body) = request.into_parts();
    let mut builder = client
        .request(parts.method, parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await?;
    let mut out = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(out.body(body).expect("a response"))
}

/// A registered application and its secret (for a confidential one).
pub struct Registered {
    pub application: Application,
    pub secret: Option<String>,
}

/// Registers an application as an admin would, from `draft` (the redirect URI filled in).
pub async fn register(app: &TestApp, mut draft: ApplicationDraft) -> Registered {
    if draft.name.is_empty() {
        draft.name = "Billing".into();
    }
    if draft.redirect_uris.is_empty() {
        draft.redirect_uris = REDIRECT.into();
    }
    let owner = format!("owner{}", draft.name.to_lowercase().replace(' ', ""));
    app.create_admin(&owner).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = $1")
        .bind(&owner)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let created = Applications::from(&app.state)
        .create(AdminId(id), &draft)
        .await
        .expect("application registered");
    Registered {
        application: created.application,
        secret: created.secret,
    }
}

/// The relying party for `registered`, configured from the provider's discovery document.
pub async fn client(
    app: &TestApp,
    registered: &Registered,
) -> openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("the discovery document parses");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.application.client_id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}

/// One authorization request as the relying party makes it.
pub struct Request {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

/// The authorization URL for `scopes` (beyond `openid`), with PKCE S256.
pub fn authorize_url<C>(client: &C, scopes: &[&str]) -> Request
where
    C: AuthorizeUrl,
{
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client.url(scopes, challenge);
    Request {
        url,
        state,
        nonce,
        verifier,
    }
}

/// The client's `authorize_url`, as a trait so the helper need not name the client's type.
pub trait AuthorizeUrl {
    fn url(&self, scopes: &[&str], challenge: PkceCodeChallenge) -> (String, CsrfToken, Nonce);
}

impl<HasDeviceAuthUrl, HasIntrospectionUrl, HasRevocationUrl, HasTokenUrl, HasUserInfoUrl>
    AuthorizeUrl
    for openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        HasDeviceAuthUrl,
        HasIntrospectionUrl,
        HasRevocationUrl,
        HasTokenUrl,
        HasUserInfoUrl,
    >
where
    HasDeviceAuthUrl: openidconnect::EndpointState,
    HasIntrospectionUrl: openidconnect::EndpointState,
    HasRevocationUrl: openidconnect::EndpointState,
    HasTokenUrl: openidconnect::EndpointState,
    HasUserInfoUrl: openidconnect::EndpointState,
{
    fn url(&self, scopes: &[&str], challenge: PkceCodeChallenge) -> (String, CsrfToken, Nonce) {
        let mut request = self.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in scopes {
            request = request.add_scope(Scope::new((*s).to_owned()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        (url.to_string(), state, nonce)
    }
}

/// The query parameters of a redirect.
pub fn query_of(location: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(location).unwrap_or_else(|_| panic!("absolute: {location}"));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One parameter of a redirect's query.
pub fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Takes `browser` (with no session) from the authorization URL through the sign-in of user
/// `email` back to the endpoint; returns the response there (a consent page, or the redirect
/// to the application).
pub async fn sign_in_through(
    app: &TestApp,
    browser: &reqwest::Client,
    authorize: &str,
    email: &str,
) -> reqwest::Response {
    let r = browser.get(authorize).send().await.unwrap();
    assert_eq!(r.status(), 303, "sent to sign in");
    let login = location(&r);
    assert!(login.starts_with("/login?oidc=signin"), "{login}");
    let page = browser.get(app.url(&login)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_from(&page.text().await.unwrap());
    let r = app
        .post_form(
            browser,
            "/login",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "signed in");
    let back = location(&r);
    assert!(
        back.starts_with("/oidc/authorize/continue?signed_in="),
        "back to the request: {back}"
    );
    browser.get(app.url(&back)).send().await.unwrap()
}

/// Answers the consent page in `page` with `decision` (`allow` or `deny`); the redirect to the
/// application.
pub async fn consent(
    app: &TestApp,
    browser: &reqwest::Client,
    page: reqwest::Response,
    decision: &str,
) -> String {
    assert_eq!(page.status(), 200, "the consent page");
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"consent-allow\""), "{html}");
    let parked = super::otp::between(&html, "name=\"parked\" value=\"", "\"").to_owned();
    let csrf = csrf_from(&html);
    let action = super::otp::between(&html, "<form method=\"post\" action=\"", "\"").to_owned();
    let r = app
        .post_form(
            browser,
            &action,
            &[
                ("parked", parked.as_str()),
                ("decision", decision),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    location(&r)
}

/// A JWT's header (`part` 0) or claims (`part` 1) as JSON, read without checking anything.
pub fn jwt_part(jwt: &str, part: usize) -> Value {
    let encoded = jwt.split('.').nth(part).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .expect("base64url"),
    )
    .expect("JSON")
}

/// A JWT's claims, read without checking anything.
pub fn jwt_claims(jwt: &str) -> Value {
    jwt_part(jwt, 1)
}

/// Checks `jwt`'s signature under the key of `jwks` (a key set as published) that its header
/// names; the claims.
pub fn verify_under(
    jwks: &Value,
    jwt: &str,
) -> Result<serde_json::Map<String, Value>, portcullis::jose::JwtError> {
    let kid = jwt_part(jwt, 0)["kid"].clone();
    let jwk = jwks["keys"]
        .as_array()
        .expect("a key set")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the key set lists the token's key");
    let key = jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(jwk.clone()).unwrap())
        .expect("a usable public key");
    portcullis::jose::verify(portcullis::jose::Use::Provider, jwt, &key)
}

/// Exchanges `code` at the token endpoint as `registered` (Basic), with the request's PKCE
/// verifier; the token answer, which must be a 200.
pub async fn exchange(app: &TestApp, registered: &Registered, code: &str, verifier: &str) -> Value {
    let r = cookieless_client()
        .post(app.url("/oidc/token"))
        .basic_auth(
            &registered.application.client_id,
            registered.secret.as_deref(),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}
