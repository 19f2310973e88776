//! Capacity promised to boots in flight. A plan that launches holds what it places until
//! the site's figures show it: while a boot runs, and after it ends until the collector
//! has read the site again. Plans made meanwhile count the holds as used, so concurrent
//! requests do not all land on the site that looked emptiest.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::plan::{Candidate, Need};

/// A hold nobody settles (a console restart lost its job's events, say) lapses after
/// this long: longer than a boot with an image copy may take.
pub const HOLD_TTL_S: i64 = 3 * 3600;
/// Most holds kept; the oldest go first beyond it.
const MAX_HOLDS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Claim {
    need: Need,
    count: u32,
    /// When the boot there ended well: from then the site's next figures include it.
    settled_at: Option<i64>,
}

#[derive(Debug)]
struct Hold {
    made_at: i64,
    job: Option<String>,
    claims: HashMap<String, Claim>,
}

#[derive(Debug, Default)]
pub struct Reservations {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    holds: HashMap<u64, Hold>,
    by_job: HashMap<String, u64>,
    next: u64,
}

/// The holds, locked: plans read and make them under one lock, so two plans never
/// count on the same free capacity.
pub struct Held<'a> {
    inner: MutexGuard<'a, Inner>,
}

impl Reservations {
    pub fn lock(&self) -> Held<'_> {
        Held {
            inner: self.inner.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Ties a hold to the job that carries out its plan.
    pub fn bind(&self, hold: u64, job: &str) {
        let mut held = self.lock();
        if let Some(h) = held.inner.holds.get_mut(&hold) {
            h.job = Some(job.to_owned());
            held.inner.by_job.insert(job.to_owned(), hold);
        }
    }

    /// Lets a hold go whose job was never made.
    pub fn release(&self, hold: u64) {
        self.lock().inner.remove(hold);
    }

    /// A task of a job ended at `site`: a boot that worked stays held until the site's
    /// figures are newer than `at`; one that failed frees its claim at once.
    pub fn task_ended(&self, job: &str, site: &str, succeeded: bool, at: i64) {
        let mut held = self.lock();
        let inner = &mut *held.inner;
        let Some(&id) = inner.by_job.get(job) else {
            return;
        };
        let Some(hold) = inner.holds.get_mut(&id) else {
            return;
        };
        if succeeded {
            if let Some(claim) = hold.claims.get_mut(site) {
                claim.settled_at = Some(at);
            }
        } else {
            hold.claims.remove(site);
        }
        if hold.claims.is_empty() {
            inner.remove(id);
        }
    }
}

impl Inner {
    fn remove(&mut self, id: u64) {
        if let Some(job) = self.holds.remove(&id).and_then(|h| h.job) {
            self.by_job.remove(&job);
        }
    }
}

impl Held<'_> {
    /// Claims held at a site that its figures do not show yet.
    #[cfg(test)]
    fn count_at(&self, site: &str) -> u32 {
        self.inner
            .holds
            .values()
            .filter_map(|h| h.claims.get(site))
            .map(|c| c.count)
            .sum()
    }

    /// Takes what holds at each candidate's site from its free capacity and its quota
    /// room. `figures_at` says when each site's figures were read.
    pub fn deduct(
        &mut self,
        candidates: &mut [Candidate],
        figures_at: impl Fn(&str) -> Option<i64>,
        now: i64,
    ) {
        let lapsed: Vec<u64> = self
            .inner
            .holds
            .iter()
            .filter(|(_, h)| now - h.made_at >= HOLD_TTL_S)
            .map(|(id, _)| *id)
            .collect();
        for id in lapsed {
            self.inner.remove(id);
        }
        if self.inner.holds.is_empty() {
            return;
        }
        let mut per_site: HashMap<&str, (Need, u32)> = HashMap::new();
        for hold in self.inner.holds.values() {
            for (site, claim) in &hold.claims {
                let shown = match (claim.settled_at, figures_at(site)) {
                    (Some(settled), Some(read)) => read > settled,
                    _ => false,
                };
                if shown {
                    continue;
                }
                let total = per_site.entry(site.as_str()).or_insert((
                    Need {
                        vcpus: 0.0,
                        ram_mb: 0.0,
                        disk_gb: 0.0,
                    },
                    0,
                ));
                let n = f64::from(claim.count);
                total.0.vcpus += claim.need.vcpus * n;
                total.0.ram_mb += claim.need.ram_mb * n;
                total.0.disk_gb += claim.need.disk_gb * n;
                total.1 += claim.count;
            }
        }
        for candidate in candidates.iter_mut() {
            let Some((need, count)) = per_site.get(candidate.site.as_str()) else {
                continue;
            };
            candidate.free.vcpus = (candidate.free.vcpus - need.vcpus).max(0.0);
            candidate.free.ram_mb = (candidate.free.ram_mb - need.ram_mb).max(0.0);
            candidate.free.disk_gb = (candidate.free.disk_gb - need.disk_gb).max(0.0);
            if let Some(quota) = candidate.quota.as_mut() {
                quota.servers = quota.servers.saturating_sub(*count);
                quota.binding =
                    format!("{} (with {count} held for boots in flight)", quota.binding);
            }
        }
    }

