//! The token endpoint's grants (RFC 6749 §4.1.3 and §6, Core §3.1.3, RFC 7636 §4.6) and the
//! access tokens userinfo accepts.
//!
//! - A code is exchanged once: the exchange that marks it used wins on every node. A code that
//!   comes back revokes what its first exchange issued (RFC 6749 §4.1.2), since one of the two
//!   presenters stole it.
//! - Access and refresh tokens are random, opaque, and stored as SHA-256 only.
//! - A refresh token is replaced by a new one on every use. The replaced token is honoured once
//!   more within [`GRACE_SECONDS`] (two tabs refreshing at once, a retry after a timeout: F19);
//!   after that, presenting it again means it was copied, and the whole family (every token
//!   descended from the code) is revoked.
//! - Tokens live no longer than the session they came from (except with `offline_access`),
//!   nor than the consent: withdrawing it ends them (`Grants::withdraw`).
//!
//! Each refused grant is recorded for the application's page with its cause (F19), while the
//! application reads the terse `invalid_grant` the spec names.

use super::application::{Application, Applications, ClientAuthError};
use super::claims::{self, Target};
use super::keys::{KeyError, Keys};
use crate::app::AppState;
use crate::audit::record;
use crate::clock::Clock;
use crate::db;
use crate::db::oidc_token::TokenRow;
use crate::domain::Realm;
use crate::domain::audit::{Action, Actor};
use crate::jose::KeyPair;
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long a replaced refresh token is still honoured, once (F19).
pub const GRACE_SECONDS: i64 = 30;

/// The token service.
#[derive(Clone)]
pub struct Tokens {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    applications: Applications,
    keys: Keys,
    issuer: String,
}

impl From<&AppState> for Tokens {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            applications: Applications::from(state),
            keys: Keys::from(state),
            issuer: state.config.system_url.origin(),
        }
    }
}

/// What a successful grant returns (RFC 6749 §5.1, Core §3.1.3.3).
#[derive(Debug, serde::Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

/// Why a grant was refused: the error code of RFC 6749 §5.2 and what the application is told.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// `invalid_grant`, with the recorded cause (`code_reused`, `refresh_reused`, ...).
    #[error("{description}")]
    InvalidGrant {
        reason: &'static str,
        description: String,
    },
    /// `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    /// The signing key could not be read or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the system's random source is unavailable")]
    Random,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl GrantError {
    /// The `error` member of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidGrant { .. } => "invalid_grant",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidScope(_) => "invalid_scope",
            Self::Key(_) | Self::Random | Self::Storage(_) => "server_error",
        }
    }

    fn grant(reason: &'static str, description: &str) -> Self {
        Self::InvalidGrant {
            reason,
            description: description.to_owned(),
        }
    }
}

/// The grant a token carries, for userinfo and introspection.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub application_id: i64,
    pub realm: Realm,
    pub subject_id: i64,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

/// What the token's code or predecessor says about the sign-in.
struct Basis<'a> {
    family_id: &'a str,
    session_id_hash: &'a str,
    realm: &'a str,
    subject_id: i64,
    scopes: &'a str,
    auth_time: i64,
    second_factor: Option<&'a str>,
    nonce: Option<&'a str>,
    /// The code this grant spends, for an exchange.
    spends: Option<&'a str>,
}

async fn session_live(
    conn: &mut db::Connection,
    id_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let row = db::session::find_by_hash(&mut *conn, id_hash).await?;
    Ok(row.is_some_and(|s| {
        let life = db::oidc_grant::SessionLife {
            ended_at: s.ended_at,
            expires_at: s.expires_at,
        };
        life.live_at(now)
    }))
}

