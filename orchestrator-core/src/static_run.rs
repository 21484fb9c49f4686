//! The static path of a `workflow!` type: its steps' futures live in the
//! run's own future, in a balanced tree of [`Pair`]s over one [`Leaf`] per
//! step that the macro generates, and each step reads its dependencies'
//! outputs from typed slots, so a step costs no box, no `StepContext`, no
//! output lookup by name and no downcast.
//!
//! It runs only what needs nothing else from the executor: steps with
//! default options (no retry, timeout, own task, trigger rule or
//! condition) and no branch, on an engine without event subscribers,
//! concurrency limit, fail-fast or run timeout, and no `tracing`
//! subscriber for the run's spans. Anything else goes through the full
//! executor (`begin` returns `None`), so a run's report and events never
//! depend on which path ran it.
//!
//! The bookkeeping is the executor's, without what these runs cannot use:
//! a step starts as soon as its last dependency succeeds; a step whose
//! dependency did not succeed is skipped with the same reason; a panic is
//! the step's failure; the report is the same.

use std::any::TypeId;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, SystemTime};

use crate::clock::{self, Raw};

use crate::context::Resources;
use crate::dsl::context_error;
use crate::engine::WorkflowEngine;
use crate::error::{BoxError, ContextError};
use crate::executor::skip_reason;
use crate::report::{
    Output, RunOutcome, RunReport, StepFailure, StepOutput, StepReport, StepStatus, epoch_nanos,
};
use crate::run_record::{Ran, RunRecord, Span};
use crate::workflow::{Plan, TriggerRule, Workflow, WorkflowInner};

/// How a step of a static run ended, as the run records it. Its output
/// went to its typed slot; a report erases it from there once made (see
/// [`RunRecord`]).
pub struct Finished(Result<(), StepFailure>);

/// A run of a `workflow!` type on the static path; made by [`StaticRun::begin`].
pub struct StaticRun {
    workflow: Arc<WorkflowInner>,
    plan: Arc<Plan>,
    run_id: u64,
    env: StaticEnv,
}

/// What the steps of a static run read besides their dependencies: the
/// engine's resources.
pub struct StaticEnv {
    resources: Arc<Resources>,
}

impl StaticEnv {
    /// The engine's resource of type `T`, for step `step`; the error is
    /// the executor's [`ContextError`], boxed.
    ///
    /// Out of line: one copy per resource type, not one in every step's
    /// code (a run goes through each step's code once, so every byte of it
    /// is an instruction-cache miss in a large workflow).
    #[inline(never)]
    pub fn resource<T: Send + Sync + 'static>(&self, step: &str) -> Result<&T, BoxError> {
        match self
            .resources
            .get_erased(TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
        {
            Some(value) => Ok(value),
            None => Err(context_error(ContextError::missing_resource(
                step,
                std::any::type_name::<T>(),
            ))),
        }
    }
}

/// The output of dependency `dependency` of step `step`, from its slot.
/// A step starts only once every dependency succeeded, so the slot is set;
/// an empty one is reported as the executor reports a missing output (its
/// [`ContextError`], boxed).
pub fn output<'a, T: 'static>(
    slot: &'a OnceLock<StepOutput<T>>,
    step: &str,
    dependency: &str,
) -> Result<&'a T, BoxError> {
    match slot.get() {
        Some(value) => Ok(value),
        None => Err(no_output(step, dependency)),
    }
}

/// The error of [`output`] for an empty slot: one call in each step's code.
#[cold]
#[inline(never)]
fn no_output(step: &str, dependency: &str) -> BoxError {
    context_error(ContextError::no_output(step, dependency))
}

/// What a step's function returns: `Result<T, E>` with an error the run
/// boxes. A step alone in its layer on a fused run's path is awaited as
/// the function's own future, and [`FusedRun::end`] takes its result as
/// it is, so each step's code neither converts nor wraps it.
pub trait StepResult {
    /// The step's output, `T`.
    type Ok: Send + Sync + 'static;
    /// The result with its error boxed.
    fn boxed(self) -> Result<Self::Ok, BoxError>;
}

impl<T, E> StepResult for Result<T, E>
where
    T: Send + Sync + 'static,
    E: Into<BoxError>,
{
    type Ok = T;

    #[inline]
    fn boxed(self) -> Result<T, BoxError> {
        self.map_err(Into::into)
    }
}

/// The steps of a static run, as a balanced tree of [`Pair`]s over one
/// [`Leaf`] per step: one value, in the run's future, holding every step's
/// future, each reached by its position in a few comparisons. (One local
/// per step, reached through a `match`, made the compiler's work grow with
/// the cube of the number of steps.)
pub trait Steps {
    /// How many steps this holds.
    const LEN: usize;
    /// Starts or polls step `step` (counted within this subtree). A panic
    /// in the step's future unwinds out of it: the driver catches it, as
    /// the step's failure, and never asks for that step again.
    fn advance(self: Pin<&mut Self>, step: usize, cx: &mut Context<'_>) -> Poll<Finished>;
}

pin_project_lite::pin_project! {
    /// One step: its future (made when the run begins, first polled once its
    /// dependencies succeeded), whether it finished, and where its output
    /// goes.
    ///
    /// A finished future stays in place until the run ends: it is the
    /// state machine of an `async fn` the macro generates, which drops
    /// everything it holds when it returns (or panics), so dropping it at
    /// once would free nothing, and would put that state machine's whole
    /// drop code in every step's code, which the run walks through once
    /// per step.
    pub struct Leaf<T, O, F> {
        #[pin]
        fut: F,
        done: bool,
        out: O,
        output: PhantomData<fn() -> T>,
    }
}

pin_project_lite::pin_project! {
    /// Two subtrees of steps: `A`'s first, then `B`'s.
    pub struct Pair<A, B> {
        #[pin]
        first: A,
        #[pin]
        second: B,
    }
}

/// The leaf of a step whose future is `fut` and whose output goes to `out`:
/// a write-once cell its dependents read once they start (the tree of
/// every step), or a plain slot no other step reads while the step runs
/// (a layer of a [`FusedRun`]). A future does nothing until polled, so it
/// may be made before its dependencies ran; it reads their outputs when
/// first polled.
pub fn leaf<T, O, F>(fut: F, out: O) -> Leaf<T, O, F>
where
    T: Send + Sync + 'static,
    O: Slot<T>,
    F: Future<Output = Result<T, BoxError>>,
{
    Leaf {
        fut,
        done: false,
        out,
        output: PhantomData,
    }
}

/// Where a [`Leaf`] puts its step's typed output, for its dependents.
pub trait Slot<T> {
    /// Stores the output; a step finishes once, so this is called once.
    fn put(&mut self, value: T);
}

/// The tree's slot, which its dependents read once they start.
impl<T: Send + Sync + 'static> Slot<T> for &OnceLock<StepOutput<T>> {
    fn put(&mut self, value: T) {
        // Each slot is set once: the step finishes once.
        let _ = self.set(Output::typed_only(value));
    }
}

/// A fused layer's slot, which no other step of the layer reads.
impl<T: Send + Sync + 'static> Slot<T> for &mut Option<StepOutput<T>> {
    fn put(&mut self, value: T) {
        **self = Some(Output::typed_only(value));
    }
}

/// The steps of `first`, then those of `second`.
pub fn pair<A: Steps, B: Steps>(first: A, second: B) -> Pair<A, B> {
    Pair { first, second }
}

