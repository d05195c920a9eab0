//! Licensing tables: products, licences, the check log and the signing keys.

use super::Db;
use crate::domain::LicenseStatus;
use sqlx::{Executor, Row as _};

/// A product that licences are issued for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub key_prefix: String,
    pub check_interval_days: i64,
    pub grace_days: i64,
    pub max_reissues: i64,
}

fn product(r: &sqlx::any::AnyRow) -> Result<Product, sqlx::Error> {
    Ok(Product {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        key_prefix: r.try_get("key_prefix")?,
        check_interval_days: r.try_get("check_interval_days")?,
        grace_days: r.try_get("grace_days")?,
        max_reissues: r.try_get("max_reissues")?,
    })
}

/// Adds a product; returns its id.
pub async fn insert_product<'e>(
    ex: impl Executor<'e, Database = Db>,
    p: &Product,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO license_products (name, key_prefix, check_interval_days, grace_days, max_reissues, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&p.name)
    .bind(&p.key_prefix)
    .bind(p.check_interval_days)
    .bind(p.grace_days)
    .bind(p.max_reissues)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Changes a product's name, check interval, grace and maximum reissues; the key prefix stays,
/// because every issued key carries it. Returns false when there is no such product.
pub async fn update_product<'e>(
    ex: impl Executor<'e, Database = Db>,
    p: &Product,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE license_products SET name = $2, check_interval_days = $3, grace_days = $4, max_reissues = $5 \
         WHERE id = $1",
    )
    .bind(p.id)
    .bind(&p.name)
    .bind(p.check_interval_days)
    .bind(p.grace_days)
    .bind(p.max_reissues)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every product, by name.
pub async fn products<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Vec<Product>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, key_prefix, check_interval_days, grace_days, max_reissues FROM license_products ORDER BY name",
    )
    .fetch_all(ex)
    .await?;
    rows.iter().map(product).collect()
}

/// One product.
pub async fn find_product<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<Product>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, name, key_prefix, check_interval_days, grace_days, max_reissues FROM license_products WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(product).transpose()
}

/// A licence as stored (the key itself stays sealed).
#[derive(Debug, Clone)]
pub struct License {
    pub id: i64,
    pub product_id: i64,
    pub client_id: i64,
    pub key_sealed: String,
    pub key_hint: String,
    /// As stored; [`LicenseStatus::in_force`] gives the status in force at an instant.
    pub status: LicenseStatus,
    pub expires_at: Option<i64>,
    pub domains: Vec<String>,
    pub ips: Vec<String>,
    pub directories: Vec<String>,
    /// The lists the admin set; the rest of each list above was bound by a check.
    pub preset_domains: Vec<String>,
    pub preset_ips: Vec<String>,
    pub preset_directories: Vec<String>,
    pub reissues: i64,
    pub created_at: i64,
    pub last_check_at: Option<i64>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The stored status parsed; only [`set_status`] writes the column, so another value is a
/// damaged row, refused like a column of the wrong type.
fn status(stored: &str) -> Result<LicenseStatus, sqlx::Error> {
    LicenseStatus::parse(stored).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "status".into(),
        source: format!("{stored:?} is not a licence status").into(),
    })
}

fn license(r: &sqlx::any::AnyRow) -> Result<License, sqlx::Error> {
    Ok(License {
        id: r.try_get("id")?,
        product_id: r.try_get("product_id")?,
        client_id: r.try_get("client_id")?,
        key_sealed: r.try_get("key_sealed")?,
        key_hint: r.try_get("key_hint")?,
        status: status(&r.try_get::<String, _>("status")?)?,
        expires_at: r.try_get("expires_at")?,
        domains: lines(&r.try_get::<String, _>("domains")?),
        ips: lines(&r.try_get::<String, _>("ips")?),
        directories: lines(&r.try_get::<String, _>("directories")?),
        preset_domains: lines(&r.try_get::<String, _>("preset_domains")?),
        preset_ips: lines(&r.try_get::<String, _>("preset_ips")?),
        preset_directories: lines(&r.try_get::<String, _>("preset_directories")?),
        reissues: r.try_get("reissues")?,
        created_at: r.try_get("created_at")?,
        last_check_at: r.try_get("last_check_at")?,
    })
}

