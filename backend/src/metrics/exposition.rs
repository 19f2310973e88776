//! `GET /metrics`: the console's own metrics and the fleet's figures in the Prometheus
//! text exposition format (0.0.4), encoded by `prometheus-client`.
//!
//! Everything comes from what the console already holds: the collector's latest
//! figures, the health checks' states, the job engine's active jobs and the
//! instruments. No site is asked and no per-site query is made, so a scrape of a
//! thousand sites costs one read of the registry and some string formatting.
//!
//! A site whose figures are not current (the last read failed, the site is dark, or the
//! figures are older than [`Metrics::is_fresh`] allows) has no sample in the figure families: a gap,
//! which Prometheus and Grafana show as missing, never a zero that would look like an
//! empty site. Its `overcast_site_up` is 0 and its other series remain.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use overcast_api_types::jobs::{JobState, TaskState};
use overcast_api_types::l1::Quotas;
use overcast_api_types::{Site, SiteState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::collector::{unix_now, Metrics};
use super::values::Values;
use super::MetricsError;
use crate::federation::HealthMonitor;
use crate::instruments::Instruments;
use crate::jobs::{ActiveCounts, JobEngine, KINDS};
use crate::sites::SiteRegistry;

pub use prometheus_text::CONTENT_TYPE;

/// Every series name starts with this.
const PREFIX: &str = "overcast";
/// Site labels become Prometheus labels under this prefix: it keeps them from clashing
/// with the labels of our own (`site`, `state`, `status`, `le`) and from the names
/// Prometheus reserves (`__…`), and makes a name that starts with a digit valid.
const LABEL_PREFIX: &str = "label_";

/// How a collected figure is exposed: the family it goes to, its help, the factor to
/// Prometheus's base units (bytes, seconds), and the `status` label it gets, if any.
struct Figure {
    metric: &'static str,
    family: &'static str,
    help: &'static str,
    scale: f64,
    status: Option<&'static str>,
}

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

const fn figure(metric: &'static str, family: &'static str, help: &'static str) -> Figure {
    Figure {
        metric,
        family,
        help,
        scale: 1.0,
        status: None,
    }
}

const fn scaled(
    metric: &'static str,
    family: &'static str,
    help: &'static str,
    scale: f64,
) -> Figure {
    Figure {
        metric,
        family,
        help,
        scale,
        status: None,
    }
}

const fn servers(metric: &'static str, status: &'static str) -> Figure {
    Figure {
        metric,
        family: "site_servers",
        help: "Servers at the site, by status (active, shutoff, error, other; their sum is every server).",
        scale: 1.0,
        status: Some(status),
    }
}

/// The figures of [`super::values::METRICS`] as Prometheus families. Families with
/// several figures (`site_servers`) list them next to each other.
const FIGURES: [Figure; 15] = [
    figure(
        "capacity_vcpus",
        "site_capacity_vcpus",
        "vCPUs Placement lets be allocated at the site.",
    ),
    figure(
        "used_vcpus",
        "site_used_vcpus",
        "vCPUs allocated at the site.",
    ),
    scaled(
        "capacity_ram_mb",
        "site_capacity_ram_bytes",
        "Memory Placement lets be allocated at the site.",
        MIB,
    ),
    scaled(
        "used_ram_mb",
        "site_used_ram_bytes",
        "Memory allocated at the site.",
        MIB,
    ),
    scaled(
        "capacity_disk_gb",
        "site_capacity_disk_bytes",
        "Local disk Placement lets be allocated at the site.",
        GIB,
    ),
    scaled(
        "used_disk_gb",
        "site_used_disk_bytes",
        "Local disk allocated at the site.",
        GIB,
    ),
    servers("servers_active", "active"),
    servers("servers_shutoff", "shutoff"),
    servers("servers_error", "error"),
    servers("servers_other", "other"),
    figure("images_count", "site_images", "Images at the site."),
    figure(
        "images_bytes",
        "site_images_bytes",
        "Bytes of the images at the site.",
    ),
    figure("volumes_count", "site_volumes", "Volumes at the site."),
    scaled(
        "volumes_gb",
        "site_volumes_size_bytes",
        "Size of the volumes at the site.",
        GIB,
    ),
    scaled(
        "api_latency_ms",
        "site_api_latency_seconds",
        "Round trip of the site's last health check when its figures were read.",
        0.001,
    ),
];

const SITE_STATES: [SiteState; 4] = [
    SiteState::Online,
    SiteState::Degraded,
    SiteState::Unreachable,
    SiteState::Unknown,
];

/// The quota resources a scrape shows, per service: the ones that bound what a
/// project can boot and attach. Every limit of every project would multiply the series
/// of a large fleet for little use; `GET /api/v1/metrics/quotas` has them all.
const QUOTA_RESOURCES: [(&str, &[&str]); 3] = [
    ("compute", &["instances", "cores", "ram"]),
    ("network", &["network", "port", "floatingip"]),
    ("volume", &["volumes", "gigabytes"]),
];

/// The states an unfinished job is in.
const ACTIVE_JOB_STATES: [JobState; 2] = [JobState::Pending, JobState::Running];

const TASK_STATES: [TaskState; 6] = [
    TaskState::Pending,
    TaskState::Running,
    TaskState::WaitingForSite,
    TaskState::Succeeded,
    TaskState::Failed,
    TaskState::Cancelled,
];

/// What a scrape reads from.
pub struct Sources<'a> {
    pub sites: &'a SiteRegistry,
    pub metrics: &'a Metrics,
    pub health: &'a HealthMonitor,
    pub jobs: &'a JobEngine,
    pub instruments: &'a Arc<Instruments>,
}

