use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// A JSON array of site names.
    pub sites: String,
    pub outcome: String,
    pub status: Option<i64>,
    pub detail: Option<String>,
}

/// What to read of the audit log; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action_prefix: Option<String>,
    /// Entries that name this site.
    pub site: Option<String>,
    pub outcome: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS` in UTC: entries of that second or later. Stored times
    /// begin with that form, so text order is time order and the index serves.
    pub since: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS` in UTC: entries before that second.
    pub until: Option<String>,
    /// Entries older than this id (paging).
    pub before: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Appends one entry. There is no update or delete: the log is append-only.
    pub async fn append_audit(&self, row: &AuditRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (at, actor, action, target, sites, outcome, status, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.at)
        .bind(&row.actor)
        .bind(&row.action)
        .bind(&row.target)
        .bind(&row.sites)
        .bind(&row.outcome)
        .bind(row.status)
        .bind(&row.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Newest first. Values are bound, never spliced into the SQL.
    pub async fn query_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let site_pattern = filter
            .site
            .as_ref()
            .map(|s| format!("%{}%", serde_json::json!(s)));
        let action_pattern = filter.action_prefix.as_ref().map(|a| format!("{a}%"));
        Ok(sqlx::query_as(
            "SELECT id, at, actor, action, target, sites, outcome, status, detail FROM audit \
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action LIKE $2) \
             AND ($3 IS NULL OR sites LIKE $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at < $5) AND ($6 IS NULL OR outcome = $6) \
             AND ($7 IS NULL OR id < $7) \
             ORDER BY id DESC LIMIT $8",
        )
        .bind(&filter.actor)
        .bind(&action_pattern)
        .bind(&site_pattern)
        .bind(&filter.since)
        .bind(&filter.until)
        .bind(&filter.outcome)
        .bind(filter.before)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
