use sqlx::FromRow;

use super::{is_unique_violation, Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    /// A site selection as JSON.
    pub scope: String,
    pub created_at: String,
}

impl Store {
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn find_user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, username, password_hash, role, scope, created_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn insert_user(&self, user: &UserRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO users (id, username, password_hash, role, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&user.role)
            .bind(&user.scope)
            .bind(&user.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("user {}", user.username))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }
}