/// Who scrapes: the sites they may see, and whether they see every site (then they also
/// get the families that count the console's work as a whole).
pub struct Viewer<'a> {
    pub allows: &'a (dyn Fn(&Site) -> bool + Sync),
    pub sees_every_site: bool,
}

/// One site as a scrape shows it.
#[derive(Debug)]
struct ScrapedSite {
    name: String,
    /// `site` first, then the site's own labels as Prometheus labels.
    labels: Vec<(String, String)>,
    state: SiteState,
    /// Its figures while current; none during a gap.
    figures: Option<Values>,
    /// Its projects' quotas while current.
    quotas: Vec<Quotas>,
    collected_at: Option<i64>,
}

/// The answer of `GET /metrics` for `viewer`.
pub async fn scrape(sources: Sources<'_>, viewer: Viewer<'_>) -> Result<String, MetricsError> {
    let now = unix_now();
    let sites: Vec<Site> = sources
        .sites
        .list()
        .await?
        .into_iter()
        .filter(|site| (viewer.allows)(site))
        .collect();
    let names: Vec<String> = sites.iter().map(|s| s.name.clone()).collect();
    let scraped: Vec<ScrapedSite> = sites
        .into_iter()
        .zip(sources.metrics.latest(&names))
        .map(|(site, (_, latest))| ScrapedSite {
            labels: prometheus_labels(&site.name, &site.labels),
            state: sources.health.state(&site.name).unwrap_or(site.state),
            figures: sources.metrics.current(&latest, now).copied(),
            quotas: match sources.metrics.current(&latest, now) {
                Some(_) => latest.quotas.map(|q| q.projects).unwrap_or_default(),
                None => Vec::new(),
            },
            collected_at: latest.values.as_ref().map(|(at, _)| *at),
            name: site.name,
        })
        .collect();
    let in_scope: HashSet<&str> = names.iter().map(String::as_str).collect();
    let jobs = sources
        .jobs
        .active_counts(|site| viewer.sees_every_site || in_scope.contains(site));
    let mut registry = Registry::with_prefix(PREFIX);
    if viewer.sees_every_site {
        sources.instruments.register_console_wide(&mut registry);
    }
    registry.register_collector(Box::new(Scrape {
        sites: scraped,
        jobs,
        instruments: sources.instruments.clone(),
        interval_s: sources.metrics.config.interval.as_secs_f64(),
    }));
    let mut body = String::new();
    prometheus_text::encode(&mut body, &registry)?;
    Ok(body)
}

