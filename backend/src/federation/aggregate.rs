//! Level L2.1 reads: ask every selected site at once, each within one deadline, and say
//! how each answered. One failing site never fails the whole answer.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use overcast_api_types::{SiteAnswer, SiteAnswerStatus};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::health::HealthMonitor;
use super::selection::Selection;
use super::sessions::SessionPool;
use crate::openstack::OpenStackError;
use crate::resources::{ResourceError, SiteOps};
use crate::sites::{now_rfc3339, SiteError, SiteRegistry};

/// Sites asked at once by one console, over all requests.
const MAX_IN_FLIGHT: usize = 512;

#[derive(Clone)]
pub struct FanOut {
    registry: SiteRegistry,
    sessions: SessionPool,
    health: Arc<HealthMonitor>,
    permits: Arc<Semaphore>,
}

/// One site's part of an aggregated answer.
pub struct SiteResult<T> {
    pub answer: SiteAnswer,
    pub items: Vec<T>,
}

impl FanOut {
    pub fn new(registry: SiteRegistry, sessions: SessionPool, health: Arc<HealthMonitor>) -> Self {
        FanOut {
            registry,
            sessions,
            health,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// The registered sites a selection names. Explicitly named sites must all exist.
    pub async fn resolve(&self, selection: &Selection) -> Result<Vec<String>, SiteError> {
        let sites = self.registry.list().await?;
        match selection {
            Selection::All => Ok(sites.into_iter().map(|s| s.name).collect()),
            Selection::Selector(selector) => Ok(sites
                .into_iter()
                .filter(|s| selector.matches(&s.labels))
                .map(|s| s.name)
                .collect()),
            Selection::Sites(names) => {
                let unknown: Vec<&str> = names
                    .iter()
                    .filter(|n| !sites.iter().any(|s| &s.name == *n))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(SiteError::NotFound(unknown.join(", ")));
                }
                let mut names = names.clone();
                names.sort();
                names.dedup();
                Ok(names)
            }
        }
    }

    /// Runs `read` on every site within `timeout` and collects what each answered.
    pub async fn read<T, F, Fut>(
        &self,
        sites: Vec<String>,
        timeout: Duration,
        read: F,
    ) -> BTreeMap<String, SiteResult<T>>
    where
        F: Fn(SiteOps) -> Fut,
        Fut: Future<Output = Result<Vec<T>, ResourceError>>,
    {
        let deadline = Instant::now() + timeout;
        let read = &read;
        let asks = sites.into_iter().map(|site| async move {
            let result = self.ask(&site, deadline, read).await;
            (site, result)
        });
        join_all(asks).await.into_iter().collect()
    }

    async fn ask<T, F, Fut>(&self, site: &str, deadline: Instant, read: &F) -> SiteResult<T>
    where
        F: Fn(SiteOps) -> Fut,
        Fut: Future<Output = Result<Vec<T>, ResourceError>>,
    {
        let failed = |status, error: String| SiteResult {
            answer: SiteAnswer {
                status,
                latency_ms: None,
                as_of: None,
                error: Some(error),
            },
            items: Vec::new(),
        };
        // The circuit breaker: a site known to be unreachable costs no waiting.
        if self.health.is_unreachable(site) {
            return failed(
                SiteAnswerStatus::Unreachable,
                "unreachable (health checks fail); not asked".into(),
            );
        }
        let Ok(_permit) = tokio::time::timeout_at(deadline, self.permits.acquire()).await else {
            return failed(
                SiteAnswerStatus::Timeout,
                "deadline passed while waiting for a free slot".into(),
            );
        };
        let session = match self.sessions.session(site).await {
            Ok(session) => session,
            Err(error) => return failed(SiteAnswerStatus::Error, error.to_string()),
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout_at(
            deadline,
            read(SiteOps::new(site.to_owned(), session, deadline)),
        )
        .await;
        let latency_ms = Some(started.elapsed().as_millis() as u64);
        match outcome {
            Ok(Ok(items)) => SiteResult {
                answer: SiteAnswer {
                    status: SiteAnswerStatus::Ok,
                    latency_ms,
                    as_of: Some(now_rfc3339()),
                    error: None,
                },
                items,
            },
            Err(_) => failed(
                SiteAnswerStatus::Timeout,
                format!(
                    "no answer within {} ms",
                    deadline.saturating_duration_since(started).as_millis()
                ),
            ),
            Ok(Err(error)) => {
                let status = match &error {
                    ResourceError::Site(OpenStackError::Timeout(_)) => SiteAnswerStatus::Timeout,
                    ResourceError::Site(OpenStackError::Unreachable(_)) => {
                        SiteAnswerStatus::Unreachable
                    }
                    ResourceError::Site(
                        OpenStackError::AuthFailed(_) | OpenStackError::Api { status: 401, .. },
                    ) => SiteAnswerStatus::AuthFailed,
                    _ => SiteAnswerStatus::Error,
                };
                failed(status, error.to_string())
            }
        }
    }
}