    /// Holds `count` servers of `need` at each site, for a plan about to be carried out.
    pub fn hold(&mut self, claims: impl IntoIterator<Item = (String, Need, u32)>, now: i64) -> u64 {
        if self.inner.holds.len() >= MAX_HOLDS {
            if let Some(oldest) = self
                .inner
                .holds
                .iter()
                .min_by_key(|(_, h)| h.made_at)
                .map(|(id, _)| *id)
            {
                self.inner.remove(oldest);
            }
        }
        self.inner.next += 1;
        let id = self.inner.next;
        self.inner.holds.insert(
            id,
            Hold {
                made_at: now,
                job: None,
                claims: claims
                    .into_iter()
                    .map(|(site, need, count)| {
                        (
                            site,
                            Claim {
                                need,
                                count,
                                settled_at: None,
                            },
                        )
                    })
                    .collect(),
            },
        );
        id
    }

    /// Adds claims to the hold of a job under way (its servers placed again elsewhere),
    /// or holds them anew for it when its hold has been settled already.
    pub fn hold_for_job(
        &mut self,
        job: &str,
        claims: impl IntoIterator<Item = (String, Need, u32)>,
        now: i64,
    ) {
        let existing = self.inner.by_job.get(job).copied();
        if let Some(hold) = existing.and_then(|id| self.inner.holds.get_mut(&id)) {
            for (site, need, count) in claims {
                hold.claims.insert(
                    site,
                    Claim {
                        need,
                        count,
                        settled_at: None,
                    },
                );
            }
            return;
        }
        let id = self.hold(claims, now);
        if let Some(hold) = self.inner.holds.get_mut(&id) {
            hold.job = Some(job.to_owned());
        }
        self.inner.by_job.insert(job.to_owned(), id);
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::placement::plan::{Free, QuotaRoom};

    const XL: Need = Need {
        vcpus: 8.0,
        ram_mb: 16384.0,
        disk_gb: 160.0,
    };

    fn candidate(site: &str) -> Candidate {
        Candidate {
            site: site.into(),
            labels: Default::default(),
            unusable: None,
            need: Some(XL),
            free: Free {
                vcpus: 32.0,
                ram_mb: 65536.0,
                disk_gb: 1000.0,
            },
            quota: Some(QuotaRoom {
                servers: 4,
                binding: "cores 0 of 32 used".into(),
            }),
            latency_ms: None,
            holds_image: false,
        }
    }

    #[test]
    fn a_hold_counts_as_used_until_the_sites_figures_are_newer_than_the_boot() {
        let reservations = Reservations::default();
        let id = reservations.lock().hold([("a".to_owned(), XL, 2)], 100);
        reservations.bind(id, "job-1");
        let free_after = |figures_at: i64, now: i64| {
            let mut c = [candidate("a"), candidate("b")];
            reservations
                .lock()
                .deduct(&mut c, |_| Some(figures_at), now);
            (
                c[0].free.vcpus,
                c[0].quota.as_ref().map(|q| q.servers),
                c[1].free.vcpus,
            )
        };
        assert_eq!(
            free_after(90, 110),
            (16.0, Some(2), 32.0),
            "held while booting"
        );
        reservations.task_ended("job-1", "a", true, 120);
        assert_eq!(
            free_after(115, 125),
            (16.0, Some(2), 32.0),
            "figures older than the boot's end"
        );
        assert_eq!(
            free_after(130, 135),
            (32.0, Some(4), 32.0),
            "the figures show the servers now"
        );
        assert_eq!(
            reservations.lock().count_at("a"),
            2,
            "kept until the hold is done"
        );
    }

    #[test]
    fn a_failed_boot_frees_its_claim_and_an_unsettled_hold_lapses() {
        let reservations = Reservations::default();
        let id = reservations
            .lock()
            .hold([("a".to_owned(), XL, 1), ("b".to_owned(), XL, 1)], 100);
        reservations.bind(id, "job-1");
        reservations.task_ended("job-1", "a", false, 110);
        assert_eq!(reservations.lock().count_at("a"), 0);
        assert_eq!(reservations.lock().count_at("b"), 1);
        reservations.task_ended("job-1", "b", false, 111);
        assert!(
            reservations.lock().inner.by_job.is_empty(),
            "nothing left of the job"
        );

        reservations.lock().hold([("c".to_owned(), XL, 3)], 100);
        let mut c = [candidate("c")];
        reservations
            .lock()
            .deduct(&mut c, |_| None, 100 + HOLD_TTL_S);
        assert_eq!(c[0].free.vcpus, 32.0, "lapsed");
        assert!(reservations.lock().inner.holds.is_empty());
    }

    #[test]
    fn servers_placed_again_join_their_jobs_hold_or_start_one() {
        let reservations = Reservations::default();
        let id = reservations.lock().hold([("a".to_owned(), XL, 2)], 100);
        reservations.bind(id, "job-1");
        reservations
            .lock()
            .hold_for_job("job-1", [("b".to_owned(), XL, 1)], 105);
        assert_eq!(
            reservations.lock().inner.holds.len(),
            1,
            "the job's own hold"
        );
        assert_eq!(reservations.lock().count_at("b"), 1);
        reservations.task_ended("job-1", "a", false, 110);
        reservations.task_ended("job-1", "b", false, 111);
        assert!(reservations.lock().inner.holds.is_empty());

        // A job whose hold is gone (settled, lapsed) gets a new one, settled by its tasks.
        reservations
            .lock()
            .hold_for_job("job-2", [("c".to_owned(), XL, 1)], 120);
        assert_eq!(reservations.lock().count_at("c"), 1);
        reservations.task_ended("job-2", "c", false, 130);
        assert_eq!(reservations.lock().count_at("c"), 0);
    }
}
