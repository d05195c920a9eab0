//! Second-factor tables: TOTP seeds, backup codes, WebAuthn keys, Duo enrolment and settings,
//! pending sign-ins and WebAuthn ceremony state.

use super::{Db, flag};
use sqlx::{Executor, Row as _};

/// A stored TOTP enrolment.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub secret_sealed: String,
    pub confirmed_at: Option<i64>,
    /// While unconfirmed: the id hash of the session or pending sign-in setting it up.
    pub owner_hash: Option<String>,
    pub created_at: i64,
}

/// The realm's TOTP row for a subject, confirmed or not.
pub async fn totp_get<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<Option<TotpRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT secret_sealed, confirmed_at, owner_hash, created_at FROM totp_secrets \
         WHERE realm = $1 AND subject_id = $2",
    )
    .bind(realm)
    .bind(subject_id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(TotpRow {
            secret_sealed: r.try_get("secret_sealed")?,
            confirmed_at: r.try_get("confirmed_at")?,
            owner_hash: r.try_get("owner_hash")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// Stores a new, unconfirmed seed owned by `owner_hash` (a session's or pending sign-in's id
/// hash), replacing any other unconfirmed one; a confirmed one is never overwritten (it must be
/// removed first, with step-up). Returns whether the seed was stored.
pub async fn totp_put_unconfirmed<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    sealed: &str,
    owner_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO totp_secrets (realm, subject_id, secret_sealed, confirmed_at, last_step, created_at, owner_hash) \
         VALUES ($1, $2, $3, NULL, 0, $4, $5) \
         ON CONFLICT (realm, subject_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
         created_at = excluded.created_at, last_step = 0, owner_hash = excluded.owner_hash \
         WHERE totp_secrets.confirmed_at IS NULL",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(sealed)
    .bind(now)
    .bind(owner_hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Confirms the unconfirmed seed with time step `step`, only for its owner and only if it was
/// created at or after `not_before` (a setup expires). One request wins a race.
pub async fn totp_confirm<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    step: i64,
    owner_hash: &str,
    not_before: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET last_step = $3, confirmed_at = $6, owner_hash = NULL \
         WHERE realm = $1 AND subject_id = $2 AND confirmed_at IS NULL AND last_step < $3 \
         AND owner_hash = $4 AND created_at >= $5",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(step)
    .bind(owner_hash)
    .bind(not_before)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the subject's unconfirmed seed, if any (a password reset: a seed planted by whoever
/// knew the old password must not survive it). A confirmed one stays.
pub async fn totp_delete_unconfirmed<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM totp_secrets WHERE realm = $1 AND subject_id = $2 AND confirmed_at IS NULL",
    )
    .bind(realm)
    .bind(subject_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Accepts time step `step` for the subject: confirms an enrolment (`confirm`) or records the
/// step of a sign-in. The update only succeeds for a step later than the last one, so a code
/// cannot be used twice even by two requests at the same moment.
pub async fn totp_accept_step<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    step: i64,
    confirm_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = match confirm_at {
        Some(now) => sqlx::query(
            "UPDATE totp_secrets SET last_step = $3, confirmed_at = $4 \
             WHERE realm = $1 AND subject_id = $2 AND confirmed_at IS NULL AND last_step < $3",
        )
        .bind(realm)
        .bind(subject_id)
        .bind(step)
        .bind(now),
        None => sqlx::query(
            "UPDATE totp_secrets SET last_step = $3 \
             WHERE realm = $1 AND subject_id = $2 AND confirmed_at IS NOT NULL AND last_step < $3",
        )
        .bind(realm)
        .bind(subject_id)
        .bind(step),
    }
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the subject's TOTP seed.
pub async fn totp_delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM totp_secrets WHERE realm = $1 AND subject_id = $2")
        .bind(realm)
        .bind(subject_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Replaces the subject's backup codes with a new set of `(salt, hash)` pairs (the old set
/// stops working). Every code has its own salt (ASVS 2.6.2).
pub async fn backup_replace(
    tx: &mut sqlx::Transaction<'_, Db>,
    realm: &str,
    subject_id: i64,
    codes: &[(String, String)],
    now: i64,
) -> Result<(), sqlx::Error> {
    backup_delete(&mut **tx, realm, subject_id).await?;
    for (salt, hash) in codes {
        sqlx::query(
            "INSERT INTO backup_codes (realm, subject_id, code_hash, salt, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(realm)
        .bind(subject_id)
        .bind(hash)
        .bind(salt)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// An unused backup code: its keyed hash and its salt (`None` for codes stored before
/// per-code salts, hashed without one).
#[derive(Debug, Clone)]
pub struct BackupRow {
    pub id: i64,
    pub code_hash: String,
    pub salt: Option<String>,
}

/// The subject's unused backup codes (at most one set, ten rows).
pub async fn backup_unused<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<Vec<BackupRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, code_hash, salt FROM backup_codes WHERE realm = $1 AND subject_id = $2 AND used_at IS NULL ORDER BY id",
    )
    .bind(realm)
    .bind(subject_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BackupRow {
                id: r.try_get("id")?,
                code_hash: r.try_get("code_hash")?,
                salt: r.try_get("salt")?,
            })
        })
        .collect()
}

/// Marks the unused code `id` as used; false when it is gone or already used (a concurrent
/// redemption of the same code got there first).
pub async fn backup_use<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE backup_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// How many unused backup codes the subject has.
pub async fn backup_remaining<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM backup_codes WHERE realm = $1 AND subject_id = $2 AND used_at IS NULL",
    )
    .bind(realm)
    .bind(subject_id)
    .fetch_one(ex)
    .await
}

/// Removes every backup code of the subject.
pub async fn backup_delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM backup_codes WHERE realm = $1 AND subject_id = $2")
        .bind(realm)
        .bind(subject_id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// A registered WebAuthn authenticator.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub credential_id: String,
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The subject's authenticators, oldest first.
pub async fn keys_list<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, credential_id, passkey, created_at, last_used_at FROM webauthn_keys \
         WHERE realm = $1 AND subject_id = $2 ORDER BY id",
    )
    .bind(realm)
    .bind(subject_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                credential_id: r.try_get("credential_id")?,
                passkey: r.try_get("passkey")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// Stores a new authenticator.
pub async fn key_insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    name: &str,
    credential_id: &str,
    passkey: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webauthn_keys (realm, subject_id, name, credential_id, passkey, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(name)
    .bind(credential_id)
    .bind(passkey)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Records a use (new signature counter, last use).
pub async fn key_used<'e>(
    ex: impl Executor<'e, Database = Db>,
    credential_id: &str,
    passkey: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webauthn_keys SET passkey = $2, last_used_at = $3 WHERE credential_id = $1")
        .bind(credential_id)
        .bind(passkey)
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Removes one of the subject's authenticators; false when it is not theirs.
pub async fn key_delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM webauthn_keys WHERE id = $1 AND realm = $2 AND subject_id = $3")
            .bind(id)
            .bind(realm)
            .bind(subject_id)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the subject signs in with Duo.
pub async fn duo_enrolled<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM duo_users WHERE realm = $1 AND subject_id = $2")
            .bind(realm)
            .bind(subject_id)
            .fetch_one(ex)
            .await?;
    Ok(n > 0)
}

/// Turns Duo on or off for the subject.
pub async fn duo_set<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    on: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    let query = if on {
        sqlx::query(
            "INSERT INTO duo_users (realm, subject_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (realm, subject_id) DO NOTHING",
        )
        .bind(realm)
        .bind(subject_id)
        .bind(now)
    } else {
        sqlx::query("DELETE FROM duo_users WHERE realm = $1 AND subject_id = $2")
            .bind(realm)
            .bind(subject_id)
    };
    query.execute(ex).await.map(|_| ())
}

/// Removes every second factor of a subject (break-glass and admin reset).
pub async fn remove_all(
    tx: &mut sqlx::Transaction<'_, Db>,
    realm: &str,
    subject_id: i64,
) -> Result<(), sqlx::Error> {
    totp_delete(&mut **tx, realm, subject_id).await?;
    backup_delete(&mut **tx, realm, subject_id).await?;
    duo_set(&mut **tx, realm, subject_id, false, 0).await?;
    sqlx::query("DELETE FROM webauthn_keys WHERE realm = $1 AND subject_id = $2")
        .bind(realm)
        .bind(subject_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// The stored Duo application settings.
#[derive(Debug, Clone)]
pub struct DuoSettingsRow {
    pub client_id: String,
    pub client_secret_sealed: String,
    pub api_hostname: String,
    pub updated_at: i64,
}

/// The Duo application, if one is configured.
pub async fn duo_settings<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Option<DuoSettingsRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT client_id, client_secret_sealed, api_hostname, updated_at FROM duo_settings WHERE id = 1",
    )
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(DuoSettingsRow {
            client_id: r.try_get("client_id")?,
            client_secret_sealed: r.try_get("client_secret_sealed")?,
            api_hostname: r.try_get("api_hostname")?,
            updated_at: r.try_get("updated_at")?,
        })
    })
    .transpose()
}

/// Saves (or with `None`, removes) the Duo application settings.
pub async fn duo_settings_put<'e>(
    ex: impl Executor<'e, Database = Db>,
    row: Option<&DuoSettingsRow>,
) -> Result<(), sqlx::Error> {
    match row {
        Some(r) => sqlx::query(
            "INSERT INTO duo_settings (id, client_id, client_secret_sealed, api_hostname, updated_at) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, client_secret_sealed = excluded.client_secret_sealed, \
             api_hostname = excluded.api_hostname, updated_at = excluded.updated_at",
        )
        .bind(&r.client_id)
        .bind(&r.client_secret_sealed)
        .bind(&r.api_hostname)
        .bind(r.updated_at),
        None => sqlx::query("DELETE FROM duo_settings WHERE id = 1"),
    }
    .execute(ex)
    .await
    .map(|_| ())
}

