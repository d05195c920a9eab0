//! The audit log as admins read it: search with filters (newest first, paged) and the CSV
//! export, which is itself audited. The admin audit page (`web/admin/audit.rs`) calls [`Audit`]
//! and maps [`SearchError`] and [`ExportError`] to statuses.
//!
//! Writing entries: each service writes its own, in its own transaction when it has one,
//! through [`record`] (or [`record_from`] when the entry names an address of its own), with the
//! request's address and user agent from `request_origin::with_origin`. The actors and actions
//! entries name are `domain::audit`'s; this is the one place that turns them into a stored row.

use crate::app::AppState;
use crate::clock::{Clock, Zone};
use crate::db;
use crate::db::audit::Filter;
use crate::domain::{Action, Actor, AdminId};
use std::fmt::Display;
use std::sync::Arc;

pub use crate::db::audit::Row;

/// Where an entry says it came from. An empty part is the request's
/// (`request_origin::with_origin`), so only callers that record another address (a command line, a
/// banned address, a pending sign-in's) fill it in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// Writes one audit entry: `actor` did `action` to `subject`, with `detail`, from the request's
/// address and user agent. The one way services write entries, so the stored forms of actors
/// and actions stay `domain::audit`'s.
///
/// # Errors
/// Storage errors.
pub async fn record<'e>(
    ex: impl sqlx::Executor<'e, Database = db::Db>,
    now: i64,
    actor: &Actor,
    action: Action,
    subject: impl Display,
    detail: &str,
) -> Result<(), sqlx::Error> {
    record_from(ex, now, actor, action, subject, detail, Origin::default()).await
}

/// [`record`], naming where the entry came from (an empty part is still the request's).
///
/// # Errors
/// Storage errors.
pub async fn record_from<'e>(
    ex: impl sqlx::Executor<'e, Database = db::Db>,
    now: i64,
    actor: &Actor,
    action: Action,
    subject: impl Display,
    detail: &str,
    origin: Origin<'_>,
) -> Result<(), sqlx::Error> {
    db::audit::insert(
        ex,
        now,
        &db::audit::Entry {
            actor: &actor.to_string(),
            action: action.as_str(),
            subject: &subject.to_string(),
            detail,
            ip: origin.ip,
            user_agent: origin.user_agent,
        },
    )
    .await
}

/// Events per page.
pub const PAGE: i64 = 100;
/// The most events one export holds; a larger range is refused with a message rather than
/// building an unbounded response in memory.
pub const EXPORT_MAX: usize = 100_000;

/// The audit log service.
#[derive(Clone)]
pub struct Audit {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    settings: Arc<crate::settings::Store>,
}

impl From<&AppState> for Audit {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            settings: state.settings.clone(),
        }
    }
}

/// The filters, as typed into the form (all optional).
#[derive(Debug, serde::Deserialize, Default, Clone)]
#[serde(default)]
pub struct Filters {
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// First day, `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// Last day, `YYYY-MM-DD`, inclusive.
    pub to: String,
    /// Paging: only events older than this id.
    pub before: String,
}

/// A filter field that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadField {
    pub field: &'static str,
    pub message: String,
}

/// Why a search found nothing to show.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("The {} filter is wrong: {}", .0.field, .0.message)]
    BadField(BadField),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why there is no export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("The {} filter is wrong: {}", .0.field, .0.message)]
    BadField(BadField),
    #[error(
        "More than {EXPORT_MAX} events match; narrow the dates or filters and export in parts."
    )]
    TooLarge,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// One page of events.
#[derive(Debug, Clone)]
pub struct Found {
    /// At most [`PAGE`] events, newest first.
    pub rows: Vec<Row>,
    /// The `before` marker of the next (older) page, when there is one.
    pub next_before: Option<i64>,
}

/// The CSV export.
#[derive(Debug, Clone)]
pub struct Export {
    pub csv: String,
    /// `portcullis-audit-YYYYMMDD-HHMMSS.csv`, the time of the export.
    pub file_name: String,
}

impl Filters {
    /// A filter value as searched and shown: trimmed, at most 200 characters.
    pub fn trimmed(value: &str) -> String {
        value.trim().chars().take(200).collect()
    }

