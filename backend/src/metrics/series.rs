//! A metric over time across many sites: each site's points averaged into the query's
//! steps, then combined across the sites of each group.

use std::collections::BTreeMap;

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

    fn combine(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        Some(match self {
            Aggregation::Sum => values.iter().sum(),
            Aggregation::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Aggregation::Max => values.iter().copied().fold(f64::MIN, f64::max),
            Aggregation::Min => values.iter().copied().fold(f64::MAX, f64::min),
        })
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

/// One site's averages per step: None where it had no point in the step.
pub fn per_step(steps: Steps, points: &[(i64, f64)]) -> Vec<Option<f64>> {
    let mut sums = vec![(0f64, 0u32); steps.count()];
    for (t, v) in points {
        if let Some(at) = steps.index(*t) {
            sums[at].0 += v;
            sums[at].1 += 1;
        }
    }
    sums.into_iter()
        .map(|(s, n)| (n > 0).then(|| s / f64::from(n)))
        .collect()
}

/// Combines the sites' steps group by group. `sites` maps each site to its group and
/// its per-step averages; groups come out in name order.
pub fn combine(
    steps: Steps,
    agg: Aggregation,
    sites: impl IntoIterator<Item = (String, Vec<Option<f64>>)>,
) -> Vec<SeriesLine> {
    let mut groups: BTreeMap<String, Vec<Vec<Option<f64>>>> = BTreeMap::new();
    for (group, line) in sites {
        groups.entry(group).or_default().push(line);
    }
    groups
        .into_iter()
        .map(|(group, lines)| {
            let points = (0..steps.count())
                .map(|at| {
                    let present: Vec<f64> = lines.iter().filter_map(|l| l[at]).collect();
                    SeriesPoint {
                        t: steps.from + at as i64 * steps.step,
                        value: agg.combine(&present),
                        sites: present.len(),
                    }
                })
                .collect();
            SeriesLine {
                group,
                sites: lines.len(),
                points,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: Steps = Steps {
        from: 0,
        to: 180,
        step: 60,
    };

    #[test]
    fn a_site_averages_its_points_within_a_step_and_has_none_where_it_was_dark() {
        let line = per_step(STEPS, &[(0, 2.0), (30, 4.0), (150, 7.0), (180, 1.0)]);
        assert_eq!(line, vec![Some(3.0), None, Some(7.0)]);
    }

    #[test]
    fn sites_combine_by_group_and_a_gap_is_no_zero() {
        let sites = vec![
            ("eu".to_owned(), vec![Some(1.0), None, Some(3.0)]),
            ("eu".to_owned(), vec![Some(2.0), None, None]),
            ("us".to_owned(), vec![Some(5.0), Some(6.0), None]),
        ];
        let lines = combine(STEPS, Aggregation::Sum, sites.clone());
        assert_eq!(lines.len(), 2);
        let eu = &lines[0];
        assert_eq!((eu.group.as_str(), eu.sites), ("eu", 2));
        let values: Vec<_> = eu.points.iter().map(|p| (p.t, p.value, p.sites)).collect();
        assert_eq!(
            values,
            vec![(0, Some(3.0), 2), (60, None, 0), (120, Some(3.0), 1)]
        );
        let max = combine(STEPS, Aggregation::Max, sites.clone());
        assert_eq!(max[0].points[0].value, Some(2.0));
        let min = combine(STEPS, Aggregation::Min, sites.clone());
        assert_eq!(min[0].points[0].value, Some(1.0));
        let avg = combine(STEPS, Aggregation::Avg, sites);
        assert_eq!(avg[0].points[0].value, Some(1.5));
    }

    #[test]
    fn a_range_that_does_not_divide_by_the_step_keeps_its_last_part() {
        let steps = Steps {
            from: 0,
            to: 130,
            step: 60,
        };
        assert_eq!(steps.count(), 3);
        assert_eq!(per_step(steps, &[(125, 1.0)]), vec![None, None, Some(1.0)]);
    }
}
