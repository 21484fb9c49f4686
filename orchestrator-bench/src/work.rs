//! What a step does besides adding its inputs: nothing, sleep, or burn CPU.
//! Every contestant calls [`Load::perform`] in each step, so they all do the
//! same work.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The work of every step of one shape.
#[derive(Debug, Clone)]
pub enum Load {
    /// Steps only add their inputs.
    Trivial,
    /// Step `i` sleeps `nanos[i]` on the [precise timer](precise_sleep).
    Sleep {
        /// Each step's sleep, in nanoseconds.
        nanos: Arc<[u32]>,
        /// When the first step started and the last ended, and how late
        /// the timer woke each step (see [`Span::late`]).
        span: Arc<Span>,
    },
    /// Every step burns the CPU for `iterations` rounds of a hash.
    Spin {
        /// Rounds of the hash per step.
        iterations: u32,
        /// When the first step started and the last ended.
        span: Arc<Span>,
    },
}

impl Load {
    /// Steps that sleep `nanos[i]` each.
    pub fn sleep(nanos: Arc<[u32]>) -> Self {
        Load::Sleep {
            span: Arc::new(Span::for_steps(nanos.len())),
            nanos,
        }
    }

    /// Forgets the last run: its span and how long its steps slept.
    pub fn reset(&self) {
        if let Some(span) = self.span() {
            span.reset();
        }
    }

    /// How long each step slept in the last run, in nanoseconds, as the
    /// timer ended its sleep: as asked, and as late as the timer woke it.
    /// `None` unless the steps sleep and every step's sleep ended since the
    /// last [`reset`](Self::reset).
    pub fn slept(&self) -> Option<Vec<u64>> {
        match self {
            Load::Sleep { nanos, span } => nanos
                .iter()
                .zip(span.late())
                .map(|(&asked, late)| late.map(|late| u64::from(asked).saturating_add(late)))
                .collect(),
            Load::Trivial | Load::Spin { .. } => None,
        }
    }

    /// Does step `step`'s work.
    #[inline]
    pub async fn perform(&self, step: usize) {
        match self {
            Load::Trivial => {}
            Load::Sleep { nanos, span } => {
                let start = span.started();
                let late = precise_sleep(Duration::from_nanos(u64::from(nanos[step]))).await;
                span.ended(start);
                span.record_late(step, late);
            }
            Load::Spin { iterations, span } => {
                let start = span.started();
                std::hint::black_box(spin(*iterations));
                span.ended(start);
            }
        }
    }

    /// A whole step as hand-written code calls it: the work, then
    /// `1 + the sum of inputs`.
    #[inline]
    pub async fn step<const N: usize>(&self, step: usize, inputs: [u64; N]) -> u64 {
        self.perform(step).await;
        crate::dag::step_value(inputs)
    }

    /// Whether steps spend noticeable time (sleep or CPU): such shapes are
    /// judged by their makespan.
    pub fn span(&self) -> Option<&Arc<Span>> {
        match self {
            Load::Trivial => None,
            Load::Sleep { span, .. } | Load::Spin { span, .. } => Some(span),
        }
    }
}

/// Runs the steps of one layer concurrently, as `join!` does, for the
/// hand-written code: step `id` with `inputs` does its work and yields
/// `1 + the sum of inputs`. Every step's work is the same as in
/// [`Load::perform`]; the layer polls each unfinished step on every wake,
/// like `join!`, and allocates nothing.
pub fn join_layer<const K: usize, const N: usize>(
    load: &Load,
    steps: [(usize, [u64; K]); N],
) -> JoinLayer<'_, K, N> {
    JoinLayer {
        load,
        steps,
        slots: std::array::from_fn(|_| Slot::Start),
        done: [0; N],
        left: N,
    }
}

/// The future of [`join_layer`].
#[derive(Debug)]
pub struct JoinLayer<'a, const K: usize, const N: usize> {
    load: &'a Load,
    steps: [(usize, [u64; K]); N],
    slots: [Slot; N],
    done: [u64; N],
    left: usize,
}

