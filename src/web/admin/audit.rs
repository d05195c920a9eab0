//! `GET /admin/audit` (the audit log with filters, newest first, paged) and
//! `GET /admin/audit.csv` (the same filters as a CSV download, itself audit-logged).

use crate::app::AppState;
use crate::db::{self, audit::Filter};
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Peer, RequirePermission, UserAgent, ViewAuditLog};
use crate::web::page::{self, AuditPage, AuditRowView};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Events per page.
const PAGE: i64 = 100;
/// The most events one export holds; a larger range is refused with a message rather than
/// building an unbounded response in memory.
const EXPORT_MAX: usize = 100_000;

/// The filters, as typed into the form (all optional).
#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
pub struct AuditQuery {
    actor: String,
    action: String,
    subject: String,
    /// First day, `YYYY-MM-DD`, inclusive.
    from: String,
    /// Last day, `YYYY-MM-DD`, inclusive.
    to: String,
    /// Paging: only events older than this id.
    before: String,
}

/// A filter field that could not be used.
#[derive(Debug)]
struct BadField {
    field: &'static str,
    message: String,
}

impl AuditQuery {
    fn trimmed(value: &str) -> String {
        value.trim().chars().take(200).collect()
    }

    /// The database filter, or the field that is wrong.
    fn filter(&self, limit: i64, zone: &crate::clock::Zone) -> Result<Filter, BadField> {
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

    /// The query string that reproduces these filters (for the export and next-page links).
    fn encoded(&self, before: Option<i64>) -> String {
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

/// The audit log page.
pub async fn get_audit(
    State(state): State<AppState>,
    gate: RequirePermission<ViewAuditLog>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let (rows, error, status) = match q.filter(PAGE + 1, &state.settings.snapshot().values.timezone)
    {
        Ok(filter) => (
            db::audit::search(&state.db, &filter).await?,
            None,
            StatusCode::OK,
        ),
        Err(bad) => (
            Vec::new(),
            Some((bad.field, bad.message)),
            StatusCode::BAD_REQUEST,
        ),
    };
    // One extra row was fetched to know whether an older page exists.
    let more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    let rows: Vec<_> = rows
        .into_iter()
        .take(usize::try_from(PAGE).unwrap_or(usize::MAX))
        .collect();
    let next = if more {
        rows.last()
            .map(|r| format!("/admin/audit?{}", q.encoded(Some(r.id))))
    } else {
        None
    };
    let body = AuditPage {
        title: "Audit log",
        zone: state.settings.snapshot().values.timezone.name().to_owned(),
        nav: Some(super::nav(&gate.current, csrf)),
        actor: AuditQuery::trimmed(&q.actor),
        action: AuditQuery::trimmed(&q.action),
        subject: AuditQuery::trimmed(&q.subject),
        from: AuditQuery::trimmed(&q.from),
        to: AuditQuery::trimmed(&q.to),
        error,
        export: format!("/admin/audit.csv?{}", q.encoded(None)),
        next,
        events: rows
            .into_iter()
            .map(|r| AuditRowView {
                at: state.show_time(r.at),
                actor: r.actor,
                action: r.action,
                subject: r.subject,
                detail: r.detail,
                ip: r.ip,
                user_agent: r.user_agent,
            })
            .collect(),
    };
    Ok((status, page::render(&body)).into_response())
}

/// The filtered events as CSV, newest first.
pub async fn get_audit_csv(
    State(state): State<AppState>,
    gate: RequirePermission<ViewAuditLog>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let mut filter = match q.filter(1000, &state.settings.snapshot().values.timezone) {
        Ok(f) => f,
        Err(bad) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                format!("The {} filter is wrong: {}\n", bad.field, bad.message),
            )
                .into_response());
        }
    };
    let mut out = String::from("id,time_utc,actor,action,subject,detail,ip,user_agent\r\n");
    let mut count = 0usize;
    loop {
        let rows = db::audit::search(&state.db, &filter).await?;
        let Some(last) = rows.last() else { break };
        filter.before_id = last.id;
        for r in &rows {
            count += 1;
            if count > EXPORT_MAX {
                return Ok((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "More than {EXPORT_MAX} events match; narrow the dates or filters and export in parts.\n"
                    ),
                )
                    .into_response());
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
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
    }
    let ip = addr.ip.to_string();
    db::audit::insert(
        &state.db,
        state.clock.unix(),
        &db::audit::Entry {
            actor: &format!("admin:{}", gate.current.admin.id),
            action: "audit.exported",
            subject: "",
            detail: &format!("{count} event(s); filters: {}", q.encoded(None)),
            ip: &ip,
            user_agent: &ua,
        },
    )
    .await?;
    let name = format!(
        "attachment; filename=\"portcullis-audit-{}.csv\"",
        state.clock.now().strftime("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        out,
    )
        .into_response())
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
        let q = AuditQuery {
            from: "2026-11-28".into(),
            to: "2026-11-28".into(),
            ..AuditQuery::default()
        };
        let f = q
            .filter(10, &crate::clock::Zone::utc())
            .expect("valid dates");
        assert_eq!(f.from, 1_795_824_000);
        assert_eq!(f.to - f.from, 86_400);
        let bad = AuditQuery {
            to: "28/11/2026".into(),
            ..AuditQuery::default()
        };
        let err = bad
            .filter(10, &crate::clock::Zone::utc())
            .expect_err("invalid date");
        assert_eq!(err.field, "to");
        // In Tokyo (UTC+9) the day starts nine hours earlier.
        let tokyo = crate::clock::Zone::parse("Asia/Tokyo").expect("zone");
        assert_eq!(
            q.filter(10, &tokyo).expect("dates").from,
            1_795_824_000 - 9 * 3600
        );
        assert!(err.message.contains("2026-11-28"));
    }
}