/// The most bytes of step futures a static run holds in an optimized
/// build: its future, which holds all of them, is made on the stack before
/// it moves into its box, and a tokio worker has a 2 MiB stack.
pub const STATIC_FUTURES_LIMIT: usize = 512 * 1024;

/// The same in a debug build, whose stack frames keep every temporary: the
/// function that makes a chunk of 16 step futures holds several copies of
/// each.
pub const STATIC_FUTURES_LIMIT_DEBUG: usize = 64 * 1024;

/// Whether a workflow whose step futures take `sizes` bytes each runs on
/// the static path (`debug`: in a debug build). A workflow of larger ones
/// runs on the executor, which boxes each step's future on its own, so a
/// workflow of steps with large futures (buffers, deep call chains) never
/// overflows the stack.
///
/// A `const fn`: the generated code computes it once, as it compiles.
pub const fn fits_static(sizes: &[usize], debug: bool) -> bool {
    let mut total = 0usize;
    let mut i = 0;
    while i < sizes.len() {
        total = total.saturating_add(sizes[i]);
        i += 1;
    }
    let limit = if debug {
        STATIC_FUTURES_LIMIT_DEBUG
    } else {
        STATIC_FUTURES_LIMIT
    };
    total <= limit
}

/// The size of the future `make` returns, without making it: the
/// generated code asks it of each step's future-making function.
pub const fn future_size<A, B, C, F: Future>(_make: &impl FnOnce(A, B, C) -> F) -> usize {
    std::mem::size_of::<F>()
}

/// The size of the future `make` returns when its step's parameters could
/// be read, without making it: [`future_size`] for the functions that
/// make a future only once the step's resources are at hand.
pub const fn made_future_size<A, B, C, F: Future>(
    _make: &impl FnOnce(A, B, C) -> Result<F, BoxError>,
) -> usize {
    std::mem::size_of::<F>()
}

impl<T, O, F> Steps for Leaf<T, O, F>
where
    T: Send + Sync + 'static,
    O: Slot<T>,
    F: Future<Output = Result<T, BoxError>>,
{
    const LEN: usize = 1;

    // Each step's code stays its own function: inlined into the tree, a
    // thousand steps make one function too big for the optimizer to handle
    // in reasonable time.
    #[inline(never)]
    fn advance(self: Pin<&mut Self>, step: usize, cx: &mut Context<'_>) -> Poll<Finished> {
        if step != 0 {
            return no_such_step(step);
        }
        let this = self.project();
        if *this.done {
            return finished_already();
        }
        // A panic unwinds to the driver, which catches it around its call
        // (see `caught`): once per driver, not once in every step's code.
        // The step is then over: the driver never asks for it again.
        let finished = match this.fut.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(value)) => succeeded(value, this.out),
            Poll::Ready(Err(error)) => failed(error),
        };
        *this.done = true;
        Poll::Ready(finished)
    }
}

/// `advance`, a step's poll through [`Steps::advance`], with a panic in it
/// caught as the step's failure.
fn caught(advance: impl FnOnce() -> Poll<Finished>) -> Poll<Finished> {
    std::panic::catch_unwind(AssertUnwindSafe(advance))
        .unwrap_or_else(|payload| Poll::Ready(panicked(payload)))
}

// What a leaf does once its step finished is out of line, generic over the
// output type alone: steps with the same output type share one copy, and
// each step's own code is little more than the poll of its future (a
// thousand steps' code runs through the instruction cache once per run).

/// Stores a step's output for its dependents (and a report made later):
/// a small value inline, any other in one allocation a report shares.
#[inline(never)]
fn succeeded<T: Send + Sync + 'static, O: Slot<T>>(value: T, out: &mut O) -> Finished {
    out.put(value);
    Finished(Ok(()))
}

/// What a leaf answers when asked for its step again after it finished
/// (the driver never does): a failure, never a panic.
#[cold]
#[inline(never)]
fn finished_already() -> Poll<Finished> {
    Poll::Ready(failed(BoxError::from(
        "the step was polled after it finished",
    )))
}

#[cold]
#[inline(never)]
fn failed(error: BoxError) -> Finished {
    Finished(Err(StepFailure::from_error(error)))
}

#[cold]
#[inline(never)]
fn panicked(payload: Box<dyn std::any::Any + Send>) -> Finished {
    Finished(Err(StepFailure::from_panic(&*payload)))
}

impl<A: Steps, B: Steps> Steps for Pair<A, B> {
    const LEN: usize = A::LEN + B::LEN;

    fn advance(self: Pin<&mut Self>, step: usize, cx: &mut Context<'_>) -> Poll<Finished> {
        let this = self.project();
        if step < A::LEN {
            this.first.advance(step, cx)
        } else {
            this.second.advance(step - A::LEN, cx)
        }
    }
}

/// A boxed subtree: the static path builds a large workflow's leaves in
/// boxed chunks of a few steps, each in its own function, so no stack frame
/// holds every step's future at once.
impl<A: Steps> Steps for Pin<Box<A>> {
    const LEN: usize = A::LEN;

    fn advance(self: Pin<&mut Self>, step: usize, cx: &mut Context<'_>) -> Poll<Finished> {
        self.get_mut().as_mut().advance(step, cx)
    }
}

/// What [`Steps::advance`] answers for a position past the tree's steps:
/// a failure, never a hang (the driver asks only for the workflow's steps).
#[cold]
fn no_such_step(step: usize) -> Poll<Finished> {
    Poll::Ready(Finished(Err(StepFailure::from_error(format!(
        "the workflow has no step at position {step}"
    )))))
}

impl StaticRun {
    /// A static run of `workflow` on `engine`, or `None` when the workflow
    /// or the engine asks for something only the full executor does (see
    /// the module docs), or the workflow is invalid (the full executor
    /// reports why).
    pub fn begin(engine: &WorkflowEngine, workflow: &Workflow) -> Option<Self> {
        let inner = &workflow.inner;
        let plan = inner.plan().ok()?;
        if !plan.plain || !engine.runs_plain() || tracing::span_enabled!(tracing::Level::INFO) {
            return None;
        }
        Some(Self {
            workflow: Arc::clone(inner),
            plan,
            run_id: engine.next_run_id(),
            env: StaticEnv {
                resources: engine.resources(),
            },
        })
    }

    /// What the steps read besides their dependencies.
    pub fn env(&self) -> &StaticEnv {
        &self.env
    }

    /// Runs every step to its end and returns what the run recorded, from
    /// which its report is made (see [`RunRecord`]).
    /// `advance(step, cx)` starts or polls step `step` (with [`advance`]).
    pub async fn drive<F>(&self, mut advance: F) -> RunRecord
    where
        F: FnMut(usize, &mut Context<'_>) -> Poll<Finished>,
    {
        let wf = &*self.workflow;
        let plan = &*self.plan;
        let started_at = SystemTime::now();
        let mut state = State {
            records: Records::new(&self.workflow, started_at),
            remaining: plan.dependency_counts(wf),
            ready: plan.roots.iter().copied().collect(),
            waiting: Waiting::default(),
            ended: Vec::new(),
            settled: Vec::new(),
            start: clock::raw(),
        };
        std::future::poll_fn(|cx| state.poll(cx, wf, plan, &mut advance)).await;
        let report = RunReport {
            index: Some(Arc::clone(&plan.index)),
            workflow: wf.name.clone(),
            run_id: self.run_id,
            outcome: RunOutcome::Completed,
            started_at,
            elapsed: Duration::from_nanos(nanos_since(state.start)),
            steps: Vec::new(),
        };
        state.records.into_record(report)
    }
}

/// What a static run records of its steps as they end: while every step
/// succeeded, each one's span alone (its report is made from the spans and
/// the typed outputs if asked for); from the first that did not, a report
/// of each step.
struct Records {
    ran: Ran,
    /// Each step's report, made when the first step did not succeed.
    steps: Vec<StepReport>,
    /// Whether every step that ended so far succeeded.
    clean: bool,
}

impl Records {
    /// The records of `wf`'s steps, for a run started `started_at`.
    fn new(wf: &Arc<WorkflowInner>, started_at: SystemTime) -> Self {
        Self {
            ran: Ran {
                spans: vec![Span::NEVER; wf.steps.len()],
                workflow: Arc::clone(wf),
                epoch_nanos: epoch_nanos(started_at),
            },
            steps: Vec::new(),
            clean: true,
        }
    }

