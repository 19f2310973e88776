//! The planner: where `count` servers of a flavor go among candidate sites, by a policy
//! and constraints, with a reason for every choice and every site left out. Pure: the
//! facts about the sites come in, the plan goes out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use overcast_api_types::placement::{Affinity, Allocation, Constraints, Exclusion, Headroom, Plan};

use crate::federation::Selector;

/// What one server of the flavor takes at a site (the flavor resolved there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Need {
    pub vcpus: f64,
    pub ram_mb: f64,
    pub disk_gb: f64,
}

/// Resources free at a site: capacity minus usage minus what plans in flight reserved.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Free {
    pub vcpus: f64,
    pub ram_mb: f64,
    pub disk_gb: f64,
}

/// Everything the planner knows of one site.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub site: String,
    /// Shared with the registry's index: a plan over 10,000 sites copies no labels.
    pub labels: Arc<BTreeMap<String, String>>,
    /// Why the site cannot take servers at all (unreachable, degraded, no fresh capacity
    /// figures), if so.
    pub unusable: Option<String>,
    /// The flavor at this site; none if the site has no flavor of that name.
    pub need: Option<Need>,
    pub free: Free,
    /// What the project's quota there still allows, where a limit bounds it.
    pub quota: Option<QuotaRoom>,
    pub latency_ms: Option<f64>,
    pub holds_image: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Spread,
    Pack,
    PowerOfTwo,
    LowestLatency,
    ImageLocality,
}

impl Policy {
    pub fn parse(text: &str) -> Option<Policy> {
        match text {
            "spread" => Some(Policy::Spread),
            "pack" => Some(Policy::Pack),
            "power_of_two" => Some(Policy::PowerOfTwo),
            "lowest_latency" => Some(Policy::LowestLatency),
            "image_locality" => Some(Policy::ImageLocality),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Policy::Spread => "spread: the site with the fewest servers of this plan so far",
            Policy::Pack => "pack: the fullest site that still fits",
            Policy::PowerOfTwo => {
                "power of two choices: the freer in memory of two sites drawn at random"
            }
            Policy::LowestLatency => "lowest latency: the site that answers fastest",
            Policy::ImageLocality => {
                "image locality: sites that hold the image first, spread among them"
            }
        }
    }
}

/// How many servers of `need` fit in `free` keeping `headroom` free.
fn slots(need: Need, free: Free, headroom: &Headroom) -> u32 {
    let fit = |free: f64, keep: f64, need: f64| {
        if need <= 0.0 {
            return f64::from(u32::MAX);
        }
        ((free - keep) / need).floor().max(0.0)
    };
    let n = fit(free.vcpus, headroom.vcpus, need.vcpus)
        .min(fit(free.ram_mb, headroom.ram_mb, need.ram_mb))
        .min(fit(free.disk_gb, headroom.disk_gb, need.disk_gb));
    n.min(f64::from(u32::MAX)) as u32
}

/// How many more servers a project's compute quota allows, and the limit that binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRoom {
    pub servers: u32,
    pub binding: String,
}

/// The room a project's compute limits (`instances`, `cores`, `ram`: -1 unlimited) leave
/// for servers of `need`, given what it uses; none if no limit bounds it.
pub fn quota_room(
    limits: &BTreeMap<String, i64>,
    used: &BTreeMap<String, i64>,
    need: Need,
) -> Option<QuotaRoom> {
    [
        ("instances", 1.0),
        ("cores", need.vcpus),
        ("ram", need.ram_mb),
    ]
    .into_iter()
    .filter_map(|(resource, per_server)| {
        let limit = *limits.get(resource)?;
        if limit < 0 || per_server <= 0.0 {
            return None;
        }
        let in_use = used.get(resource).copied().unwrap_or(0);
        let left = (limit - in_use).max(0) as f64;
        Some(QuotaRoom {
            servers: (left / per_server).floor().min(f64::from(u32::MAX)) as u32,
            binding: format!("{resource} {in_use} of {limit} used"),
        })
    })
    .min_by_key(|room| room.servers)
}

