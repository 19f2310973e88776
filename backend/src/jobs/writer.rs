//! Job and task changes reach the database through one writer that commits them in
//! batches: hundreds of tasks finishing together cost one transaction, not hundreds.
//! Changes are applied in the order they were sent; a failed commit is retried, never
//! dropped.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::{JobRow, Store, TaskRow};

pub enum Change {
    Job(JobRow),
    Task(TaskRow),
    /// Answered once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

const MAX_BATCH: usize = 1024;

#[derive(Clone)]
pub struct Writer {
    sender: mpsc::UnboundedSender<Change>,
}

impl Writer {
    pub fn start(store: Store) -> Writer {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(store, receiver));
        Writer { sender }
    }

    pub fn job(&self, row: JobRow) {
        self.send(Change::Job(row));
    }

    pub fn task(&self, row: TaskRow) {
        self.send(Change::Task(row));
    }

    /// Waits until every change sent so far is committed.
    pub async fn flush(&self) {
        let (done, committed) = oneshot::channel();
        self.send(Change::Flush(done));
        let _ = committed.await;
    }

    fn send(&self, change: Change) {
        if self.sender.send(change).is_err() {
            tracing::error!("the job writer has stopped; a job change was not saved");
        }
    }
}

async fn run(store: Store, mut receiver: mpsc::UnboundedReceiver<Change>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        // Only the newest version of each row needs writing.
        let mut jobs: Vec<JobRow> = Vec::new();
        let mut tasks: Vec<TaskRow> = Vec::new();
        let mut job_at: HashMap<String, usize> = HashMap::new();
        let mut task_at: HashMap<(String, String), usize> = HashMap::new();
        let mut flushes = Vec::new();
        for change in batch {
            match change {
                Change::Job(row) => match job_at.get(&row.id) {
                    Some(&i) => jobs[i] = row,
                    None => {
                        job_at.insert(row.id.clone(), jobs.len());
                        jobs.push(row);
                    }
                },
                Change::Task(row) => {
                    let key = (row.job_id.clone(), row.site.clone());
                    match task_at.get(&key) {
                        Some(&i) => tasks[i] = row,
                        None => {
                            task_at.insert(key, tasks.len());
                            tasks.push(row);
                        }
                    }
                }
                Change::Flush(done) => flushes.push(done),
            }
        }
        let mut delay = Duration::from_millis(100);
        while let Err(error) = store.save_job_changes(&jobs, &tasks).await {
            tracing::error!(%error, "cannot save job changes; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
