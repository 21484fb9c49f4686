//! The clock that times steps: `quanta`'s, which reads the processor's
//! time-stamp counter where that counter is invariant (about 9 ns a read
//! on the benchmark machine, against 23 ns for `std::time::Instant`) and
//! the operating system's monotonic clock elsewhere. A run reads it once
//! per step, so it is a visible part of a trivial step's cost.
//!
//! It calibrates the counter against the system clock once per process,
//! when the first engine is made ([`calibrate`]), not in a run.

use std::sync::OnceLock;

pub(crate) use quanta::Instant;

fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Calibrates the clock now, if it is not yet.
pub(crate) fn calibrate() {
    clock();
}

/// The current time.
pub(crate) fn now() -> Instant {
    clock().now()
}

/// The time since `earlier`, or zero if the clock reads earlier than that.
pub(crate) fn since(earlier: Instant) -> std::time::Duration {
    now().saturating_duration_since(earlier)
}

/// A reading of the clock's own counter, for timing many intervals from
/// one start (a static run times each of its steps from its start): no
/// conversion when read, and one multiply and shift per interval
/// ([`nanos_since`]), where an [`Instant`] is converted when read and an
/// interval between two is a `Duration` (a division by 10⁹).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Raw(u64);

/// The clock's counter now.
pub(crate) fn raw() -> Raw {
    Raw(clock().raw())
}

/// Nanoseconds since `start`, or zero if the clock reads earlier than that.
pub(crate) fn nanos_since(start: Raw) -> u64 {
    let clock = clock();
    clock.delta_as_nanos(start.0, clock.raw())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_clock_moves_forward_at_the_rate_of_the_system_clock() {
        // The first read calibrates the clock (milliseconds, once per
        // process): done before the reference starts, so it is not timed.
        let _ = now();
        let start = now();
        let system = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let reference = system.elapsed();
        let measured = since(start);
        assert!(measured >= Duration::from_millis(20), "{measured:?}");
        // Within a tenth of the system clock (and of its reads' order).
        let gap = measured.abs_diff(reference);
        assert!(gap < reference / 10, "{measured:?} against {reference:?}");
    }

    #[test]
    fn intervals_from_a_raw_reading_agree_with_instants() {
        let _ = now();
        let (start, instant) = (raw(), now());
        std::thread::sleep(Duration::from_millis(20));
        let (interval, reference) = (nanos_since(start), since(instant));
        let interval = Duration::from_nanos(interval);
        assert!(interval >= Duration::from_millis(20), "{interval:?}");
        // Read one after the other: within a millisecond of each other.
        assert!(
            interval.abs_diff(reference) < Duration::from_millis(1),
            "{interval:?} against {reference:?}"
        );
        let mut last = 0;
        for _ in 0..10_000 {
            let next = nanos_since(start);
            assert!(next >= last);
            last = next;
        }
    }

    #[test]
    fn time_never_goes_backwards() {
        let mut last = now();
        for _ in 0..10_000 {
            let next = now();
            assert!(next >= last);
            last = next;
        }
        assert_eq!(since(now() + Duration::from_secs(60)), Duration::ZERO);
    }
}
