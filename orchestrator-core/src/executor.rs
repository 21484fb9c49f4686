//! The executor: drives one run of a validated workflow to its report.
//!
//! One future per run. Steps are futures in a [`FuturesUnordered`] polled by
//! the run's own task (only steps that ask for it get a tokio task), so a
//! step costs one boxed future and no channel, lock or spawn. Dependency
//! counts and outputs live in the step records owned by the driver; a
//! step's context gets its dependencies' outputs when it starts (see
//! [`Inputs`]).
//! Dropping the run's future drops every step future and aborts every task
//! it spawned.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use crate::clock::{self, Instant};

use futures::FutureExt as _;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::branch::Branch;
use crate::context::{Inputs, Resources, StepContext};
use crate::engine::WorkflowEngine;
use crate::error::BoxError;
use crate::events::{Event, EventKind};
use crate::report::{
    Output, RunOutcome, RunReport, SkipReason, StepFailure, StepReport, StepStatus, epoch_nanos,
};
use crate::workflow::{Plan, StepFuture, TriggerRule, WorkflowInner};

/// State shared by the driver and every step of one run; read-only but
/// for the reports of nested runs. (A step's context carries its
/// dependencies' outputs: see [`Inputs`].)
pub(crate) struct RunShared {
    pub(crate) workflow: Arc<WorkflowInner>,
    pub(crate) plan: Arc<Plan>,
    pub(crate) input: Option<(Output, &'static str)>,
    pub(crate) run_resources: Resources,
    pub(crate) engine_resources: Arc<Resources>,
    pub(crate) events: Option<broadcast::Sender<Event>>,
    pub(crate) run_id: u64,
    pub(crate) cancel: CancellationToken,
    /// The engine, for steps that run nested workflows.
    pub(crate) engine: WorkflowEngine,
    /// Reports of nested runs, by step; touched only by steps that run them.
    pub(crate) nested: Mutex<Vec<(usize, RunReport)>>,
}

impl RunShared {
    /// Step `step`'s name for an event.
    fn event_name(&self, step: usize) -> Arc<str> {
        self.plan.event_name(&self.workflow, step)
    }

    /// The positions of the dependencies of `step`, sorted, no repeats.
    pub(crate) fn deps(&self, step: usize) -> &[u32] {
        self.plan.deps(&self.workflow, step)
    }

    fn emit(&self, kind: impl FnOnce() -> EventKind) {
        if let Some(events) = &self.events {
            // An error only means nobody is listening right now.
            let _ = events.send(Event {
                run_id: self.run_id,
                workflow: self.workflow.name.clone(),
                kind: kind(),
            });
        }
    }
}

/// Run-wide settings resolved from the engine and the execution.
pub(crate) struct RunSettings {
    pub(crate) max_concurrency: usize,
    pub(crate) fail_fast: bool,
    pub(crate) timeout: Option<Duration>,
}

/// How one step ended, sent from its future to the driver.
pub(crate) struct StepOutcome {
    step: usize,
    attempts: u32,
    start: Instant,
    /// When it ended: the next step started right after it starts then.
    end: Instant,
    result: Result<Output, StepFailure>,
}

/// A spawned step's task, aborted when dropped, so no step outlives its run.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// One attempt of a step of the runtime API: the boxed handler, inline or
/// on its own task, with panics turned into failures.
async fn dynamic_attempt(
    shared: &Arc<RunShared>,
    step: usize,
    attempt: u32,
    inputs: &Inputs,
) -> Result<Output, StepFailure> {
    let def = &shared.workflow.steps[step];
    let ctx = StepContext {
        shared: Arc::clone(shared),
        step,
        attempt,
        inputs: inputs.clone(),
    };
    let fut = shared.workflow.call(step, ctx);
    if def.options().own_task {
        spawned(fut).await
    } else {
        guarded(fut).await
    }
}

/// Runs a step's future on its own task (aborted if dropped), turning an
/// error or a panic into a failure.
pub(crate) async fn spawned<T, E>(
    fut: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, StepFailure>
where
    T: Send + 'static,
    E: Into<BoxError> + 'static,
{
    let fut = async move { fut.await.map_err(Into::into) };
    match AbortOnDrop(tokio::spawn(fut)).await {
        Ok(result) => result.map_err(StepFailure::from_error),
        Err(error) if error.is_panic() => Err(StepFailure::from_panic(&*error.into_panic())),
        Err(_) => Err(StepFailure::Panic(String::from(
            "the step's task was cancelled by the runtime",
        ))),
    }
}

/// Awaits a step's future, turning an error or a panic into a failure.
pub(crate) async fn guarded<T, E: Into<BoxError>>(
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, StepFailure> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StepFailure::from_error(error)),
        Err(payload) => Err(StepFailure::from_panic(&*payload)),
    }
}

