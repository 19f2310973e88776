//! Metrics over HTTP: the latest figures of the selected sites, and one metric over time.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use overcast_api_types::metrics::{MetricSeries, MetricsSummary, QuotaReport};
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiQuery;
use super::AppState;
use crate::federation::Selection;
use crate::metrics::{unix_now, MetricsError, SeriesQuery};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    sites: Option<String>,
    selector: Option<String>,
    /// A label whose values group the totals (`region`).
    group_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotasQuery {
    sites: Option<String>,
    selector: Option<String>,
    /// One project's quotas, by name or id.
    project: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesParams {
    metric: String,
    sites: Option<String>,
    selector: Option<String>,
    /// Unix seconds or RFC 3339 [default: an hour before `to`].
    from: Option<String>,
    /// Unix seconds or RFC 3339 [default: now].
    to: Option<String>,
    /// Seconds between points [default: 60].
    step: Option<i64>,
    /// `sum`, `avg`, `max` or `min` across sites [default: sum].
    agg: Option<String>,
    group_by: Option<String>,
}

impl From<MetricsError> for ApiError {
    fn from(error: MetricsError) -> Self {
        match error {
            MetricsError::Invalid { field, message } => ApiError::invalid_field(field, message),
            MetricsError::Store(e) => e.into(),
            MetricsError::Sites(e) => e.into(),
            MetricsError::Encoding(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// The sites of a query the caller may see, each with its group (the value of
/// `group_by`, `(none)` without it), or no group when not grouping.
async fn sites_and_groups(
    state: &AppState,
    caller: &Caller,
    sites: Option<&str>,
    selector: Option<&str>,
    group_by: Option<&str>,
) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let selection = Selection::from_query(sites, selector).map_err(|message| {
        ApiError::invalid_field(
            if selector.is_some() {
                "selector"
            } else {
                "sites"
            },
            message,
        )
    })?;
    let sites = super::sites_with_labels(state, caller, &selection).await?;
    Ok(sites
        .into_iter()
        .map(|(name, labels)| {
            let group = group_by.map(|label| {
                labels
                    .get(label)
                    .cloned()
                    .unwrap_or_else(|| "(none)".into())
            });
            (name, group)
        })
        .collect())
}

/// `GET /api/v1/metrics/summary`: the latest figures of every selected site, fleet and
/// per-label totals; a site with a gap says why and adds nothing.
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Json<MetricsSummary>, ApiError> {
    let sites = sites_and_groups(
        &state,
        &caller,
        query.sites.as_deref(),
        query.selector.as_deref(),
        query.group_by.as_deref(),
    )
    .await?;
    Ok(Json(state.metrics.summary(
        &sites,
        query.group_by.as_deref(),
        unix_now(),
    )))
}

/// `GET /api/v1/metrics/quotas`: what each project may use and uses at every selected
/// site, as last collected; a site without figures says why.
pub async fn quotas(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<QuotasQuery>,
) -> Result<Json<QuotaReport>, ApiError> {
    let sites = sites_and_groups(
        &state,
        &caller,
        query.sites.as_deref(),
        query.selector.as_deref(),
        None,
    )
    .await?;
    let names: Vec<String> = sites.into_keys().collect();
    Ok(Json(state.metrics.quotas(
        &names,
        query.project.as_deref(),
        unix_now(),
    )))
}

/// `GET /api/v1/metrics/series`: one metric over time across the selected sites.
pub async fn series(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SeriesParams>,
) -> Result<Json<MetricSeries>, ApiError> {
    let now = unix_now();
    let (from, to) = period(params.from.as_deref(), params.to.as_deref(), now, 3600)?;
    let query = SeriesQuery::new(
        &params.metric,
        from,
        to,
        params.step.unwrap_or(60),
        params.agg.as_deref().unwrap_or("sum"),
    )?;
    let sites = sites_and_groups(
        &state,
        &caller,
        params.sites.as_deref(),
        params.selector.as_deref(),
        params.group_by.as_deref(),
    )
    .await?;
    let groups = sites
        .into_iter()
        .map(|(site, group)| (site, group.unwrap_or_else(|| "all".into())))
        .collect();
    Ok(Json(state.metrics.series(&query, &groups, now).await?))
}

/// A query's period: `to` defaults to now, `from` to `span` seconds before `to`.
fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
    span: i64,
) -> Result<(i64, i64), ApiError> {
    let to = to
        .map(|text| parse_time("to", text))
        .transpose()?
        .unwrap_or(now);
    let from = from
        .map(|text| parse_time("from", text))
        .transpose()?
        .unwrap_or(to - span);
    Ok((from, to))
}

/// Unix seconds or an RFC 3339 time.
fn parse_time(field: &'static str, text: &str) -> Result<i64, ApiError> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| ApiError::invalid_field(field, "must be unix seconds or an RFC 3339 time"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    sites: Option<String>,
    selector: Option<String>,
    /// Unix seconds or RFC 3339 [default: 30 days before `to`].
    from: Option<String>,
    /// Unix seconds or RFC 3339 [default: now].
    to: Option<String>,
    /// `site`, `project` (by name across sites) or a site label [default: site].
    group_by: Option<String>,
}

/// `GET /api/v1/usage`: VM, vCPU, RAM, disk and volume hours over a period per site,
/// project or label value, as JSON or (`Accept: text/csv`) CSV; sites that cannot say
/// are listed as unknown, never counted as zero.
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let now = unix_now();
    let (from, to) = period(
        params.from.as_deref(),
        params.to.as_deref(),
        now,
        30 * 86_400,
    )?;
    let grouping =
        crate::metrics::usage::UsageGrouping::parse(params.group_by.as_deref().unwrap_or("site"));
    let selection = Selection::from_query(params.sites.as_deref(), params.selector.as_deref())
        .map_err(|message| {
            ApiError::invalid_field(
                if params.selector.is_some() {
                    "selector"
                } else {
                    "sites"
                },
                message,
            )
        })?;
    let sites = super::sites_with_labels(&state, &caller, &selection).await?;
    let report = state
        .metrics
        .usage(&sites, from, to, &grouping, now)
        .await?;
    let wants_csv = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"));
    Ok(match wants_csv {
        true => (
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::metrics::usage::to_csv(&report),
        )
            .into_response(),
        false => Json(report).into_response(),
    })
}