/// A site still in the running, with how many more servers it can take.
struct Open {
    at: usize,
    room: u32,
    placed: u32,
}

/// Makes the plan. `draw` gives random numbers for `power_of_two` (a seeded source in
/// tests, so plans are reproducible).
pub fn plan(
    count: u32,
    policy: Policy,
    constraints: &Constraints,
    selector: Option<&Selector>,
    candidates: &[Candidate],
    mut draw: impl FnMut(usize) -> usize,
) -> Plan {
    let headroom = constraints.min_free.clone().unwrap_or_default();
    let excluded_by_name: BTreeSet<&str> = constraints.exclude.iter().map(String::as_str).collect();
    let mut per_site_cap = constraints.max_per_site.unwrap_or(u32::MAX);
    if constraints.affinity == Some(Affinity::DifferentSites) {
        per_site_cap = per_site_cap.min(1);
    }
    let mut excluded = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    for (at, c) in candidates.iter().enumerate() {
        let reason = if excluded_by_name.contains(c.site.as_str()) {
            Some("excluded by the request".to_owned())
        } else if selector.is_some_and(|s| !s.matches(&c.labels)) {
            Some("its labels do not match the selector".to_owned())
        } else if let Some(why) = &c.unusable {
            Some(why.clone())
        } else if c.need.is_none() {
            Some("no flavor of that name here".to_owned())
        } else if let Some(label) = constraints.spread_across.as_ref().map(|s| &s.label) {
            (!c.labels.contains_key(label)).then(|| format!("no label {label} to spread across"))
        } else {
            None
        };
        if let Some(reason) = reason {
            excluded.push(Exclusion {
                site: c.site.clone(),
                reason,
            });
            continue;
        }
        let need = c.need.unwrap_or(Need {
            vcpus: 0.0,
            ram_mb: 0.0,
            disk_gb: 0.0,
        });
        let room = slots(need, c.free, &headroom).min(per_site_cap);
        if let Some(quota) = c.quota.as_ref().filter(|q| q.servers == 0) {
            excluded.push(Exclusion {
                site: c.site.clone(),
                reason: format!(
                    "quota: the project's {} there; raise its quota or free some",
                    quota.binding
                ),
            });
            continue;
        }
        let room = room.min(c.quota.as_ref().map_or(u32::MAX, |q| q.servers));
        if room == 0 {
            excluded.push(Exclusion {
                site: c.site.clone(),
                reason: format!(
                    "no capacity: {:.0} vCPU, {:.0} MiB RAM, {:.0} GB disk free{}",
                    c.free.vcpus,
                    c.free.ram_mb,
                    c.free.disk_gb,
                    if constraints.min_free.is_some() {
                        " before the headroom asked"
                    } else {
                        ""
                    }
                ),
            });
            continue;
        }
        open.push(Open {
            at,
            room,
            placed: 0,
        });
    }

    if constraints.affinity == Some(Affinity::SameSite) {
        // One site for all: the first that fits them all in the policy's order.
        order(&mut open, policy, candidates);
        return match open.iter().find(|o| o.room >= count) {
            Some(site) => {
                let c = &candidates[site.at];
                for other in open.iter().filter(|o| o.at != site.at) {
                    excluded.push(Exclusion {
                        site: candidates[other.at].site.clone(),
                        reason: "same_site: every server goes to one site".into(),
                    });
                }
                Plan {
                    satisfiable: true,
                    allocations: vec![Allocation {
                        site: c.site.clone(),
                        count,
                        reason: format!("same_site: the first site in {} order with room for all {count}", policy_name(policy)),
                    }],
                    excluded,
                    unmet: None,
                }
            }
            None => Plan {
                satisfiable: false,
                allocations: Vec::new(),
                excluded,
                unmet: Some(format!(
                    "same_site: no site has room for {count}; the most any has is {}: lower the count or free capacity",
                    open.iter().map(|o| o.room).max().unwrap_or(0)
                )),
            },
        };
    }

    let total_room: u64 = open.iter().map(|o| u64::from(o.room)).sum();
    let placed = match policy {
        Policy::PowerOfTwo => place_by_two_choices(&mut open, candidates, count, &mut draw),
        _ => place_by_key(&mut open, candidates, count, policy),
    };

    let mut allocations: Vec<Allocation> = open
        .iter()
        .filter(|o| o.placed > 0)
        .map(|o| Allocation {
            site: candidates[o.at].site.clone(),
            count: o.placed,
            reason: format!("{}; room for {} more", policy.describe(), o.room),
        })
        .collect();
    allocations.sort_by(|a, b| a.site.cmp(&b.site));
    for o in open.iter().filter(|o| o.placed == 0) {
        excluded.push(Exclusion {
            site: candidates[o.at].site.clone(),
            reason: format!(
                "not needed: {} placed the servers elsewhere",
                policy_name(policy)
            ),
        });
    }

    let mut unmet = None;
    if placed < count {
        unmet = Some(format!(
            "room for {total_room} of {count} servers on the sites that qualify ({} of {}); free capacity, allow more sites, or lower max_per_site",
            open.len(),
            candidates.len()
        ));
    } else if let Some(spread) = &constraints.spread_across {
        let distinct: BTreeSet<&str> = open
            .iter()
            .filter(|o| o.placed > 0)
            .filter_map(|o| {
                candidates[o.at]
                    .labels
                    .get(&spread.label)
                    .map(String::as_str)
            })
            .collect();
        if (distinct.len() as u32) < spread.min_distinct {
            unmet = Some(format!(
                "the servers land on {} distinct {} value(s), {} asked: allow more sites with other {} values or lower max_per_site to force the spread",
                distinct.len(),
                spread.label,
                spread.min_distinct,
                spread.label
            ));
        }
    }
    Plan {
        satisfiable: unmet.is_none(),
        allocations: if unmet.is_none() {
            allocations
        } else {
            Vec::new()
        },
        excluded,
        unmet,
    }
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::Spread => "spread",
        Policy::Pack => "pack",
        Policy::PowerOfTwo => "power_of_two",
        Policy::LowestLatency => "lowest_latency",
        Policy::ImageLocality => "image_locality",
    }
}

