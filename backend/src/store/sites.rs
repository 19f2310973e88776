use sqlx::FromRow;

use super::{is_unique_violation, placeholders, Store, StoreError};

/// A site as stored: labels and capabilities are JSON text, credentials sealed.
#[derive(Debug, Clone, FromRow)]
pub struct SiteRow {
    pub name: String,
    pub auth_url: String,
    pub region: Option<String>,
    pub interface: String,
    pub labels: String,
    pub credentials: String,
    pub insecure: i64,
    pub ca_bundle: Option<String>,
    pub state: String,
    pub last_seen: Option<String>,
    pub latency_ms: Option<i64>,
    pub capabilities: String,
    pub created_at: String,
}

/// What the in-memory index of the registry keeps of a site: no credentials, no CA bundle.
#[derive(Debug, Clone, FromRow)]
pub struct SiteIndexRow {
    pub name: String,
    pub region: Option<String>,
    pub labels: String,
    pub state: String,
}

const SITE_COLUMNS: &str =
    "name, auth_url, region, interface, labels, credentials, insecure, ca_bundle, \
     state, last_seen, latency_ms, capabilities, created_at";

impl Store {
    pub async fn insert_site(&self, site: &SiteRow) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO sites ({SITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        bind_row(sqlx::query(&sql), site)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("site {}", site.name))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// The sealed credentials of one site, any: to check a key against.
    pub async fn any_site_credentials(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT credentials FROM sites LIMIT 1")
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn site_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM sites")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Inserts and rewrites registrations in one transaction: all of them or none.
    pub async fn import_sites(
        &self,
        inserts: &[SiteRow],
        updates: &[SiteRow],
    ) -> Result<(), StoreError> {
        // 13 values a row; 500 rows stay under every engine's limit of bound parameters.
        const ROWS_PER_STATEMENT: usize = 500;
        let mut transaction = self.pool.begin().await?;
        for chunk in inserts.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| format!("({})", placeholders(row * 13 + 1, 13)))
                .collect();
            let sql = format!(
                "INSERT INTO sites ({SITE_COLUMNS}) VALUES {}",
                rows.join(", ")
            );
            let query = chunk.iter().fold(sqlx::query(&sql), bind_row);
            query.execute(&mut *transaction).await.map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("a site of this import".into())
                } else {
                    e.into()
                }
            })?;
        }
        for site in updates {
            update_site_query(site).execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub async fn list_sites(&self) -> Result<Vec<SiteRow>, StoreError> {
        let sql = format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY name");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Every site's name, region, labels and state: what the registry's index is built
    /// from, without reading any sealed credentials or CA bundles.
    pub async fn list_site_index(&self) -> Result<Vec<SiteIndexRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, region, labels, state FROM sites ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn get_site(&self, name: &str) -> Result<Option<SiteRow>, StoreError> {
        let sql = format!("SELECT {SITE_COLUMNS} FROM sites WHERE name = $1");
        Ok(sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Returns whether a site of that name existed.
    pub async fn delete_site(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sites WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// One site's health columns to write; `capabilities` and `last_seen` are left as they
/// are when `None`.
#[derive(Debug, Clone)]
pub struct SiteHealthRow {
    pub name: String,
    pub state: String,
    pub last_seen: Option<String>,
    pub latency_ms: Option<i64>,
    pub capabilities: Option<String>,
}

impl Store {
    /// Writes many sites' health columns, `per_transaction` rows to a transaction (so
    /// that one write of a whole fleet does not hold SQLite's one writer lock for long).
    /// A site removed meanwhile is no row to update, not an error.
    pub async fn update_sites_health(
        &self,
        rows: &[SiteHealthRow],
        per_transaction: usize,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(per_transaction.max(1)) {
            let mut transaction = self.pool.begin().await?;
            for row in chunk {
                sqlx::query(
                    "UPDATE sites SET state = $1, last_seen = COALESCE($2, last_seen), latency_ms = $3, \
                     capabilities = COALESCE($4, capabilities) WHERE name = $5",
                )
                .bind(&row.state)
                .bind(&row.last_seen)
                .bind(row.latency_ms)
                .bind(&row.capabilities)
                .bind(&row.name)
                .execute(&mut *transaction)
                .await?;
            }
            transaction.commit().await?;
        }
        Ok(())
    }
}

impl Store {
    /// Rewrites a site's registration (not its health columns).
    pub async fn update_site(&self, site: &SiteRow) -> Result<bool, StoreError> {
        let done = update_site_query(site).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds a row's values in the order of `SITE_COLUMNS`.
fn bind_row<'q>(query: AnyQuery<'q>, site: &'q SiteRow) -> AnyQuery<'q> {
    query
        .bind(&site.name)
        .bind(&site.auth_url)
        .bind(&site.region)
        .bind(&site.interface)
        .bind(&site.labels)
        .bind(&site.credentials)
        .bind(site.insecure)
        .bind(&site.ca_bundle)
        .bind(&site.state)
        .bind(&site.last_seen)
        .bind(site.latency_ms)
        .bind(&site.capabilities)
        .bind(&site.created_at)
}

fn update_site_query(
    site: &SiteRow,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(
        "UPDATE sites SET auth_url = $1, region = $2, interface = $3, labels = $4, credentials = $5, \
         insecure = $6, ca_bundle = $7 WHERE name = $8",
    )
    .bind(&site.auth_url)
    .bind(&site.region)
    .bind(&site.interface)
    .bind(&site.labels)
    .bind(&site.credentials)
    .bind(site.insecure)
    .bind(&site.ca_bundle)
    .bind(&site.name)
}
