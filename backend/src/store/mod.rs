//! Persistence. One `Store` over sqlx's `Any` driver runs the same portable SQL on SQLite
//! (the embedded default) and PostgreSQL (production); each engine has its own migrations
//! folder so that engine-specific DDL stays possible. See docs/decisions.md.

mod access;
mod audit;
mod deployments;
mod images;
mod inventory;
mod jobs;
mod metrics;
mod sites;
mod users;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

pub use access::ApiTokenRow;
pub use audit::{AuditFilter, AuditRow};
pub use deployments::{DeploymentEventRow, DeploymentRow};
pub use images::PolicyRow;
pub use inventory::InventoryRow;
pub use jobs::{JobRow, TaskRow, TransferProgress};
pub use metrics::{ChunkRow, GapRow, SampleRow, CHUNK_SITES_PER_QUERY};
pub use sites::{SiteHealthRow, SiteIndexRow, SiteRow};
pub use users::UserRow;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {database}: {cause}")]
    Open { database: String, cause: String },
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
    /// Connects and applies pending migrations. A database that cannot be opened is an
    /// error at once, with its cause, rather than a pool that retries until it times out.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        if engine == Engine::Sqlite {
            sqlite_files::prepare(url)?;
        }
        check_opens(url).await?;
        let mut options = AnyPoolOptions::new().acquire_timeout(std::time::Duration::from_secs(10));
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

    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM console_meta WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets `key` unless it is set already; returns the value in force.
    pub async fn meta_set_once(&self, key: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO console_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(self.meta(key).await?.unwrap_or_default())
    }
}

/// One connection and one read, so that a corrupt file or a wrong address is reported
/// with the database's own words within seconds.
async fn check_opens(url: &str) -> Result<(), StoreError> {
    use sqlx::Connection;
    let failed = |cause: sqlx::Error| StoreError::Open {
        database: crate::config::redact_url_password(url),
        cause: cause.to_string(),
    };
    let connecting = sqlx::AnyConnection::connect(url);
    let mut connection = tokio::time::timeout(std::time::Duration::from_secs(10), connecting)
        .await
        .map_err(|_| StoreError::Open {
            database: crate::config::redact_url_password(url),
            cause: "no answer within 10 s".into(),
        })?
        .map_err(failed)?;
    let probe = if url.starts_with("sqlite:") {
        "SELECT COUNT(*) FROM sqlite_master"
    } else {
        "SELECT 1"
    };
    sqlx::query(probe)
        .fetch_one(&mut connection)
        .await
        .map_err(failed)?;
    connection.close().await.map_err(failed)?;
    Ok(())
}

/// The SQLite file and its WAL and shared-memory companions hold sealed credentials
/// and hashes: readable by the console's user only.
mod sqlite_files {
    use super::StoreError;

    pub fn path_of(url: &str) -> Option<std::path::PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path.starts_with(":memory:") {
            return None;
        }
        Some(std::path::PathBuf::from(path))
    }

    pub fn prepare(url: &str) -> Result<(), StoreError> {
        let Some(path) = path_of(url) else {
            return Ok(());
        };
        let failed = |e: std::io::Error| StoreError::Open {
            database: path.display().to_string(),
            cause: e.to_string(),
        };
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).map_err(failed)?;
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// `count` bound parameters from `$first`, comma-separated: the parts of a statement
/// that takes a list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