/// What a policy other than power of two choices prefers: the open site with the
/// smallest key takes the next server; ties go to the earlier site.
fn key(policy: Policy, o: &Open, candidates: &[Candidate]) -> (u32, u32) {
    match policy {
        Policy::Spread => (o.placed, u32::MAX - o.room),
        Policy::Pack => (o.room, 0),
        Policy::LowestLatency => {
            let latency = candidates[o.at].latency_ms.unwrap_or(f64::MAX);
            ((latency * 1000.0).min(f64::from(u32::MAX)) as u32, o.placed)
        }
        Policy::ImageLocality => (u32::from(!candidates[o.at].holds_image), o.placed),
        // Not by key: see `place_by_two_choices`.
        Policy::PowerOfTwo => (o.placed, 0),
    }
}

/// Places up to `count` servers one by one, each on the open site of the smallest key.
/// A site's key changes only when it takes a server, so a heap keeps the order: the cost
/// is O((sites + count) log sites), not sites × count. Returns how many were placed.
fn place_by_key(open: &mut [Open], candidates: &[Candidate], count: u32, policy: Policy) -> u32 {
    use std::cmp::Reverse;
    let mut heap: std::collections::BinaryHeap<Reverse<((u32, u32), usize)>> = open
        .iter()
        .enumerate()
        .filter(|(_, o)| o.room > 0)
        .map(|(i, o)| Reverse((key(policy, o, candidates), i)))
        .collect();
    let mut placed = 0u32;
    while placed < count {
        let Some(Reverse((_, i))) = heap.pop() else {
            break;
        };
        open[i].room -= 1;
        open[i].placed += 1;
        placed += 1;
        if open[i].room > 0 {
            heap.push(Reverse((key(policy, &open[i], candidates), i)));
        }
    }
    placed
}