#[derive(Debug)]
enum Slot {
    Start,
    /// Sleeping since the given time (see [`Span`]).
    Sleeping(PreciseSleep, u64),
    Done,
}

/// Records a finished sleep of step `step` of a sleeping load.
fn slept_in_layer(load: &Load, step: usize, start: u64, late: Duration) {
    if let Some(span) = load.span() {
        span.ended(start);
        span.record_late(step, late);
    }
}

impl<const K: usize, const N: usize> Future for JoinLayer<'_, K, N> {
    type Output = [u64; N];

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<[u64; N]> {
        let this = self.get_mut();
        for i in 0..N {
            let (step, inputs) = this.steps[i];
            let finished = match (&mut this.slots[i], this.load) {
                (Slot::Done, _) => continue,
                (Slot::Start, Load::Trivial) => true,
                (Slot::Start, Load::Spin { iterations, span }) => {
                    let start = span.started();
                    std::hint::black_box(spin(*iterations));
                    span.ended(start);
                    true
                }
                (Slot::Start, load @ Load::Sleep { nanos, span, .. }) => {
                    let start = span.started();
                    let mut sleep = precise_sleep(Duration::from_nanos(u64::from(nanos[step])));
                    if let Poll::Ready(late) = Pin::new(&mut sleep).poll(cx) {
                        slept_in_layer(load, step, start, late);
                        true
                    } else {
                        this.slots[i] = Slot::Sleeping(sleep, start);
                        false
                    }
                }
                (Slot::Sleeping(sleep, start), load) => match Pin::new(sleep).poll(cx) {
                    Poll::Ready(late) => {
                        slept_in_layer(load, step, *start, late);
                        true
                    }
                    Poll::Pending => false,
                },
            };
            if finished {
                this.slots[i] = Slot::Done;
                this.done[i] = crate::dag::step_value(inputs);
                this.left -= 1;
            }
        }
        if this.left == 0 {
            Poll::Ready(this.done)
        } else {
            Poll::Pending
        }
    }
}

/// The first start and the last end of the steps of a run, and the time
/// they spent in all.
#[derive(Debug)]
pub struct Span {
    /// Nanoseconds since [`epoch`].
    first_start: AtomicU64,
    last_end: AtomicU64,
    /// The sum of every step's time from its start to its end.
    busy: AtomicU64,
    /// Sleeping steps: how late the timer woke each, in nanoseconds after
    /// its deadline (the operating system's wake-up latency). Empty for
    /// other loads. (Recording it keeps the step's index across the sleep:
    /// 8 bytes more in every step's future, for every contestant.)
    late: Box<[AtomicU64]>,
}

/// What [`Span::late`] holds for a step whose sleep has not ended.
const NOT_WOKEN: u64 = u64::MAX;

/// A fixed instant that spans count from, so that reading the clock needs
/// no lock.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Default for Span {
    fn default() -> Self {
        epoch();
        Self {
            first_start: AtomicU64::new(u64::MAX),
            last_end: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            late: Box::default(),
        }
    }
}

impl Span {
    /// A span that also records how late the timer woke each of `steps`
    /// sleeping steps.
    pub fn for_steps(steps: usize) -> Self {
        Self {
            late: (0..steps).map(|_| AtomicU64::new(NOT_WOKEN)).collect(),
            ..Self::default()
        }
    }

    /// Forgets the last run.
    pub fn reset(&self) {
        self.first_start.store(u64::MAX, Ordering::SeqCst);
        self.last_end.store(0, Ordering::SeqCst);
        self.busy.store(0, Ordering::SeqCst);
        for late in &self.late {
            late.store(NOT_WOKEN, Ordering::Relaxed);
        }
    }

