//! Deployments and their events.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A deployment as stored; `spec`, `scope` and `placed` are JSON.
#[derive(Debug, Clone, FromRow)]
pub struct DeploymentRow {
    pub id: String,
    pub name: String,
    pub spec: String,
    pub scope: Option<String>,
    pub state: String,
    pub placed: String,
    /// 1 while a lower count asks for the newest servers beyond it to go.
    pub scale_down: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct DeploymentEventRow {
    pub seq: i64,
    pub at: String,
    pub message: String,
}

const COLUMNS: &str =
    "id, name, spec, scope, state, placed, scale_down, created_by, created_at, updated_at";
/// Events kept per deployment.
const EVENTS_KEPT: i64 = 200;

impl Store {
    pub async fn insert_deployment(&self, row: &DeploymentRow) -> Result<(), StoreError> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO deployments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (name) DO NOTHING"
        ))
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.spec)
        .bind(&row.scope)
        .bind(&row.state)
        .bind(&row.placed)
        .bind(row.scale_down)
        .bind(&row.created_by)
        .bind(&row.created_at)
        .bind(&row.updated_at)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a deployment named {:?}",
                row.name
            )));
        }
        Ok(())
    }

    /// What the API changes: the spec (a scale), the state, the scale-down mark. The
    /// servers placed are the reconciler's to write, so neither overwrites the other.
    pub async fn update_deployment(&self, row: &DeploymentRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deployments SET spec = $1, state = $2, scale_down = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(&row.spec)
        .bind(&row.state)
        .bind(row.scale_down)
        .bind(&row.updated_at)
        .bind(&row.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the reconciler changes: the servers placed, and the scale-down mark once the
    /// count it saw (`spec`) is reached; a change made meanwhile keeps its mark.
    pub async fn update_deployment_placed(
        &self,
        row: &DeploymentRow,
        scaled_down: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE deployments SET placed = $1, updated_at = $2 WHERE id = $3")
            .bind(&row.placed)
            .bind(&row.updated_at)
            .bind(&row.id)
            .execute(&self.pool)
            .await?;
        if scaled_down {
            sqlx::query("UPDATE deployments SET scale_down = 0 WHERE id = $1 AND spec = $2")
                .bind(&row.id)
                .bind(&row.spec)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Every deployment, by name.
    pub async fn deployments(&self) -> Result<Vec<DeploymentRow>, StoreError> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM deployments ORDER BY name"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn deployment(&self, id: &str) -> Result<Option<DeploymentRow>, StoreError> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM deployments WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn delete_deployment(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for table_key in [
            "deployment_events WHERE deployment_id",
            "deployments WHERE id",
        ] {
            sqlx::query(&format!("DELETE FROM {table_key} = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds an event and forgets those beyond the newest `EVENTS_KEPT`. One statement
    /// each: on SQLite a transaction that reads before it writes fails at once (busy)
    /// when another writer committed in between, where a single statement waits its turn.
    pub async fn add_deployment_event(
        &self,
        id: &str,
        at: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO deployment_events (deployment_id, seq, at, message) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3 FROM deployment_events WHERE deployment_id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(message)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM deployment_events WHERE deployment_id = $1 AND seq <= \
             (SELECT MAX(seq) FROM deployment_events WHERE deployment_id = $1) - $2",
        )
        .bind(id)
        .bind(EVENTS_KEPT)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` events, the newest first.
    pub async fn deployment_events(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<DeploymentEventRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, at, message FROM deployment_events WHERE deployment_id = $1 \
             ORDER BY seq DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
