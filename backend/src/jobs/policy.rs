//! The pure rules of a rollout: a job's state from its tasks' states, when the rollout
//! stops, and how long a task waits before its next attempt.

use std::time::Duration;

use overcast_api_types::jobs::{JobState, Rollout, TaskCounts};
use rand::Rng;

/// Sites one job works on at once unless its rollout says otherwise.
pub const DEFAULT_MAX_PARALLEL: u32 = 50;
/// Attempts at a site that answers with errors before its task fails. Unreachable sites
/// are not counted against this: their tasks wait for them until the job expires.
pub const MAX_ATTEMPTS: i64 = 5;

/// The job's state from its tasks. `started` says whether any task ever ran.
pub fn job_state(counts: &TaskCounts, cancel_requested: bool, started: bool) -> JobState {
    if counts.finished() < counts.total {
        return if started || counts.running > 0 || counts.finished() > 0 {
            JobState::Running
        } else {
            JobState::Pending
        };
    }
    if cancel_requested {
        JobState::Cancelled
    } else if counts.succeeded == counts.total {
        JobState::Succeeded
    } else if counts.succeeded == 0 {
        JobState::Failed
    } else {
        JobState::PartiallyFailed
    }
}

/// Whether the failures so far exceed what the rollout tolerates.
pub fn failures_exceeded(rollout: &Rollout, counts: &TaskCounts) -> Option<String> {
    if let Some(max) = rollout.max_failures {
        if counts.failed > max {
            return Some(format!(
                "stopped: {} sites failed, more than the {max} the rollout tolerates",
                counts.failed
            ));
        }
    }
    if let Some(percent) = rollout.max_failure_percent {
        let allowed = u64::from(counts.total) * u64::from(percent) / 100;
        if u64::from(counts.failed) > allowed {
            return Some(format!(
                "stopped: {} of {} sites failed, more than {percent} %",
                counts.failed, counts.total
            ));
        }
    }
    None
}

/// Exponential backoff with jitter: about 1, 2, 4 … s after attempt 1, 2, 3 …, capped;
/// the random half spreads retries of many sites that failed together.
pub fn backoff(attempts: i64, cap: Duration) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
    let full = Duration::from_secs(1u64 << exponent).min(cap);
    let half = full / 2;
    half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_api_types::jobs::TaskState;

    fn counts(states: &[TaskState]) -> TaskCounts {
        let mut counts = TaskCounts::default();
        for state in states {
            counts.add(*state);
        }
        counts
    }

    #[test]
    fn a_job_state_follows_its_tasks() {
        use TaskState::*;
        assert_eq!(
            job_state(&counts(&[Pending, Pending]), false, false),
            JobState::Pending
        );
        assert_eq!(
            job_state(&counts(&[Pending, WaitingForSite]), false, true),
            JobState::Running
        );
        assert_eq!(
            job_state(&counts(&[Succeeded, Running]), false, true),
            JobState::Running
        );
        assert_eq!(
            job_state(&counts(&[Succeeded, Succeeded]), false, true),
            JobState::Succeeded
        );
        assert_eq!(
            job_state(&counts(&[Succeeded, Failed]), false, true),
            JobState::PartiallyFailed
        );
        assert_eq!(
            job_state(&counts(&[Failed, Cancelled]), false, true),
            JobState::Failed
        );
        assert_eq!(
            job_state(&counts(&[Succeeded, Cancelled]), true, true),
            JobState::Cancelled
        );
    }

    #[test]
    fn the_rollout_stops_after_too_many_failures() {
        use TaskState::*;
        let rollout = Rollout {
            max_failures: Some(1),
            ..Rollout::default()
        };
        assert_eq!(
            failures_exceeded(&rollout, &counts(&[Failed, Pending, Pending])),
            None
        );
        assert!(failures_exceeded(&rollout, &counts(&[Failed, Failed, Pending])).is_some());
        let rollout = Rollout {
            max_failure_percent: Some(10),
            ..Rollout::default()
        };
        let mut ten = vec![Pending; 9];
        ten.push(Failed);
        assert_eq!(failures_exceeded(&rollout, &counts(&ten)), None);
        ten[0] = Failed;
        assert!(failures_exceeded(&rollout, &counts(&ten)).is_some());
        assert_eq!(
            failures_exceeded(&Rollout::default(), &counts(&[Failed; 5])),
            None
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(30);
        for attempts in 1..=20 {
            let wait = backoff(attempts, cap);
            let full = Duration::from_secs(1u64 << (attempts.min(16) - 1)).min(cap);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempts}: {wait:?}"
            );
        }
    }
}
