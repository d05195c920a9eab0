//! OpenID Connect applications: the registered relying parties, their redirect URIs and the
//! record of refused requests. Values are stored as their stable strings; the service
//! (`oidc::application`) parses and validates them.

use super::Db;
use sqlx::{Executor, Row as _};

/// An application as stored.
#[derive(Debug, Clone)]
pub struct ApplicationRow {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub realm: String,
    pub kind: String,
    pub secret_hash: Option<String>,
    pub secret_set_at: Option<i64>,
    pub auth_method: String,
    pub signing_alg: String,
    pub allowed_scopes: String,
    pub id_token_seconds: i64,
    pub access_token_seconds: i64,
    pub refresh_token_seconds: i64,
    pub first_party: bool,
    pub backchannel_logout_uri: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: i64,
}

/// The settable part of an application (everything but ids, the secret and the instants).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    pub name: &'a str,
    pub realm: &'a str,
    pub kind: &'a str,
    pub auth_method: &'a str,
    pub signing_alg: &'a str,
    pub allowed_scopes: &'a str,
    pub id_token_seconds: i64,
    pub access_token_seconds: i64,
    pub refresh_token_seconds: i64,
    pub first_party: bool,
    pub backchannel_logout_uri: Option<&'a str>,
}

/// The columns every read selects (a macro, so queries stay literal strings).
macro_rules! columns {
    () => {
        "id, client_id, name, realm, kind, secret_hash, secret_set_at, auth_method, \
     signing_alg, allowed_scopes, id_token_seconds, access_token_seconds, refresh_token_seconds, \
     first_party, backchannel_logout_uri, created_at, updated_at, created_by"
    };
}

fn row(r: &sqlx::any::AnyRow) -> Result<ApplicationRow, sqlx::Error> {
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        name: r.try_get("name")?,
        realm: r.try_get("realm")?,
        kind: r.try_get("kind")?,
        secret_hash: r.try_get("secret_hash")?,
        secret_set_at: r.try_get("secret_set_at")?,
        auth_method: r.try_get("auth_method")?,
        signing_alg: r.try_get("signing_alg")?,
        allowed_scopes: r.try_get("allowed_scopes")?,
        id_token_seconds: r.try_get("id_token_seconds")?,
        access_token_seconds: r.try_get("access_token_seconds")?,
        refresh_token_seconds: r.try_get("refresh_token_seconds")?,
        first_party: r.try_get::<i64, _>("first_party")? != 0,
        backchannel_logout_uri: r.try_get("backchannel_logout_uri")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        created_by: r.try_get("created_by")?,
    })
}

/// Adds an application with the hash of the form's creation key, if any (the same key twice
/// fails on its unique index); returns its id.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: &str,
    f: &Fields<'_>,
    secret_hash: Option<&str>,
    creation_key_hash: Option<&str>,
    now: i64,
    created_by: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO oidc_applications (client_id, name, realm, kind, secret_hash, secret_set_at, \
         auth_method, signing_alg, allowed_scopes, id_token_seconds, access_token_seconds, \
         refresh_token_seconds, first_party, backchannel_logout_uri, created_at, updated_at, created_by, \
         creation_key_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17) RETURNING id",
    )
    .bind(client_id)
    .bind(f.name)
    .bind(f.realm)
    .bind(f.kind)
    .bind(secret_hash)
    .bind(secret_hash.map(|_| now))
    .bind(f.auth_method)
    .bind(f.signing_alg)
    .bind(f.allowed_scopes)
    .bind(f.id_token_seconds)
    .bind(f.access_token_seconds)
    .bind(f.refresh_token_seconds)
    .bind(i64::from(f.first_party))
    .bind(f.backchannel_logout_uri)
    .bind(now)
    .bind(created_by)
    .bind(creation_key_hash)
    .fetch_one(ex)
    .await
}

/// Saves an application's settable fields and its secret hash and date (`None`: no secret, as
/// for a public application). Returns false when there is no such application.
pub async fn update<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    f: &Fields<'_>,
    secret: (Option<&str>, Option<i64>),
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oidc_applications SET name = $2, realm = $3, kind = $4, auth_method = $5, \
         signing_alg = $6, allowed_scopes = $7, id_token_seconds = $8, access_token_seconds = $9, \
         refresh_token_seconds = $10, first_party = $11, backchannel_logout_uri = $12, \
         secret_hash = $13, secret_set_at = $14, updated_at = $15 WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.realm)
    .bind(f.kind)
    .bind(f.auth_method)
    .bind(f.signing_alg)
    .bind(f.allowed_scopes)
    .bind(f.id_token_seconds)
    .bind(f.access_token_seconds)
    .bind(f.refresh_token_seconds)
    .bind(i64::from(f.first_party))
    .bind(f.backchannel_logout_uri)
    .bind(secret.0)
    .bind(secret.1)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces an application's secret hash. Returns false when there is no such application.