    /// Records how `step` ended, started `started` and ended `now`
    /// nanoseconds after the run started: its one attempt, timing, and
    /// failure (logged, as the executor logs it).
    #[inline]
    fn end(&mut self, step: u32, started: u64, now: u64, result: Result<(), StepFailure>) {
        // Every caller passes a step of the run; should one not, there is
        // nothing to record.
        let Some(span) = self.ran.spans.get_mut(step as usize) else {
            return;
        };
        *span = Span {
            started,
            duration: now.saturating_sub(started),
        };
        if result.is_err() || !self.clean {
            self.report(step, result);
        }
    }

    /// Records in its report how `step` ended, once a step did not
    /// succeed: the reports of every step are made then.
    #[cold]
    #[inline(never)]
    fn report(&mut self, step: u32, result: Result<(), StepFailure>) {
        if self.clean {
            self.clean = false;
            self.steps = self.ran.records();
        }
        let (Some(record), Some(span), Some(def)) = (
            self.steps.get_mut(step as usize),
            self.ran.spans.get(step as usize),
            self.ran.workflow.steps.get(step as usize),
        ) else {
            return;
        };
        record.attempts = 1;
        record.set_timing_nanos(
            self.ran.epoch_nanos.saturating_add(span.started),
            span.duration,
        );
        match result {
            Ok(()) => record.status = Some(StepStatus::Succeeded),
            Err(failure) => {
                tracing::warn!(step = %def.name, error = %failure, attempts = 1, "step did not succeed");
                record.status = Some(StepStatus::Failed);
                record.detail_mut().failure = Some(failure);
            }
        }
    }

    /// What the run recorded, with `report`'s header (its steps' reports
    /// are these records).
    fn into_record(self, report: RunReport) -> RunRecord {
        if self.clean {
            return RunRecord::succeeded(report, self.ran);
        }
        RunRecord::made(RunReport {
            steps: self.steps,
            ..report
        })
    }
}

/// A static run of a workflow whose steps form complete layers: every
/// step of a layer depends on every step of the layer before (a pipeline,
/// a fan-out and its fan-in, a chain). The earliest a step can start is
/// then when the layer before it ends, so the generated code runs the
/// layers in order, as a person would write them by hand: a layer of one
/// step is awaited in the generated code itself, between
/// [`FusedRun::begin`] and [`FusedRun::end`] (a run of such layers
/// reserved at once, [`FusedRun::reserve`], its panics caught around it,
/// [`segment`]), a wider one is joined
/// ([`FusedRun::layer`]); each step's future is made when its layer
/// starts, from its dependencies' outputs, and each output goes to a
/// plain slot of the run. No tree, no ready queue, no dependency counts.
/// Made by [`StaticRun::fused`]; the report is the same as the executor's,
/// made from the run's [`RunRecord`]: as the run ends when a step did not
/// succeed, otherwise when first asked for (the typed outputs already
/// hold what a caller reads most).
pub struct FusedRun {
    workflow: Arc<WorkflowInner>,
    plan: Arc<Plan>,
    run_id: u64,
    records: Records,
    started_at: SystemTime,
    start: Raw,
    /// Nanoseconds since `start` at the last clock read: when the step
    /// that finished last finished, so when the next one starts.
    last: u64,
    /// Steps left to start in this poll of the run before it yields.
    budget: u32,
    /// The step that is a layer of its own running now ([`FusedRun::begin`]),
    /// `NO_STEP` between steps; and when it started.
    current: u32,
    started: u64,
}

/// [`FusedRun::current`] between steps.
const NO_STEP: u32 = u32::MAX;

/// How many steps a run starts in one poll before it lets other tasks run
/// (as the executor and the static path's driver do).
const BUDGET: u32 = 1024;

impl StaticRun {
    /// This run as a [`FusedRun`], and what its steps read besides their
    /// dependencies.
    pub fn fused(self) -> (FusedRun, StaticEnv) {
        let started_at = SystemTime::now();
        let run = FusedRun {
            records: Records::new(&self.workflow, started_at),
            workflow: self.workflow,
            plan: self.plan,
            run_id: self.run_id,
            started_at,
            start: clock::raw(),
            last: 0,
            budget: BUDGET,
            current: NO_STEP,
            started: 0,
        };
        (run, self.env)
    }
}

impl FusedRun {
    /// Nanoseconds since the run started.
    fn now(&self) -> u64 {
        nanos_since(self.start)
    }

    /// Records how `step` ended.
    #[inline]
    fn settle(&mut self, step: u32, started: u64, now: u64, result: Result<(), StepFailure>) {
        self.records.end(step, started, now, result);
    }

    /// Makes room in this poll of the run for `steps` steps that are
    /// layers of their own (a run of them, awaited in sequence, reserves
    /// them at once): once the run started its budget of steps in this
    /// poll, it yields first, so a long chain of steps that never wait
    /// lets other tasks run.
    pub fn reserve(&mut self, steps: u32) -> Reserve<'_> {
        Reserve {
            run: self,
            steps,
            yielded: false,
        }
    }

    /// Step `step`, a layer of its own, starts: it ran once its future is
    /// awaited and the result handed to [`FusedRun::end`]. A panic while
    /// it runs is its failure ([`FusedRun::step_panicked`]).
    #[inline]
    pub fn begin(&mut self, step: u32) {
        self.current = step;
        self.started = if self.last == u64::MAX {
            self.clock_restarts()
        } else {
            self.last
        };
    }

    /// The clock read when a step starts after the run yielded.
    #[cold]
    #[inline(never)]
    fn clock_restarts(&mut self) -> u64 {
        self.last = self.now();
        self.last
    }

    /// Records how the step begun last ended, with `result`, and puts its
    /// typed output in `out`: whether it succeeded (a failure is recorded
    /// as the executor records it). Out of line, generic over the output
    /// type alone: steps with the same output type share one copy, and
    /// each step's own code is a call.
    #[inline(never)]
    pub fn end<R: StepResult>(&mut self, result: R, out: &mut Option<StepOutput<R::Ok>>) -> bool {
        let (step, now) = self.take_ended();
        match result.boxed() {
            Ok(value) => {
                *out = Some(Output::typed_only(value));
                self.settle(step, self.started, now, Ok(()));
                true
            }
            Err(error) => {
                self.step_failed(step, error);
                false
            }
        }
    }

