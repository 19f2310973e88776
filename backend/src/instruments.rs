//! The console's own instruments: what the HTTP layer, the fan-out, the health checks,
//! the collector and the job engine count and time as they work, read by `GET /metrics`.
//!
//! One handle, built at start-up and passed to each part that feeds it (no global
//! registry): tests start several consoles in one process, and each must count only its
//! own work. Console-wide families are `prometheus-client` metrics; per-site ones are
//! kept here by site name, so that a scrape can leave out the sites outside the caller's
//! scope and a site that leaves the registry leaves its series with it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use overcast_api_types::SiteAnswerStatus;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// Seconds: from a quick JSON call to a slow fan-out.
const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Seconds; few, since every site has its own histogram (a thousand sites, a thousand).
const SITE_BUCKETS: [f64; 8] = [0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Seconds; one read of a site gets at most 15 s.
const READ_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0];
/// Seconds; one transaction of a batch of readings.
const WRITE_BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Methods are labels as they are only when standard: any other token a client sends
/// would otherwise make a series of its own.
const KNOWN_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The route of a request no route matched (the dashboard's files, unknown paths): one
/// label for all, never the raw path.
pub const UNMATCHED_ROUTE: &str = "(unmatched)";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRequest {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRoute {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishedJob {
    kind: String,
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// How a health check of a site ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeOutcome {
    /// It answered in full.
    Answered,
    /// It answered, but cannot be used as configured (refused credentials, a service down).
    Impaired,
    /// No answer.
    Failed,
}

impl ProbeOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Answered => "answered",
            ProbeOutcome::Impaired => "impaired",
            ProbeOutcome::Failed => "failed",
        }
    }
}

/// How one read of the collector ended.
#[derive(Debug, Clone, Copy)]
pub enum ReadOutcome {
    Ok,
    /// The site was asked and the read failed: a gap.
    Failed,
    /// The site is known to be unreachable and was not asked: a gap too.
    Unreachable,
}

impl ReadOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ReadOutcome::Ok => "ok",
            ReadOutcome::Failed => "failed",
            ReadOutcome::Unreachable => "unreachable",
        }
    }
}

fn answer_status(status: SiteAnswerStatus) -> &'static str {
    match status {
        SiteAnswerStatus::Ok => "ok",
        SiteAnswerStatus::Stale => "stale",
        SiteAnswerStatus::Unreachable => "unreachable",
        SiteAnswerStatus::Timeout => "timeout",
        SiteAnswerStatus::Error => "error",
        SiteAnswerStatus::AuthFailed => "auth_failed",
        SiteAnswerStatus::NotOffered => "not_offered",
    }
}

/// What is counted of one site.
#[derive(Debug)]
struct SiteInstruments {
    request_duration: Histogram,
    requests: BTreeMap<&'static str, u64>,
    probes: BTreeMap<ProbeOutcome, u64>,
}

impl Default for SiteInstruments {
    fn default() -> Self {
        SiteInstruments {
            request_duration: Histogram::new(SITE_BUCKETS),
            requests: BTreeMap::new(),
            probes: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
pub struct Instruments {
    http_requests: Family<HttpRequest, Counter>,
    http_duration: Histograms<HttpRoute>,
    collector_reads: Family<Outcome, Counter>,
    collector_read_duration: Histogram,
    collector_writes: Family<Outcome, Counter>,
    collector_write_duration: Histogram,
    jobs_finished: Family<FinishedJob, Counter>,
    sites: Mutex<HashMap<String, SiteInstruments>>,
}

impl Default for Instruments {
    fn default() -> Self {
        Instruments {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS)),
            collector_reads: Family::default(),
            collector_read_duration: Histogram::new(READ_BUCKETS),
            collector_writes: Family::default(),
            collector_write_duration: Histogram::new(WRITE_BUCKETS),
            jobs_finished: Family::default(),
            sites: Mutex::new(HashMap::new()),
        }
    }
}

impl Instruments {
    fn sites(&self) -> MutexGuard<'_, HashMap<String, SiteInstruments>> {
        self.sites.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn site<R>(&self, site: &str, change: impl FnOnce(&mut SiteInstruments) -> R) -> R {
        let mut sites = self.sites();
        match sites.get_mut(site) {
            Some(instruments) => change(instruments),
            None => change(sites.entry(site.to_owned()).or_default()),
        }
    }

