//! Composite steps: a sub-workflow, a bounded loop, a gate that sends work
//! back, and a map over a list made at run time.
//!
//! Each is one node of the enclosing DAG, so the enclosing graph stays
//! acyclic; the runs it makes are nested in its step report
//! ([`StepReport::nested`](crate::StepReport::nested)) and publish their own
//! events. Conditions, branches and trigger rules are options of any step
//! ([`StepBuilder::condition`](crate::StepBuilder::condition),
//! [`Branch`](crate::Branch), [`TriggerRule`](crate::TriggerRule)).

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::{FutureExt as _, StreamExt as _};

use crate::context::StepContext;
use crate::error::BoxError;
use crate::report::{RunReport, StepFailure};
use crate::workflow::{StepBuilder, Workflow};

type InputFn<I> = Arc<dyn Fn(&StepContext) -> Result<I, BoxError> + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The verdict of a gate's check step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The work is good: the workflow continues.
    Pass,
    /// The work must be done again; the next attempt reads `feedback`.
    Retry {
        /// What to change, for the next attempt.
        feedback: String,
    },
}

impl Verdict {
    /// A failed check with its feedback.
    pub fn retry(feedback: impl Into<String>) -> Self {
        Self::Retry {
            feedback: feedback.into(),
        }
    }
}

/// The input of each run of a loop's body or a gate's checked workflow.
#[derive(Debug)]
pub struct Iteration<I> {
    input: Arc<I>,
    number: u32,
    previous: Option<RunReport>,
    feedback: Option<String>,
}

impl<I> Iteration<I> {
    /// The input the composite step gave its nested workflow.
    pub fn input(&self) -> &I {
        &self.input
    }

    /// The iteration (or attempt), from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The previous iteration's report, to read its outputs.
    pub fn previous(&self) -> Option<&RunReport> {
        self.previous.as_ref()
    }

    /// The previous iteration's output of step `step`.
    pub fn previous_output<T: Send + Sync + 'static>(&self, step: &str) -> Option<&T> {
        self.previous.as_ref()?.output::<T>(step)
    }

    /// The feedback of the gate's check on the previous attempt.
    pub fn feedback(&self) -> Option<&str> {
        self.feedback.as_deref()
    }
}

/// The output of a loop or a gate: how many runs it took and the last one.
#[derive(Debug, Clone)]
pub struct Repeated {
    /// How many iterations (or attempts) ran.
    pub iterations: u32,
    /// The report of the last, successful one.
    pub last: RunReport,
}

impl Repeated {
    /// The last iteration's output of step `step`.
    pub fn output<T: Send + Sync + 'static>(&self, step: &str) -> Option<&T> {
        self.last.output::<T>(step)
    }
}

/// A bounded loop: runs `body` again and again until `until` holds on an
/// iteration's report, at most `max_iterations` times.
///
/// Every loop has a bound. Exceeding it fails the step with an error naming
/// the loop and its bound; so does an iteration in which a step fails. Each
/// iteration reads the previous one through its input, an
/// [`Iteration<I>`].
///
/// ```
/// use orchestrator_core::patterns::{Iteration, Loop};
/// use orchestrator_core::{BoxError, StepContext, Workflow, WorkflowEngine};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Each iteration doubles the previous value.
/// let mut body = Workflow::new("double");
/// body.add_step("value", |ctx: StepContext| async move {
///     let it = ctx.input::<Iteration<u32>>()?;
///     Ok::<_, BoxError>(it.previous_output::<u32>("value").map_or(*it.input(), |v| v * 2))
/// });
///
/// let engine = WorkflowEngine::new();
/// let mut wf = engine.create_workflow("grow");
/// wf.add_loop(
///     "grow",
///     Loop::new(body, 10)
///         .input(|_ctx| Ok(3u32))
///         .until(|it| it.output::<u32>("value").is_some_and(|v| *v > 20)),
/// );
/// let report = engine.execute(&wf).await?;
/// let grown = report.output::<orchestrator_core::patterns::Repeated>("grow").expect("succeeded");
/// assert_eq!((grown.iterations, grown.output::<u32>("value")), (4, Some(&24)));
/// assert_eq!(report.step("grow").map(|s| s.nested().len()), Some(4));
/// # Ok(()) }
/// ```
pub struct Loop<I> {
    body: Workflow,
    max_iterations: u32,
    until: Arc<dyn Fn(&RunReport) -> bool + Send + Sync>,
    input: InputFn<I>,
}

