//! The executor path of `workflow!` types: the same bookkeeping, events and
//! report as the runtime API ([`RunCore`](crate::executor)), but the step
//! futures are fields of the generated code's own future, polled through a
//! `match` on the step's index: no boxed handler, no dynamic dispatch per
//! step.
//!
//! Not public API: the code `workflow!` generates is its only user.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::context::StepContext;
use crate::engine::Execution;
use crate::error::{BoxError, WorkflowError};
use crate::executor::{self, RunCore, RunShared, StepOutcome, Stop};
use crate::report::{Output, RunReport, StepFailure};

/// How a step of a static run ended.
pub struct StaticOutcome(StepOutcome);

/// Why a static run stopped early.
pub struct StaticStop(Stop);

/// The shared state of a static run, borrowed by its step futures.
pub struct StaticShared(Arc<RunShared>);

/// A run driven by generated code.
pub struct StaticRun {
    core: RunCore,
    limit: usize,
    in_flight: usize,
    cancelled: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StaticRun {
    /// Validates the execution's workflow and starts the run.
    pub fn start(execution: Execution) -> Result<(Self, StaticShared), WorkflowError> {
        let (shared, settings) = execution.prepare()?;
        let limit = settings.max_concurrency.max(1);
        let deadline = settings
            .timeout
            .map(|limit| Box::pin(tokio::time::sleep(limit)));
        let cancelled = Box::pin(shared.cancel.clone().cancelled_owned());
        let core = RunCore::new(Arc::clone(&shared), settings);
        Ok((
            Self {
                core,
                limit,
                in_flight: 0,
                cancelled,
                deadline,
            },
            StaticShared(shared),
        ))
    }

    /// The next step to start, within the concurrency limit.
    pub fn next_ready(&mut self) -> Option<usize> {
        if self.in_flight >= self.limit {
            return None;
        }
        let step = self.core.next_ready()?;
        self.in_flight += 1;
        Some(step)
    }

    /// Records how a step ended; `Some` when fail-fast stops the run.
    pub fn complete(&mut self, outcome: StaticOutcome) -> Option<StaticStop> {
        self.in_flight -= 1;
        self.core.record(outcome.0).map(StaticStop)
    }

    /// Whether a step is ready to start (within the limit or not).
    pub fn has_ready(&self) -> bool {
        self.core.has_ready()
    }

    /// Cancellation, if it happened (checked without registering a waker).
    pub fn cancelled(&self) -> Option<StaticStop> {
        self.core.cancelled().map(StaticStop)
    }

    /// Before the generated code returns `Pending`: registers for
    /// cancellation and the run timeout, and reports either if it came.
    pub fn poll_stop(&mut self, cx: &mut Context<'_>) -> Poll<StaticStop> {
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(StaticStop((
                crate::RunOutcome::Cancelled,
                crate::SkipReason::RunCancelled,
            )));
        }
        if let Some(deadline) = &mut self.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(StaticStop(self.core.timed_out()));
        }
        Poll::Pending
    }

    /// Ends the run and builds its report. The generated code drops its
    /// step futures first, which cancels the steps still running.
    pub fn finish(self, stop: Option<StaticStop>) -> RunReport {
        self.core.finish(stop.map(|s| s.0))
    }

    /// The run's tracing span, to enter while polling.
    pub fn span(&self) -> &tracing::Span {
        &self.core.span
    }
}

/// Runs step `step` of a static run: `handler` is called per attempt with
/// the step's context, with the step's retries, timeout, panic handling
/// and events (on its own task when the step asks for one).
pub fn step<F, Fut, T, E>(
    shared: &StaticShared,
    step: usize,
    handler: F,
) -> impl Future<Output = StaticOutcome> + Send + '_
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + Sync + 'static,
    E: Into<BoxError> + 'static,
{
    let shared = &shared.0;
    let own_task = shared.workflow.steps[step].options.own_task;
    async move {
        let outcome = executor::run_step_with(shared, step, |attempt| {
            let ctx = StepContext {
                shared: Arc::clone(shared),
                step,
                attempt,
            };
            let fut = handler(ctx);
            async move {
                let result: Result<T, StepFailure> = if own_task {
                    executor::spawned(fut).await
                } else {
                    executor::guarded(fut).await
                };
                result.map(|value| Arc::new(value) as Output)
            }
        })
        .await;
        StaticOutcome(outcome)
    }
}
