//! A global allocator that counts live heap bytes and their peak, so a run's
//! peak memory can be read without an outside tool.
//!
//! Counting is off by default (one relaxed load per allocation) and is
//! switched on only for the untimed measuring runs, so the timed runs pay
//! nothing measurable for it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator, plus counters of live and peak bytes.
pub struct CountingAlloc;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl CountingAlloc {
    fn add(size: usize) {
        if ENABLED.load(Ordering::Relaxed) {
            let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
    }

    fn sub(size: usize) {
        if ENABLED.load(Ordering::Relaxed) {
            // Blocks allocated before counting started may be freed while it
            // runs: saturate at zero instead of wrapping.
            let _ = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
                Some(live.saturating_sub(size))
            });
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters only read sizes
// and never touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours: `layout` has a non-zero size.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            Self::add(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Self::add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        Self::sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` (through us) with
        // `layout`; `new_size` is valid by our caller's contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            Self::sub(layout.size());
            Self::add(new_size);
        }
        new
    }
}

/// Peak heap bytes above the level at the start, for the code run between
/// [`start`] and [`stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// The highest number of live bytes allocated since `start` (net of
    /// what was freed since then).
    pub peak: usize,
    /// Bytes allocated since `start` still live at `stop`.
    pub retained: usize,
}

/// Starts counting from zero. Only one measurement may run at a time.
pub fn start() {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    ENABLED.store(true, Ordering::SeqCst);
}

/// Stops counting and returns the measurement since [`start`].
pub fn stop() -> Measurement {
    ENABLED.store(false, Ordering::SeqCst);
    Measurement {
        peak: PEAK.load(Ordering::Relaxed),
        retained: LIVE.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Mutex;

    // The counters are global: one measuring test at a time. Other test
    // threads may still allocate meanwhile, so bounds leave room for them.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    #[test]
    fn counts_an_allocation_and_its_peak() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        start();
        let big = vec![0u8; 1 << 20];
        std::hint::black_box(&big);
        drop(big);
        let m = stop();
        // Only the peak is certain: other test threads may allocate or free
        // meanwhile, and frees saturate at zero, so they can only lower the
        // count *after* the peak.
        assert!(m.peak >= 1 << 20, "{m:?}");
    }

    #[test]
    fn counts_a_grown_vector_at_its_new_size() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        start();
        let mut v: Vec<u8> = Vec::with_capacity(16);
        v.resize(4 << 20, 1);
        std::hint::black_box(&v);
        let m = stop();
        assert!(m.peak >= 4 << 20, "{m:?}");
    }
}