impl Loop<()> {
    /// A loop over `body`, at most `max_iterations` times (at least 1),
    /// until [`until`](Self::until) holds (by default after one iteration).
    pub fn new(body: Workflow, max_iterations: u32) -> Self {
        Self {
            body,
            max_iterations: max_iterations.max(1),
            until: Arc::new(|_| true),
            input: Arc::new(|_| Ok(())),
        }
    }
}

impl<I: Send + Sync + 'static> Loop<I> {
    /// Computes the body's input (inside each [`Iteration`]) from the loop
    /// step's context, e.g. from its dependencies' outputs.
    pub fn input<J: Send + Sync + 'static>(
        self,
        input: impl Fn(&StepContext) -> Result<J, BoxError> + Send + Sync + 'static,
    ) -> Loop<J> {
        Loop {
            body: self.body,
            max_iterations: self.max_iterations,
            until: self.until,
            input: Arc::new(input),
        }
    }

    /// The condition, on an iteration's report, that ends the loop.
    pub fn until(mut self, condition: impl Fn(&RunReport) -> bool + Send + Sync + 'static) -> Self {
        self.until = Arc::new(condition);
        self
    }
}

/// A gate: runs the `checked` workflow, whose step `check` returns a
/// [`Verdict`]; on [`Verdict::Retry`] the checked steps run again, up to
/// `max_attempts` times, and each new attempt reads the feedback through
/// its input, an [`Iteration<I>`].
///
/// When the attempts are exhausted the gate fails with a message naming the
/// gate, the checked steps and the number of attempts; its dependents
/// follow their trigger rules.
pub struct Gate<I> {
    checked: Workflow,
    check: String,
    max_attempts: u32,
    input: InputFn<I>,
}

impl Gate<()> {
    /// A gate over `checked`, judged by its step `check`, at most
    /// `max_attempts` attempts (at least 1).
    pub fn new(checked: Workflow, check: impl Into<String>, max_attempts: u32) -> Self {
        Self {
            checked,
            check: check.into(),
            max_attempts: max_attempts.max(1),
            input: Arc::new(|_| Ok(())),
        }
    }
}

impl<I: Send + Sync + 'static> Gate<I> {
    /// Computes the checked workflow's input (inside each [`Iteration`])
    /// from the gate step's context.
    pub fn input<J: Send + Sync + 'static>(
        self,
        input: impl Fn(&StepContext) -> Result<J, BoxError> + Send + Sync + 'static,
    ) -> Gate<J> {
        Gate {
            checked: self.checked,
            check: self.check,
            max_attempts: self.max_attempts,
            input: Arc::new(input),
        }
    }
}

/// Runs a bounded loop as part of the step `ctx` belongs to: `body` with
/// an [`Iteration`] of `input`, until `until` holds on an iteration's
/// report, at most `max_iterations` times. What [`Workflow::add_loop`] and
/// the DSL's `#[step(repeat = ...)]` run.
pub async fn run_loop<I: Send + Sync + 'static>(
    ctx: &StepContext,
    body: &Workflow,
    max_iterations: u32,
    until: impl Fn(&RunReport) -> bool + Sync,
    input: I,
) -> Result<Repeated, BoxError> {
    repeat(
        ctx,
        body,
        max_iterations.max(1),
        input,
        Repeat::Loop(&until),
    )
    .await
}

/// Runs a gate as part of the step `ctx` belongs to: `checked` with an
/// [`Iteration`] of `input`, until its step `check` returns
/// [`Verdict::Pass`], at most `max_attempts` times. What
/// [`Workflow::add_gate`] and the DSL's `#[step(gate = ...)]` run.
pub async fn run_gate<I: Send + Sync + 'static>(
    ctx: &StepContext,
    checked: &Workflow,
    check: &str,
    max_attempts: u32,
    input: I,
) -> Result<Repeated, BoxError> {
    repeat(
        ctx,
        checked,
        max_attempts.max(1),
        input,
        Repeat::Gate(check),
    )
    .await
}

