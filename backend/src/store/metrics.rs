//! Collected figures: raw samples and gaps as rows, rollups as chunks of slots.

use futures::TryStreamExt;

use super::{placeholders, Engine, Store, StoreError};

/// Most sites one chunk query names; a larger selection reads every site's chunks and
/// skips the others, under every engine's limit of bound parameters.
pub const CHUNK_SITES_PER_QUERY: usize = 500;

/// One site's raw sample: `vals` packed as `metrics::values::Values` writes them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SampleRow {
    pub site: String,
    pub ts: i64,
    pub vals: Vec<u8>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GapRow {
    pub site: String,
    pub ts: i64,
    pub reason: String,
}

/// A chunk of one tier, metric and site from `start`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkRow {
    pub metric: String,
    pub site: String,
    pub start: i64,
    pub slots: Vec<u8>,
}

impl Store {
    /// One collection round's samples and gaps, in one transaction.
    pub async fn insert_round(
        &self,
        samples: &[SampleRow],
        gaps: &[GapRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in samples {
            sqlx::query(
                "INSERT INTO metric_samples (site, ts, vals) VALUES ($1, $2, $3) \
                 ON CONFLICT (site, ts) DO UPDATE SET vals = excluded.vals",
            )
            .bind(&row.site)
            .bind(row.ts)
            .bind(&row.vals)
            .execute(&mut *tx)
            .await?;
        }
        for row in gaps {
            sqlx::query(
                "INSERT INTO metric_gaps (site, ts, reason) VALUES ($1, $2, $3) \
                 ON CONFLICT (site, ts) DO UPDATE SET reason = excluded.reason",
            )
            .bind(&row.site)
            .bind(row.ts)
            .bind(&row.reason)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every site's raw samples taken in `[from, to)`, by site then time.
    pub async fn samples_between(&self, from: i64, to: i64) -> Result<Vec<SampleRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT site, ts, vals FROM metric_samples WHERE ts >= $1 AND ts < $2 ORDER BY site, ts",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest sample of each site, to start from after a restart.
    pub async fn latest_samples(&self) -> Result<Vec<SampleRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT s.site, s.ts, s.vals FROM metric_samples s \
             JOIN (SELECT site, MAX(ts) AS ts FROM metric_samples GROUP BY site) m \
             ON s.site = m.site AND s.ts = m.ts",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest gap of each site.
    pub async fn latest_gaps(&self) -> Result<Vec<GapRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT g.site, g.ts, g.reason FROM metric_gaps g \
             JOIN (SELECT site, MAX(ts) AS ts FROM metric_gaps GROUP BY site) m \
             ON g.site = m.site AND g.ts = m.ts",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Hands `each` the chunks of one tier and metric that start in `[from, to)` as
    /// `(site, start, slots)`, each site's together and in time order; of `sites` alone
    /// when given (at most [`CHUNK_SITES_PER_QUERY`]).
    ///
    /// The engine joins each site's chunks into one row: a row costs the driver several
    /// microseconds whatever its size, which was most of a fleet query's time at 24,000
    /// rows (docs/benchmarks.md, "Metrics"). Rows are streamed, a site at a time.
    pub async fn each_chunk(
        &self,
        tier: i16,
        metric: &str,
        (from, to): (i64, i64),
        sites: Option<&[&str]>,
        mut each: impl FnMut(&str, i64, &[u8]),
    ) -> Result<(), StoreError> {
        let wanted = sites.unwrap_or_default();
        let only = match sites {
            Some(_) => format!(" AND site IN ({})", placeholders(5, wanted.len())),
            None => String::new(),
        };
        // `layout` lists each chunk's start and length in bytes, `joined` their slots.
        let (layout, joined) = match self.engine {
            Engine::Sqlite => (
                "group_concat(start || ':' || length(slots), ',' ORDER BY start)",
                "CAST(group_concat(slots, '' ORDER BY start) AS BLOB)",
            ),
            Engine::Postgres => (
                "string_agg(start::text || ':' || length(slots)::text, ',' ORDER BY start)",
                "string_agg(slots, ''::bytea ORDER BY start)",
            ),
        };
        let sql = format!(
            "SELECT site, {layout} AS layout, {joined} AS joined FROM metric_chunks \
             WHERE tier = $1 AND metric = $2 AND start >= $3 AND start < $4{only} \
             GROUP BY site"
        );
        let query = sqlx::query_as::<_, (String, String, Vec<u8>)>(&sql)
            .bind(tier)
            .bind(metric)
            .bind(from)
            .bind(to);
        let mut rows = wanted
            .iter()
            .fold(query, |q, site| q.bind(*site))
            .fetch(&self.pool);
        while let Some((site, layout, joined)) = rows.try_next().await? {
            let mut rest = joined.as_slice();
            for part in layout.split(',') {
                let parsed = part
                    .split_once(':')
                    .and_then(|(start, len)| Some((start.parse().ok()?, len.parse().ok()?)));
                let Some((start, len)) =
                    parsed.filter(|(_, len): &(i64, usize)| *len <= rest.len())
                else {
                    return Err(StoreError::Corrupt(format!(
                        "the chunks of {site} read as {part:?} with {} bytes left",
                        rest.len()
                    )));
                };
                let (slots, after) = rest.split_at(len);
                each(&site, start, slots);
                rest = after;
            }
        }
        Ok(())
    }

    /// Every chunk of one tier that starts at `start`, of these metrics and every site.
    /// Naming the metrics lets the engine seek each one's rows by the key instead of
    /// reading the whole tier.
    pub async fn chunks_at(
        &self,
        tier: i16,
        start: i64,
        metrics: &[&str],
    ) -> Result<Vec<ChunkRow>, StoreError> {
        let sql = format!(
            "SELECT metric, site, start, slots FROM metric_chunks \
             WHERE tier = $1 AND start = $2 AND metric IN ({})",
            placeholders(3, metrics.len())
        );
        let query = sqlx::query_as(&sql).bind(tier).bind(start);
        Ok(metrics
            .iter()
            .fold(query, |q, metric| q.bind(*metric))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Writes chunks of one tier and records how far the tier is done, in one transaction.
    pub async fn write_chunks(
        &self,
        tier: i16,
        rows: &[ChunkRow],
        done_until: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO metric_chunks (tier, metric, site, start, slots) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tier, metric, start, site) DO UPDATE SET slots = excluded.slots",
            )
            .bind(tier)
            .bind(&row.metric)
            .bind(&row.site)
            .bind(row.start)
            .bind(&row.slots)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(until) = done_until {
            sqlx::query(
                "INSERT INTO metric_rollups (tier, done_until) VALUES ($1, $2) \
                 ON CONFLICT (tier) DO UPDATE SET done_until = excluded.done_until",
            )
            .bind(tier)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How far a rollup tier is computed (exclusive), if it ever ran.
    pub async fn rollup_done(&self, tier: i16) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT done_until FROM metric_rollups WHERE tier = $1")
                .bind(tier)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(until,)| until))
    }

    /// Forgets raw samples and gaps older than `raw_before`, and chunks of `metrics` of
    /// each tier that start before its bound. Returns the rows removed.
    ///
    /// The metrics are named so that the engine seeks each one's oldest rows by the key
    /// rather than reading the whole tier every minute.
    pub async fn prune_metrics(
        &self,
        raw_before: i64,
        chunks_before: &[(i16, i64)],
        metrics: &[&str],
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        for table in ["metric_samples", "metric_gaps"] {
            removed += sqlx::query(&format!("DELETE FROM {table} WHERE ts < $1"))
                .bind(raw_before)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        for (tier, before) in chunks_before {
            let sql = format!(
                "DELETE FROM metric_chunks WHERE tier = $1 AND metric IN ({}) AND start < $2",
                placeholders(3, metrics.len())
            );
            let query = sqlx::query(&sql).bind(*tier).bind(*before);
            removed += metrics
                .iter()
                .fold(query, |q, metric| q.bind(*metric))
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(removed)
    }

    /// Forgets every figure of a site that left the fleet.
    pub async fn forget_site_metrics(&self, site: &str) -> Result<(), StoreError> {
        for table in ["metric_samples", "metric_gaps", "metric_chunks"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE site = $1"))
                .bind(site)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