    /// One HTTP request of the console's API, by its route template (`None` when no
    /// route matched), timed to its response head.
    pub fn http_request(&self, route: Option<&str>, method: &str, status: u16, took: Duration) {
        let method = KNOWN_METHODS
            .into_iter()
            .find(|known| *known == method)
            .unwrap_or("other");
        let route = route.unwrap_or(UNMATCHED_ROUTE).to_owned();
        self.http_duration
            .get_or_create(&HttpRoute {
                route: route.clone(),
                method,
            })
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpRequest {
                route,
                method,
                status,
            })
            .inc();
    }

    /// One request the fan-out sent to a site, with how it was answered.
    pub fn site_request(&self, site: &str, status: SiteAnswerStatus, took: Duration) {
        self.site(site, |s| {
            s.request_duration.observe(took.as_secs_f64());
            *s.requests.entry(answer_status(status)).or_default() += 1;
        });
    }

    pub fn probe(&self, site: &str, outcome: ProbeOutcome) {
        self.site(site, |s| *s.probes.entry(outcome).or_default() += 1);
    }

    /// One read of the collector; `took` is none when the site was not asked.
    pub fn collector_read(&self, outcome: ReadOutcome, took: Option<Duration>) {
        self.collector_reads
            .get_or_create(&Outcome {
                outcome: outcome.as_str(),
            })
            .inc();
        if let Some(took) = took {
            self.collector_read_duration.observe(took.as_secs_f64());
        }
    }

    /// One batch of readings written in one transaction.
    pub fn collector_write(&self, stored: bool, took: Duration) {
        self.collector_writes
            .get_or_create(&Outcome {
                outcome: if stored { "ok" } else { "failed" },
            })
            .inc();
        self.collector_write_duration.observe(took.as_secs_f64());
    }

    pub fn job_finished(&self, kind: &str, state: &'static str) {
        self.jobs_finished
            .get_or_create(&FinishedJob {
                kind: kind.to_owned(),
                state,
            })
            .inc();
    }

    /// Forgets the sites that left the registry: their series end with them.
    pub fn retain_sites(&self, registered: &HashSet<&str>) {
        self.sites()
            .retain(|site, _| registered.contains(site.as_str()));
    }

