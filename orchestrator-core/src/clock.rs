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
