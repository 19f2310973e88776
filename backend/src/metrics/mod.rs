//! Metrics: figures collected from every site over time, rolled up, pruned, and
//! answered across sites without asking any.

pub mod collector;
pub mod exposition;
pub mod rollup;
pub mod series;
pub mod usage;
pub mod values;

use std::collections::{BTreeMap, HashMap};

use overcast_api_types::metrics::{
    MetricSeries, MetricsGroup, MetricsSummary, QuotaReport, SiteMetrics, SiteQuotas,
};

pub use collector::{unix_now, Latest, LatestView, Metrics, MetricsConfig, QuotaReading};
use rollup::{average, chunk_start, minutes_of_hour, Tier};
use series::{Aggregation, Steps, Walk};
use values::{decode_slots, encode_slots, index_of, slot_values, Values, METRICS};

use crate::store::{ChunkRow, StoreError, CHUNK_SITES_PER_QUERY};

/// Hours rolled up per maintenance pass, so that catching up after a long stop is done
/// in steps and not in one long pass: the default raw retention (48 h, from the start of
/// its first hour) and the hour under way fit in one.
const HOURS_PER_PASS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sites(#[from] crate::sites::SiteError),
    #[error("cannot encode the metrics: {0}")]
    Encoding(#[from] std::fmt::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> MetricsError {
    MetricsError::Invalid {
        field,
        message: message.into(),
    }
}

/// What a series query asks, parsed.
#[derive(Debug, Clone)]
pub struct SeriesQuery {
    pub metric: String,
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub agg: Aggregation,
}

impl SeriesQuery {
    /// Checks a query's figures: a known metric, a range in order, a step that gives at
    /// most `MAX_POINTS` points.
    pub fn new(
        metric: &str,
        from: i64,
        to: i64,
        step: i64,
        agg: &str,
    ) -> Result<SeriesQuery, MetricsError> {
        if index_of(metric).is_none() {
            return Err(invalid(
                "metric",
                format!("unknown metric {metric:?}; known: {}", METRICS.join(", ")),
            ));
        }
        let agg = Aggregation::parse(agg)
            .ok_or_else(|| invalid("agg", "must be sum, avg, max or min"))?;
        if to <= from {
            return Err(invalid("to", "must be after from"));
        }
        if step < 1 {
            return Err(invalid("step", "must be at least 1 second"));
        }
        if (to - from) / step > series::MAX_POINTS {
            return Err(invalid(
                "step",
                format!(
                    "gives more than {} points over this range; take a larger step",
                    series::MAX_POINTS
                ),
            ));
        }
        Ok(SeriesQuery {
            metric: metric.to_owned(),
            from,
            to,
            step,
            agg,
        })
    }
}

impl Metrics {
    /// Rolls up the minutes that ended (and the hours among them) and forgets what is
    /// past its retention.
    ///
    /// Minutes are rolled as they end, not when their hour does, so that a query of the
    /// last day reads at most a few minutes of raw samples (an hour of them, 360,000 rows
    /// at 1,000 sites and 10 s, was most of a series answer's time: docs/benchmarks.md).
    pub async fn maintain(&self, now: i64) -> Result<(), StoreError> {
        let store = self.store();
        // Samples are stamped when their read was due and written when it ends: a minute
        // is rolled once every read due in it has had the time to finish.
        let grace = self.config.interval.as_secs() as i64 + 60;
        let ended = (now - grace).div_euclid(60) * 60;
        let raw_start = chunk_start(
            Tier::Minute,
            now - self.config.raw_retention.as_secs() as i64,
        );
        let mut done = store
            .rollup_done(Tier::Minute.code())
            .await?
            .unwrap_or(raw_start)
            .max(raw_start);
        for _ in 0..HOURS_PER_PASS {
            if done >= ended {
                break;
            }
            let hour = chunk_start(Tier::Minute, done);
            let until = ended.min(hour + 3600);
            self.roll_minutes(hour, done, until).await?;
            done = until;
        }
        let before = |retention: std::time::Duration| now - retention.as_secs() as i64;
        store
            .prune_metrics(
                before(self.config.raw_retention),
                &[
                    (Tier::Minute.code(), before(self.config.minute_retention)),
                    (Tier::Hour.code(), before(self.config.hour_retention)),
                ],
                METRICS,
            )
            .await?;
        Ok(())
    }

    /// The minutes `[from, until)` of the hour from `hour`, averaged from their raw
    /// samples into the hour's minute chunks; when `until` ends the hour, also the hour's
    /// slot in the day chunks of the hour tier.
    async fn roll_minutes(&self, hour: i64, from: i64, until: i64) -> Result<(), StoreError> {
        let store = self.store();
        let mut by_site: BTreeMap<String, Vec<(i64, Values)>> = BTreeMap::new();
        for row in store.samples_between(from, until).await? {
            by_site
                .entry(row.site)
                .or_default()
                .push((row.ts, Values::decode(&row.vals)));
        }
        // The minutes rolled before `from`, kept; those from `from` on, made anew (a
        // pass that stopped halfway is done again and gives the same slots).
        let mut minutes: BTreeMap<(String, String), Vec<f32>> = BTreeMap::new();
        if from > hour {
            for chunk in store.chunks_at(Tier::Minute.code(), hour, METRICS).await? {
                let slots = decode_slots(&chunk.slots, Tier::Minute.slots());
                minutes.insert((chunk.metric, chunk.site), slots);
            }
        }
        let first = usize::try_from((from - hour) / 60).unwrap_or(0);
        let last = usize::try_from((until - hour) / 60).unwrap_or(0);
        let mut changed = Vec::new();
        for (site, samples) in &by_site {
            for (metric, slots) in METRICS.iter().zip(minutes_of_hour(hour, samples)) {
                if slots[first..last].iter().all(|v| v.is_nan()) {
                    continue;
                }
                let key = ((*metric).to_owned(), site.clone());
                let kept = minutes
                    .entry(key.clone())
                    .or_insert_with(|| vec![f32::NAN; Tier::Minute.slots()]);
                kept[first..last].copy_from_slice(&slots[first..last]);
                changed.push(key);
            }
        }
        let hour_ends = until == hour + 3600;
        if hour_ends {
            self.roll_hour(hour, &minutes).await?;
        }
        let rows: Vec<ChunkRow> = changed
            .iter()
            .filter_map(|key| {
                minutes.get(key).map(|slots| ChunkRow {
                    metric: key.0.clone(),
                    site: key.1.clone(),
                    start: hour,
                    slots: encode_slots(slots),
                })
            })
            .collect();
        store
            .write_chunks(Tier::Minute.code(), &rows, Some(until))
            .await
    }

    /// The slot of the hour from `hour` in the day chunks of the hour tier: the mean of
    /// each site's and metric's minutes. Written before the minute tier records the
    /// hour as done, so a console stopped in between rolls the hour again.
    async fn roll_hour(
        &self,
        hour: i64,
        minutes: &BTreeMap<(String, String), Vec<f32>>,
    ) -> Result<(), StoreError> {
        let store = self.store();
        let day = chunk_start(Tier::Hour, hour);
        let slot = ((hour - day) / 3600) as usize;
        let mut days: HashMap<(String, String), Vec<f32>> = store
            .chunks_at(Tier::Hour.code(), day, METRICS)
            .await?
            .into_iter()
            .map(|c| {
                (
                    (c.metric, c.site),
                    decode_slots(&c.slots, Tier::Hour.slots()),
                )
            })
            .collect();
        let mut hours = Vec::with_capacity(minutes.len());
        for (key, slots) in minutes {
            let mean = average(slots);
            if mean.is_nan() {
                continue;
            }
            let day_slots = days
                .entry(key.clone())
                .or_insert_with(|| vec![f32::NAN; Tier::Hour.slots()]);
            day_slots[slot] = mean;
            hours.push(ChunkRow {
                metric: key.0.clone(),
                site: key.1.clone(),
                start: day,
                slots: encode_slots(day_slots),
            });
        }
        store.write_chunks(Tier::Hour.code(), &hours, None).await
    }

    /// A metric over time across `sites` (each with its group), from the finest tier
    /// the step and the retention allow.
    pub async fn series(
        &self,
        query: &SeriesQuery,
        sites: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<MetricSeries, MetricsError> {
        let store = self.store();
        let kept_since = |retention: std::time::Duration| now - retention.as_secs() as i64;
        let tier = if query.step < 60 && query.from >= kept_since(self.config.raw_retention) {
            Tier::Raw
        } else if query.step < 3600 && query.from >= kept_since(self.config.minute_retention) {
            Tier::Minute
        } else {
            Tier::Hour
        };
        let metric = index_of(&query.metric).unwrap_or(0);
        // Minutes are rolled as they end, hours when they end: each part of the range
        // comes from the coarsest tier that holds it (up to `query`'s own tier), the
        // newest minutes from the raw samples. An hour under way is its minutes, not an
        // hour of raw samples (360,000 rows at 1,000 sites and 10 s).
        let minutes_done = match tier {
            Tier::Raw => query.from,
            _ => store
                .rollup_done(Tier::Minute.code())
                .await?
                .unwrap_or(query.from),
        }
        .clamp(query.from, query.to);
        let hours_done = chunk_start(Tier::Minute, minutes_done).max(query.from);
        let parts = match tier {
            Tier::Raw => vec![],
            Tier::Minute => vec![(Tier::Minute, query.from, minutes_done)],
            Tier::Hour => vec![
                (Tier::Hour, query.from, hours_done),
                (Tier::Minute, hours_done, minutes_done),
            ],
        };
        let steps = Steps {
            from: query.from,
            to: query.to,
            step: query.step,
        };
        let position: HashMap<&str, usize> = sites
            .keys()
            .enumerate()
            .map(|(at, site)| (site.as_str(), at))
            .collect();
        let groups: Vec<&str> = sites.values().map(String::as_str).collect();
        let mut walk = Walk::new(steps, &groups);
        let named: Vec<&str> = position.keys().copied().collect();
        let only = (named.len() <= CHUNK_SITES_PER_QUERY).then_some(named.as_slice());
        // In time order, so that each site's points come in time order.
        for (tier, from, until) in parts.into_iter().filter(|(_, from, until)| from < until) {
            let slot_s = tier.slot_s();
            store
                .each_chunk(
                    tier.code(),
                    &query.metric,
                    (chunk_start(tier, from), until),
                    only,
                    |site, start, slots| {
                        let Some(&site) = position.get(site) else {
                            return;
                        };
                        for (at, v) in slot_values(slots).enumerate() {
                            let t = start + at as i64 * slot_s;
                            if !v.is_nan() && (from..until).contains(&t) {
                                walk.point(site, t, f64::from(v));
                            }
                        }
                    },
                )
                .await?;
        }
        for row in store.samples_between(minutes_done, query.to).await? {
            let Some(&site) = position.get(row.site.as_str()) else {
                continue;
            };
            if let Some(v) = Values::decode(&row.vals).get(metric) {
                walk.point(site, row.ts, v);
            }
        }
        Ok(MetricSeries {
            metric: query.metric.clone(),
            agg: query.agg.name().to_owned(),
            from: query.from,
            to: query.to,
            step: query.step,
            resolution: tier.name().to_owned(),
            series: walk.finish(query.agg),
        })
    }

    /// The latest figures of `sites` (each with its group when grouping), their totals
    /// and per-group totals. Sites with a gap or old figures count as missing.
    pub fn summary(
        &self,
        sites: &BTreeMap<String, Option<String>>,
        label: Option<&str>,
        now: i64,
    ) -> MetricsSummary {
        let names: Vec<String> = sites.keys().cloned().collect();
        let mut rows = Vec::with_capacity(names.len());
        let mut totals = Totals::default();
        let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
        for (site, latest) in self.latest(&names) {
            let values = self.current(&latest, now).copied();
            let fresh = values.is_some();
            totals.add(values.as_ref());
            if let Some(Some(group)) = sites.get(&site) {
                groups
                    .entry(group.clone())
                    .or_default()
                    .add(values.as_ref());
            }
            let gap = latest.gap_reason(fresh);
            rows.push(SiteMetrics {
                site,
                collected_at: latest.values.as_ref().map(|(at, _)| unix_rfc3339(*at)),
                fresh,
                gap,
                values: latest
                    .values
                    .as_ref()
                    .map(|(_, v)| v.named().map(|(k, v)| (k.to_owned(), v)).collect())
                    .unwrap_or_default(),
            });
        }
        MetricsSummary {
            totals: totals.sums,
            sites_reporting: totals.reporting,
            sites_missing: totals.missing,
            groups: groups
                .into_iter()
                .map(|(value, t)| MetricsGroup {
                    label: label.unwrap_or_default().to_owned(),
                    value,
                    totals: t.sums,
                    sites_reporting: t.reporting,
                    sites_missing: t.missing,
                })
                .collect(),
            sites: rows,
        }
    }
}

impl Metrics {
    /// The project quotas of `sites` as last collected; with `project` (a name or an
    /// id), that project's alone.
    pub fn quotas(&self, sites: &[String], project: Option<&str>, now: i64) -> QuotaReport {
        let wanted = |q: &&overcast_api_types::l1::Quotas| {
            project.is_none_or(|p| q.project_id == p || q.project_name.as_deref() == Some(p))
        };
        let sites = self
            .latest(sites)
            .into_iter()
            .map(|(site, latest)| {
                let fresh = self.current(&latest, now).is_some();
                let gap = latest.gap_reason(fresh);
                let reading = latest.quotas.unwrap_or_default();
                let gap = gap.or_else(|| reading.problem.clone());
                SiteQuotas {
                    site,
                    collected_at: latest.values.as_ref().map(|(at, _)| unix_rfc3339(*at)),
                    fresh,
                    gap,
                    projects: reading.projects.iter().filter(wanted).cloned().collect(),
                }
            })
            .collect();
        QuotaReport { sites }
    }
}

#[derive(Default)]
struct Totals {
    sums: BTreeMap<String, f64>,
    reporting: usize,
    missing: usize,
}

impl Totals {
    fn add(&mut self, values: Option<&Values>) {
        let Some(values) = values else {
            self.missing += 1;
            return;
        };
        self.reporting += 1;
        for (metric, v) in values.named() {
            *self.sums.entry(metric.to_owned()).or_default() += v;
        }
    }
}

pub fn unix_rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(crate::sites::rfc3339)
        .unwrap_or_default()
}