    /// Registers the families that count the console's work as a whole (every user's
    /// requests, every site's reads): only callers who see every site get them.
    pub fn register_console_wide(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            self.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head of HTTP requests, by route template and method",
            self.http_duration.clone(),
        );
        registry.register(
            "collector_reads",
            "Reads of a site by the metrics collector, by outcome (ok; failed and unreachable leave a gap)",
            self.collector_reads.clone(),
        );
        registry.register(
            "collector_read_duration_seconds",
            "Time one read of a site by the metrics collector took (sites asked only)",
            self.collector_read_duration.clone(),
        );
        registry.register(
            "collector_writes",
            "Batches of readings the collector wrote to the database, by outcome",
            self.collector_writes.clone(),
        );
        registry.register(
            "collector_write_duration_seconds",
            "Time one batch of readings took to write",
            self.collector_write_duration.clone(),
        );
        registry.register(
            "jobs_finished",
            "Jobs that finished since the console started, by kind and final state",
            self.jobs_finished.clone(),
        );
    }

    /// Encodes the per-site families of `sites` only.
    pub fn encode_sites(&self, encoder: &mut DescriptorEncoder, sites: &[&str]) -> fmt::Result {
        let all = self.sites();
        let counted: Vec<(&str, &SiteInstruments)> = sites
            .iter()
            .filter_map(|site| all.get(*site).map(|s| (*site, s)))
            .collect();
        if counted.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "site_request_duration_seconds",
            "Time the fan-out's requests to a site took, by site.",
            None,
            MetricType::Histogram,
        )?;
        for (site, s) in &counted {
            let labels = [("site", *site)];
            s.request_duration.encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "site_requests",
            "Requests the fan-out sent to a site, by site and how it answered.",
            None,
            MetricType::Counter,
        )?;
        for (site, s) in &counted {
            for (status, n) in &s.requests {
                let labels = [("site", *site), ("status", *status)];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "site_probes",
            "Health checks of a site, by site and outcome.",
            None,
            MetricType::Counter,
        )?;
        for (site, s) in &counted {
            for (outcome, n) in &s.probes {
                let labels = [("site", *site), ("outcome", outcome.as_str())];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::prometheus_text;

    use super::*;

    /// The per-site families of some sites, as a scrape writes them.
    #[derive(Debug)]
    struct SitesOf(std::sync::Arc<Instruments>, Vec<&'static str>);

    impl Collector for SitesOf {
        fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
            self.0.encode_sites(&mut encoder, &self.1)
        }
    }

    fn encoded(instruments: &std::sync::Arc<Instruments>, sites: Vec<&'static str>) -> String {
        let mut registry = Registry::with_prefix("overcast");
        instruments.register_console_wide(&mut registry);
        registry.register_collector(Box::new(SitesOf(instruments.clone(), sites)));
        let mut body = String::new();
        prometheus_text::encode(&mut body, &registry).unwrap_or_else(|e| panic!("{e}"));
        body
    }

    #[test]
    fn labels_stay_bounded_whatever_clients_send() {
        let instruments = std::sync::Arc::new(Instruments::default());
        let ms = Duration::from_millis(3);
        instruments.http_request(Some("/api/v1/sites/{site}"), "GET", 200, ms);
        instruments.http_request(None, "GET", 404, ms);
        instruments.http_request(None, "BREW", 405, ms);
        let body = encoded(&instruments, vec![]);
        assert!(body.contains(
            "overcast_http_requests_total{route=\"/api/v1/sites/{site}\",method=\"GET\",status=\"200\"} 1\n"
        ), "{body}");
        assert!(body.contains(
            "overcast_http_requests_total{route=\"(unmatched)\",method=\"other\",status=\"405\"} 1\n"
        ), "{body}");
        assert!(!body.contains("BREW"), "{body}");
    }

    #[test]
    fn per_site_series_are_those_of_the_sites_asked_for_and_leave_with_them() {
        let instruments = std::sync::Arc::new(Instruments::default());
        let ms = Duration::from_millis(30);
        instruments.site_request("east", SiteAnswerStatus::Ok, ms);
        instruments.site_request("east", SiteAnswerStatus::Timeout, ms);
        instruments.site_request("west", SiteAnswerStatus::Ok, ms);
        instruments.probe("west", ProbeOutcome::Failed);
        let body = encoded(&instruments, vec!["east"]);
        assert!(
            body.contains("overcast_site_requests_total{site=\"east\",status=\"timeout\"} 1\n"),
            "{body}"
        );
        assert!(
            body.contains("overcast_site_request_duration_seconds_count{site=\"east\"} 2\n"),
            "{body}"
        );
        assert!(!body.contains("west"), "{body}");
        let body = encoded(&instruments, vec!["west"]);
        assert!(
            body.contains("overcast_site_probes_total{site=\"west\",outcome=\"failed\"} 1\n"),
            "{body}"
        );

        instruments.retain_sites(&["east"].into_iter().collect());
        assert!(!encoded(&instruments, vec!["east", "west"]).contains("west"));
        assert!(
            !encoded(&instruments, vec![]).contains("site_requests"),
            "no family without sites"
        );
    }
}