    /// Records that the step begun last failed before its function was
    /// called: one of its parameters could not be read (a missing
    /// resource).
    #[cold]
    #[inline(never)]
    pub fn unmade(&mut self, error: BoxError) {
        let (step, _) = self.take_ended();
        self.step_failed(step, error);
    }

    /// The step begun last, which has just ended (`NO_STEP` when none
    /// was running), and the clock's reading: when it ended.
    #[inline]
    fn take_ended(&mut self) -> (u32, u64) {
        let step = std::mem::replace(&mut self.current, NO_STEP);
        self.last = self.now();
        (step, self.last)
    }

    #[cold]
    #[inline(never)]
    fn step_failed(&mut self, step: u32, error: BoxError) {
        let Finished(result) = failed(error);
        self.settle(step, self.started, self.last, result);
    }

    /// Records that the step begun last panicked, with `payload`, as
    /// [`segment`] caught it. A panic outside any step is not a step's to
    /// record: it goes on unwinding.
    #[cold]
    #[inline(never)]
    pub fn step_panicked(&mut self, payload: Box<dyn std::any::Any + Send>) {
        let (step, now) = self.take_ended();
        if step == NO_STEP {
            std::panic::resume_unwind(payload);
        }
        let Finished(result) = panicked(payload);
        self.settle(step, self.started, now, result);
    }

    /// Runs the steps of one layer, `steps` (their positions in the
    /// workflow, in the order of `tree`'s leaves), concurrently to their
    /// ends, as `join!` would, but polling on a wake only the step that
    /// was woken. Whether every step of the run so far succeeded.
    pub fn layer<'r, S: Steps>(
        &'r mut self,
        steps: &'r [u32],
        tree: Pin<&'r mut S>,
    ) -> FusedLayer<'r, S> {
        FusedLayer {
            run: self,
            steps,
            tree,
            started: false,
            waiting: Waiting::default(),
            ended: Vec::new(),
        }
    }

    /// The run's record, from which its report is made. When a step did
    /// not succeed, the report is made now: steps that never started
    /// (after a layer that did not all succeed) are skipped, with the
    /// executor's reasons, in `order` (every step, each after its
    /// dependencies). Otherwise it is made when first asked for.
    pub fn finish(mut self, order: &[u32]) -> RunRecord {
        if !self.records.clean {
            let wf = &*self.workflow;
            let records = &mut self.records.steps;
            for &step in order {
                let Some(record) = records.get(step as usize) else {
                    continue;
                };
                if record.status.is_some() {
                    continue;
                }
                let deps = self.plan.deps(wf, step as usize);
                let reason = skip_reason(TriggerRule::AllSuccess, deps, records, wf);
                let record = &mut records[step as usize];
                record.status = Some(StepStatus::Skipped);
                record.detail_mut().reason = Some(reason);
            }
        }
        let report = RunReport {
            index: Some(Arc::clone(&self.plan.index)),
            workflow: self.workflow.name.clone(),
            run_id: self.run_id,
            outcome: RunOutcome::Completed,
            started_at: self.started_at,
            elapsed: Duration::from_nanos(nanos_since(self.start)),
            steps: Vec::new(),
        };
        self.records.into_record(report)
    }
}

/// The room for steps made by [`FusedRun::reserve`]: `Pending` once when
/// the run spent its budget of steps in this poll.
pub struct Reserve<'r> {
    run: &'r mut FusedRun,
    steps: u32,
    yielded: bool,
}

impl Future for Reserve<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let run = &mut *this.run;
        if !this.yielded && run.budget < this.steps {
            this.yielded = true;
            run.budget = BUDGET;
            // The clock is read again when the next step starts.
            run.last = u64::MAX;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        run.budget = run.budget.saturating_sub(this.steps);
        Poll::Ready(())
    }
}

pin_project_lite::pin_project! {
    /// A run of a [`FusedRun`]'s steps that are layers of their own,
    /// each polled in turn within its own code (the generated `async fn`
    /// awaiting them in sequence, as a person would): a panic in any of
    /// them is caught here, once for the whole run of steps, rather than
    /// around each step's poll. Made by [`segment`].
    pub struct Segment<F> {
        #[pin]
        fut: F,
    }
}

/// Runs `fut`, a run of steps (see [`Segment`]), catching a panic: its
/// output, or the panic's payload for [`FusedRun::step_panicked`].
pub fn segment<F: Future<Output = bool>>(fut: F) -> Segment<F> {
    Segment { fut }
}

impl<F: Future<Output = bool>> Future for Segment<F> {
    type Output = Result<bool, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.project().fut;
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(ok)) => Poll::Ready(Ok(ok)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// A layer of a [`FusedRun`], joined: made by [`FusedRun::layer`].
pub struct FusedLayer<'r, S> {
    run: &'r mut FusedRun,
    steps: &'r [u32],
    tree: Pin<&'r mut S>,
    started: bool,
    /// The steps that returned `Pending`, by position in the layer.
    waiting: Waiting,
    /// A reusable list of the steps that ended in one poll.
    ended: Vec<Ended>,
}

impl<S: Steps> Future for FusedLayer<'_, S> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        let run = &mut *this.run;
        if !this.started {
            this.started = true;
            run.budget = run
                .budget
                .saturating_sub(u32::try_from(S::LEN).unwrap_or(u32::MAX));
            // Each step is first polled in turn: one started right after
            // another finished starts when that one finished; one started
            // after another began waiting, when it began waiting.
            let mut now = if run.last == u64::MAX {
                run.now()
            } else {
                run.last
            };
            for (position, &step) in this.steps.iter().enumerate().take(S::LEN) {
                let started = now;
                let polled = caught(|| this.tree.as_mut().advance(position, cx));
                now = run.now();
                match polled {
                    Poll::Pending => {
                        // A layer has fewer than `u32::MAX` steps.
                        let position = u32::try_from(position).unwrap_or(u32::MAX);
                        this.waiting.wait(position, started);
                    }
                    Poll::Ready(Finished(result)) => run.settle(step, started, now, result),
                }
            }
            run.last = now;
        } else if this.waiting.live > 0 {
            let tree = &mut this.tree;
            this.waiting.poll_woken(
                cx,
                run.start,
                &mut |position, cx| tree.as_mut().advance(position, cx),
                &mut this.ended,
            );
            for ended in this.ended.drain(..) {
                run.last = ended.ended;
                // A position comes from `steps` (the first poll).
                let step = this.steps[ended.step as usize];
                run.settle(step, ended.started, ended.ended, ended.result);
            }
        }
        if this.waiting.live == 0 {
            Poll::Ready(run.records.clean)
        } else {
            Poll::Pending
        }
    }
}

/// The steps of a run (or of a layer) that returned `Pending`, each in a
/// slot that stays put while it waits (its waker names its slot), and the
/// wakes that say which to poll again.
#[derive(Default)]
struct Waiting {
    /// `None` for a free slot.
    running: Vec<Option<Running>>,
    /// Free slots of `running`.
    free: Vec<u32>,
    /// How many slots of `running` hold a step.
    live: usize,
    /// Slots whose step was last polled with the run's own waker (its
    /// first poll): polled again on the run's next wake, whoever woke it.
    first_polled: Vec<u32>,
    /// Which slots' wakers were woken, and the run's waker to wake then.
    wakes: Arc<Wakes>,
    /// A reusable list of the slots to poll in one poll of the run.
    to_poll: Vec<u32>,
}