    /// The database filter, or the field that is wrong. Days are `zone`'s days.
    fn filter(&self, limit: i64, zone: &Zone) -> Result<Filter, BadField> {
        let day = |field: &'static str, value: &str, end: bool| -> Result<i64, BadField> {
            let value = value.trim();
            if value.is_empty() {
                return Ok(if end { 0 } else { i64::MIN });
            }
            let bad = || BadField {
                field,
                message: format!("{value:?} is not a date; use the form 2026-11-28."),
            };
            let date: jiff::civil::Date = value.parse().map_err(|_| bad())?;
            let date = if end {
                date.tomorrow().map_err(|_| bad())?
            } else {
                date
            };
            // Days are the configured zone's days, as every time on the page is shown in it.
            date.to_zoned(zone.tz().clone())
                .map(|z| z.timestamp().as_second())
                .map_err(|_| bad())
        };
        let before_id = match self.before.trim() {
            "" => 0,
            v => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or(BadField {
                field: "before",
                message: format!("{v:?} is not a page marker."),
            })?,
        };
        Ok(Filter {
            actor: Self::trimmed(&self.actor),
            action: Self::trimmed(&self.action),
            subject: Self::trimmed(&self.subject),
            from: day("from", &self.from, false)?,
            to: day("to", &self.to, true)?,
            before_id,
            limit,
        })
    }

    /// The query string that reproduces these filters (for the export and next-page links, and
    /// the export's audit entry).
    pub fn encoded(&self, before: Option<i64>) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("subject", &self.subject),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.trim().is_empty() {
                pairs.append_pair(key, value.trim());
            }
        }
        if let Some(id) = before {
            pairs.append_pair("before", &id.to_string());
        }
        pairs.finish()
    }
}

impl Audit {
    fn zone(&self) -> Zone {
        self.settings.snapshot().values.timezone.clone()
    }

    /// The configured zone's name, which the times and day filters are in.
    pub fn zone_name(&self) -> String {
        self.zone().name().to_owned()
    }

    /// A stored instant as people read it, in the configured timezone.
    pub fn show_time(&self, unix: i64) -> String {
        crate::clock::display(unix, &self.zone())
    }

    /// One page of events matching `filters`, newest first.
    ///
    /// # Errors
    /// A filter that cannot be used (naming it), storage errors.
    pub async fn search(&self, filters: &Filters) -> Result<Found, SearchError> {
        let page = usize::try_from(PAGE).unwrap_or(usize::MAX);
        // One extra row tells whether an older page exists.
        let filter = filters
            .filter(PAGE + 1, &self.zone())
            .map_err(SearchError::BadField)?;
        let mut rows = db::audit::search(&self.db, &filter).await?;
        let more = rows.len() > page;
        rows.truncate(page);
        let next_before = if more {
            rows.last().map(|r| r.id)
        } else {
            None
        };
        Ok(Found { rows, next_before })
    }

    /// Every event matching `filters` as CSV, newest first, and an `audit.exported` entry by
    /// `admin` saying how many and which filters.
    ///
    /// # Errors
    /// A filter that cannot be used, more than [`EXPORT_MAX`] events, storage errors.
    pub async fn export(&self, admin: AdminId, filters: &Filters) -> Result<Export, ExportError> {
        let mut filter = filters
            .filter(1000, &self.zone())
            .map_err(ExportError::BadField)?;
        let mut csv = String::from("id,time_utc,actor,action,subject,detail,ip,user_agent\r\n");
        let mut count = 0usize;
        loop {
            let rows = db::audit::search(&self.db, &filter).await?;
            let Some(last) = rows.last() else { break };
            filter.before_id = last.id;
            for r in &rows {
                count += 1;
                if count > EXPORT_MAX {
                    return Err(ExportError::TooLarge);
                }
                let time = jiff::Timestamp::from_second(r.at)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                let cells = [
                    r.id.to_string(),
                    time,
                    r.actor.clone(),
                    r.action.clone(),
                    r.subject.clone(),
                    r.detail.clone(),
                    r.ip.clone(),
                    r.user_agent.clone(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                csv.push_str(&line.join(","));
                csv.push_str("\r\n");
            }
        }
        record(
            &self.db,
            self.clock.unix(),
            &Actor::Admin(admin),
            Action::AuditExported,
            "",
            &format!("{count} event(s); filters: {}", filters.encoded(None)),
        )
        .await?;
        Ok(Export {
            csv,
            file_name: format!(
                "portcullis-audit-{}.csv",
                self.clock.now().strftime("%Y%m%d-%H%M%S")
            ),
        })
    }
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. A value that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a
/// leading apostrophe, because user agents and usernames are attacker-controlled text.
fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("-1+1,2"), "\"'-1+1,2\"");
    }

    #[test]
    fn dates_are_whole_days_of_the_zone_and_bad_ones_name_the_field() {
        let q = Filters {
            from: "2026-11-28".into(),
            to: "2026-11-28".into(),
            ..Filters::default()
        };
        let f = q.filter(10, &Zone::utc()).expect("valid dates");
        assert_eq!(f.from, 1_795_824_000);
        assert_eq!(f.to - f.from, 86_400);
        let bad = Filters {
            to: "28/11/2026".into(),
            ..Filters::default()
        };
        let err = bad.filter(10, &Zone::utc()).expect_err("invalid date");
        assert_eq!(err.field, "to");
        // In Tokyo (UTC+9) the day starts nine hours earlier.
        let tokyo = Zone::parse("Asia/Tokyo").expect("zone");
        assert_eq!(
            q.filter(10, &tokyo).expect("dates").from,
            1_795_824_000 - 9 * 3600
        );
        assert!(err.message.contains("2026-11-28"));
    }
}