    /// Records that the timer woke step `step` `late` after its deadline
    /// (see [`precise_sleep`]).
    fn record_late(&self, step: usize, late: Duration) {
        if let Some(slot) = self.late.get(step) {
            slot.store(
                u64::try_from(late.as_nanos()).map_or(NOT_WOKEN - 1, |l| l.min(NOT_WOKEN - 1)),
                Ordering::Relaxed,
            );
        }
    }

    /// How late the timer woke each step in the last run, in nanoseconds
    /// (`None` for a step whose sleep has not ended since the last reset).
    pub fn late(&self) -> impl Iterator<Item = Option<u64>> + '_ {
        self.late
            .iter()
            .map(|l| Some(l.load(Ordering::Relaxed)).filter(|&l| l != NOT_WOKEN))
    }

    fn now() -> u64 {
        epoch().elapsed().as_nanos() as u64
    }

    /// Records a step's start; returns the time to pass to [`Self::ended`].
    fn started(&self) -> u64 {
        let now = Self::now();
        self.first_start.fetch_min(now, Ordering::Relaxed);
        now
    }

    fn ended(&self, start: u64) {
        let now = Self::now();
        self.last_end.fetch_max(now, Ordering::Relaxed);
        self.busy
            .fetch_add(now.saturating_sub(start), Ordering::Relaxed);
    }

    /// How many steps were in progress at once, on average over the
    /// makespan: the sum of the steps' times ÷ the makespan. For CPU-bound
    /// steps it is the number of threads the steps kept busy (at most the
    /// number of workers), whatever else the machine runs.
    pub fn parallelism(&self) -> Option<f64> {
        let makespan = self.makespan()?.as_secs_f64();
        (makespan > 0.0).then(|| {
            Duration::from_nanos(self.busy.load(Ordering::SeqCst)).as_secs_f64() / makespan
        })
    }

    /// From the first step's start to the last step's end.
    pub fn makespan(&self) -> Option<Duration> {
        let (start, end) = (
            self.first_start.load(Ordering::SeqCst),
            self.last_end.load(Ordering::SeqCst),
        );
        (start <= end).then(|| Duration::from_nanos(end - start))
    }
}

/// `iterations` rounds of a multiply-xorshift hash: CPU work that the
/// optimizer cannot remove.
pub fn spin(iterations: u32) -> u64 {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..iterations {
        x = x
            .wrapping_mul(0x5851_F42D_4C95_7F2D)
            .wrapping_add(u64::from(i));
        x ^= x >> 29;
    }
    x
}

/// How many [`spin`] iterations take about `target` on this machine.
pub fn calibrate_spin(target: Duration) -> u32 {
    let mut iterations = 1_000u32;
    loop {
        let start = Instant::now();
        std::hint::black_box(spin(iterations));
        let took = start.elapsed();
        if took >= Duration::from_millis(20) {
            // Take the fastest of a few tries: other processes only slow
            // it down.
            let best = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(spin(iterations));
                    start.elapsed()
                })
                .min()
                .unwrap_or(took);
            let per_iteration = best.as_secs_f64() / f64::from(iterations);
            return (target.as_secs_f64() / per_iteration).max(1.0) as u32;
        }
        iterations = iterations.saturating_mul(2);
    }
}

/// Sleeps `duration`, woken by a dedicated timer thread with the kernel's
/// timer slack set to 1 ns, so sleeps of microseconds are honoured to within
/// a few microseconds of wake-up latency. Tokio's own timer rounds every
/// sleep up to its 1 ms tick, which would make a 1 µs step take 1 ms.
///
/// Works under any executor: it only stores the task's waker. It yields
/// how late it ended: from its deadline until the timer woke its task (or,
/// when the deadline had passed by its first poll, until that poll), the
/// timer thread's own wake-up latency; what follows the wake (the executor
/// polling the task) is not part of it.
pub fn precise_sleep(duration: Duration) -> PreciseSleep {
    PreciseSleep {
        deadline: Instant::now() + duration,
        entry: None,
    }
}