/// Which runs of a repeated workflow count as done, and what to say when
/// they never do.
enum Repeat<'a> {
    Loop(&'a (dyn Fn(&RunReport) -> bool + Sync)),
    Gate(&'a str),
}

async fn repeat<'a, I: Send + Sync + 'static>(
    ctx: &StepContext,
    workflow: &Workflow,
    bound: u32,
    input: I,
    repeat: Repeat<'a>,
) -> Result<Repeated, BoxError> {
    let input = Arc::new(input);
    let step = ctx.step_name().to_owned();
    let noun = match repeat {
        Repeat::Loop(_) => "iteration",
        Repeat::Gate(_) => "attempt",
    };
    let mut previous: Option<RunReport> = None;
    let mut feedback: Option<String> = None;
    for number in 1..=bound {
        let iteration = Iteration {
            input: Arc::clone(&input),
            number,
            previous: previous.take(),
            feedback: feedback.take(),
        };
        let report = ctx.run_workflow(workflow, iteration).await?;
        if let Err(failed) = report.ensure_success() {
            return Err(format!("{noun} {number} of `{step}` failed: {failed}").into());
        }
        let done = match repeat {
            Repeat::Loop(until) => until(&report),
            Repeat::Gate(check) => match report.output::<Verdict>(check) {
                Some(Verdict::Pass) => true,
                Some(Verdict::Retry { feedback: said }) => {
                    feedback = Some(said.clone());
                    false
                }
                None => {
                    return Err(format!(
                        "gate `{step}`: its check step `{check}` produced no `Verdict`; make `{check}` a step of the checked workflow that returns `Verdict`"
                    )
                    .into());
                }
            },
        };
        if done {
            return Ok(Repeated {
                iterations: number,
                last: report,
            });
        }
        previous = Some(report);
    }
    Err(match repeat {
        Repeat::Loop(_) => format!(
            "loop `{step}` did not reach its condition within its bound of {bound} iterations"
        ),
        Repeat::Gate(check) => {
            let checked = workflow
                .step_names()
                .filter(|name| *name != check)
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "gate `{step}` failed after {bound} attempts of {checked}; the last feedback of `{check}`: {}",
                feedback.unwrap_or_default()
            )
        }
    }
    .into())
}

/// Runs `item` over `items`, at most `concurrency` at a time, and returns
/// the results in the list's order; the first failed item (in order)
/// fails the whole with an error naming its index. Panics are caught. What
/// [`Workflow::add_map`] and the DSL's `#[step(map_over = ...)]` run.
pub async fn run_map<T, U, E, Fut>(
    items: impl IntoIterator<Item = T>,
    concurrency: usize,
    item: impl Fn(T) -> Fut,
) -> Result<Vec<U>, BoxError>
where
    Fut: Future<Output = Result<U, E>>,
    E: Into<BoxError>,
{
    let mut out = Vec::new();
    map_each(items, concurrency, item, |result| match result {
        Ok(value) => {
            out.push(value);
            Ok(())
        }
        Err(failure) => Err(BoxError::from(format!(
            "item {} failed: {failure}",
            out.len()
        ))),
    })
    .await?;
    Ok(out)
}

/// Like [`run_map`], but a failed (or panicking) item is collected as an
/// error in its place instead of failing the whole. What
/// [`Workflow::add_map_collecting`] and the DSL's
/// `#[step(map_over = ..., collect_errors)]` run.
pub async fn run_map_collecting<T, U, E, Fut>(
    items: impl IntoIterator<Item = T>,
    concurrency: usize,
    item: impl Fn(T) -> Fut,
) -> Vec<Result<U, StepFailure>>
where
    Fut: Future<Output = Result<U, E>>,
    E: Into<BoxError>,
{
    let mut out = Vec::new();
    let collected: Result<(), std::convert::Infallible> =
        map_each(items, concurrency, item, |result| {
            out.push(result);
            Ok(())
        })
        .await;
    match collected {
        Ok(()) => out,
        Err(never) => match never {},
    }
}

/// Runs `item` over `items`, at most `concurrency` at a time, handing each
/// result to `each` in the list's order; stops at the first `Err` of
/// `each`. A plain loop over `FuturesOrdered` (no closures over the
/// items), so it stays `Send` when the items are borrowed.
async fn map_each<T, U, E, Fut, R>(
    items: impl IntoIterator<Item = T>,
    concurrency: usize,
    item: impl Fn(T) -> Fut,
    mut each: impl FnMut(Result<U, StepFailure>) -> Result<(), R>,
) -> Result<(), R>
where
    Fut: Future<Output = Result<U, E>>,
    E: Into<BoxError>,
{
    let limit = concurrency.max(1);
    let mut items = items.into_iter();
    let mut in_flight = futures::stream::FuturesOrdered::new();
    loop {
        while in_flight.len() < limit {
            let Some(value) = items.next() else { break };
            in_flight.push_back(AssertUnwindSafe(item(value)).catch_unwind());
        }
        let Some(result) = in_flight.next().await else {
            return Ok(());
        };
        each(match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StepFailure::from_error(error)),
            Err(payload) => Err(StepFailure::from_panic(&*payload)),
        })?;
    }
}

/// A step mapped over a list made at run time: `item` runs once per element
/// of the list `items` returns, at most `concurrency` at a time, and the
/// step's output is the results in the list's order.
pub struct Map<T, U> {
    items: InputFn<Vec<T>>,
    item: Arc<dyn Fn(T) -> BoxFuture<Result<U, BoxError>> + Send + Sync>,
    concurrency: usize,
}

