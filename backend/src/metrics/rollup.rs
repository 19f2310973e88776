//! The resolutions figures are kept at, and how the coarser ones are made from the finer.

use super::values::{Values, COUNT};

/// A stored resolution. Raw samples are kept as collected; the 1 m and 1 h tiers keep
/// one average per slot, a chunk of slots per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Raw,
    Minute,
    Hour,
}

impl Tier {
    pub const fn code(self) -> i16 {
        match self {
            Tier::Raw => 0,
            Tier::Minute => 1,
            Tier::Hour => 2,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }

    /// Seconds per slot (raw: none, a sample is where it was taken).
    pub const fn slot_s(self) -> i64 {
        match self {
            Tier::Raw => 1,
            Tier::Minute => 60,
            Tier::Hour => 3600,
        }
    }

    /// Seconds per stored chunk: an hour of minutes, a day of hours.
    pub const fn chunk_s(self) -> i64 {
        match self {
            Tier::Raw => 3600,
            Tier::Minute => 3600,
            Tier::Hour => 86_400,
        }
    }

    pub const fn slots(self) -> usize {
        (self.chunk_s() / self.slot_s()) as usize
    }
}

/// The start of the chunk of `tier` that holds time `t`.
pub fn chunk_start(tier: Tier, t: i64) -> i64 {
    t.div_euclid(tier.chunk_s()) * tier.chunk_s()
}

/// One site's minute averages over the hour from `hour_start`, a row of 60 slots per
/// metric, from the raw samples taken in that hour.
pub fn minutes_of_hour(hour_start: i64, samples: &[(i64, Values)]) -> Vec<Vec<f32>> {
    let mut sums = vec![[0f64; 60]; COUNT];
    let mut counts = vec![[0u32; 60]; COUNT];
    for (t, values) in samples {
        let offset = t - hour_start;
        if !(0..3600).contains(&offset) {
            continue;
        }
        let slot = (offset / 60) as usize;
        for metric in 0..COUNT {
            if let Some(v) = values.get(metric) {
                sums[metric][slot] += v;
                counts[metric][slot] += 1;
            }
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(sum, count)| {
            sum.iter()
                .zip(count)
                .map(|(s, n)| match n {
                    0 => f32::NAN,
                    n => (s / f64::from(*n)) as f32,
                })
                .collect()
        })
        .collect()
}

/// The mean of the slots that hold a figure; NaN when none does.
pub fn average(slots: &[f32]) -> f32 {
    let (sum, n) = slots
        .iter()
        .filter(|v| !v.is_nan())
        .fold((0f64, 0u32), |(s, n), v| (s + f64::from(*v), n + 1));
    match n {
        0 => f32::NAN,
        n => (sum / f64::from(n)) as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::values::index_of;

    fn sample(t: i64, used: f64) -> (i64, Values) {
        let mut values = Values::default();
        values.set("used_vcpus", used);
        (t, values)
    }

    #[test]
    fn minutes_average_their_samples_and_leave_gaps_empty() {
        let hour = 7200;
        let rows = minutes_of_hour(
            hour,
            &[
                sample(hour, 4.0),
                sample(hour + 30, 6.0),
                sample(hour + 125, 9.0),
                sample(hour + 3600, 1.0),
            ],
        );
        let used = &rows[index_of("used_vcpus").unwrap_or(0)];
        assert_eq!(used.len(), 60);
        assert_eq!(used[0], 5.0);
        assert!(
            used[1].is_nan(),
            "no sample in the second minute: a gap, not a zero"
        );
        assert_eq!(used[2], 9.0);
        assert!(rows[index_of("servers_error").unwrap_or(0)]
            .iter()
            .all(|v| v.is_nan()));
        assert_eq!(average(used), 7.0);
        assert!(average(&[f32::NAN]).is_nan());
    }

    #[test]
    fn chunks_start_on_their_boundaries() {
        assert_eq!(chunk_start(Tier::Minute, 7250), 7200);
        assert_eq!(chunk_start(Tier::Hour, 90_000), 86_400);
        assert_eq!(Tier::Minute.slots(), 60);
        assert_eq!(Tier::Hour.slots(), 24);
    }
}