/// A site label's key as a Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, any other
/// character becoming `_`, behind [`LABEL_PREFIX`].
pub fn label_name(key: &str) -> String {
    let mut name = String::with_capacity(LABEL_PREFIX.len() + key.len());
    name.push_str(LABEL_PREFIX);
    name.extend(
        key.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    name
}

/// `site`, then the site's labels. Two keys that become the same name (`zone.a` and
/// `zone_a`) would make an invalid series: the first in order is kept.
fn prometheus_labels(site: &str, labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(labels.len() + 1);
    out.push(("site".to_owned(), site.to_owned()));
    for (key, value) in labels {
        let name = label_name(key);
        if !out.iter().any(|(taken, _)| *taken == name) {
            out.push((name, value.clone()));
        }
    }
    out
}

/// The per-scrape families, encoded when the registry is.
#[derive(Debug)]
struct Scrape {
    sites: Vec<ScrapedSite>,
    jobs: ActiveCounts,
    instruments: Arc<Instruments>,
    interval_s: f64,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (impl prometheus_client::encoding::EncodeLabelSet, f64)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn one_if(yes: bool) -> f64 {
    if yes {
        1.0
    } else {
        0.0
    }
}

impl Scrape {
    fn encode_sites(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let sites = &self.sites;
        gauge(
            encoder,
            "site_info",
            "A registered site with its labels (each as label_<key>), always 1.",
            sites.iter().map(|s| (s.labels.as_slice(), 1.0)),
        )?;
        gauge(
            encoder,
            "site_up",
            "1 while the site's figures are current, 0 during a gap (the site is dark, its last read failed, or its reads stopped).",
            sites.iter().map(|s| (s.labels.as_slice(), one_if(s.figures.is_some()))),
        )?;
        gauge(
            encoder,
            "site_state",
            "The site's health state: 1 for the state it is in, 0 for the others.",
            sites.iter().flat_map(|s| {
                SITE_STATES.iter().map(move |state| {
                    (
                        (s.labels.as_slice(), [("state", state.as_str())]),
                        one_if(s.state == *state),
                    )
                })
            }),
        )?;
        gauge(
            encoder,
            "sites",
            "Registered sites by health state.",
            SITE_STATES.iter().map(|state| {
                let count = sites.iter().filter(|s| s.state == *state).count();
                ([("state", state.as_str())], count as f64)
            }),
        )?;
        gauge(
            encoder,
            "site_collected_timestamp_seconds",
            "When the site's newest figures were read (unix time), current or not.",
            sites
                .iter()
                .filter_map(|s| s.collected_at.map(|at| (s.labels.as_slice(), at as f64))),
        )?;
        self.encode_figures(encoder)?;
        self.encode_quotas(encoder)
    }

    fn encode_quotas(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let families = [
            (
                "site_quota_limit",
                "A project's quota at the site (-1: unlimited), for the resources that bound what it can boot and attach.",
                false,
            ),
            ("site_quota_in_use", "What a project uses of its quota at the site.", true),
        ];
        for (name, help, in_use) in families {
            let samples = self.sites.iter().flat_map(|site| {
                site.quotas.iter().flat_map(move |q| {
                    let project = q.project_name.as_deref().unwrap_or(&q.project_id);
                    QUOTA_RESOURCES
                        .iter()
                        .flat_map(move |(service, resources)| {
                            let (limits, usage) = match *service {
                                "compute" => (&q.compute, &q.usage.compute),
                                "network" => (&q.network, &q.usage.network),
                                _ => (&q.volume, &q.usage.volume),
                            };
                            let figures = if in_use { usage } else { limits };
                            resources.iter().filter_map(move |resource| {
                                let value = *figures.get(*resource)?;
                                Some((
                                    [
                                        ("site", site.name.as_str()),
                                        ("project", project),
                                        ("service", *service),
                                        ("resource", *resource),
                                    ],
                                    value as f64,
                                ))
                            })
                        })
                })
            });
            gauge(encoder, name, help, samples)?;
        }
        Ok(())
    }

    fn encode_figures(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let mut at = 0;
        while let Some(first) = FIGURES.get(at) {
            let members: Vec<&Figure> = FIGURES[at..]
                .iter()
                .take_while(|f| f.family == first.family)
                .collect();
            at += members.len();
            let samples = self.sites.iter().flat_map(|site| {
                let figures = site.figures;
                members.iter().filter_map(move |figure| {
                    let index = super::values::index_of(figure.metric)?;
                    let value = figures.as_ref()?.get(index)? * figure.scale;
                    let status: &[(&str, &str)] = match &figure.status {
                        Some(status) => &[("status", status)],
                        None => &[],
                    };
                    Some(((site.labels.as_slice(), status.to_vec()), value))
                })
            });
            gauge(encoder, first.family, first.help, samples)?;
        }
        Ok(())
    }

    fn encode_jobs(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        gauge(
            encoder,
            "jobs",
            "Unfinished jobs by kind and state (finished ones: overcast_jobs_finished_total).",
            KINDS.iter().flat_map(|kind| {
                ACTIVE_JOB_STATES.iter().map(move |state| {
                    let count = self
                        .jobs
                        .jobs
                        .get(&(kind.to_string(), state.as_str()))
                        .copied()
                        .unwrap_or(0);
                    ([("kind", *kind), ("state", state.as_str())], count as f64)
                })
            }),
        )?;
        gauge(
            encoder,
            "tasks",
            "Tasks of unfinished jobs by the job's kind and the task's state.",
            KINDS.iter().flat_map(|kind| {
                TASK_STATES.iter().map(move |state| {
                    let count = self
                        .jobs
                        .tasks
                        .get(&(kind.to_string(), state.as_str()))
                        .copied()
                        .unwrap_or(0);
                    ([("kind", *kind), ("state", state.as_str())], count as f64)
                })
            }),
        )
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        self.encode_sites(&mut encoder)?;
        let names: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
        self.instruments.encode_sites(&mut encoder, &names)?;
        self.encode_jobs(&mut encoder)?;
        let interval = encoder.encode_descriptor(
            "collector_interval_seconds",
            "Time between two reads of a site by the metrics collector.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.interval_s).encode(interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Latest;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn encoded(scrape: Scrape) -> String {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(scrape));
        let mut body = String::new();
        prometheus_text::encode(&mut body, &registry).unwrap_or_else(|e| panic!("{e}"));
        body
    }

    fn site(name: &str, figures: Option<Values>) -> ScrapedSite {
        ScrapedSite {
            name: name.to_owned(),
            labels: prometheus_labels(name, &labels(&[("region", "eu")])),
            state: if figures.is_some() {
                SiteState::Online
            } else {
                SiteState::Unreachable
            },
            quotas: match figures {
                Some(_) => vec![Quotas {
                    project_id: "p1".into(),
                    project_name: Some("demo".into()),
                    compute: BTreeMap::from([
                        ("instances".to_owned(), 10),
                        ("metadata_items".to_owned(), 128),
                    ]),
                    usage: overcast_api_types::l1::QuotaUsage {
                        compute: BTreeMap::from([("instances".to_owned(), 3)]),
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                None => Vec::new(),
            },
            figures,
            collected_at: Some(1_700_000_000),
        }
    }

    #[test]
    fn site_labels_become_valid_prometheus_labels_that_clash_with_nothing() {
        assert_eq!(label_name("region"), "label_region");
        assert_eq!(
            label_name("topology.kubernetes.io/zone"),
            "label_topology_kubernetes_io_zone"
        );
        assert_eq!(label_name("9lives"), "label_9lives");
        assert_eq!(label_name("site"), "label_site");
        assert_eq!(label_name("été"), "label__t_");
        let valid = |name: &str| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        for key in ["a-b", "__x", "with space", "ünïcode", "", "le"] {
            assert!(valid(&label_name(key)), "{key:?} gives {}", label_name(key));
        }
        let both = prometheus_labels(
            "s1",
            &labels(&[("zone.a", "1"), ("zone_a", "2"), ("tier", "edge")]),
        );
        assert_eq!(
            both,
            vec![
                ("site".to_owned(), "s1".to_owned()),
                ("label_tier".to_owned(), "edge".to_owned()),
                ("label_zone_a".to_owned(), "1".to_owned()),
            ],
            "a second key with the same name is dropped, not doubled"
        );
    }

    #[test]
    fn a_site_without_current_figures_is_a_gap_not_a_zero() {
        let mut values = Values::default();
        values.set("capacity_vcpus", 64.0);
        let fresh = |_: i64| true;
        let ok = Latest {
            values: Some((100, values)),
            gap: None,
            quotas: None,
        };
        assert_eq!(ok.current(fresh).map(|v| v.encode()), Some(values.encode()));
        let failed = Latest {
            values: Some((100, values)),
            gap: Some((160, "site unreachable".into())),
            quotas: None,
        };
        assert!(failed.current(fresh).is_none(), "the last attempt failed");
        assert!(ok.current(|_| false).is_none(), "too old");
        assert!(
            Latest::default().current(fresh).is_none(),
            "never collected"
        );

        let body = encoded(Scrape {
            sites: vec![site("up-site", Some(values)), site("dark-site", None)],
            jobs: ActiveCounts::default(),
            instruments: Arc::new(Instruments::default()),
            interval_s: 60.0,
        });
        assert!(
            body.contains(
                "overcast_site_capacity_vcpus{site=\"up-site\",label_region=\"eu\"} 64.0\n"
            ),
            "{body}"
        );
        assert!(
            !body.contains("overcast_site_capacity_vcpus{site=\"dark-site\""),
            "{body}"
        );
        assert!(
            body.contains("overcast_site_up{site=\"dark-site\",label_region=\"eu\"} 0.0\n"),
            "{body}"
        );
        assert!(
            body.contains("overcast_site_up{site=\"up-site\",label_region=\"eu\"} 1.0\n"),
            "{body}"
        );
        assert!(body.contains(
            "overcast_site_state{site=\"dark-site\",label_region=\"eu\",state=\"unreachable\"} 1.0\n"
        ), "{body}");
        assert!(
            body.contains("overcast_sites{state=\"online\"} 1.0\n"),
            "{body}"
        );
        assert!(body.contains(
            "overcast_site_quota_limit{site=\"up-site\",project=\"demo\",service=\"compute\",resource=\"instances\"} 10.0\n"
        ), "{body}");
        assert!(body.contains(
            "overcast_site_quota_in_use{site=\"up-site\",project=\"demo\",service=\"compute\",resource=\"instances\"} 3.0\n"
        ), "{body}");
        assert!(
            !body.contains("resource=\"metadata_items\""),
            "only the resources that bound booting: {body}"
        );
        assert!(
            !body.contains("overcast_site_quota_limit{site=\"dark-site\""),
            "{body}"
        );
        // Measured figures only: nothing for what was not measured, even at a site that is up.
        assert!(!body.contains("overcast_site_used_vcpus{"), "{body}");
        assert!(
            body.contains("overcast_jobs{kind=\"image.copy\",state=\"running\"} 0.0\n"),
            "{body}"
        );
        assert!(
            body.contains("overcast_collector_interval_seconds 60.0\n"),
            "{body}"
        );
    }

    #[test]
    fn figures_are_in_base_units_and_servers_are_one_family_by_status() {
        let mut values = Values::default();
        values.set("capacity_ram_mb", 2.0);
        values.set("api_latency_ms", 250.0);
        values.set("servers_active", 3.0);
        values.set("servers_error", 1.0);
        let body = encoded(Scrape {
            sites: vec![site("s", Some(values))],
            jobs: ActiveCounts::default(),
            instruments: Arc::new(Instruments::default()),
            interval_s: 60.0,
        });
        assert!(
            body.contains(
                "overcast_site_capacity_ram_bytes{site=\"s\",label_region=\"eu\"} 2097152.0\n"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "overcast_site_api_latency_seconds{site=\"s\",label_region=\"eu\"} 0.25\n"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "overcast_site_servers{site=\"s\",label_region=\"eu\",status=\"active\"} 3.0\n"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "overcast_site_servers{site=\"s\",label_region=\"eu\",status=\"error\"} 1.0\n"
            ),
            "{body}"
        );
        assert_eq!(
            body.matches("# TYPE overcast_site_servers gauge").count(),
            1,
            "{body}"
        );
    }

    /// Figures not exposed as they are: `servers_total` is the sum of `site_servers`, and
    /// `site_up` is `overcast_site_up`, which unlike the figure is there during a gap.
    const DERIVED: [&str; 2] = ["servers_total", "site_up"];

    #[test]
    fn every_collected_figure_is_exposed_or_derived() {
        for metric in super::super::values::METRICS {
            let exposed = FIGURES.iter().filter(|f| f.metric == *metric).count();
            assert!(
                exposed == 1 || (exposed == 0 && DERIVED.contains(metric)),
                "{metric} is exposed {exposed} times"
            );
        }
        for figure in &FIGURES {
            assert!(
                super::super::values::index_of(figure.metric).is_some(),
                "{}",
                figure.metric
            );
        }
        // Members of one family are next to each other, so it is written once.
        let families: Vec<&str> = FIGURES.iter().map(|f| f.family).collect();
        let mut seen: Vec<&str> = families.clone();
        seen.dedup();
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(seen.len(), unique.len(), "{families:?}");
    }
}