impl<T: Send + 'static, U: Send + Sync + 'static> Map<T, U> {
    /// Maps `item` over the list `items` computes from the step's context.
    pub fn new<F, Fut, E>(
        items: impl Fn(&StepContext) -> Result<Vec<T>, BoxError> + Send + Sync + 'static,
        item: F,
    ) -> Self
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        Self {
            items: Arc::new(items),
            item: Arc::new(move |value| {
                let fut = item(value);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }),
            concurrency: 16,
        }
    }

    /// At most `limit` items in flight at once (at least 1; default 16).
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.concurrency = limit.max(1);
        self
    }
}

impl Workflow {
    /// Adds a step that runs `workflow` with the input `input` computes
    /// from the step's context. Its output is the nested run's
    /// [`RunReport`] (which also nests in this step's report); a nested run
    /// in which a step did not succeed fails this step.
    pub fn add_workflow<I: Send + Sync + 'static>(
        &mut self,
        name: impl AsRef<str>,
        workflow: &Workflow,
        input: impl Fn(&StepContext) -> Result<I, BoxError> + Send + Sync + 'static,
    ) -> StepBuilder<'_> {
        let workflow = workflow.clone();
        let input: InputFn<I> = Arc::new(input);
        self.add_step(name, move |ctx: StepContext| {
            let (workflow, input) = (workflow.clone(), Arc::clone(&input));
            async move {
                let report = ctx.run_workflow(&workflow, input(&ctx)?).await?;
                report.ensure_success()?;
                Ok::<_, BoxError>(report)
            }
        })
    }

    /// Adds a bounded [`Loop`]; its output is a [`Repeated`].
    pub fn add_loop<I: Send + Sync + 'static>(
        &mut self,
        name: impl AsRef<str>,
        spec: Loop<I>,
    ) -> StepBuilder<'_> {
        let Loop {
            body,
            max_iterations,
            until,
            input,
        } = spec;
        self.add_step(name, move |ctx: StepContext| {
            let (body, until, input) = (body.clone(), Arc::clone(&until), Arc::clone(&input));
            async move {
                let value = input(&ctx)?;
                run_loop(
                    &ctx,
                    &body,
                    max_iterations,
                    |report: &RunReport| until(report),
                    value,
                )
                .await
            }
        })
    }

    /// Adds a [`Gate`]; its output is a [`Repeated`].
    pub fn add_gate<I: Send + Sync + 'static>(
        &mut self,
        name: impl AsRef<str>,
        spec: Gate<I>,
    ) -> StepBuilder<'_> {
        let Gate {
            checked,
            check,
            max_attempts,
            input,
        } = spec;
        self.add_step(name, move |ctx: StepContext| {
            let (checked, check, input) = (checked.clone(), check.clone(), Arc::clone(&input));
            async move {
                let value = input(&ctx)?;
                run_gate(&ctx, &checked, &check, max_attempts, value).await
            }
        })
    }

    /// Adds a [`Map`] that fails on the first failed item (the error names
    /// the item's index); its output is `Vec<U>` in the list's order.
    pub fn add_map<T: Send + 'static, U: Send + Sync + 'static>(
        &mut self,
        name: impl AsRef<str>,
        map: Map<T, U>,
    ) -> StepBuilder<'_> {
        let map = Arc::new(map);
        self.add_step(name, move |ctx: StepContext| {
            let map = Arc::clone(&map);
            async move {
                let items = (map.items)(&ctx)?;
                let item = Arc::clone(&map.item);
                run_map(items, map.concurrency, move |value| item(value)).await
            }
        })
    }

    /// Adds a [`Map`] that collects failed items as errors; its output is
    /// `Vec<Result<U, StepFailure>>` in the list's order.
    pub fn add_map_collecting<T: Send + 'static, U: Send + Sync + 'static>(
        &mut self,
        name: impl AsRef<str>,
        map: Map<T, U>,
    ) -> StepBuilder<'_> {
        let map = Arc::new(map);
        self.add_step(name, move |ctx: StepContext| {
            let map = Arc::clone(&map);
            async move {
                let items = (map.items)(&ctx)?;
                let item = Arc::clone(&map.item);
                Ok::<_, BoxError>(
                    run_map_collecting(items, map.concurrency, move |value| item(value)).await,
                )
            }
        })
    }
}

impl<I> fmt::Debug for Loop<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loop")
            .field("body", &self.body.name())
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

impl<I> fmt::Debug for Gate<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("checked", &self.checked.name())
            .field("check", &self.check)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<T, U> fmt::Debug for Map<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}