/// A waiting step that ended: when it started and ended (nanoseconds
/// since the run started), and how.
struct Ended {
    step: u32,
    started: u64,
    ended: u64,
    result: Result<(), StepFailure>,
}

impl Waiting {
    /// Puts `step`, which returned `Pending` on its first poll (started
    /// `started`), in a slot.
    fn wait(&mut self, step: u32, started: u64) {
        let running = Running {
            step,
            started,
            waker: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.running[slot as usize] = Some(running);
                slot
            }
            None => {
                self.running.push(Some(running));
                // A workflow has fewer than `u32::MAX` steps.
                u32::try_from(self.running.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.live += 1;
        self.first_polled.push(slot);
    }

    /// Polls with `advance` every waiting step that was woken since the
    /// last poll, or last polled with the run's own waker, each with its
    /// own waker; pushes to `ended` those that ended (the clock read
    /// against `start`). Registers `cx`'s waker as the run's.
    fn poll_woken<F>(
        &mut self,
        cx: &Context<'_>,
        start: Raw,
        advance: &mut F,
        ended: &mut Vec<Ended>,
    ) where
        F: FnMut(usize, &mut Context<'_>) -> Poll<Finished>,
    {
        let mut to_poll = std::mem::take(&mut self.to_poll);
        {
            let mut inner = self.wakes.lock();
            if !inner.run.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                inner.run = Some(cx.waker().clone());
            }
            to_poll.append(&mut inner.woken);
        }
        to_poll.append(&mut self.first_polled);
        for slot in to_poll.drain(..) {
            let Some(running) = self.running.get_mut(slot as usize).and_then(Option::as_mut) else {
                // A wake from a step that finished since.
                continue;
            };
            let (own, waker) = running.waker.get_or_insert_with(|| {
                let own = Arc::new(StepWaker {
                    wakes: Arc::clone(&self.wakes),
                    slot,
                    queued: AtomicBool::new(false),
                });
                let waker = Waker::from(Arc::clone(&own));
                (own, waker)
            });
            own.queued.store(false, Ordering::Release);
            let step = running.step;
            let started = running.started;
            let mut step_cx = Context::from_waker(waker);
            if let Poll::Ready(Finished(result)) = caught(|| advance(step as usize, &mut step_cx)) {
                self.running[slot as usize] = None;
                self.free.push(slot);
                self.live -= 1;
                ended.push(Ended {
                    step,
                    started,
                    ended: nanos_since(start),
                    result,
                });
            }
        }
        self.to_poll = to_poll;
    }
}

/// Nanoseconds since `start`: one clock read and one subtraction, from
/// which a step's start and duration both follow.
fn nanos_since(start: Raw) -> u64 {
    clock::nanos_since(start)
}

/// The bookkeeping of one static run.
struct State {
    records: Records,
    /// Dependencies not final yet, per step.
    remaining: Vec<u32>,
    ready: VecDeque<u32>,
    /// The steps that returned `Pending`.
    waiting: Waiting,
    /// A reusable list of the steps that ended in one poll of the run.
    ended: Vec<Ended>,
    /// A reusable work list for `settle`.
    settled: Vec<u32>,
    start: Raw,
}

impl State {
    /// Nanoseconds since the run started: one clock read and one
    /// subtraction, from which a step's start and duration both follow.
    fn now(&self) -> u64 {
        nanos_since(self.start)
    }
}

/// A step that returned `Pending`.
struct Running {
    step: u32,
    /// When it started, in nanoseconds since the run started.
    started: u64,
    /// The step's own waker, made when it first waited: later polls use
    /// it, so a wake polls this step alone.
    waker: Option<(Arc<StepWaker>, Waker)>,
}

/// What the wakers of a run's steps share.
#[derive(Default)]
struct Wakes {
    inner: Mutex<WakesInner>,
}

#[derive(Default)]
struct WakesInner {
    /// Slots woken since the run last looked.
    woken: Vec<u32>,
    /// The waker of the run's last poll.
    run: Option<Waker>,
}

impl Wakes {
    fn lock(&self) -> std::sync::MutexGuard<'_, WakesInner> {
        // Nothing panics while holding the lock; a poisoned lock still
        // holds consistent data.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The waker a running step gets after its first poll: waking it queues
/// its slot and wakes the run, which then polls that step alone (polling
/// every running step on each wake, as `join!` does, costs a wide layer
/// of waiting steps the square of its width).
struct StepWaker {
    wakes: Arc<Wakes>,
    slot: u32,
    /// Whether the slot is queued already.
    queued: AtomicBool,
}

impl Wake for StepWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let run = {
            let mut inner = self.wakes.lock();
            inner.woken.push(self.slot);
            inner.run.clone()
        };
        if let Some(run) = run {
            run.wake();
        }
    }
}

impl State {
    fn poll<F>(
        &mut self,
        cx: &mut Context<'_>,
        wf: &WorkflowInner,
        plan: &Plan,
        advance: &mut F,
    ) -> Poll<()>
    where
        F: FnMut(usize, &mut Context<'_>) -> Poll<Finished>,
    {
        // The clock is read once per step (and once here): a step started
        // right after another finished starts when that one finished; one
        // started after another began waiting, when it began waiting.
        let mut now = self.now();
        if self.waiting.live > 0 {
            let mut ended = std::mem::take(&mut self.ended);
            self.waiting.poll_woken(cx, self.start, advance, &mut ended);
            for Ended {
                step,
                started,
                ended,
                result,
            } in ended.drain(..)
            {
                now = ended;
                self.settle(wf, plan, step, started, now, result);
            }
            self.ended = ended;
        }
        // Steps started in this poll, before yielding to other tasks (as the
        // executor does): a run that never waits still lets others run.
        let mut budget = 1024u32;
        while let Some(step) = self.ready.pop_front() {
            if budget == 0 {
                self.ready.push_front(step);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            let started = now;
            match caught(|| advance(step as usize, cx)) {
                Poll::Pending => {
                    self.waiting.wait(step, started);
                    now = self.now();
                }
                Poll::Ready(Finished(result)) => {
                    now = self.now();
                    self.settle(wf, plan, step, started, now, result);
                }
            }
        }
        // A step first polled here holds this poll's waker itself; one
        // polled with its own waker wakes the waker registered above.
        if self.waiting.live == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Records how `step` ended and decides every dependent whose
    /// dependencies are now all final: ready, or skipped (transitively).
    fn settle(
        &mut self,
        wf: &WorkflowInner,
        plan: &Plan,
        step: u32,
        started: u64,
        now: u64,
        result: Result<(), StepFailure>,
    ) {
        self.records.end(step, started, now, result);
        if self.records.clean {
            // Every step final so far succeeded (the common case): a
            // dependent whose last dependency this was is ready, with no
            // look at the records and no work list.
            for &dependent in plan.dependents.get(step as usize) {
                let slot = &mut self.remaining[dependent as usize];
                *slot -= 1;
                if *slot == 0 {
                    self.ready.push_back(dependent);
                }
            }
            return;
        }
        let mut settled = std::mem::take(&mut self.settled);
        settled.push(step);
        while let Some(done) = settled.pop() {
            for &dependent in plan.dependents.get(done as usize) {
                let slot = &mut self.remaining[dependent as usize];
                *slot -= 1;
                if *slot > 0 {
                    continue;
                }
                let deps = || plan.deps(wf, dependent as usize);
                let succeeded =
                    |d: &u32| self.records.steps[*d as usize].status == Some(StepStatus::Succeeded);
                if deps().iter().all(succeeded) {
                    self.ready.push_back(dependent);
                } else {
                    let reason =
                        skip_reason(TriggerRule::AllSuccess, deps(), &self.records.steps, wf);
                    let record = &mut self.records.steps[dependent as usize];
                    record.status = Some(StepStatus::Skipped);
                    record.detail_mut().reason = Some(reason);
                    settled.push(dependent);
                }
            }
        }
        self.settled = settled;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::run_record::{LazyReport, erased};
    use crate::{RetryPolicy, StepContext};

    fn two_steps() -> Workflow {
        let mut wf = Workflow::new("two");
        wf.add_step("a", |_ctx: StepContext| async { Ok::<_, BoxError>(1u32) });
        wf.add_step("b", |_ctx: StepContext| async { Ok::<_, BoxError>(2u32) })
            .depends_on(["a"]);
        wf
    }

    #[tokio::test]
    async fn a_clean_fused_runs_report_is_made_once_when_first_asked_from_its_typed_outputs() {
        let mut wf = Workflow::new("two");
        wf.add_step("a", |_ctx: StepContext| async { Ok::<_, BoxError>(1u32) });
        wf.add_step("b", |_ctx: StepContext| async {
            Ok::<_, BoxError>(String::new())
        })
        .depends_on(["a"]);
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
            .expect("a plain workflow")
            .fused();
        let a = fused_step(&mut run, 0, yields(20)).await;
        let b = fused_step(&mut run, 1, async {
            Ok::<_, BoxError>(String::from("done"))
        })
        .await;
        let record = run.finish(&[0, 1]);
        assert!(record.is_success());
        let lazy = LazyReport::from(record);
        let made = std::cell::Cell::new(0);
        let outputs = || {
            made.set(made.get() + 1);
            vec![erased(a.as_ref()), erased(b.as_ref())]
        };
        let report = lazy.get(outputs);
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.workflow(), "two");
        assert_eq!(report.output::<u32>("a"), Some(&20));
        // The typed output's own pointer, not a copy.
        let shared = report.step("b").and_then(|b| b.output_arc::<String>());
        let typed = b.map(StepOutput::into_arc);
        assert!(matches!((shared, typed), (Some(s), Some(t)) if Arc::ptr_eq(&s, &t)));
        for step in ["a", "b"] {
            let record = report.step(step).expect("a step of the run");
            assert_eq!(record.status(), StepStatus::Succeeded, "{step}");
            assert_eq!(record.attempts(), 1, "{step}");
            assert!(record.duration().is_some(), "{step} has its timing");
        }
        let started = |step| report.step(step).and_then(|s| s.started_at());
        assert!(started("a") <= started("b"), "b started after a ended");
        let again = lazy.get(|| {
            made.set(made.get() + 1);
            Vec::new()
        });
        assert!(std::ptr::eq(report, again), "made once");
        assert_eq!(made.get(), 1);
        // A report made as its run ended is the one given.
        let made_before = LazyReport::from(report.clone());
        let given = made_before.get(|| {
            made.set(made.get() + 1);
            Vec::new()
        });
        assert_eq!(given.output::<u32>("a"), Some(&20));
        assert_eq!(made.get(), 1);
    }

    #[test]
    fn a_plain_workflow_on_a_default_engine_takes_the_static_path() {
        assert!(StaticRun::begin(&WorkflowEngine::new(), &two_steps()).is_some());
    }

    #[test]
    fn anything_only_the_executor_does_takes_the_full_path() {
        let wf = two_steps();
        let limited = WorkflowEngine::builder().max_concurrency(1).build();
        let fail_fast = WorkflowEngine::builder().fail_fast(true).build();
        let timed = WorkflowEngine::builder()
            .run_timeout(Duration::from_secs(1))
            .build();
        let listened = WorkflowEngine::new();
        let _events = listened.subscribe();
        for engine in [limited, fail_fast, timed, listened] {
            assert!(StaticRun::begin(&engine, &wf).is_none(), "{engine:?}");
        }

        let mut retried = two_steps();
        retried
            .add_step("c", |_ctx: StepContext| async { Ok::<_, BoxError>(()) })
            .retry(RetryPolicy::attempts(2));
        assert!(StaticRun::begin(&WorkflowEngine::new(), &retried).is_none());

        let mut invalid = two_steps();
        invalid
            .add_step("d", |_ctx: StepContext| async { Ok::<_, BoxError>(()) })
            .depends_on(["nowhere"]);
        assert!(StaticRun::begin(&WorkflowEngine::new(), &invalid).is_none());
    }

    /// A root and `width` dependents of it.
    fn fan_out(width: usize) -> Workflow {
        let mut wf = Workflow::new("wide");
        wf.add_step("root", |_ctx: StepContext| async {
            Ok::<_, BoxError>(0u32)
        });
        for i in 0..width {
            wf.add_step(format!("s{i}"), |_ctx: StepContext| async {
                Ok::<_, BoxError>(0u32)
            })
            .depends_on(["root"]);
        }
        wf
    }

    #[tokio::test]
    async fn a_wake_polls_only_the_step_it_belongs_to() {
        const WIDTH: usize = 200;
        let wf = fan_out(WIDTH);
        let run = StaticRun::begin(&WorkflowEngine::new(), &wf).expect("a plain workflow");
        // Each dependent waits for its own message; they arrive one at a
        // time, each in its own wake of the run.
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..WIDTH {
            let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
            senders.push(tx);
            receivers.push(rx);
        }
        tokio::spawn(async move {
            for tx in senders.into_iter().rev() {
                tokio::task::yield_now().await;
                let _ = tx.send(1);
            }
        });
        let mut polls = vec![0u32; WIDTH + 1];
        let report = run
            .drive(|step, cx| {
                polls[step] += 1;
                if step == 0 {
                    return Poll::Ready(Finished(Ok(())));
                }
                match Pin::new(&mut receivers[step - 1]).poll(cx) {
                    Poll::Ready(got) => Poll::Ready(Finished(
                        got.map(|_| ())
                            .map_err(|e| StepFailure::from_error(BoxError::from(e))),
                    )),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
        assert!(report.is_success());
        // At most: the first poll, one with the step's own waker, and the
        // one that finds its message. Polling every waiting step on each
        // wake would be about WIDTH / 2 polls per step.
        let most = polls.iter().max().copied().unwrap_or(0);
        assert!(most <= 3, "a step was polled {most} times: {polls:?}");
    }

    /// A step of a fused run that is a layer of its own, run as the
    /// generated code runs it.
    async fn fused_step<T: Send + Sync + 'static>(
        run: &mut FusedRun,
        step: u32,
        fut: impl Future<Output = Result<T, BoxError>>,
    ) -> Option<StepOutput<T>> {
        run.reserve(1).await;
        run.begin(step);
        let result = fut.await;
        let mut out = None;
        run.end(result, &mut out);
        out
    }

    /// A step function for the fused tests: its output after a yield.
    async fn yields(value: u32) -> Result<u32, BoxError> {
        tokio::task::yield_now().await;
        Ok(value)
    }

    #[tokio::test]
    async fn a_fused_layer_polls_on_a_wake_only_the_step_woken() {
        let wf = fan_out(WIDTH);
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
            .expect("a plain workflow")
            .fused();
        let root = fused_step(&mut run, 0, async { Ok::<u32, BoxError>(0) }).await;
        assert_eq!(root.as_deref(), Some(&0));
        let mut senders = Vec::new();
        let polls: Vec<std::sync::atomic::AtomicU32> = (0..WIDTH)
            .map(|_| std::sync::atomic::AtomicU32::new(0))
            .collect();
        let mut outs: Vec<Option<StepOutput<u32>>> = (0..WIDTH).map(|_| None).collect();
        // One leaf per dependent, each waiting for its own message; they
        // arrive one at a time, each in its own wake of the run.
        let mut leaves = Vec::new();
        for (i, out) in outs.iter_mut().enumerate() {
            let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
            senders.push(tx);
            let polls = &polls[i];
            let mut rx = Box::pin(rx);
            let fut = std::future::poll_fn(move |cx| {
                polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rx.as_mut().poll(cx).map(|got| got.map_err(BoxError::from))
            });
            leaves.push(Box::pin(leaf(fut, out)));
        }
        tokio::spawn(async move {
            for tx in senders.into_iter().rev() {
                tokio::task::yield_now().await;
                let _ = tx.send(1);
            }
        });
        let steps: Vec<u32> = (1..=WIDTH as u32).collect();
        {
            let mut tree = std::pin::pin!(Many(leaves));
            assert!(
                run.layer(&steps, tree.as_mut()).await,
                "every step succeeded"
            );
        }
        let most = polls
            .iter()
            .map(|p| p.load(std::sync::atomic::Ordering::Relaxed))
            .max();
        assert!(most.unwrap_or(0) <= 3, "a step was polled {most:?} times");
        assert!(outs.iter().all(|o| o.as_deref() == Some(&1)));
        let order: Vec<u32> = (0..=WIDTH as u32).collect();
        let record = run.finish(&order);
        assert!(record.is_success());
        let outputs = std::iter::once(erased(root.as_ref()))
            .chain(outs.iter().map(|out| erased(out.as_ref())))
            .collect();
        let report = record.into_report(outputs);
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.output::<u32>("s7"), Some(&1));
        assert_eq!(report.status("root"), Some(StepStatus::Succeeded));
    }

    /// How many steps wide the fused layer under test is.
    const WIDTH: usize = 200;

    /// The `WIDTH` leaves of a test layer, in a `Vec` (the generated code
    /// builds a tree of pairs).
    struct Many<L>(Vec<Pin<Box<L>>>);

    impl<L: Steps> Steps for Many<L> {
        const LEN: usize = WIDTH;
        fn advance(self: Pin<&mut Self>, step: usize, cx: &mut Context<'_>) -> Poll<Finished> {
            match self.get_mut().0.get_mut(step) {
                Some(leaf) => leaf.as_mut().advance(0, cx),
                None => no_such_step(step),
            }
        }
    }

    #[tokio::test]
    async fn a_failed_fused_step_skips_every_later_layer_with_the_executors_reasons() {
        let mut wf = Workflow::new("chain");
        wf.add_step("a", |_ctx: StepContext| async { Ok::<_, BoxError>(1u32) });
        wf.add_step("b", |_ctx: StepContext| async { Ok::<_, BoxError>(2u32) })
            .depends_on(["a"]);
        wf.add_step("c", |_ctx: StepContext| async { Ok::<_, BoxError>(3u32) })
            .depends_on(["b"]);
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
            .expect("a plain workflow")
            .fused();
        let a = fused_step(&mut run, 0, yields(1)).await;
        assert!(a.is_some());
        let failed = fused_step(&mut run, 1, async {
            Err::<u32, BoxError>("no luck".into())
        })
        .await;
        assert!(failed.is_none());
        let report = run
            .finish(&[0, 1, 2])
            .into_report(vec![erased(a.as_ref()), None, None]);
        let full = WorkflowEngine::new()
            .execute(&{
                let mut wf = Workflow::new("chain");
                wf.add_step("a", |_ctx: StepContext| async { Ok::<_, BoxError>(1u32) });
                wf.add_step("b", |_ctx: StepContext| async {
                    Err::<u32, BoxError>("no luck".into())
                })
                .depends_on(["a"]);
                wf.add_step("c", |_ctx: StepContext| async { Ok::<_, BoxError>(3u32) })
                    .depends_on(["b"]);
                wf
            })
            .await
            .expect("a valid workflow");
        for step in ["a", "b", "c"] {
            assert_eq!(report.status(step), full.status(step), "{step}");
            let reason =
                |r: &RunReport| r.step(step).and_then(|s| s.reason().map(|r| r.to_string()));
            assert_eq!(reason(&report), reason(&full), "{step}");
            let output = |r: &RunReport| r.output::<u32>(step).copied();
            assert_eq!(output(&report), output(&full), "{step}");
        }
        assert_eq!(report.status("c"), Some(StepStatus::Skipped));
        let panicked = {
            let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
                .expect("a plain workflow")
                .fused();
            // A panic is caught once for a run of steps, and recorded as
            // the failure of the step running.
            let mut a = None;
            let caught = segment(async {
                a = fused_step(&mut run, 0, yields(1)).await;
                fused_step(&mut run, 1, async {
                    panic!("step b panics");
                    #[allow(unreachable_code)]
                    Ok::<u32, BoxError>(0)
                })
                .await;
                true
            })
            .await;
            let Err(payload) = caught else {
                panic!("the panic is caught: {caught:?}");
            };
            run.step_panicked(payload);
            let record = run.finish(&[0, 1, 2]);
            assert!(!record.is_success());
            record.into_report(vec![erased(a.as_ref()), None, None])
        };
        assert_eq!(panicked.status("a"), Some(StepStatus::Succeeded));
        assert_eq!(panicked.output::<u32>("a"), Some(&1));
        let b = panicked.step("b").expect("b is a step");
        assert!(b.failure().is_some_and(|f| f.is_panic()), "{b:?}");
        assert_eq!(panicked.status("c"), Some(StepStatus::Skipped));
    }

    #[tokio::test]
    async fn a_step_of_a_fused_layer_panicking_after_a_wait_fails_alone() {
        let wf = fan_out(2);
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
            .expect("a plain workflow")
            .fused();
        assert!(fused_step(&mut run, 0, yields(0)).await.is_some());
        let (mut left, mut right) = (None, None);
        {
            let mut steps = std::pin::pin!(pair(
                leaf(yields(1), &mut left),
                leaf(
                    async {
                        tokio::task::yield_now().await;
                        panic!("the right step panics once woken");
                        #[allow(unreachable_code)]
                        Ok::<u32, BoxError>(2)
                    },
                    &mut right,
                ),
            ));
            assert!(!run.layer(&[1, 2], steps.as_mut()).await);
        }
        assert_eq!(left.as_deref(), Some(&1));
        assert!(right.is_none());
        let report = run.finish(&[0, 1, 2]).into_report(vec![
            None,
            erased(left.as_ref()),
            erased(right.as_ref()),
        ]);
        assert_eq!(report.output::<u32>("s0"), Some(&1));
        let s1 = report.step("s1").expect("s1 is a step");
        assert!(s1.failure().is_some_and(|f| f.is_panic()), "{s1:?}");
        assert!(
            s1.error_message()
                .is_some_and(|m| m.contains("panics once woken")),
            "{s1:?}"
        );
    }

    #[test]
    fn a_panic_caught_between_steps_goes_on_unwinding() {
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &two_steps())
            .expect("a plain workflow")
            .fused();
        run.begin(0);
        let mut out = None;
        assert!(run.end(Ok::<u32, BoxError>(1), &mut out));
        assert_eq!(out.as_deref(), Some(&1));
        // No step is running: the panic is not step b's.
        let payload: Box<dyn std::any::Any + Send> = Box::new("not a step's");
        let unwound = std::panic::catch_unwind(AssertUnwindSafe(|| run.step_panicked(payload)));
        let payload = unwound.expect_err("the panic goes on");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"not a step's"));
        let report = run.finish(&[0, 1]).into_report(Vec::new());
        let b = report.step("b").expect("b is a step");
        assert!(b.failure().is_none(), "b never ran: {report:?}");
        assert_eq!(b.attempts(), 0, "{report:?}");
    }

    #[test]
    fn a_lone_step_fails_with_its_functions_error_boxed_or_with_a_parameter_it_could_not_read() {
        let mut wf = Workflow::new("chain");
        wf.add_step("write", |_ctx: StepContext| async {
            Ok::<_, BoxError>(1u32)
        });
        wf.add_step("read", |_ctx: StepContext| async {
            Ok::<_, BoxError>(2u32)
        })
        .depends_on(["write"]);
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
            .expect("a plain workflow")
            .fused();
        // The function's own error type, boxed by the run as the step ends.
        run.begin(0);
        let mut out = None;
        let disk_full = Err::<u32, std::io::Error>(std::io::Error::other("disk full"));
        assert!(!run.end(disk_full, &mut out));
        assert!(out.is_none());
        // A step whose resource is missing fails without its future made.
        run.begin(1);
        run.unmade(BoxError::from("no resource `Db`"));
        let report = run.finish(&[0, 1]).into_report(Vec::new());
        for (step, message) in [("write", "disk full"), ("read", "no resource `Db`")] {
            let record = report.step(step).expect("a step of the run");
            assert_eq!(record.status(), StepStatus::Failed, "{step}");
            assert_eq!(record.error_message().as_deref(), Some(message), "{step}");
            assert_eq!(record.attempts(), 1, "{step}");
            assert!(record.duration().is_some(), "{step} has its timing");
        }
    }

    #[test]
    fn a_long_fused_chain_lets_other_tasks_run_every_budget_of_steps() {
        let steps = BUDGET as usize + 10;
        let mut wf = Workflow::new("long");
        for i in 0..steps {
            let step = wf.add_step(format!("s{i}"), |_ctx: StepContext| async {
                Ok::<_, BoxError>(0u32)
            });
            if i > 0 {
                step.depends_on([format!("s{}", i - 1)]);
            }
        }
        let (mut run, _env) = StaticRun::begin(&WorkflowEngine::new(), &wf)
            .expect("a plain workflow")
            .fused();
        // As the generated code runs it: runs of 64 steps, each reserved
        // at once.
        let mut chain = std::pin::pin!(async move {
            for chunk in (0..steps as u32).collect::<Vec<_>>().chunks(64) {
                run.reserve(chunk.len() as u32).await;
                for &i in chunk {
                    run.begin(i);
                    let result = async { Ok::<u32, BoxError>(0) }.await;
                    assert!(run.end(result, &mut None));
                }
            }
            run.finish(&[]).into_report(Vec::new())
        });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            chain.as_mut().poll(&mut cx).is_pending(),
            "the run yields after {BUDGET} steps that never wait"
        );
        let Poll::Ready(report) = chain.as_mut().poll(&mut cx) else {
            panic!("the rest of the chain runs on the next poll");
        };
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.steps().len(), steps);
    }