/// A pending sign-in.
#[derive(Debug, Clone)]
pub struct PendingRow {
    pub id_hash: String,
    pub realm: String,
    pub subject_id: i64,
    pub client_id: Option<i64>,
    pub remember: bool,
    pub ip: String,
    pub user_agent: String,
    pub identifier: String,
    pub must_enrol: bool,
    pub failures: i64,
    pub duo_down: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Stores a pending sign-in.
pub async fn pending_insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    row: &PendingRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_signins (id_hash, realm, subject_id, client_id, remember, ip, user_agent, identifier, must_enrol, failures, duo_down, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, $10, $11)",
    )
    .bind(&row.id_hash)
    .bind(&row.realm)
    .bind(row.subject_id)
    .bind(row.client_id)
    .bind(i64::from(row.remember))
    .bind(&row.ip)
    .bind(&row.user_agent)
    .bind(&row.identifier)
    .bind(i64::from(row.must_enrol))
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A live (not ended, not expired) pending sign-in by the hash of its cookie.
pub async fn pending_find<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    now: i64,
) -> Result<Option<PendingRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id_hash, realm, subject_id, client_id, remember, ip, user_agent, identifier, must_enrol, failures, duo_down, created_at, expires_at \
         FROM pending_signins WHERE id_hash = $1 AND ended_at IS NULL AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(PendingRow {
            id_hash: r.try_get("id_hash")?,
            realm: r.try_get("realm")?,
            subject_id: r.try_get("subject_id")?,
            client_id: r.try_get("client_id")?,
            remember: flag(r.try_get("remember")?),
            ip: r.try_get("ip")?,
            user_agent: r.try_get("user_agent")?,
            identifier: r.try_get("identifier")?,
            must_enrol: flag(r.try_get("must_enrol")?),
            failures: r.try_get("failures")?,
            duo_down: flag(r.try_get("duo_down")?),
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Counts a wrong code; returns the failures so far.
pub async fn pending_fail<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE pending_signins SET failures = failures + 1 WHERE id_hash = $1 RETURNING failures",
    )
    .bind(id_hash)
    .fetch_optional(ex)
    .await
    .map(|n| n.unwrap_or(i64::MAX))
}