/// A query over `licenses` returning every column [`license`] reads; the condition is a literal
/// so the SQL stays `'static`.
macro_rules! select_licenses {
    ($condition:literal) => {
        concat!(
            "SELECT id, product_id, client_id, key_sealed, key_hint, status, expires_at, domains, \
             ips, directories, preset_domains, preset_ips, preset_directories, reissues, \
             created_at, last_check_at FROM licenses ",
            $condition
        )
    };
}

/// What a new licence starts with.
#[derive(Debug, Clone)]
pub struct NewLicense<'a> {
    pub product_id: i64,
    pub client_id: i64,
    pub key_hash: &'a str,
    pub key_sealed: &'a str,
    pub key_hint: &'a str,
    pub expires_at: Option<i64>,
    pub domains: &'a [String],
    pub ips: &'a [String],
    pub directories: &'a [String],
}

/// Stores a new licence; returns its id.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    l: &NewLicense<'_>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO licenses (product_id, client_id, key_hash, key_sealed, key_hint, expires_at, domains, ips, directories, \
         preset_domains, preset_ips, preset_directories, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $8, $9, $10) RETURNING id",
    )
    .bind(l.product_id)
    .bind(l.client_id)
    .bind(l.key_hash)
    .bind(l.key_sealed)
    .bind(l.key_hint)
    .bind(l.expires_at)
    .bind(l.domains.join("\n"))
    .bind(l.ips.join("\n"))
    .bind(l.directories.join("\n"))
    .bind(now)
    .fetch_one(ex)
    .await
}

/// The licence with this key hash.
pub async fn by_key_hash<'e>(
    ex: impl Executor<'e, Database = Db>,
    key_hash: &str,
) -> Result<Option<License>, sqlx::Error> {
    let row = sqlx::query(select_licenses!("WHERE key_hash = $1"))
        .bind(key_hash)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(license).transpose()
}

/// One licence.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<License>, sqlx::Error> {
    let row = sqlx::query(select_licenses!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(license).transpose()
}

/// Licences of a client account (0: every account), newest first.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: i64,
) -> Result<Vec<License>, sqlx::Error> {
    let rows = sqlx::query(select_licenses!(
        "WHERE ($1 = 0 OR client_id = $1) ORDER BY id DESC LIMIT 500"
    ))
    .bind(client_id)
    .fetch_all(ex)
    .await?;
    rows.iter().map(license).collect()
}

/// Binds the lists that are still empty to the presented values (the first check binds). Lists
/// already bound are left alone, so of two first checks racing, the first one's place wins.
pub async fn bind_empty<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    domains: &[String],
    ips: &[String],
    directories: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE licenses SET domains = CASE WHEN domains = '' THEN $2 ELSE domains END, \
         ips = CASE WHEN ips = '' THEN $3 ELSE ips END, \
         directories = CASE WHEN directories = '' THEN $4 ELSE directories END WHERE id = $1",
    )
    .bind(id)
    .bind(domains.join("\n"))
    .bind(ips.join("\n"))
    .bind(directories.join("\n"))
    .execute(ex)
    .await
    .map(|_| ())
}

/// Notes when a licence was last checked.
pub async fn touch<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE licenses SET last_check_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Clears the bindings made by checks (back to the admin's preset lists) and counts a reissue,
/// unless the product's maximum is reached. Returns whether it was done.
pub async fn reissue<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    max_reissues: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE licenses SET domains = preset_domains, ips = preset_ips, directories = preset_directories, \
         reissues = reissues + 1 \
         WHERE id = $1 AND reissues < $2",
    )
    .bind(id)
    .bind(max_reissues)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes the status and expiry.