/// BASE64URL(SHA-256(verifier)) (RFC 7636 §4.2).
fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
fn verifier_shaped(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn subject_gone() -> GrantError {
    GrantError::grant(
        "subject_gone",
        "the person no longer has an account here, or it is disabled",
    )
}

fn new_secret() -> Result<crate::token::NewSecret, GrantError> {
    crate::token::generate().map_err(|_| GrantError::Random)
}

/// An application authenticated at a protocol endpoint (token, revocation, introspection),
/// holding the connection the rest of its request runs on: sqlx pings a connection each time it
/// goes back to the pool, so one connection per request saves a round trip per statement.
pub struct Client {
    pub application: Application,
    conn: db::Pooled,
}

impl Tokens {
    /// Authenticates the application of a protocol request at `endpoint`; a refusal is
    /// recorded with its cause (F15).
    ///
    /// # Errors
    /// The cause; storage errors.
    pub async fn authenticate(
        &self,
        endpoint: &str,
        credentials: &crate::oidc::credentials::Credentials,
    ) -> Result<Client, ClientAuthError> {
        let mut conn = self.db.acquire().await?;
        let application = self
            .applications
            .authenticate_at(&mut conn, endpoint, credentials)
            .await?;
        Ok(Client { application, conn })
    }

    /// A grant's result, its refusal (if any) recorded for the application's page.
    async fn recorded(
        &self,
        conn: &mut db::Connection,
        application: &Application,
        result: Result<Issued, GrantError>,
    ) -> Result<Issued, GrantError> {
        match result {
            Ok(issued) => Ok(issued),
            Err(e) => Err(self.refused(conn, application, e).await),
        }
    }

    /// Records a refused grant for the application's page and returns it.
    async fn refused(
        &self,
        conn: &mut db::Connection,
        application: &Application,
        e: GrantError,
    ) -> GrantError {
        let (reason, detail) = match &e {
            GrantError::InvalidGrant {
                reason,
                description,
            } => (*reason, description.clone()),
            GrantError::InvalidRequest(d) => ("invalid_request", d.clone()),
            GrantError::InvalidScope(d) => ("invalid_scope", d.clone()),
            _ => return e,
        };
        let refusal = (
            Some(application.id),
            application.client_id.as_str(),
            "token",
            reason,
            detail.as_str(),
        );
        let recorded = self.applications.record_refusal_on(conn, refusal).await;
        if let Err(storage) = recorded {
            return GrantError::Storage(storage);
        }
        e
    }

    /// Exchanges an authorization code (`grant_type=authorization_code`).
    ///
    /// # Errors
    /// [`GrantError`], each refusal recorded for the application's page.
    pub async fn exchange_code(
        &self,
        client: &mut Client,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let Client { application, conn } = client;
        let result = self
            .try_exchange(conn, application, code, redirect_uri, verifier)
            .await;
        self.recorded(conn, application, result).await
    }

    async fn try_exchange(
        &self,
        conn: &mut db::Connection,
        application: &Application,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let code = code.ok_or_else(|| GrantError::InvalidRequest("code is missing".into()))?;
        let code_hash = crate::token::hash(code);
        let now = self.clock.unix();
        // Everything on the client's connection; the code, its session and its person in
        // one read.
        let stored = if crate::token::looks_valid(code) {
            db::oidc_grant::code_with_session(&mut *conn, &code_hash).await?
        } else {
            None
        };
        let Some(db::oidc_grant::CodeLookup {
            code: stored,
            session,
            user,
            admin,
        }) = stored
        else {
            return Err(GrantError::grant(
                "code_unknown",
                "the code is not one this provider issued",
            ));
        };
        if stored.application_id != application.id {
            return Err(GrantError::grant(
                "code_other_application",
                "the code was issued to another application",
            ));
        }
        if stored.used_at.is_some() {
            self.code_came_back(conn, application, &stored, now).await?;
            return Err(GrantError::grant(
                "code_reused",
                "the code was already exchanged; the tokens it gave were revoked",
            ));
        }
        if stored.expires_at <= now {
            return Err(GrantError::grant(
                "code_expired",
                "the code expired (codes live 60 seconds)",
            ));
        }
        if redirect_uri != Some(stored.redirect_uri.as_str()) {
            return Err(GrantError::grant(
                "token_redirect_uri_mismatch",
                "redirect_uri is not the one the authorization request used",
            ));
        }
        match (&stored.code_challenge, verifier) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(GrantError::grant(
                    "pkce_unexpected_verifier",
                    "code_verifier was sent but the authorization request had no code_challenge",
                ));
            }
            (Some(_), None) => {
                return Err(GrantError::grant(
                    "pkce_missing_verifier",
                    "code_verifier is missing (the authorization request used PKCE)",
                ));
            }
            (Some(challenge), Some(v)) => {
                let matches = verifier_shaped(v)
                    && crate::token::equal(s256(v).as_bytes(), challenge.as_bytes());
                if !matches {
                    return Err(GrantError::grant(
                        "pkce_mismatch",
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
        }
        if !session.is_some_and(|s| s.live_at(now)) {
            return Err(GrantError::grant(
                "session_ended",
                "the portal session the code came from has ended",
            ));
        }
        let family = new_secret()?;
        let basis = Basis {
            family_id: &family.hash,
            session_id_hash: &stored.session_id_hash,
            realm: &stored.realm,
            subject_id: stored.subject_id,
            scopes: &stored.scopes,
            auth_time: stored.auth_time,
            second_factor: stored.second_factor.as_deref(),
            nonce: stored.nonce.as_deref(),
            spends: Some(&code_hash),
        };
        // The person came with the code: no read of their own.
        let person = match Realm::parse(&stored.realm) {
            Some(Realm::Client) => user.map(claims::Person::User),
            Some(Realm::Admin) => admin.map(claims::Person::Admin),
            None => None,
        }
        .and_then(claims::Person::enabled)
        .ok_or_else(subject_gone)?;
        let key = self.keys.signing_on(conn, application.signing_alg).await?;
        self.issue(conn, &key, application, &basis, Some(person), now)
            .await
    }

    /// A code presented a second time: revoke what its first exchange issued, and audit it.
    async fn code_came_back(
        &self,
        conn: &mut db::Connection,
        application: &Application,
        stored: &db::oidc_grant::CodeRow,
        now: i64,
    ) -> Result<(), GrantError> {
        let Some(family) = &stored.family_id else {
            return Ok(());
        };
        let mut tx = sqlx::Connection::begin(conn).await?;
        let ended = db::oidc_token::revoke_family(&mut *tx, family, "code_reused", now).await?;
        record(
            &mut *tx,
            now,
            &Actor::System,
            Action::OidcCodeReused,
            format!("oidc_application:{}", application.id),
            &format!(
                "{}: an authorization code was presented twice; {ended} tokens revoked",
                application.name
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a refresh token (`grant_type=refresh_token`), optionally narrowing the scopes.
    ///
    /// # Errors
    /// [`GrantError`], each refusal recorded for the application's page.
    pub async fn refresh(
        &self,
        client: &mut Client,
        refresh_token: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let Client { application, conn } = client;
        let result = self
            .try_refresh(conn, application, refresh_token, scope)
            .await;
        self.recorded(conn, application, result).await
    }

    async fn try_refresh(
        &self,
        conn: &mut db::Connection,
        application: &Application,
        refresh_token: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let token = refresh_token
            .ok_or_else(|| GrantError::InvalidRequest("refresh_token is missing".into()))?;
        let hash = crate::token::hash(token);
        let now = self.clock.unix();
        let stored = if crate::token::looks_valid(token) {
            db::oidc_token::find(&mut *conn, &hash).await?
        } else {
            None
        };
        let Some(stored) = stored.filter(|t| t.kind == "refresh") else {
            return Err(GrantError::grant(
                "refresh_unknown",
                "the refresh token is not one this provider issued",
            ));
        };
        if stored.application_id != application.id {
            return Err(GrantError::grant(
                "refresh_other_application",
                "the refresh token was issued to another application",
            ));
        }
        if let Some(reason) = &stored.revoked_reason {
            return Err(GrantError::InvalidGrant {
                reason: "refresh_revoked",
                description: format!(
                    "the refresh token was revoked ({})",
                    reason.replace('_', " ")
                ),
            });
        }
        if stored.expires_at <= now {
            return Err(GrantError::grant(
                "refresh_expired",
                "the refresh token expired",
            ));
        }
        let scopes = narrowed(&stored.scopes, scope)?;
        let offline = stored.scopes.split(' ').any(|s| s == "offline_access");
        if !offline && !session_live(conn, &stored.session_id_hash, now).await? {
            return Err(GrantError::grant(
                "session_ended",
                "the portal session the token came from has ended",
            ));
        }
        // The key before the token is replaced: a key that cannot sign must not use it up.
        let key = self.keys.signing_on(conn, application.signing_alg).await?;
        // Replace it; if another refresh replaced it first, this is the grace use or a reuse.
        if !db::oidc_token::replace(&mut *conn, &hash, now).await? {
            let replaced_at = db::oidc_token::find(&mut *conn, &hash)
                .await?
                .and_then(|t| t.replaced_at)
                .unwrap_or(now);
            self.replaced_again(conn, application, &stored, &hash, replaced_at, now)
                .await?;
        }
        let basis = Basis {
            family_id: &stored.family_id,
            session_id_hash: &stored.session_id_hash,
            realm: &stored.realm,
            subject_id: stored.subject_id,
            scopes: &scopes,
            auth_time: stored.auth_time,
            second_factor: stored.second_factor.as_deref(),
            nonce: None,
            spends: None,
        };
        self.issue(conn, &key, application, &basis, None, now).await
    }

    /// A refresh token presented after it was replaced: honoured once within the grace
    /// period, otherwise a reuse that revokes the family.
    async fn replaced_again(
        &self,
        conn: &mut db::Connection,
        application: &Application,
        stored: &TokenRow,
        hash: &str,
        replaced_at: i64,
        now: i64,
    ) -> Result<(), GrantError> {
        if now - replaced_at <= GRACE_SECONDS && db::oidc_token::use_grace(&mut *conn, hash).await?
        {
            return Ok(());
        }
        let mut tx = sqlx::Connection::begin(conn).await?;
        let ended =
            db::oidc_token::revoke_family(&mut *tx, &stored.family_id, "refresh_reused", now)
                .await?;
        record(
            &mut *tx,
            now,
            &Actor::System,
            Action::OidcRefreshReused,
            format!("oidc_application:{}", application.id),
            &format!(
                "{}: a replaced refresh token was used again {}s after it was replaced; {ended} tokens revoked",
                application.name,
                now - replaced_at
            ),
        )
        .await?;
        tx.commit().await?;
        Err(GrantError::grant(
            "refresh_reused",
            "the refresh token was already used; every token of this sign-in was revoked",
        ))
    }

    /// Issues an access token, a refresh token and an ID token on `basis` for `person` (read
    /// here when the caller did not bring it); with `basis.spends`, spending that code (unused
    /// until now) once the tokens are stored.
    async fn issue(
        &self,
        conn: &mut db::Connection,
        key: &KeyPair,
        application: &Application,
        basis: &Basis<'_>,
        person: Option<claims::Person>,
        now: i64,
    ) -> Result<Issued, GrantError> {
        let realm = Realm::parse(basis.realm).unwrap_or(application.realm);
        let access = new_secret()?;
        let refresh = new_secret()?;
        let row = |kind: &str, lifetime: i64| TokenRow {
            kind: kind.to_owned(),
            family_id: basis.family_id.to_owned(),
            application_id: application.id,
            session_id_hash: basis.session_id_hash.to_owned(),
            realm: basis.realm.to_owned(),
            subject_id: basis.subject_id,
            scopes: basis.scopes.to_owned(),
            auth_time: basis.auth_time,
            second_factor: basis.second_factor.map(str::to_owned),
            created_at: now,
            expires_at: now + lifetime,
            replaced_at: None,
            revoked_at: None,
            revoked_reason: None,
            issuer: self.issuer.clone(),
        };
        let scopes: Vec<&str> = basis.scopes.split(' ').collect();
        let person = match person {
            Some(p) => p,
            None => claims::Person::find(conn, realm, basis.subject_id)
                .await?
                .ok_or_else(subject_gone)?,
        };
        let extra = claims::released(conn, &person, &scopes, Target::IdToken).await?;
        let mut id = json!({
            "iss": self.issuer,
            "sub": claims::subject(realm, basis.subject_id),
            "aud": application.client_id,
            "azp": application.client_id,
            "iat": now,
            "exp": now + application.id_token_seconds,
            "auth_time": basis.auth_time,
            "amr": claims::amr(basis.second_factor),
            "acr": claims::acr(basis.second_factor),
            "sid": claims::sid(basis.session_id_hash),
        });
        if let (Some(nonce), Some(map)) = (basis.nonce, id.as_object_mut()) {
            map.insert("nonce".into(), json!(nonce));
        }
        if let Some(map) = id.as_object_mut() {
            map.extend(extra);
        }
        let id_token = crate::jose::sign(&id, key, Some("JWT"))
            .map_err(|e| GrantError::Key(KeyError::Unusable(anyhow::anyhow!(e.to_string()))))?;
        // Two statements and no transaction: the tokens go in first, and only then is the code
        // spent. Until the answer is sent nobody knows the tokens, so a stop between the two
        // leaves rows nobody can use and a code that still works; and an exchange that loses the
        // race for the code revokes its own tokens. A code is thus never spent without its
        // tokens, and SQLite's write lock is never held across an await.
        db::oidc_token::insert_pair(
            &mut *conn,
            (
                &access.hash,
                &row("access", application.access_token_seconds),
            ),
            (
                &refresh.hash,
                &row("refresh", application.refresh_token_seconds),
            ),
        )
        .await?;
        if let Some(code_hash) = basis.spends
            && !db::oidc_grant::use_code(&mut *conn, code_hash, basis.family_id, now).await?
        {
            db::oidc_token::revoke_family(&mut *conn, basis.family_id, "code_reused", now).await?;
            return Err(GrantError::grant(
                "code_reused",
                "the code was already exchanged",
            ));
        }
        Ok(Issued {
            access_token: access.plain,
            token_type: "Bearer",
            expires_in: application.access_token_seconds,
            refresh_token: refresh.plain,
            id_token,
            scope: basis.scopes.to_owned(),
        })
    }

    /// The grant behind a live access token, if it is one.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn access(&self, token: &str) -> Result<Option<AccessGrant>, sqlx::Error> {
        self.access_on(&mut *self.db.acquire().await?, token).await
    }

    async fn access_on(
        &self,
        conn: &mut db::Connection,
        token: &str,
    ) -> Result<Option<AccessGrant>, sqlx::Error> {
        if !crate::token::looks_valid(token) {
            return Ok(None);
        }
        let now = self.clock.unix();
        let Some(row) = db::oidc_token::find(&mut *conn, &crate::token::hash(token)).await? else {
            return Ok(None);
        };
        if row.kind != "access" || row.revoked_at.is_some() || row.expires_at <= now {
            return Ok(None);
        }
        let Some(realm) = Realm::parse(&row.realm) else {
            return Ok(None);
        };
        Ok(Some(AccessGrant {
            application_id: row.application_id,
            realm,
            subject_id: row.subject_id,
            scopes: row.scopes.split(' ').map(str::to_owned).collect(),
            expires_at: row.expires_at,
        }))
    }

    /// The userinfo answer for a live access token (Core §5.3): `sub` and the granted scopes'
    /// claims; `None` for a token that is not live or whose person is gone.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn userinfo(&self, token: &str) -> Result<Option<Value>, sqlx::Error> {
        // Both reads on one connection (see `db::Connection`).
        let mut conn = self.db.acquire().await?;
        let Some(grant) = self.access_on(&mut conn, token).await? else {
            return Ok(None);
        };
        let scopes: Vec<&str> = grant.scopes.iter().map(String::as_str).collect();
        let Some(mut found) = claims::of(
            &mut conn,
            grant.realm,
            grant.subject_id,
            &scopes,
            Target::UserInfo,
        )
        .await?
        else {
            return Ok(None);
        };
        found.insert(
            "sub".into(),
            json!(claims::subject(grant.realm, grant.subject_id)),
        );
        Ok(Some(Value::Object(found)))
    }
}

/// What revoking a token did (RFC 7009).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// An access token ended, or a refresh token and everything of its sign-in.
    Done,
    /// Not one of ours, or already dead: nothing to do, and the same answer (§2.2).
    Unknown,
    /// Issued to another application: refused (§2.1).
    OtherApplication,
}

impl Tokens {
    /// Revokes `token` for `application` (RFC 7009): an access token alone, a refresh token
    /// with every token of its family (§2.1: the grant it stands for ends).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn revoke(&self, client: &mut Client, token: &str) -> Result<Revoked, sqlx::Error> {
        let Client { application, conn } = client;
        if !crate::token::looks_valid(token) {
            return Ok(Revoked::Unknown);
        }
        let hash = crate::token::hash(token);
        let Some(row) = db::oidc_token::find(&mut **conn, &hash).await? else {
            return Ok(Revoked::Unknown);
        };
        if row.application_id != application.id {
            return Ok(Revoked::OtherApplication);
        }
        if row.revoked_at.is_some() {
            return Ok(Revoked::Unknown);
        }
        let now = self.clock.unix();
        if row.kind == "refresh" {
            db::oidc_token::revoke_family(&mut **conn, &row.family_id, "revoked", now).await?;
        } else {
            db::oidc_token::revoke_one(&mut **conn, &hash, "revoked", now).await?;
        }
        Ok(Revoked::Done)
    }

    /// The introspection answer (RFC 7662 §2.2) for `token` as `application` asks: active with
    /// its details when it is live and was issued to that application, otherwise only
    /// `{"active": false}` (nothing about another application's tokens is told).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn introspect(&self, client: &mut Client, token: &str) -> Result<Value, sqlx::Error> {
        let Client { application, conn } = client;
        let inactive = json!({ "active": false });
        if !crate::token::looks_valid(token) {
            return Ok(inactive);
        }
        let Some(row) = db::oidc_token::find(&mut **conn, &crate::token::hash(token)).await? else {
            return Ok(inactive);
        };
        let now = self.clock.unix();
        let live = row.revoked_at.is_none()
            && row.expires_at > now
            && (row.kind == "access" || row.replaced_at.is_none());
        let Some(realm) = Realm::parse(&row.realm) else {
            return Ok(inactive);
        };
        if !live || row.application_id != application.id {
            return Ok(inactive);
        }
        Ok(json!({
            "active": true,
            "scope": row.scopes,
            "client_id": application.client_id,
            "sub": claims::subject(realm, row.subject_id),
            "aud": application.client_id,
            "iss": self.issuer,
            "iat": row.created_at,
            "exp": row.expires_at,
            "auth_time": row.auth_time,
            "token_type": if row.kind == "access" { "Bearer" } else { "refresh_token" },
        }))
    }
}

/// The scopes of a refresh: the original ones, or the narrower set asked for (RFC 6749 §6).
fn narrowed(original: &str, asked: Option<&str>) -> Result<String, GrantError> {
    let Some(asked) = asked.filter(|a| !a.trim().is_empty()) else {
        return Ok(original.to_owned());
    };
    let had: Vec<&str> = original.split(' ').collect();
    let mut out: Vec<&str> = Vec::new();
    for s in asked.split(' ').filter(|s| !s.is_empty()) {
        if !had.contains(&s) {
            return Err(GrantError::InvalidScope(format!(
                "scope {s:?} was not granted to this token"
            )));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if !out.contains(&"openid") {
        out.insert(0, "openid");
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_of_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_43_to_128_unreserved_characters() {
        assert!(verifier_shaped(&"a".repeat(43)));
        assert!(verifier_shaped(&"a-._~".repeat(20)));
        assert!(!verifier_shaped(&"a".repeat(42)));
        assert!(!verifier_shaped(&"a".repeat(129)));
        assert!(!verifier_shaped(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_refresh_may_narrow_the_scopes_but_never_widen_them() {
        assert_eq!(narrowed("openid email", None).unwrap(), "openid email");
        assert_eq!(
            narrowed("openid email profile", Some("email")).unwrap(),
            "openid email"
        );
        assert!(matches!(
            narrowed("openid email", Some("openid roles")),
            Err(GrantError::InvalidScope(_))
        ));
    }
}
