//! One site's figures of one moment, packed for storage: a little-endian f32 per metric
//! of [`METRICS`], NaN where the figure was not measured.
//!
//! f32 keeps seven significant digits: counts are exact up to 16,777,216, sizes in bytes
//! within a millionth, enough for charts and capacity planning at a quarter of the room
//! of f64 (decision 17).

pub use overcast_api_types::metrics::METRICS;

pub const COUNT: usize = METRICS.len();

/// The position of a metric in [`METRICS`], hence in every packed sample.
pub fn index_of(metric: &str) -> Option<usize> {
    METRICS.iter().position(|m| *m == metric)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Values([f32; COUNT]);

impl Default for Values {
    fn default() -> Self {
        Values([f32::NAN; COUNT])
    }
}

impl Values {
    pub fn set(&mut self, metric: &str, value: f64) {
        if let Some(at) = index_of(metric) {
            self.0[at] = value as f32;
        }
    }

    pub fn get(&self, at: usize) -> Option<f64> {
        self.0
            .get(at)
            .copied()
            .filter(|v| !v.is_nan())
            .map(f64::from)
    }

    /// The measured figures by name.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        METRICS
            .iter()
            .enumerate()
            .filter_map(|(at, name)| self.get(at).map(|v| (*name, v)))
    }

    pub fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Reads what [`Values::encode`] wrote; a sample written before a metric was added
    /// reads as not measured for it, a metric removed since is ignored.
    pub fn decode(bytes: &[u8]) -> Values {
        let mut values = Values::default();
        for (slot, chunk) in values.0.iter_mut().zip(bytes.chunks_exact(4)) {
            *slot = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        values
    }
}

/// Fixed slots of one metric over one chunk of time (an hour of minutes, a day of
/// hours): f32 averages, NaN where nothing was collected.
pub fn encode_slots(slots: &[f32]) -> Vec<u8> {
    slots.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn decode_slots(bytes: &[u8], count: usize) -> Vec<f32> {
    let mut slots = vec![f32::NAN; count];
    for (slot, value) in slots.iter_mut().zip(slot_values(bytes)) {
        *slot = value;
    }
    slots
}

/// The slots [`encode_slots`] wrote, read in place.
pub fn slot_values(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_packs_and_unpacks_with_its_gaps() {
        let mut values = Values::default();
        values.set("used_vcpus", 12.0);
        values.set("images_bytes", 1.5e12);
        values.set("no_such_metric", 1.0);
        let read = Values::decode(&values.encode());
        assert_eq!(read.get(index_of("used_vcpus").unwrap_or(0)), Some(12.0));
        let bytes = read
            .get(index_of("images_bytes").unwrap_or(0))
            .unwrap_or(0.0);
        assert!((bytes - 1.5e12).abs() / 1.5e12 < 1e-6);
        assert_eq!(read.get(index_of("servers_error").unwrap_or(0)), None);
        assert_eq!(read.named().count(), 2);
        assert_eq!(values.encode().len(), 4 * COUNT);
    }

    #[test]
    fn a_shorter_sample_from_an_older_console_reads_as_not_measured_beyond_its_end() {
        let read = Values::decode(&7.0f32.to_le_bytes());
        assert_eq!(read.get(0), Some(7.0));
        assert_eq!(read.get(1), None);
        assert_eq!(decode_slots(&encode_slots(&[1.0, f32::NAN]), 3)[..1], [1.0]);
        assert!(decode_slots(&[], 2).iter().all(|v| v.is_nan()));
    }
}