/// The future of [`precise_sleep`].
#[derive(Debug)]
pub struct PreciseSleep {
    deadline: Instant,
    entry: Option<Arc<Entry>>,
}

#[derive(Debug)]
struct Entry {
    fired: AtomicBool,
    /// When the timer woke the sleep's waker, in nanoseconds since
    /// [`epoch`]: set before `fired`.
    fired_at: AtomicU64,
    waker: Mutex<Waker>,
}

struct Timer {
    queue: Mutex<BinaryHeap<Reverse<Queued>>>,
    changed: Condvar,
}

struct Queued {
    deadline: Instant,
    entry: Arc<Entry>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            queue: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("precise-timer".into())
            .spawn(move || run_timer(timer))
            .expect("the timer thread starts");
        timer
    })
}

fn run_timer(timer: &'static Timer) {
    set_timer_slack_to_one_nanosecond();
    let mut queue = timer.queue.lock().unwrap();
    loop {
        let now = Instant::now();
        while queue.peek().is_some_and(|q| q.0.deadline <= now) {
            let Some(Reverse(due)) = queue.pop() else {
                break;
            };
            due.entry.fired_at.store(Span::now(), Ordering::Relaxed);
            due.entry.fired.store(true, Ordering::Release);
            due.entry.waker.lock().unwrap().wake_by_ref();
        }
        queue = match queue.peek() {
            None => timer.changed.wait(queue).unwrap(),
            Some(next) => {
                let wait = next.0.deadline.saturating_duration_since(now);
                timer.changed.wait_timeout(queue, wait).unwrap().0
            }
        };
    }
}

/// Linux lets a thread ask for precise timer wake-ups; by default the kernel
/// may delay them by up to 50 µs to batch them.
fn set_timer_slack_to_one_nanosecond() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only
        // changes the calling thread's timer slack; no memory is passed.
        let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    }
}

impl Future for PreciseSleep {
    type Output = Duration;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Duration> {
        if let Some(entry) = &self.entry {
            // `fired` is read under the waker's lock: the timer sets it and
            // then takes the lock to wake, so either it is seen here, or
            // the timer wakes the waker stored here. (Read before taking
            // the lock, a timer firing in between woke the previous waker
            // and this poll's was never woken: a whole suite run hung on
            // it once in about a million sleeps.)
            let mut waker = entry.waker.lock().unwrap();
            if entry.fired.load(Ordering::Acquire) {
                let fired_at =
                    epoch() + Duration::from_nanos(entry.fired_at.load(Ordering::Relaxed));
                return Poll::Ready(fired_at.saturating_duration_since(self.deadline));
            }
            if !waker.will_wake(cx.waker()) {
                waker.clone_from(cx.waker());
            }
            return Poll::Pending;
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Poll::Ready(now - self.deadline);
        }
        let entry = Arc::new(Entry {
            fired: AtomicBool::new(false),
            fired_at: AtomicU64::new(0),
            waker: Mutex::new(cx.waker().clone()),
        });
        self.entry = Some(Arc::clone(&entry));
        let timer = timer();
        let mut queue = timer.queue.lock().unwrap();
        let earliest = queue.peek().is_none_or(|q| self.deadline < q.0.deadline);
        queue.push(Reverse(Queued {
            deadline: self.deadline,
            entry,
        }));
        drop(queue);
        if earliest {
            timer.changed.notify_one();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precise_sleep_sleeps_at_least_its_duration_and_wakes() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut worst = Duration::ZERO;
        for micros in [1, 50, 300, 1500] {
            let wanted = Duration::from_micros(micros);
            let start = Instant::now();
            runtime.block_on(precise_sleep(wanted));
            let took = start.elapsed();
            assert!(took >= wanted, "{took:?} < {wanted:?}");
            worst = worst.max(took - wanted);
        }
        // On a quiet machine it is late by microseconds; the bound only
        // catches a timer that does not wake, as tests run in parallel on a
        // shared machine.
        assert!(worst < Duration::from_millis(50), "late by {worst:?}");
    }

    #[test]
    fn many_sleeps_at_once_all_wake() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        runtime.block_on(async {
            let sleeps =
                (0..1000u64).map(|i| tokio::spawn(precise_sleep(Duration::from_micros(i % 700))));
            for sleep in sleeps.collect::<Vec<_>>() {
                sleep.await.unwrap();
            }
        });
    }

