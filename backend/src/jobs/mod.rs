//! Bulk operations as durable jobs (levels L2.1 and L3).
//!
//! A job fans out into one task per site. Every task change is written to the database
//! (through a batching writer) before the engine relies on it, so a console that is
//! killed resumes its jobs on the next start; the job kinds are idempotent, so a task
//! interrupted mid-call runs again without acting twice. Tasks of unreachable sites wait
//! for them, within the job's time to live.

mod boot;
mod engine;
pub mod kinds;
mod policy;
mod replication;
mod writer;

pub use boot::{Placing, Rescheduler, ServersBoot, MAX_COUNT as MAX_SERVERS_PER_SITE};
pub use engine::{ActiveCounts, EngineConfig, EngineEvent, JobEngine, JobError};
pub use kinds::{JobSpec, KINDS};
pub use replication::Replication;