    #[tokio::test]
    async fn a_step_that_wakes_itself_is_polled_again() {
        let wf = fan_out(3);
        let run = StaticRun::begin(&WorkflowEngine::new(), &wf).expect("a plain workflow");
        let mut yields = vec![0u32; 4];
        let report = run
            .drive(|step, cx| {
                // Each step yields (waking itself) five times, then ends.
                if yields[step] < 5 {
                    yields[step] += 1;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Finished(Ok(())))
            })
            .await;
        assert!(report.is_success());
        assert_eq!(yields, vec![5; 4]);
        let report = report.into_report(Vec::new());
        assert_eq!(report.status("s2"), Some(StepStatus::Succeeded));
        assert_eq!(report.step("s2").map(StepReport::attempts), Some(1));
    }

    #[test]
    fn step_futures_fit_the_static_path_up_to_the_limit_of_the_build() {
        let half = STATIC_FUTURES_LIMIT / 2;
        assert!(fits_static(&[half, half], false));
        assert!(!fits_static(&[half, half, 1], false));
        assert!(!fits_static(&[STATIC_FUTURES_LIMIT_DEBUG, 1], true));
        assert!(fits_static(&[], true));
        // Sizes that would overflow a sum still do not fit.
        assert!(!fits_static(&[usize::MAX, 2], false));
    }

