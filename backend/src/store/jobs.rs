use std::time::{Duration, Instant};

use sqlx::FromRow;

use super::{Store, StoreError};

/// A job as stored: `params`, `targets` and `rollout` are JSON text.
#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub params: String,
    pub sealed_params: String,
    pub targets: String,
    pub rollout: String,
    pub state: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
    pub finished_at: Option<String>,
    pub stopped_reason: Option<String>,
}

/// One site's part of a job. `plan` is what the job expected to find at the site when it
/// was created (JSON), re-checked before anything is deleted.
#[derive(Debug, Clone, FromRow)]
pub struct TaskRow {
    pub job_id: String,
    pub site: String,
    pub state: String,
    pub canary: i64,
    pub attempts: i64,
    pub error: Option<String>,
    pub result: Option<String>,
    pub progress: i64,
    pub plan: Option<String>,
    pub next_attempt_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Bytes of a transfer under way: kept in memory only, as a restarted transfer begins
    /// again anyway.
    #[sqlx(skip)]
    pub transfer: Option<TransferProgress>,
}

/// Where a transfer to one site is, and how fast it went lately.
#[derive(Debug, Clone, Copy)]
pub struct TransferProgress {
    pub done: u64,
    pub total: Option<u64>,
    /// Where the transfer was at most two windows ago and at least one, for its pace.
    older: Mark,
    newer: Mark,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    done: u64,
}

/// The pace is what went in the last 5 to 10 s: the first megabytes fill socket buffers
/// at memory speed, so an average since the start says a slow link is fast for minutes.
const PACE_WINDOW: Duration = Duration::from_secs(5);

impl TransferProgress {
    pub fn start(total: Option<u64>, now: Instant) -> Self {
        let mark = Mark { at: now, done: 0 };
        TransferProgress {
            done: 0,
            total,
            older: mark,
            newer: mark,
        }
    }

    /// The transfer at `done` bytes; a count that went back (a restarted upload) starts over.
    pub fn advanced(self, done: u64, total: Option<u64>, now: Instant) -> Self {
        if done < self.done {
            return TransferProgress::start(total, now).advanced(done, total, now);
        }
        let mut next = TransferProgress {
            done,
            total,
            ..self
        };
        if now.saturating_duration_since(next.newer.at) >= PACE_WINDOW {
            next.older = next.newer;
            next.newer = Mark { at: now, done };
        }
        next
    }

    /// Bytes per second over the last window, falling while nothing moves.
    pub fn bytes_per_s(&self, now: Instant) -> u64 {
        let seconds = now.saturating_duration_since(self.older.at).as_secs_f64();
        if seconds < 0.001 {
            return 0;
        }
        ((self.done - self.older.done) as f64 / seconds) as u64
    }
}

const JOB_COLUMNS: &str =
    "id, kind, params, sealed_params, targets, rollout, state, created_by, created_at, \
     updated_at, expires_at, finished_at, stopped_reason";
const TASK_COLUMNS: &str = "job_id, site, state, canary, attempts, error, result, progress, \
     plan, next_attempt_at, started_at, finished_at";

impl Store {
    /// Stores a new job with all its tasks in one transaction: a job is either accepted
    /// whole or not at all.
    pub async fn insert_job(&self, job: &JobRow, tasks: &[TaskRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&job.id)
        .bind(&job.kind)
        .bind(&job.params)
        .bind(&job.sealed_params)
        .bind(&job.targets)
        .bind(&job.rollout)
        .bind(&job.state)
        .bind(&job.created_by)
        .bind(&job.created_at)
        .bind(&job.updated_at)
        .bind(&job.expires_at)
        .bind(&job.finished_at)
        .bind(&job.stopped_reason)
        .execute(&mut *tx)
        .await?;
        let insert = format!(
            "INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        for task in tasks {
            sqlx::query(&insert)
                .bind(&task.job_id)
                .bind(&task.site)
                .bind(&task.state)
                .bind(task.canary)
                .bind(task.attempts)
                .bind(&task.error)
                .bind(&task.result)
                .bind(task.progress)
                .bind(&task.plan)
                .bind(&task.next_attempt_at)
                .bind(&task.started_at)
                .bind(&task.finished_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes many job and task changes in one transaction (one fsync for a batch).
    pub async fn save_job_changes(
        &self,
        jobs: &[JobRow],
        tasks: &[TaskRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for job in jobs {
            sqlx::query(
                "UPDATE jobs SET state = $1, updated_at = $2, expires_at = $3, finished_at = $4, \
                 stopped_reason = $5 WHERE id = $6",
            )
            .bind(&job.state)
            .bind(&job.updated_at)
            .bind(&job.expires_at)
            .bind(&job.finished_at)
            .bind(&job.stopped_reason)
            .bind(&job.id)
            .execute(&mut *tx)
            .await?;
        }
        // A task a job gained while it ran (servers placed again elsewhere) is new here.
        for task in tasks {
            sqlx::query(&format!(
                "INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (job_id, site) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, \
                 error = excluded.error, result = excluded.result, progress = excluded.progress, \
                 plan = excluded.plan, next_attempt_at = excluded.next_attempt_at, \
                 started_at = excluded.started_at, finished_at = excluded.finished_at"
            ))
            .bind(&task.job_id)
            .bind(&task.site)
            .bind(&task.state)
            .bind(task.canary)
            .bind(task.attempts)
            .bind(&task.error)
            .bind(&task.result)
            .bind(task.progress)
            .bind(&task.plan)
            .bind(&task.next_attempt_at)
            .bind(&task.started_at)
            .bind(&task.finished_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        Ok(
            sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The newest jobs first.
    pub async fn list_jobs(&self, limit: i64) -> Result<Vec<JobRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Jobs that are not finished: what a (re)starting console resumes.
    pub async fn unfinished_jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('pending', 'running') ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn tasks_of(&self, job_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = $1 ORDER BY site"
        ))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Task states per job, for lists: (job id, state, count).
    pub async fn task_counts(
        &self,
        job_ids: &[String],
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut counts = Vec::new();
        for id in job_ids {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT job_id, state, COUNT(*) FROM tasks WHERE job_id = $1 GROUP BY job_id, state",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            counts.extend(rows);
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn the_pace_forgets_the_burst_that_filled_the_buffers() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // 8 MiB into socket buffers in the first second, then 1 MiB/s over the link.
        let mut transfer =
            TransferProgress::start(Some(100 * MIB), t0).advanced(8 * MIB, Some(100 * MIB), at(1));
        for s in 2..=20 {
            transfer = transfer.advanced((7 + s) * MIB, Some(100 * MIB), at(s));
        }
        let pace = transfer.bytes_per_s(at(20));
        assert!((MIB * 9 / 10..=MIB * 11 / 10).contains(&pace), "{pace}");
        // Nothing moves for 10 s: the pace falls.
        assert!(transfer.bytes_per_s(at(30)) < pace / 2);
    }

    #[test]
    fn a_restarted_transfer_starts_its_pace_over() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let transfer = TransferProgress::start(None, t0)
            .advanced(50 * MIB, None, at(10))
            .advanced(MIB, None, at(11));
        assert_eq!(transfer.done, MIB);
        assert_eq!(transfer.bytes_per_s(at(12)), MIB);
    }
}
