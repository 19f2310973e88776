//! A metric over time across many sites: each site's points averaged into the query's
//! steps, then combined across the sites of each group.
//!
//! Points are folded as they stream from the store, in time order per site: a site
//! holds only the step it is in, a group one figure per step. A query over 1,000 sites
//! and a day at 1 min thus keeps a few hundred kilobytes, not its 1.5 million points.

use overcast_api_types::metrics::{SeriesLine, SeriesPoint};

/// Most points one answer holds; a longer range needs a larger step.
pub const MAX_POINTS: i64 = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    Avg,
    Max,
    Min,
}

impl Aggregation {
    pub fn parse(text: &str) -> Option<Aggregation> {
        match text {
            "sum" => Some(Aggregation::Sum),
            "avg" => Some(Aggregation::Avg),
            "max" => Some(Aggregation::Max),
            "min" => Some(Aggregation::Min),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Avg => "avg",
            Aggregation::Max => "max",
            Aggregation::Min => "min",
        }
    }
}

/// The steps of `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub from: i64,
    pub to: i64,
    pub step: i64,
}

impl Steps {
    pub fn count(&self) -> usize {
        usize::try_from((self.to - self.from + self.step - 1) / self.step).unwrap_or(0)
    }

    fn index(&self, t: i64) -> Option<usize> {
        (self.from..self.to)
            .contains(&t)
            .then(|| usize::try_from((t - self.from) / self.step).ok())
            .flatten()
    }
}

/// What one step of one group holds so far: the sum, count, largest and smallest of
/// its sites' averages.
#[derive(Debug, Clone, Copy)]
struct Fold {
    sum: f64,
    sites: usize,
    max: f64,
    min: f64,
}

impl Fold {
    const EMPTY: Fold = Fold {
        sum: 0.0,
        sites: 0,
        max: f64::MIN,
        min: f64::MAX,
    };

    fn add(&mut self, value: f64) {
        self.sum += value;
        self.sites += 1;
        self.max = self.max.max(value);
        self.min = self.min.min(value);
    }

    fn value(&self, agg: Aggregation) -> Option<f64> {
        (self.sites > 0).then(|| match agg {
            Aggregation::Sum => self.sum,
            Aggregation::Avg => self.sum / self.sites as f64,
            Aggregation::Max => self.max,
            Aggregation::Min => self.min,
        })
    }
}

struct Group {
    name: String,
    sites: usize,
    steps: Vec<Fold>,
}

/// The step a site is in: the sum and count of its points there so far.
#[derive(Debug, Clone, Copy)]
struct OpenStep {
    step: usize,
    sum: f64,
    points: u32,
}

/// A series being built from points that come site by site in time order (sites may
/// interleave). A step in which a site had no point is a gap for it, not a zero.
pub struct Walk {
    steps: Steps,
    groups: Vec<Group>,
    group_of: Vec<usize>,
    open: Vec<Option<OpenStep>>,
}

impl Walk {
    /// `groups` holds each site's group, in the positions the points name sites by.
    pub fn new(steps: Steps, groups: &[&str]) -> Walk {
        let mut names: Vec<&str> = groups.to_vec();
        names.sort_unstable();
        names.dedup();
        let mut built: Vec<Group> = names
            .iter()
            .map(|name| Group {
                name: (*name).to_owned(),
                sites: 0,
                steps: vec![Fold::EMPTY; steps.count()],
            })
            .collect();
        let group_of: Vec<usize> = groups
            .iter()
            .map(|g| names.binary_search(g).unwrap_or_default())
            .collect();
        for &at in &group_of {
            if let Some(group) = built.get_mut(at) {
                group.sites += 1;
            }
        }
        Walk {
            steps,
            groups: built,
            group_of,
            open: vec![None; groups.len()],
        }
    }

    /// A point of site `site` at `t`, no earlier than the site's points before it (one
    /// earlier than the step it is in is ignored: that step is counted already).
    pub fn point(&mut self, site: usize, t: i64, value: f64) {
        let Some(step) = self.steps.index(t) else {
            return;
        };
        let Some(open) = self.open.get_mut(site) else {
            return;
        };
        match open {
            Some(now) if now.step == step => {
                now.sum += value;
                now.points += 1;
            }
            Some(now) if now.step > step => {}
            _ => {
                let closed = open.replace(OpenStep {
                    step,
                    sum: value,
                    points: 1,
                });
                self.fold(site, closed);
            }
        }
    }

    fn fold(&mut self, site: usize, step: Option<OpenStep>) {
        let Some(step) = step else {
            return;
        };
        let group = self
            .group_of
            .get(site)
            .and_then(|&g| self.groups.get_mut(g));
        if let Some(fold) = group.and_then(|g| g.steps.get_mut(step.step)) {
            fold.add(step.sum / f64::from(step.points));
        }
    }

