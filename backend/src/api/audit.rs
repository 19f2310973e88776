//! `GET /api/v1/audit` (JSON pages) and `GET /api/v1/audit/export` (JSON lines), and the
//! middleware that records every mutating call.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use overcast_api_types::access::AuditList;
use serde::Deserialize;

use super::auth::{bearer, Caller};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::AppState;
use crate::audit::Record;
use crate::store::AuditFilter;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    /// Entries whose action starts with this, e.g. `job.` or `POST /api/v1/sites`.
    action: Option<String>,
    site: Option<String>,
    /// `ok`, `denied`, `failed` for calls; job and site entries carry their state.
    outcome: Option<String>,
    /// RFC 3339 time: entries at or after it.
    since: Option<String>,
    /// RFC 3339 time: entries before it.
    until: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// An RFC 3339 time in any offset as the UTC second the log's times start with, so that
/// `+01:00` and `Z` compare alike.
fn utc_second(text: &str, field: &str) -> Result<String, ApiError> {
    use time::format_description::well_known::Rfc3339;
    let invalid = || {
        ApiError::invalid_field(
            field,
            format!("`{field}` must be an RFC 3339 time, e.g. 2026-12-01T08:00:00Z"),
        )
    };
    let at = time::OffsetDateTime::parse(text, &Rfc3339).map_err(|_| invalid())?;
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| invalid())?;
    let text = at.format(&Rfc3339).map_err(|_| invalid())?;
    Ok(text.trim_end_matches('Z').to_owned())
}

const PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;
const EXPORT_MAX: i64 = 1_000_000;

impl AuditQuery {
    /// Non-admins read only their own entries.
    fn filter(self, caller: &Caller, limit: i64) -> Result<AuditFilter, ApiError> {
        let since = self
            .since
            .as_deref()
            .map(|t| utc_second(t, "since"))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|t| utc_second(t, "until"))
            .transpose()?;
        if let Some(outcome) = &self.outcome {
            let word = outcome.len() <= 32
                && !outcome.is_empty()
                && outcome.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if !word {
                return Err(ApiError::invalid_field(
                    "outcome",
                    "`outcome` is a word such as ok, denied, failed, accepted, succeeded or unreachable",
                ));
            }
        }
        let actor = if caller.role == overcast_api_types::Role::Admin {
            self.actor
        } else {
            Some(caller.username.clone())
        };
        Ok(AuditFilter {
            actor,
            action_prefix: self.action,
            site: self.site,
            outcome: self.outcome,
            since,
            until,
            before: self.before,
            limit,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = query.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let filter = query.filter(&caller, limit)?;
    let items = state.audit.query(&filter).await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditList { items, next_before }))
}

/// Every matching entry as JSON lines, newest first, for archiving elsewhere.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(EXPORT_MAX).clamp(1, EXPORT_MAX);
    let filter = query.filter(&caller, limit)?;
    let mut body = String::new();
    for entry in state.audit.query(&filter).await? {
        body.push_str(&serde_json::to_string(&entry).unwrap_or_default());
        body.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"overcast-audit.jsonl\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// What a handler adds to the audit entry of its call, as a response extension (a dry
/// run says it created nothing).
#[derive(Debug, Clone)]
pub struct AuditDetail(pub String);

/// Records every call that may change something, with who made it and how it ended.
/// Sign-in records itself (with the username it was tried for).
pub async fn record_mutations(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    // The full path: inside the nested API router the URI lacks `/api/v1`.
    let path = request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(
            || request.uri().path().to_owned(),
            |uri| uri.path().to_owned(),
        );
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path.ends_with("/auth/login")
    {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let actor = match bearer(&parts) {
        Ok(token) => match state.access.authenticate(token).await {
            Ok(principal) => {
                let actor = principal.username.clone();
                // The handler's `Caller` takes it from here instead of authenticating
                // the same token a second time.
                parts.extensions.insert(principal);
                actor
            }
            Err(_) => "(invalid token)".to_owned(),
        },
        Err(_) => "(anonymous)".to_owned(),
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    let detail = response
        .extensions()
        .get::<AuditDetail>()
        .map(|detail| detail.0.clone());
    let outcome = if status.is_success() {
        "ok"
    } else if matches!(status.as_u16(), 401 | 403) {
        "denied"
    } else {
        "failed"
    };
    // `/api/v1/sites/{site}/…` names its site.
    let site = path
        .strip_prefix("/api/v1/sites/")
        .and_then(|rest| rest.split('/').next())
        .filter(|s| !s.is_empty() && *s != "import");
    let record = Record {
        actor,
        action: format!("{method} {path}"),
        target: None,
        sites: site.map(str::to_owned).into_iter().collect(),
        outcome: outcome.into(),
        status: Some(status.as_u16()),
        detail,
    };
    if READ_ONLY_POSTS.contains(&path.as_str()) {
        // It changed nothing, so nothing can be read before its entry is: the entry is
        // written without keeping the caller waiting for the database's writer.
        state.audit.record_later(record);
    } else {
        state.audit.record(record).await;
    }
    response
}

/// Calls made with POST (for their body) that change nothing.
const READ_ONLY_POSTS: [&str; 1] = ["/api/v1/placement/plan"];
