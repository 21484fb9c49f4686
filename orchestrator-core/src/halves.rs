//! Splitting big loops in two halves that run on two threads.
//!
//! The validation of a million-step workflow spends most of its time
//! resolving dependency names, a loop whose iterations are independent.
//! When the work is big enough to be worth a thread, it splits its range in
//! two halves, with half of any budget each, and the second half runs on a
//! scoped thread (or after the first, when the system gives no thread). The split depends only on the
//! size of the work, never on the number of cores, so results are the same
//! everywhere.

use std::ops::Range;

/// Below this much work (loop iterations, or dependencies to look at), a
/// thread costs more than it saves.
pub(crate) const THREAD_WORTHY: usize = 100_000;

/// Runs `work` on `0..len` in one part when `size` is below
/// [`THREAD_WORTHY`], otherwise in two halves, the second on a scoped thread
/// when one can be had. `work` gets its range and the number of parts (to
/// share budgets); the results come first part first.
pub(crate) fn in_parts<T, F>(len: usize, size: usize, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>, usize) -> T + Sync,
{
    if size < THREAD_WORTHY {
        return vec![work(0..len, 1)];
    }
    let middle = len / 2;
    let work = &work;
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name(String::from("orchestrator-analysis"))
            .spawn_scoped(scope, move || work(middle..len, 2));
        let head = work(0..middle, 2);
        let tail = match spawned.map(|handle| handle.join()) {
            Ok(Ok(tail)) => tail,
            // A panic in the second half is raised again here, as it would
            // be without a thread.
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // No thread to be had: do it here.
            Err(_) => work(middle..len, 2),
        };
        vec![head, tail]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_work_is_one_part_and_big_work_two_halves_in_order() {
        let parts = in_parts(7, 10, |range, parts| (range.collect::<Vec<_>>(), parts));
        assert_eq!(parts, [(vec![0, 1, 2, 3, 4, 5, 6], 1)]);
        let parts = in_parts(7, THREAD_WORTHY, |range, parts| {
            (range.collect::<Vec<_>>(), parts)
        });
        assert_eq!(parts, [(vec![0, 1, 2], 2), (vec![3, 4, 5, 6], 2)]);
    }
}
