//! Persistence. One `Store` over sqlx's `Any` driver runs the same portable SQL on SQLite
//! (the embedded default) and PostgreSQL (production); each engine has its own migrations
//! folder so that engine-specific DDL stays possible. See docs/decisions.md.

mod access;
mod audit;
mod inventory;
mod jobs;
mod sites;
mod users;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

pub use access::ApiTokenRow;
pub use audit::{AuditFilter, AuditRow};
pub use inventory::InventoryRow;
pub use jobs::{JobRow, TaskRow};
pub use sites::SiteRow;
pub use users::UserRow;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        let mut options = AnyPoolOptions::new();
        if engine == Engine::Sqlite {
            // WAL lets readers proceed beside the one writer; busy_timeout turns a locked
            // database into a short wait instead of an error. The Any driver only takes a
            // URL, so these are set on each new connection.
            options = options.max_connections(8).after_connect(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        let pool = options.connect(url).await?;
        let store = Store { pool, engine };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Readiness: the database answers and every migration this binary knows is applied.
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        let known = match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.iter().count(),
            Engine::Postgres => POSTGRES_MIGRATIONS.iter().count(),
        };
        if usize::try_from(applied).unwrap_or(0) < known {
            return Err(StoreError::Corrupt(format!(
                "{applied} of {known} migrations applied"
            )));
        }
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}