    /// A waker that records that it was woken.
    struct Flag(AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
    }

    #[test]
    fn a_sleep_polled_again_with_another_waker_wakes_that_one() {
        // As a step moved into a `FuturesUnordered` is: polled with one
        // waker, then at once with another, while the timer may be firing.
        // The second waker must be woken. (A poll that read `fired` before
        // taking the waker's lock lost that race now and then: the timer
        // woke the first waker, and the suite hung. Sleeps due in
        // 0.2-1.7 µs make the timer fire around the second poll: with the
        // lock taken after the read, this failed 4 runs in 5.)
        for i in 0..100_000u64 {
            let mut sleep = std::pin::pin!(precise_sleep(Duration::from_nanos(200 + i % 1500)));
            let mut pending_with = |flag: &Arc<Flag>| {
                let waker = Waker::from(Arc::clone(flag));
                sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            };
            let first = Arc::new(Flag(AtomicBool::new(false)));
            let second = Arc::new(Flag(AtomicBool::new(false)));
            // Polled with `second` only while still pending with `first`.
            if !(pending_with(&first) && pending_with(&second)) {
                continue;
            }
            let waited = Instant::now();
            while !second.0.load(Ordering::Acquire) {
                assert!(
                    waited.elapsed() < Duration::from_secs(5),
                    "the waker of the last poll was never woken"
                );
                std::thread::yield_now();
            }
        }
    }

    #[test]
    fn join_layer_runs_every_step_and_adds_its_inputs() {
        let trivial = Load::Trivial;
        let values = futures::executor::block_on(join_layer(&trivial, [(0, [1, 2]), (1, [5, 0])]));
        assert_eq!(values, [4, 6]);
        let sleepy = Load::sleep(Arc::from([300_000u32, 1_000]));
        let start = Instant::now();
        let values = futures::executor::block_on(join_layer(&sleepy, [(0, [1]), (1, [2])]));
        let took = start.elapsed();
        assert_eq!(values, [2, 3]);
        assert!(took >= Duration::from_micros(300));
        let span = sleepy.span().unwrap();
        assert!(span.makespan().unwrap() >= Duration::from_micros(300));
        // Each step's sleep is recorded, at least as long as asked and no
        // longer than the whole layer took.
        let slept = sleepy.slept().unwrap();
        assert!(slept[0] >= 300_000 && slept[1] >= 1_000, "{slept:?}");
        assert!(
            slept.iter().all(|&s| s <= took.as_nanos() as u64),
            "{slept:?}"
        );
        sleepy.reset();
        assert_eq!(sleepy.slept(), None);
        assert_eq!(span.makespan(), None);
    }

    #[test]
    fn a_sleep_yields_how_late_the_timer_woke_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for micros in [0, 1, 200, 1500] {
            let wanted = Duration::from_micros(micros);
            let start = Instant::now();
            let late = runtime.block_on(precise_sleep(wanted));
            let took = start.elapsed();
            assert!(wanted + late <= took, "{wanted:?} + {late:?} > {took:?}");
        }
    }

    #[test]
    fn span_measures_from_first_start_to_last_end() {
        let span = Arc::new(Span::default());
        let load = Load::Spin {
            iterations: 10,
            span: Arc::clone(&span),
        };
        assert_eq!(span.makespan(), None);
        futures::executor::block_on(async {
            load.perform(0).await;
            load.perform(1).await;
        });
        assert!(span.makespan().is_some());
    }
}