    /// The lines, one per group in name order.
    pub fn finish(mut self, agg: Aggregation) -> Vec<SeriesLine> {
        for site in 0..self.open.len() {
            let open = self.open[site].take();
            self.fold(site, open);
        }
        let steps = self.steps;
        self.groups
            .into_iter()
            .map(|group| SeriesLine {
                points: group
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(at, fold)| SeriesPoint {
                        t: steps.from + at as i64 * steps.step,
                        value: fold.value(agg),
                        sites: fold.sites,
                    })
                    .collect(),
                group: group.name,
                sites: group.sites,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: Steps = Steps {
        from: 0,
        to: 180,
        step: 60,
    };

    /// Each site as (group, points), one site after the other, combined with `agg`.
    fn lines(steps: Steps, agg: Aggregation, sites: &[(&str, &[(i64, f64)])]) -> Vec<SeriesLine> {
        let groups: Vec<&str> = sites.iter().map(|(group, _)| *group).collect();
        let mut walk = Walk::new(steps, &groups);
        for (site, (_, points)) in sites.iter().enumerate() {
            for (t, v) in *points {
                walk.point(site, *t, *v);
            }
        }
        walk.finish(agg)
    }

    fn values(line: &SeriesLine) -> Vec<(i64, Option<f64>, usize)> {
        line.points
            .iter()
            .map(|p| (p.t, p.value, p.sites))
            .collect()
    }

    #[test]
    fn a_site_averages_its_points_within_a_step_and_has_none_where_it_was_dark() {
        let points = [(0, 2.0), (30, 4.0), (150, 7.0), (180, 1.0)];
        let line = &lines(STEPS, Aggregation::Sum, &[("all", &points)])[0];
        assert_eq!(
            values(line),
            vec![(0, Some(3.0), 1), (60, None, 0), (120, Some(7.0), 1)]
        );
    }

    #[test]
    fn sites_combine_by_group_and_a_gap_is_no_zero() {
        let sites: [(&str, &[(i64, f64)]); 4] = [
            ("us", &[(0, 5.0), (60, 6.0)]),
            ("eu", &[(0, 1.0), (120, 3.0)]),
            ("eu", &[(0, 2.0)]),
            ("eu", &[]),
        ];
        let summed = lines(STEPS, Aggregation::Sum, &sites);
        assert_eq!(summed.len(), 2);
        let eu = &summed[0];
        assert_eq!((eu.group.as_str(), eu.sites), ("eu", 3));
        assert_eq!(
            values(eu),
            vec![(0, Some(3.0), 2), (60, None, 0), (120, Some(3.0), 1)]
        );
        assert_eq!((summed[1].group.as_str(), summed[1].sites), ("us", 1));
        let first = |agg| lines(STEPS, agg, &sites)[0].points[0].value;
        assert_eq!(first(Aggregation::Max), Some(2.0));
        assert_eq!(first(Aggregation::Min), Some(1.0));
        assert_eq!(first(Aggregation::Avg), Some(1.5));
    }

    #[test]
    fn interleaved_sites_each_average_their_own_points() {
        // As the store streams chunks: hour by hour, every site's chunk of each hour.
        let mut walk = Walk::new(STEPS, &["all", "all"]);
        walk.point(0, 0, 1.0);
        walk.point(1, 0, 10.0);
        walk.point(0, 30, 3.0);
        walk.point(1, 60, 20.0);
        walk.point(0, 120, 5.0);
        walk.point(1, 130, 30.0);
        let line = &walk.finish(Aggregation::Sum)[0];
        assert_eq!(
            values(line),
            vec![
                (0, Some(12.0), 2),
                (60, Some(20.0), 1),
                (120, Some(35.0), 2)
            ]
        );
    }

    #[test]
    fn a_point_older_than_its_sites_step_is_not_counted_twice() {
        let mut walk = Walk::new(STEPS, &["all"]);
        walk.point(0, 0, 1.0);
        walk.point(0, 60, 2.0);
        walk.point(0, 0, 50.0);
        walk.point(7, 0, 100.0);
        let line = &walk.finish(Aggregation::Sum)[0];
        assert_eq!(
            values(line),
            vec![(0, Some(1.0), 1), (60, Some(2.0), 1), (120, None, 0)]
        );
    }

    #[test]
    fn a_range_that_does_not_divide_by_the_step_keeps_its_last_part() {
        let steps = Steps {
            from: 0,
            to: 130,
            step: 60,
        };
        assert_eq!(steps.count(), 3);
        let line = &lines(steps, Aggregation::Sum, &[("all", &[(125, 1.0)])])[0];
        assert_eq!(
            values(line),
            vec![(0, None, 0), (60, None, 0), (120, Some(1.0), 1)]
        );
    }
}