    #[test]
    fn the_size_of_a_future_is_known_without_making_it() {
        async fn holds(_a: u8, _b: &u8, _c: (&u8,)) -> u8 {
            let buffer = [0u8; 1000];
            tokio::task::yield_now().await;
            buffer[999]
        }
        assert!(future_size(&holds) > 1000);
    }

    #[test]
    fn a_finished_step_asked_again_fails_rather_than_polling_its_future_again() {
        let out: OnceLock<StepOutput<u32>> = OnceLock::new();
        let mut step = std::pin::pin!(leaf(async { Ok::<u32, BoxError>(7) }, &out));
        let mut cx = Context::from_waker(Waker::noop());
        let first = step.as_mut().advance(0, &mut cx);
        assert!(matches!(first, Poll::Ready(Finished(Ok(_)))));
        assert_eq!(out.get().map(|v| **v), Some(7));
        // Polling an `async fn` after it returned would panic.
        match step.as_mut().advance(0, &mut cx) {
            Poll::Ready(Finished(Err(failure))) => {
                assert!(
                    failure.to_string().contains("after it finished"),
                    "{failure}"
                );
            }
            _ => panic!("a second advance must be a failure"),
        }
        assert!(matches!(
            step.as_mut().advance(1, &mut cx),
            Poll::Ready(Finished(Err(_)))
        ));
    }

