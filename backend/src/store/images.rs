use sqlx::FromRow;

use super::{Store, StoreError};

/// A replication policy as stored; `image` and `targets` are JSON.
#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub id: String,
    pub image: String,
    pub sha512: String,
    pub targets: String,
    pub created_by: String,
    pub created_at: String,
}

const COLUMNS: &str = "id, image, sha512, targets, created_by, created_at";

impl Store {
    pub async fn insert_policy(&self, row: &PolicyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO image_policies (id, image, sha512, targets, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.image)
        .bind(&row.sha512)
        .bind(&row.targets)
        .bind(&row.created_by)
        .bind(&row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every policy, oldest first: a fleet has a handful, not thousands.
    pub async fn policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM image_policies ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn policy(&self, id: &str) -> Result<Option<PolicyRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM image_policies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether there was one to delete.
    pub async fn delete_policy(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM image_policies WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