pub async fn set_secret<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    secret_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oidc_applications SET secret_hash = $2, secret_set_at = $3, updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(secret_hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One application.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<ApplicationRow>, sqlx::Error> {
    let r = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM oidc_applications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    r.as_ref().map(row).transpose()
}

/// The id of the application created by the form whose creation key has this hash.
pub async fn id_by_creation_key<'e>(
    ex: impl Executor<'e, Database = Db>,
    key_hash: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM oidc_applications WHERE creation_key_hash = $1")
        .bind(key_hash)
        .fetch_optional(ex)
        .await
}

/// The application with this client id and its redirect URIs as (uri, kind) in the order
/// registered, in one read: the token, revocation and introspection endpoints authenticate
/// every request with it.
pub async fn find_with_uris_by_client_id<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: &str,
) -> Result<Option<(ApplicationRow, Vec<(String, String)>)>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "SELECT a.*, u.uri AS uri, u.kind AS uri_kind FROM (SELECT ",
        columns!(),
        " FROM oidc_applications WHERE client_id = $1) a \
         LEFT JOIN oidc_redirect_uris u ON u.application_id = a.id ORDER BY u.id"
    ))
    .bind(client_id)
    .fetch_all(ex)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut uris = Vec::with_capacity(rows.len());
    for r in &rows {
        let uri: Option<String> = r.try_get("uri")?;
        let kind: Option<String> = r.try_get("uri_kind")?;
        if let (Some(uri), Some(kind)) = (uri, kind) {
            uris.push((uri, kind));
        }
    }
    Ok(Some((row(first)?, uris)))
}

/// Every application, by name.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM oidc_applications ORDER BY name, id"
    ))
    .fetch_all(ex)
    .await?;
    rows.iter().map(row).collect()
}

/// An application's redirect URIs as (uri, kind), in the order registered.
pub async fn redirect_uris<'e>(
    ex: impl Executor<'e, Database = Db>,
    application_id: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT uri, kind FROM oidc_redirect_uris WHERE application_id = $1 ORDER BY id")
        .bind(application_id)
        .fetch_all(ex)
        .await
}

/// Removes every redirect URI of an application.
pub async fn delete_redirect_uris<'e>(
    ex: impl Executor<'e, Database = Db>,
    application_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM oidc_redirect_uris WHERE application_id = $1")
        .bind(application_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Registers one redirect URI of `kind` ('login' or 'post_logout').
pub async fn insert_redirect_uri<'e>(
    ex: impl Executor<'e, Database = Db>,
    application_id: i64,
    uri: &str,
    kind: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO oidc_redirect_uris (application_id, uri, kind) VALUES ($1, $2, $3)")
        .bind(application_id)
        .bind(uri)
        .bind(kind)
        .execute(ex)
        .await?;
    Ok(())
}

/// Removes an application's refusals.
pub async fn delete_refusals<'e>(
    ex: impl Executor<'e, Database = Db>,
    application_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM oidc_refusals WHERE application_id = $1")
        .bind(application_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Removes the application row itself; returns false when there was none.
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oidc_applications WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A refused request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalRow {
    pub id: i64,
    pub application_id: Option<i64>,
    pub client_id: String,
    pub at: i64,
    pub endpoint: String,
    pub reason: String,
    pub detail: String,
}

/// Records one refused request.
pub async fn insert_refusal<'e>(
    ex: impl Executor<'e, Database = Db>,
    r: &RefusalRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_refusals (application_id, client_id, at, endpoint, reason, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(r.application_id)
    .bind(&r.client_id)
    .bind(r.at)
    .bind(&r.endpoint)
    .bind(&r.reason)
    .bind(&r.detail)
    .execute(ex)
    .await?;
    Ok(())
}

/// An application's newest refusals, newest first.
pub async fn recent_refusals<'e>(
    ex: impl Executor<'e, Database = Db>,
    application_id: i64,
    limit: i64,
) -> Result<Vec<RefusalRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, application_id, client_id, at, endpoint, reason, detail FROM oidc_refusals \
         WHERE application_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(application_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RefusalRow {
                id: r.try_get("id")?,
                application_id: r.try_get("application_id")?,
                client_id: r.try_get("client_id")?,
                at: r.try_get("at")?,
                endpoint: r.try_get("endpoint")?,
                reason: r.try_get("reason")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// Refusals since `since`, counted per application (NULL: unknown client id) and reason.
pub async fn refusal_counts_since<'e>(
    ex: impl Executor<'e, Database = Db>,
    since: i64,
) -> Result<Vec<(Option<i64>, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT application_id, reason, COUNT(*) FROM oidc_refusals WHERE at >= $1 \
         GROUP BY application_id, reason ORDER BY application_id, reason",
    )
    .bind(since)
    .fetch_all(ex)
    .await
}