    #[tokio::test]
    async fn a_dependent_starts_once_its_dependency_stored_its_output() {
        let wf = two_steps();
        let run = StaticRun::begin(&WorkflowEngine::new(), &wf).expect("a plain workflow");
        let a_out: OnceLock<StepOutput<u32>> = OnceLock::new();
        let b_out: OnceLock<StepOutput<u32>> = OnceLock::new();
        // A future does nothing until polled: `b`'s reads `a`'s output only
        // once the run starts it.
        let a = leaf(
            async {
                tokio::task::yield_now().await;
                Ok::<u32, BoxError>(20)
            },
            &a_out,
        );
        let b = leaf(
            async {
                let a = output(&a_out, "b", "a")?;
                Ok::<u32, BoxError>(a + 1)
            },
            &b_out,
        );
        let mut steps = std::pin::pin!(pair(a, b));
        let record = run.drive(|step, cx| steps.as_mut().advance(step, cx)).await;
        assert!(record.is_success());
        let report = record.into_report(vec![erased(a_out.get()), erased(b_out.get())]);
        assert_eq!(report.output::<u32>("a"), Some(&20));
        assert_eq!(report.output::<u32>("b"), Some(&21));
        assert_eq!(b_out.get().map(|b| **b), Some(21));
    }
}
