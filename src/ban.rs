//! Failed-login bans: counting failures, banning addresses, and lifting bans.
//!
//! Failures are counted per resolved client address (and per account from that address, which
//! names the targeted accounts in the ban's reason) in the database, so every node sees every
//! failure and enforces every ban (another node's within [`CACHE_FOR`]). Whitelisted addresses
//! are never banned.

use crate::app::AppState;
use crate::db::ban::BanRow;
use crate::session::Realm;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a node reuses what the database said about an address. A ban recorded by this node
/// applies here at once; one recorded by another node, or lifted from the command line, applies
/// here within this bound. Checking every request against the database cost a round trip each,
/// a quarter of a session-checked page's queries on PostgreSQL (benches/engines.rs).
pub const CACHE_FOR: Duration = Duration::from_secs(1);
/// Addresses remembered at most; a full cache is emptied rather than scanned.
const CACHE_MAX: usize = 10_000;

/// What the cache knows about an address.
enum Cached {
    /// A recent answer: the ban, or none.
    Known(Option<BanRow>),
    /// Nothing recent: ask the database.
    Ask,
}

/// Recent answers of the ban lookup, per address (this node only).
#[derive(Debug, Default)]
pub struct BanCache {
    // Monotonic ages only decide when to ask the database again; whether a ban is still in
    // force is always judged by the application clock.
    entries: Mutex<HashMap<IpAddr, (Instant, Option<BanRow>)>>,
}

impl BanCache {
    fn get(&self, ip: IpAddr) -> Cached {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(&ip) {
            Some((at, ban)) if at.elapsed() < CACHE_FOR => Cached::Known(ban.clone()),
            _ => Cached::Ask,
        }
    }

    fn put(&self, ip: IpAddr, ban: Option<BanRow>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHE_MAX && !entries.contains_key(&ip) {
            entries.clear();
        }
        entries.insert(ip, (Instant::now(), ban));
    }
}

/// The ban in force on `ip`, if any.
///
/// # Errors
/// Storage errors.
pub async fn active(state: &AppState, ip: IpAddr) -> Result<Option<BanRow>, sqlx::Error> {
    let now = state.clock.unix();
    let ban = match state.bans.get(ip) {
        Cached::Known(ban) => ban,
        Cached::Ask => {
            let found = crate::db::ban::active(&state.db, &ip.to_string(), now).await?;
            state.bans.put(ip, found.clone());
            found
        }
    };
    Ok(ban.filter(|b| b.expires_at.is_none_or(|until| until > now)))
}

/// Records a failed sign-in and bans the address when the realm's threshold is reached.
/// Returns the new ban, if one was made.
///
/// # Errors
/// Storage errors.
pub async fn record_failure(
    state: &AppState,
    realm: Realm,
    ip: IpAddr,
    account: &str,
) -> Result<Option<BanRow>, sqlx::Error> {
    let settings = crate::settings::current(state).await;
    let rule = match realm {
        Realm::Admin => settings.values.admin_bans,
        Realm::Client => settings.values.client_bans,
    };
    let now = state.clock.unix();
    let account: String = account.trim().to_lowercase().chars().take(254).collect();
    let address = ip.to_string();
    crate::db::ban::record_failure(&state.db, realm.as_str(), &address, &account, now).await?;
    if rule.failures == 0 || settings.whitelist.contains(ip) {
        return Ok(None);
    }
    let (by_ip, by_account) = crate::db::ban::failures_since(
        &state.db,
        realm.as_str(),
        &address,
        &account,
        now - rule.window_seconds,
    )
    .await?;
    if by_ip < i64::from(rule.failures) {
        return Ok(None);
    }
    let ban = BanRow {
        ip: address,
        reason: format!(
            "{by_ip} failed {} sign-ins in {} minutes ({by_account} for the last account tried)",
            realm.as_str(),
            rule.window_seconds / 60
        ),
        created_at: now,
        expires_at: Some(now + rule.ban_seconds),
        created_by: "automatic".into(),
    };
    let mut tx = state.db.begin().await?;
    crate::db::ban::upsert(&mut *tx, &ban).await?;
    crate::db::setting::audit_about(
        &mut *tx,
        now,
        "system",
        "ban.add",
        &ip.to_string(),
        &format!("automatic: {}", ban.reason),
        &ip.to_string(),
    )
    .await?;
    tx.commit().await?;
    state.bans.put(ip, Some(ban.clone()));
    tracing::warn!(ip = %ip, realm = realm.as_str(), failures = by_ip, "address banned after failed sign-ins");
    Ok(Some(ban))
}

/// Bans an address by hand.
///
/// # Errors
/// Storage errors.
pub async fn add(
    state: &AppState,
    ip: IpAddr,
    reason: &str,
    minutes: Option<i64>,
    actor: &str,
    from: &str,
) -> Result<(), sqlx::Error> {
    let now = state.clock.unix();
    let ban = BanRow {
        ip: ip.to_string(),
        reason: reason.trim().chars().take(200).collect(),
        created_at: now,
        expires_at: minutes.map(|m| now + m * 60),
        created_by: actor.to_owned(),
    };
    let mut tx = state.db.begin().await?;
    crate::db::ban::upsert(&mut *tx, &ban).await?;
    let until = ban.expires_at.map_or_else(
        || "until lifted".to_owned(),
        |t| format!("until {}", state.show_time(t)),
    );
    crate::db::setting::audit_about(
        &mut *tx,
        now,
        actor,
        "ban.add",
        &ip.to_string(),
        &format!("{ip} {until}: {}", ban.reason),
        from,
    )
    .await?;
    tx.commit().await?;
    state.bans.put(ip, Some(ban));
    Ok(())
}

/// Lifts the ban on an address; returns whether there was one.
///
/// # Errors
/// Storage errors.
pub async fn lift(
    state: &AppState,
    ip: IpAddr,
    actor: &str,
    from: &str,
) -> Result<bool, sqlx::Error> {
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let existed = crate::db::ban::delete(&mut *tx, &ip.to_string()).await?;
    if existed {
        let ip = ip.to_string();
        crate::db::setting::audit_about(&mut *tx, now, actor, "ban.lift", &ip, &ip, from).await?;
    }
    tx.commit().await?;
    state.bans.put(ip, None);
    Ok(existed)
}