/// Power of two choices: the freer in memory of two open sites drawn at random. The
/// open sites are kept in a list changed only when one fills up.
fn place_by_two_choices(
    open: &mut [Open],
    candidates: &[Candidate],
    count: u32,
    draw: &mut impl FnMut(usize) -> usize,
) -> u32 {
    let mut live: Vec<usize> = (0..open.len()).filter(|i| open[*i].room > 0).collect();
    let mut placed = 0u32;
    while placed < count {
        let i = match live.len() {
            0 => break,
            1 => live[0],
            n => {
                let a = live[draw(n) % n];
                let b = live[draw(n) % n];
                let free = |i: usize| {
                    candidates[open[i].at].free.ram_mb
                        - f64::from(open[i].placed)
                            * candidates[open[i].at].need.map_or(0.0, |n| n.ram_mb)
                };
                if free(b) > free(a) {
                    b
                } else {
                    a
                }
            }
        };
        open[i].room -= 1;
        open[i].placed += 1;
        placed += 1;
        if open[i].room == 0 {
            live.retain(|&j| j != i);
        }
    }
    placed
}

/// Orders sites as the policy prefers them, for a one-site choice.
fn order(open: &mut [Open], policy: Policy, candidates: &[Candidate]) {
    match policy {
        Policy::Pack => open.sort_by_key(|o| o.room),
        Policy::LowestLatency => open.sort_by(|a, b| {
            let l = |o: &Open| candidates[o.at].latency_ms.unwrap_or(f64::MAX);
            l(a).total_cmp(&l(b))
        }),
        Policy::ImageLocality => {
            open.sort_by_key(|o| (!candidates[o.at].holds_image, u32::MAX - o.room))
        }
        Policy::Spread | Policy::PowerOfTwo => open.sort_by_key(|o| u32::MAX - o.room),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_api_types::placement::SpreadAcross;

    const SMALL: Need = Need {
        vcpus: 1.0,
        ram_mb: 512.0,
        disk_gb: 1.0,
    };

    fn site(name: &str, region: &str, vcpus: f64) -> Candidate {
        Candidate {
            site: name.into(),
            labels: Arc::new(BTreeMap::from([("region".to_owned(), region.to_owned())])),
            unusable: None,
            need: Some(SMALL),
            free: Free {
                vcpus,
                ram_mb: vcpus * 1024.0,
                disk_gb: 100.0,
            },
            quota: None,
            latency_ms: Some(10.0),
            holds_image: false,
        }
    }

    #[test]
    fn the_tightest_compute_limit_bounds_a_sites_room() {
        let limits = BTreeMap::from([
            ("instances".to_owned(), 10),
            ("cores".to_owned(), 8),
            ("ram".to_owned(), -1),
        ]);
        let used = BTreeMap::from([("instances".to_owned(), 2), ("cores".to_owned(), 5)]);
        let room = quota_room(&limits, &used, SMALL);
        assert_eq!(
            room,
            Some(QuotaRoom {
                servers: 3,
                binding: "cores 5 of 8 used".into()
            })
        );
        let unlimited = BTreeMap::from([("instances".to_owned(), -1)]);
        assert_eq!(quota_room(&unlimited, &used, SMALL), None);
    }

    #[test]
    fn a_site_whose_quota_is_spent_is_left_out_and_a_tight_one_takes_what_it_allows() {
        let mut spent = site("spent", "eu", 64.0);
        spent.quota = Some(QuotaRoom {
            servers: 0,
            binding: "instances 10 of 10 used".into(),
        });
        let mut tight = site("tight", "eu", 64.0);
        tight.quota = Some(QuotaRoom {
            servers: 2,
            binding: "cores 6 of 8 used".into(),
        });
        let roomy = site("roomy", "us", 64.0);
        let plan = plan(
            6,
            Policy::Spread,
            &Constraints::default(),
            None,
            &[spent, tight, roomy],
            |_| 0,
        );
        assert!(plan.satisfiable, "{plan:?}");
        let count = |name: &str| {
            plan.allocations
                .iter()
                .find(|a| a.site == name)
                .map_or(0, |a| a.count)
        };
        assert_eq!((count("tight"), count("roomy")), (2, 4), "{plan:?}");
        let reason = plan
            .excluded
            .iter()
            .find(|e| e.site == "spent")
            .map(|e| e.reason.as_str());
        assert_eq!(
            reason,
            Some(
                "quota: the project's instances 10 of 10 used there; raise its quota or free some"
            )
        );
    }

    fn counts(plan: &Plan) -> Vec<(String, u32)> {
        plan.allocations
            .iter()
            .map(|a| (a.site.clone(), a.count))
            .collect()
    }

    fn no_draw(_: usize) -> usize {
        0
    }

    #[test]
    fn spread_evens_the_servers_out_and_pack_fills_the_fullest_site_first() {
        let sites = [
            site("a", "eu", 10.0),
            site("b", "eu", 4.0),
            site("c", "us", 10.0),
        ];
        let spread = plan(
            7,
            Policy::Spread,
            &Constraints::default(),
            None,
            &sites,
            no_draw,
        );
        assert!(spread.satisfiable);
        assert_eq!(
            counts(&spread),
            vec![("a".into(), 3), ("b".into(), 2), ("c".into(), 2)]
        );
        let pack = plan(
            5,
            Policy::Pack,
            &Constraints::default(),
            None,
            &sites,
            no_draw,
        );
        assert_eq!(counts(&pack), vec![("a".into(), 1), ("b".into(), 4)]);
        assert!(pack
            .excluded
            .iter()
            .any(|e| e.site == "c" && e.reason.starts_with("not needed")));
    }

    #[test]
    fn every_exclusion_says_why() {
        let mut dark = site("dark", "eu", 10.0);
        dark.unusable = Some("site unreachable".into());
        let mut flavorless = site("flavorless", "eu", 10.0);
        flavorless.need = None;
        let full = site("full", "eu", 0.0);
        let other = site("other", "us", 10.0);
        let banned = site("banned", "eu", 10.0);
        let constraints = Constraints {
            exclude: vec!["banned".into()],
            ..Constraints::default()
        };
        let selector = Selector::parse("region=eu").ok();
        let result = plan(
            1,
            Policy::Spread,
            &constraints,
            selector.as_ref(),
            &[dark, flavorless, full, other, banned],
            no_draw,
        );
        assert!(!result.satisfiable);
        let why: BTreeMap<&str, &str> = result
            .excluded
            .iter()
            .map(|e| (e.site.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(why["dark"], "site unreachable");
        assert_eq!(why["flavorless"], "no flavor of that name here");
        assert!(why["full"].starts_with("no capacity"));
        assert_eq!(why["other"], "its labels do not match the selector");
        assert_eq!(why["banned"], "excluded by the request");
        assert!(result
            .unmet
            .as_deref()
            .is_some_and(|u| u.contains("room for 0 of 1")));
    }

    #[test]
    fn per_site_maximum_headroom_and_anti_affinity_bound_each_site() {
        let sites = [site("a", "eu", 10.0), site("b", "eu", 10.0)];
        let capped = Constraints {
            max_per_site: Some(2),
            ..Constraints::default()
        };
        assert!(!plan(5, Policy::Pack, &capped, None, &sites, no_draw).satisfiable);
        assert_eq!(
            counts(&plan(4, Policy::Pack, &capped, None, &sites, no_draw)),
            vec![("a".into(), 2), ("b".into(), 2)]
        );
        let keep = Constraints {
            min_free: Some(Headroom {
                vcpus: 8.0,
                ..Headroom::default()
            }),
            ..Constraints::default()
        };
        assert_eq!(
            counts(&plan(4, Policy::Spread, &keep, None, &sites, no_draw)),
            vec![("a".into(), 2), ("b".into(), 2)]
        );
        let apart = Constraints {
            affinity: Some(Affinity::DifferentSites),
            ..Constraints::default()
        };
        assert!(!plan(3, Policy::Spread, &apart, None, &sites, no_draw).satisfiable);
        let together = Constraints {
            affinity: Some(Affinity::SameSite),
            ..Constraints::default()
        };
        let one = plan(6, Policy::Spread, &together, None, &sites, no_draw);
        assert_eq!(one.allocations.len(), 1);
        assert_eq!(one.allocations[0].count, 6);
    }

    #[test]
    fn a_spread_across_a_label_that_lands_on_too_few_values_is_unmet_and_says_how_to_fix_it() {
        let sites = [
            site("a", "eu", 10.0),
            site("b", "eu", 10.0),
            site("c", "us", 1.0),
        ];
        let wide = Constraints {
            spread_across: Some(SpreadAcross {
                label: "region".into(),
                min_distinct: 2,
            }),
            ..Constraints::default()
        };
        assert!(plan(3, Policy::Spread, &wide, None, &sites, no_draw).satisfiable);
        let packed = plan(
            3,
            Policy::Pack,
            &wide,
            None,
            &[site("a", "eu", 10.0), site("c", "us", 10.0)],
            no_draw,
        );
        assert!(!packed.satisfiable, "{packed:?}");
        assert!(packed
            .unmet
            .as_deref()
            .is_some_and(|u| u.contains("1 distinct region")));
    }

    #[test]
    fn lowest_latency_and_image_locality_prefer_what_they_say() {
        let mut near = site("near", "eu", 2.0);
        near.latency_ms = Some(1.0);
        let mut holder = site("holder", "eu", 2.0);
        holder.holds_image = true;
        let far = site("far", "eu", 10.0);
        let sites = [far, near, holder];
        assert_eq!(
            counts(&plan(
                3,
                Policy::LowestLatency,
                &Constraints::default(),
                None,
                &sites,
                no_draw
            )),
            vec![("far".into(), 1), ("near".into(), 2)]
        );
        let local = plan(
            3,
            Policy::ImageLocality,
            &Constraints::default(),
            None,
            &sites,
            no_draw,
        );
        assert_eq!(
            local
                .allocations
                .iter()
                .find(|a| a.site == "holder")
                .map(|a| a.count),
            Some(2)
        );
    }

    #[test]
    fn power_of_two_takes_the_freer_of_two_draws() {
        let sites = [site("small", "eu", 2.0), site("big", "eu", 20.0)];
        let mut draws = [0usize, 1].into_iter().cycle();
        let result = plan(
            3,
            Policy::PowerOfTwo,
            &Constraints::default(),
            None,
            &sites,
            |_| draws.next().unwrap_or(0),
        );
        assert_eq!(counts(&result), vec![("big".into(), 3)]);
    }

    #[test]
    fn the_heap_places_exactly_as_a_scan_of_every_site_would() {
        // A scan of every open site for each server: what the heap must reproduce.
        fn by_scan(open: &mut [Open], candidates: &[Candidate], count: u32, policy: Policy) {
            for _ in 0..count {
                let Some(i) = (0..open.len())
                    .filter(|i| open[*i].room > 0)
                    .min_by_key(|i| key(policy, &open[*i], candidates))
                else {
                    break;
                };
                open[i].room -= 1;
                open[i].placed += 1;
            }
        }
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for round in 0..40 {
            let candidates: Vec<Candidate> = (0..30)
                .map(|n| Candidate {
                    latency_ms: Some(next(5) as f64),
                    holds_image: next(2) == 0,
                    ..site(&format!("s{n:02}"), "r", 1.0)
                })
                .collect();
            let fresh = || -> Vec<Open> {
                let mut seed = round;
                (0..candidates.len())
                    .map(|at| {
                        seed = (seed * 31 + 17) % 101;
                        Open {
                            at,
                            room: (seed % 6) as u32,
                            placed: 0,
                        }
                    })
                    .collect()
            };
            for policy in [
                Policy::Spread,
                Policy::Pack,
                Policy::LowestLatency,
                Policy::ImageLocality,
            ] {
                let count = next(80) as u32;
                let (mut heap, mut scan) = (fresh(), fresh());
                place_by_key(&mut heap, &candidates, count, policy);
                by_scan(&mut scan, &candidates, count, policy);
                let placed = |open: &[Open]| open.iter().map(|o| o.placed).collect::<Vec<_>>();
                assert_eq!(placed(&heap), placed(&scan), "{policy:?}, {count} servers");
            }
        }
    }
}