/// Runs a step of the runtime API with its retries.
async fn run_step(shared: &Arc<RunShared>, step: usize, inputs: Inputs) -> StepOutcome {
    run_step_with(shared, step, |attempt| {
        dynamic_attempt(shared, step, attempt, &inputs)
    })
    .await
}

/// The future of a started step.
enum Running<F> {
    /// A step that sets no option, in a run without events or step spans:
    /// its handler's future, polled as it is, and nothing else.
    Plain {
        step: usize,
        start: Instant,
        fut: StepFuture,
    },
    /// Everything else: retries, timeout, own task, events, spans.
    Full(Pin<Box<F>>),
}

impl<F: Future<Output = StepOutcome>> Future for Running<F> {
    type Output = StepOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<StepOutcome> {
        match self.get_mut() {
            Self::Plain { step, start, fut } => {
                let result =
                    match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(result)) => result.map_err(StepFailure::from_error),
                        Err(payload) => Err(StepFailure::from_panic(&*payload)),
                    };
                Poll::Ready(StepOutcome {
                    step: *step,
                    attempts: 1,
                    start: *start,
                    end: clock::now(),
                    result,
                })
            }
            Self::Full(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// Runs a step with its timeout and retries; `attempt(n)` makes attempt
/// `n`'s future.
pub(crate) async fn run_step_with<F, Fut>(
    shared: &RunShared,
    step: usize,
    mut attempt: F,
) -> StepOutcome
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Output, StepFailure>>,
{
    let def = &shared.workflow.steps[step];
    let start = clock::now();
    let span = tracing::debug_span!("step", step = %def.name);
    let mut attempts = 0;
    let result = loop {
        attempts += 1;
        shared.emit(|| EventKind::StepStarted {
            step: shared.event_name(step),
            attempt: attempts,
        });
        let run = attempt(attempts).instrument(span.clone());
        let result = match def.options().timeout {
            None => run.await,
            Some(limit) => tokio::time::timeout(limit, run)
                .await
                .unwrap_or(Err(StepFailure::TimedOut(limit))),
        };
        let Err(failure) = &result else { break result };
        let Some(policy) = &def.options().retry else {
            break result;
        };
        if !policy.should_retry(attempts, failure) {
            break result;
        }
        let delay = policy.delay_after(attempts);
        tracing::debug!(step = %def.name, attempt = attempts, ?delay, error = %failure, "retrying");
        shared.emit(|| EventKind::StepRetrying {
            step: shared.event_name(step),
            attempt: attempts,
            delay,
            error: failure.to_string(),
        });
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    };
    StepOutcome {
        step,
        attempts,
        start,
        end: clock::now(),
        result,
    }
}

/// Decides, once every dependency of `step` is final, whether it runs.
fn trigger_holds(rule: TriggerRule, deps: &[u32], records: &[StepReport]) -> bool {
    let status = |d: &u32| records[*d as usize].status;
    let succeeded = || {
        deps.iter()
            .any(|d| status(d) == Some(StepStatus::Succeeded))
    };
    let failed = || {
        deps.iter()
            .any(|d| status(d).is_some_and(StepStatus::is_failure))
    };
    match rule {
        TriggerRule::AllSuccess => deps
            .iter()
            .all(|d| status(d) == Some(StepStatus::Succeeded)),
        TriggerRule::AllDone | TriggerRule::Always => true,
        TriggerRule::OneSuccess => succeeded(),
        TriggerRule::OneFailed => failed(),
        TriggerRule::NoneFailed => !failed(),
        TriggerRule::NoneFailedMinOneSuccess => !failed() && succeeded(),
    }
}

/// Why a step whose rule did not hold is skipped: the first dependency that
/// did not succeed, traced back to where the trouble started.
pub(crate) fn skip_reason(
    rule: TriggerRule,
    deps: &[u32],
    records: &[StepReport],
    workflow: &WorkflowInner,
) -> SkipReason {
    if rule == TriggerRule::AllSuccess {
        for &d in deps {
            let record = &records[d as usize];
            match (record.status, record.reason()) {
                (Some(StepStatus::Succeeded), _) => {}
                (Some(StepStatus::Skipped), Some(reason @ SkipReason::Upstream { .. })) => {
                    return reason.clone();
                }
                (status, _) => {
                    return SkipReason::Upstream {
                        step: workflow.steps[d as usize].name.to_string(),
                        status: status.unwrap_or(StepStatus::Cancelled),
                    };
                }
            }
        }
    }
    SkipReason::TriggerRule {
        rule: rule.as_str(),
    }
}

/// The driver's state for one run. Its methods take the run's shared state
/// by reference: the driver runs on the run's task only.
struct Driver {
    /// Each step's report, filled in as the run goes.
    records: Vec<StepReport>,
    /// Dependencies not final yet, per step.
    remaining: Vec<u32>,
    ready: VecDeque<usize>,
    finished: usize,
    /// Dependents a branch step did not choose, and that branch.
    vetoes: HashMap<usize, usize>,
    /// When the run started, to turn step start instants into times
    /// without reading the system clock per step.
    started_at: SystemTime,
    /// `started_at` in nanoseconds since the Unix epoch.
    epoch_nanos: u64,
    start: Instant,
    /// A reusable work list for `settle`.
    scratch: Vec<usize>,
    /// Whether every step final so far succeeded (none failed, timed out
    /// or was skipped): then a dependent waiting for all its dependencies
    /// to succeed runs with no look at their records.
    clean: bool,
}

impl Driver {
    /// Decides the roots: they run unless their condition says otherwise.
    fn start(&mut self, shared: &Arc<RunShared>) {
        let mut settled = Vec::new();
        for &root in &shared.plan.roots {
            self.admit(shared, root as usize, &mut settled);
        }
        self.cascade(shared, settled);
    }

    /// Records that `step` reached a final state and settles every
    /// dependent whose dependencies are now all final, transitively.
    fn settle(&mut self, shared: &Arc<RunShared>, step: usize) {
        self.finished += 1;
        let mut settled = std::mem::take(&mut self.scratch);
        settled.push(step);
        self.cascade(shared, settled);
    }

    /// The outputs of the dependencies of `step`, in the order of its
    /// dependency list: copied when inline, shared otherwise.
    fn inputs(&self, shared: &RunShared, step: usize) -> Inputs {
        let deps = shared.deps(step);
        let output = |&d: &u32| self.records[d as usize].output.clone();
        // Filled in place for the common one or two (a generic `collect`
        // costs several times the copies).
        match deps {
            [] => Inputs::new(),
            [a] => Inputs::from_buf_and_len([output(a), None], 1),
            [a, b] => Inputs::from_buf([output(a), output(b)]),
            _ => Inputs::from_vec(deps.iter().map(output).collect()),
        }
    }

    /// Settles the dependents of every step in `settled` (consumed as a
    /// work list, then kept for reuse so settling allocates nothing).
    fn cascade(&mut self, shared: &Arc<RunShared>, mut settled: Vec<usize>) {
        let plan = &shared.plan;
        while let Some(done) = settled.pop() {
            for &dependent in plan.dependents.get(done) {
                let dependent = dependent as usize;
                self.remaining[dependent] -= 1;
                if self.remaining[dependent] > 0 {
                    continue;
                }
                let rule = shared.workflow.steps[dependent].options().trigger;
                if self.clean && rule == TriggerRule::AllSuccess {
                    self.admit(shared, dependent, &mut settled);
                    continue;
                }
                let deps = shared.deps(dependent);
                if trigger_holds(rule, deps, &self.records) {
                    self.admit(shared, dependent, &mut settled);
                } else {
                    let reason = skip_reason(rule, deps, &self.records, &shared.workflow);
                    self.skip(shared, dependent, reason);
                    settled.push(dependent);
                }
            }
        }
        self.scratch = settled;
    }

    /// A step whose trigger rule holds: it runs, unless a branch did not
    /// choose it or its condition is false (then it is skipped and pushed
    /// onto `settled`).
    fn admit(&mut self, shared: &Arc<RunShared>, step: usize, settled: &mut Vec<usize>) {
        if let Some(&branch) = self.vetoes.get(&step) {
            let branch = shared.workflow.steps[branch].name.to_string();
            self.skip(shared, step, SkipReason::NotChosen { branch });
            settled.push(step);
            return;
        }
        if let Some(condition) = &shared.workflow.steps[step].options().condition {
            let ctx = StepContext {
                shared: Arc::clone(shared),
                step,
                attempt: 0,
                inputs: self.inputs(shared, step),
            };
            match std::panic::catch_unwind(AssertUnwindSafe(|| condition(&ctx))) {
                Ok(true) => {}
                Ok(false) => {
                    self.skip(shared, step, SkipReason::Condition);
                    settled.push(step);
                    return;
                }
                Err(payload) => {
                    let failure = StepFailure::from_panic(&*payload);
                    let failure = StepFailure::from_error(format!("its condition {failure}"));
                    self.fail(shared, step, failure, 0);
                    self.finished += 1;
                    settled.push(step);
                    return;
                }
            }
        }
        self.ready.push_back(step);
    }

    fn skip(&mut self, shared: &Arc<RunShared>, step: usize, reason: SkipReason) {
        shared.emit(|| EventKind::StepSkipped {
            step: shared.event_name(step),
            reason: reason.clone(),
        });
        let record = &mut self.records[step];
        record.status = Some(StepStatus::Skipped);
        record.detail_mut().reason = Some(reason);
        self.finished += 1;
        self.clean = false;
    }

    /// Marks `step` failed (or timed out) and announces it.
    fn fail(&mut self, shared: &Arc<RunShared>, step: usize, failure: StepFailure, attempts: u32) {
        self.clean = false;
        let def = &shared.workflow.steps[step];
        let record = &mut self.records[step];
        if let StepFailure::TimedOut(timeout) = failure {
            record.status = Some(StepStatus::TimedOut);
            shared.emit(|| EventKind::StepTimedOut {
                step: shared.event_name(step),
                timeout,
                attempts,
            });
        } else {
            record.status = Some(StepStatus::Failed);
            shared.emit(|| EventKind::StepFailed {
                step: shared.event_name(step),
                error: failure.to_string(),
                attempts,
            });
        }
        tracing::warn!(step = %def.name, error = %failure, attempts, "step did not succeed");
        record.detail_mut().failure = Some(failure);
    }

    /// Reads a branch step's choice: vetoes the dependents it did not
    /// choose, or explains why the choice is invalid.
    fn apply_branch(
        &mut self,
        shared: &Arc<RunShared>,
        step: usize,
        output: &Output,
    ) -> Result<(), StepFailure> {
        let Some(branch) = output.downcast_ref::<Branch>() else {
            return Ok(());
        };
        let dependents = shared.plan.dependents.get(step);
        let name_of = |i: u32| &*shared.workflow.steps[i as usize].name;
        for chosen in branch.chosen() {
            if !dependents.iter().any(|&d| name_of(d) == chosen) {
                let names = dependents
                    .iter()
                    .map(|&d| format!("`{}`", name_of(d)))
                    .collect::<Vec<_>>();
                let names = if names.is_empty() {
                    String::from("it has none")
                } else {
                    names.join(", ")
                };
                return Err(StepFailure::from_error(format!(
                    "branch `{}` chose `{chosen}`, which is not one of its dependents ({names})",
                    shared.workflow.steps[step].name
                )));
            }
        }
        for &dependent in dependents {
            if !branch.chosen().iter().any(|c| c == name_of(dependent)) {
                self.vetoes.insert(dependent as usize, step);
            }
        }
        Ok(())
    }

    /// Records how a step ended; whether it failed.
    fn record_outcome(&mut self, shared: &Arc<RunShared>, outcome: StepOutcome) -> bool {
        let step = outcome.step;
        let record = &mut self.records[step];
        record.attempts = outcome.attempts;
        // In nanoseconds since the epoch, by integer arithmetic: adding to
        // a `SystemTime` and converting it back cost more than the clock.
        let since_start = outcome
            .start
            .saturating_duration_since(self.start)
            .as_nanos();
        let duration = outcome.end.saturating_duration_since(outcome.start);
        record.set_timing_nanos(
            self.epoch_nanos
                .saturating_add(u64::try_from(since_start).unwrap_or(u64::MAX)),
            u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
        );
        let result = match outcome.result {
            Ok(output) if shared.workflow.is_branch(step) => {
                self.apply_branch(shared, step, &output).map(|()| output)
            }
            other => other,
        };
        let failed = match result {
            Ok(output) => {
                let record = &mut self.records[step];
                record.output = Some(output);
                record.status = Some(StepStatus::Succeeded);
                shared.emit(|| EventKind::StepSucceeded {
                    step: shared.event_name(step),
                    duration,
                    attempts: outcome.attempts,
                });
                false
            }
            Err(failure) => {
                self.fail(shared, step, failure, outcome.attempts);
                true
            }
        };
        self.settle(shared, step);
        failed
    }
}

/// How a run stopped early, and the reason given to the steps it cancels.
pub(crate) type Stop = (RunOutcome, SkipReason);

/// The bookkeeping of one run: records, the ready queue, events, and the
/// report at the end.
pub(crate) struct RunCore {
    pub(crate) shared: Arc<RunShared>,
    driver: Driver,
    pub(crate) settings: RunSettings,
    pub(crate) span: tracing::Span,
}

impl RunCore {
    /// Starts a run: announces it and decides the roots.
    pub(crate) fn new(shared: Arc<RunShared>, settings: RunSettings) -> Self {
        let workflow = &shared.workflow;
        let n = workflow.steps.len();
        let span =
            tracing::info_span!("workflow_run", workflow = %workflow.name, run_id = shared.run_id);
        shared.emit(|| EventKind::RunStarted { steps: n });
        let started_at = SystemTime::now();
        let mut driver = Driver {
            records: workflow.pending_records(),
            remaining: shared.plan.dependency_counts(workflow),
            ready: VecDeque::new(),
            finished: 0,
            vetoes: HashMap::new(),
            started_at,
            epoch_nanos: epoch_nanos(started_at),
            start: clock::now(),
            scratch: Vec::new(),
            clean: true,
        };
        driver.start(&shared);
        Self {
            shared,
            driver,
            settings,
            span,
        }
    }

    /// The next step to start, if any is ready.
    pub(crate) fn next_ready(&mut self) -> Option<usize> {
        self.driver.ready.pop_front()
    }

    /// The outputs of the dependencies of `step`, for its context.
    pub(crate) fn inputs(&self, step: usize) -> Inputs {
        self.driver.inputs(&self.shared, step)
    }

    /// Whether a step is ready to start.
    pub(crate) fn has_ready(&self) -> bool {
        !self.driver.ready.is_empty()
    }

    /// Records how a step ended; `Some` when fail-fast stops the run.
    pub(crate) fn record(&mut self, outcome: StepOutcome) -> Option<Stop> {
        let step = outcome.step;
        let failed = self.driver.record_outcome(&self.shared, outcome);
        (self.settings.fail_fast && failed).then(|| {
            let step = self.shared.workflow.steps[step].name.to_string();
            (RunOutcome::FailedFast, SkipReason::FailFast { step })
        })
    }

    /// Cancellation through the run's token, if it happened.
    pub(crate) fn cancelled(&self) -> Option<Stop> {
        self.shared
            .cancel
            .is_cancelled()
            .then_some((RunOutcome::Cancelled, SkipReason::RunCancelled))
    }

    /// The stop for a run timeout.
    pub(crate) fn timed_out(&self) -> Stop {
        let limit = self.settings.timeout.unwrap_or_default();
        (RunOutcome::TimedOut, SkipReason::RunTimedOut(limit))
    }

    /// Ends the run (cancelling what did not finish when it stopped early)
    /// and builds its report.
    pub(crate) fn finish(self, stop: Option<Stop>) -> RunReport {
        let Self {
            shared,
            mut driver,
            span,
            ..
        } = self;
        let workflow = &shared.workflow;
        let n = workflow.steps.len();
        let outcome = match stop {
            None => RunOutcome::Completed,
            Some((outcome, reason)) => {
                // Steps still running were dropped by the caller; tell steps
                // that watch the token, too.
                shared.cancel.cancel();
                for (step, record) in driver.records.iter_mut().enumerate() {
                    if record.status.is_none() {
                        record.status = Some(StepStatus::Cancelled);
                        record.detail_mut().reason = Some(reason.clone());
                        shared.emit(|| EventKind::StepCancelled {
                            step: shared.event_name(step),
                            reason: reason.clone(),
                        });
                    }
                }
                outcome
            }
        };
        debug_assert!(
            outcome != RunOutcome::Completed || driver.finished == n,
            "a completed run settles every step"
        );

        let finished_nested = match shared.nested.lock() {
            Ok(mut list) => std::mem::take(&mut *list),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for (step, report) in finished_nested {
            driver.records[step].detail_mut().nested.push(report);
        }
        let steps = driver.records;
        let report = RunReport {
            index: Some(Arc::clone(&shared.plan.index)),
            workflow: workflow.name.clone(),
            run_id: shared.run_id,
            outcome,
            started_at: driver.started_at,
            elapsed: clock::since(driver.start),
            steps,
        };
        shared.emit(|| EventKind::RunFinished {
            success: report.is_success(),
            elapsed: report.elapsed,
        });
        let _enter = span.enter();
        tracing::info!(success = report.is_success(), elapsed = ?report.elapsed, "workflow run finished");
        report
    }
}

/// Drives a run of the runtime API to its end and builds the report.
pub(crate) async fn drive(shared: Arc<RunShared>, settings: RunSettings) -> RunReport {
    let limit = settings.max_concurrency.max(1);
    let timeout = settings.timeout;
    let mut core = RunCore::new(Arc::clone(&shared), settings);
    // Without events or a subscriber for step spans, steps that set no
    // option run as their handler's future alone.
    let plain = shared.events.is_none() && !tracing::span_enabled!(tracing::Level::DEBUG);
    // Step futures are polled once when they start; most trivial steps
    // finish then and never reach `in_flight`. The rest are polled by the
    // `FuturesUnordered`, only when woken.
    let mut in_flight = FuturesUnordered::new();
    let mut cancelled = pin!(shared.cancel.cancelled());
    let mut deadline = pin!(async {
        match timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    });
    let span = core.span.clone();
    let stop = std::future::poll_fn(|cx| {
        let _entered = span.enter();
        // Once per wake-up (reading the token takes a lock): a run that
        // never waits still yields every `budget` steps, and sees it then.
        if let Some(stop) = core.cancelled() {
            return Poll::Ready(Some(stop));
        }
        // Steps finished in this poll, before yielding to other tasks.
        let mut budget = 1024u32;
        // The clock, read once per step: a plain step started right after
        // another finished starts when that one finished; one started
        // after another began waiting, when it began waiting.
        let mut now = clock::now();
        // The box of the last step that finished when first polled, for
        // the next step's future (see `StepSlot`). Kept for this poll
        // only, so a finished future is not held while the run waits.
        let mut spare = None;
        loop {
            while in_flight.len() < limit && budget > 0 {
                let Some(step) = core.next_ready() else {
                    break;
                };
                budget -= 1;
                let def = &shared.workflow.steps[step];
                let mut running = if plain && def.has_default_options() {
                    Running::Plain {
                        step,
                        start: now,
                        fut: shared.workflow.call_reusing(
                            step,
                            StepContext {
                                shared: Arc::clone(&shared),
                                step,
                                attempt: 1,
                                inputs: core.inputs(step),
                            },
                            spare.take(),
                        ),
                    }
                } else {
                    Running::Full(Box::pin(run_step(&shared, step, core.inputs(step))))
                };
                match Pin::new(&mut running).poll(cx) {
                    Poll::Ready(outcome) => {
                        if let Running::Plain { fut, .. } = running {
                            spare = Some(fut);
                        }
                        now = outcome.end;
                        if let Some(stop) = core.record(outcome) {
                            return Poll::Ready(Some(stop));
                        }
                    }
                    Poll::Pending => {
                        in_flight.push(running);
                        now = clock::now();
                    }
                }
            }
            if budget == 0 {
                // Let other tasks run; come back at once.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(outcome)) => {
                    budget = budget.saturating_sub(1);
                    now = outcome.end;
                    if let Some(stop) = core.record(outcome) {
                        return Poll::Ready(Some(stop));
                    }
                }
                Poll::Ready(None) if !core.has_ready() => return Poll::Ready(None),
                Poll::Ready(None) => {}
                Poll::Pending => {
                    if cancelled.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Some((
                            RunOutcome::Cancelled,
                            SkipReason::RunCancelled,
                        )));
                    }
                    if deadline.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Some(core.timed_out()));
                    }
                    return Poll::Pending;
                }
            }
        }
    })
    .await;
    drop(in_flight);
    core.finish(stop)
}