/// Records that Duo was unavailable during this sign-in.
pub async fn pending_duo_down<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE pending_signins SET duo_down = 1 WHERE id_hash = $1")
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Ends a pending sign-in (completed or cancelled); true when it was still live, so only one
/// request can complete it.
pub async fn pending_end<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE pending_signins SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL",
    )
    .bind(id_hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a WebAuthn ceremony's state for its owner (a session or pending sign-in).
pub async fn ceremony_put<'e>(
    ex: impl Executor<'e, Database = Db>,
    owner_hash: &str,
    kind: &str,
    state: &str,
    name: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (owner_hash, kind, state, name, expires_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (owner_hash, kind) DO UPDATE SET state = excluded.state, name = excluded.name, expires_at = excluded.expires_at",
    )
    .bind(owner_hash)
    .bind(kind)
    .bind(state)
    .bind(name)
    .bind(expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Takes (removes and returns) an unexpired ceremony: each challenge answers once.
pub async fn ceremony_take<'e>(
    ex: impl Executor<'e, Database = Db>,
    owner_hash: &str,
    kind: &str,
    now: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE owner_hash = $1 AND kind = $2 RETURNING state, name, expires_at",
    )
    .bind(owner_hash)
    .bind(kind)
    .fetch_optional(ex)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let expires_at: i64 = r.try_get("expires_at")?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some((r.try_get("state")?, r.try_get("name")?)))
}
