//! Medians and spread of repeated measurements.

use std::time::Duration;

/// A summary of repeated timings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub runs: usize,
    /// The median.
    pub median: Duration,
    /// The fastest sample.
    pub min: Duration,
    /// The slowest sample.
    pub max: Duration,
    /// The interquartile range (third quartile minus first).
    pub iqr: Duration,
}

impl Summary {
    /// The summary of `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Self {
            runs: sorted.len(),
            median: quantile(&sorted, 0.5),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            iqr: quantile(&sorted, 0.75).saturating_sub(quantile(&sorted, 0.25)),
        })
    }
}

/// The `q` quantile of sorted samples, interpolating between neighbours.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let position = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    let weight = position - lo as f64;
    let lo_s = sorted[lo].as_secs_f64();
    let hi_s = sorted[hi].as_secs_f64();
    Duration::from_secs_f64(lo_s + (hi_s - lo_s) * weight)
}

/// A duration in the unit that suits it: `812 ns`, `3.41 µs`, `27.0 ms`,
/// `1.52 s`.
pub fn human(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.3} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.3} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

/// Like [`human`] for a fraction of a nanosecond and up: time per step.
pub fn per_step(d: Duration, steps: usize) -> String {
    let ns = d.as_secs_f64() * 1e9 / steps as f64;
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else {
        format!("{:.2} µs", ns / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(Summary::of(&[ms(3), ms(1), ms(2)]).unwrap().median, ms(2));
        let even = Summary::of(&[ms(4), ms(1), ms(2), ms(3)]).unwrap();
        assert_eq!(even.median.as_micros(), 2500);
        assert_eq!((even.min, even.max), (ms(1), ms(4)));
        assert_eq!(even.iqr.as_micros(), 1500);
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn durations_print_in_a_fitting_unit() {
        assert_eq!(human(Duration::from_nanos(812)), "812 ns");
        assert_eq!(human(Duration::from_nanos(3_410)), "3.410 µs");
        assert_eq!(human(ms(27)), "27.000 ms");
        assert_eq!(per_step(ms(1), 1000), "1.00 µs");
        assert_eq!(per_step(Duration::from_nanos(5_500), 1000), "5.5 ns");
    }
}
