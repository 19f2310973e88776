//! Level L2.1 reads over HTTP: `GET /api/v1/{resource}` across a site selection.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use overcast_api_types::{Aggregate, InventorySummary};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiQuery;
use super::AppState;
use crate::federation::{Kind, Selection};

#[derive(Debug, Deserialize)]
pub struct AggregateQuery {
    pub(super) sites: Option<String>,
    selector: Option<String>,
    timeout_ms: Option<u64>,
    /// Cached data younger than this is used without asking the site.
    max_age_ms: Option<u64>,
    /// Only items whose name contains this text.
    pub(super) name: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(resource): Path<String>,
    ApiQuery(query): ApiQuery<AggregateQuery>,
) -> Result<Json<Aggregate>, ApiError> {
    let kind =
        Kind::parse(&resource).ok_or_else(|| ApiError::NotFound("no such API endpoint".into()))?;
    list_of(&state, &caller, kind, &query).await
}

/// `GET /api/v1/servers`, which has a route of its own for `POST` (federated boot).
pub async fn servers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AggregateQuery>,
) -> Result<Json<Aggregate>, ApiError> {
    list_of(&state, &caller, Kind::Servers, &query).await
}

async fn list_of(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    query: &AggregateQuery,
) -> Result<Json<Aggregate>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let results = read_across(state, caller, kind, query).await?;
    let mut items = Vec::new();
    let mut answers = std::collections::BTreeMap::new();
    for (site, result) in results {
        for mut item in result.items {
            if let Value::Object(map) = &mut item {
                map.insert("site".into(), Value::String(site.clone()));
            }
            items.push(item);
        }
        answers.insert(site, result.answer);
    }
    if let Some(wanted) = &query.name {
        items.retain(|item| {
            item["name"]
                .as_str()
                .is_some_and(|n| n.contains(wanted.as_str()))
        });
    }
    let total = items.len();
    let items = items
        .into_iter()
        .skip(query.offset.unwrap_or(0))
        .take(limit)
        .collect();
    Ok(Json(Aggregate {
        items,
        sites: answers,
        total,
    }))
}

/// Asks the sites a query selects for one kind, within its deadline, from the cache where
/// it allows: what every multi-site read starts from.
pub(super) async fn read_across(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    query: &AggregateQuery,
) -> Result<std::collections::BTreeMap<String, crate::federation::SiteResult>, ApiError> {
    let timeout = match query.timeout_ms {
        None => DEFAULT_TIMEOUT,
        Some(0) => return Err(ApiError::invalid("timeout_ms must be positive")),
        Some(ms) => Duration::from_millis(ms).min(MAX_TIMEOUT),
    };
    let selection = Selection::from_query(query.sites.as_deref(), query.selector.as_deref())
        .map_err(|message| {
            let field = if query.selector.is_some() {
                "selector"
            } else {
                "sites"
            };
            ApiError::invalid_field(field, message)
        })?;
    let sites = super::sites_in_scope(state, caller, &selection, false).await?;
    let max_age = query.max_age_ms.map(Duration::from_millis);
    Ok(state.fan_out.read(kind, sites, timeout, max_age).await)
}

/// `GET /api/v1/inventory/summary`: totals over every site the caller may see.
pub async fn inventory_summary(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<InventorySummary>, ApiError> {
    let sites = super::sites_in_scope(&state, &caller, &Selection::All, false).await?;
    Ok(Json(state.fan_out.inventory_summary(&sites)))
}
