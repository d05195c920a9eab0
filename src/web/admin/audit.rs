//! `GET /admin/audit` (the audit log with filters, newest first, paged) and
//! `GET /admin/audit.csv` (the same filters as a CSV download, itself audit-logged).
//!
//! The filters' rules, the search, the CSV and the export's own entry are the [`Audit`]
//! service's; this file draws the page and maps refusals to 400 and 413.

use crate::audit::{Audit, ExportError, Filters, SearchError};
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, RequirePermission, ViewAuditLog};
use crate::web::page::{self, AuditPage, AuditRowView};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The audit log page.
pub async fn get_audit(
    State(audit): State<Audit>,
    gate: RequirePermission<ViewAuditLog>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<Filters>,
) -> AppResult<Response> {
    let (found, error, status) = match audit.search(&q).await {
        Ok(found) => (found, None, StatusCode::OK),
        Err(SearchError::BadField(bad)) => (
            crate::audit::Found {
                rows: Vec::new(),
                next_before: None,
            },
            Some((bad.field, bad.message)),
            StatusCode::BAD_REQUEST,
        ),
        Err(SearchError::Storage(e)) => return Err(e.into()),
    };
    let body = AuditPage {
        title: "Audit log",
        zone: audit.zone_name(),
        nav: Some(super::nav(&gate.current, csrf)),
        actor: Filters::trimmed(&q.actor),
        action: Filters::trimmed(&q.action),
        subject: Filters::trimmed(&q.subject),
        from: Filters::trimmed(&q.from),
        to: Filters::trimmed(&q.to),
        error,
        export: format!("/admin/audit.csv?{}", q.encoded(None)),
        next: found
            .next_before
            .map(|id| format!("/admin/audit?{}", q.encoded(Some(id)))),
        events: found
            .rows
            .into_iter()
            .map(|r| AuditRowView {
                at: audit.show_time(r.at),
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
    State(audit): State<Audit>,
    gate: RequirePermission<ViewAuditLog>,
    Query(q): Query<Filters>,
) -> AppResult<Response> {
    let export = match audit.export(gate.current.id(), &q).await {
        Ok(export) => export,
        Err(bad @ ExportError::BadField(_)) => {
            return Ok((StatusCode::BAD_REQUEST, format!("{bad}\n")).into_response());
        }
        Err(large @ ExportError::TooLarge) => {
            return Ok((StatusCode::PAYLOAD_TOO_LARGE, format!("{large}\n")).into_response());
        }
        Err(ExportError::Storage(e)) => return Err(e.into()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", export.file_name),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        export.csv,
    )
        .into_response())
}