pub async fn set_status<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    status: LicenseStatus,
    expires_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE licenses SET status = $2, expires_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(expires_at)
        .execute(ex)
        .await
        .map(|_| ())
}

/// One check, for the access log.
#[derive(Debug, Clone, Default)]
pub struct Check {
    pub license_id: Option<i64>,
    pub at: i64,
    pub remote_ip: String,
    pub domain: String,
    pub ip: String,
    pub directory: String,
    pub verifier_version: String,
    pub verdict: String,
    /// The presented key masked: its prefix and a short hash, never the key.
    pub key_hint: String,
}

/// Logs a check.
pub async fn log_check<'e>(
    ex: impl Executor<'e, Database = Db>,
    c: &Check,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO license_checks (license_id, at, remote_ip, domain, ip, directory, verifier_version, verdict, key_hint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(c.license_id)
    .bind(c.at)
    .bind(&c.remote_ip)
    .bind(&c.domain)
    .bind(&c.ip)
    .bind(&c.directory)
    .bind(&c.verifier_version)
    .bind(&c.verdict)
    .bind(&c.key_hint)
    .execute(ex)
    .await
    .map(|_| ())
}

fn check_row(r: &sqlx::any::AnyRow) -> Result<Check, sqlx::Error> {
    Ok(Check {
        license_id: r.try_get("license_id")?,
        at: r.try_get("at")?,
        remote_ip: r.try_get("remote_ip")?,
        domain: r.try_get("domain")?,
        ip: r.try_get("ip")?,
        directory: r.try_get("directory")?,
        verifier_version: r.try_get("verifier_version")?,
        verdict: r.try_get("verdict")?,
        key_hint: r.try_get("key_hint")?,
    })
}

/// The newest checks of a licence.
pub async fn checks<'e>(
    ex: impl Executor<'e, Database = Db>,
    license_id: i64,
    limit: i64,
) -> Result<Vec<Check>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT license_id, at, remote_ip, domain, ip, directory, verifier_version, verdict, key_hint FROM license_checks \
         WHERE license_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(license_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(check_row).collect()
}

/// The newest checks that matched no licence (unknown and malformed keys).
pub async fn unmatched_checks<'e>(
    ex: impl Executor<'e, Database = Db>,
    limit: i64,
) -> Result<Vec<Check>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT license_id, at, remote_ip, domain, ip, directory, verifier_version, verdict, key_hint FROM license_checks \
         WHERE license_id IS NULL ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(check_row).collect()
}

/// A signing key as stored.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub key_id: String,
    pub secret_sealed: String,
    pub public_key: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

/// Every signing key, newest first.
pub async fn signing_keys<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Vec<SigningKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT key_id, secret_sealed, public_key, created_at, activated_at, retired_at FROM license_signing_keys ORDER BY created_at DESC, key_id DESC",
    )
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SigningKey {
                key_id: r.try_get("key_id")?,
                secret_sealed: r.try_get("secret_sealed")?,
                public_key: r.try_get("public_key")?,
                created_at: r.try_get("created_at")?,
                activated_at: r.try_get("activated_at")?,
                retired_at: r.try_get("retired_at")?,
            })
        })
        .collect()
}

/// Stores a new signing key.
pub async fn insert_signing_key<'e>(
    ex: impl Executor<'e, Database = Db>,
    k: &SigningKey,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO license_signing_keys (key_id, secret_sealed, public_key, created_at, activated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&k.key_id)
    .bind(&k.secret_sealed)
    .bind(&k.public_key)
    .bind(k.created_at)
    .bind(k.activated_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Makes `key_id` the signing key and retires the key that signed before (it stays
/// published). Returns false when there is no such published, unretired key.
pub async fn activate(pool: &super::Pool, key_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE license_signing_keys SET activated_at = $2 WHERE key_id = $1 AND retired_at IS NULL",
    )
    .bind(key_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE license_signing_keys SET retired_at = $2 WHERE key_id <> $1 AND retired_at IS NULL AND activated_at IS NOT NULL",
    )
    .bind(key_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
