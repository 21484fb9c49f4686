//! Workflows: named steps, their dependencies and options, validated once
//! into an execution plan.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::context::StepContext;
use crate::definition::{StepDefinition, WorkflowDefinition};
use crate::error::{BoxError, ValidationErrors};
use crate::graph;
use crate::report::Output;
use crate::retry::RetryPolicy;
use crate::validate::{Checked, NamedStep};

/// When a step runs, given the final states of its dependencies.
///
/// A step's rule is looked at once every dependency has reached a final
/// state. When it does not hold, the step is Skipped and the skip flows on
/// to its own dependents by their rules, so nothing ever waits forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TriggerRule {
    /// Every dependency succeeded (the default).
    #[default]
    AllSuccess,
    /// Every dependency is done, whatever its state.
    AllDone,
    /// At least one dependency succeeded.
    OneSuccess,
    /// At least one dependency failed or timed out.
    OneFailed,
    /// No dependency failed or timed out (skipped ones are fine).
    NoneFailed,
    /// No dependency failed or timed out and at least one succeeded: the
    /// join after a branch.
    NoneFailedMinOneSuccess,
    /// Always run, whatever happened upstream.
    Always,
}

impl TriggerRule {
    /// The rule's name in `snake_case`, as in workflow files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllSuccess => "all_success",
            Self::AllDone => "all_done",
            Self::OneSuccess => "one_success",
            Self::OneFailed => "one_failed",
            Self::NoneFailed => "none_failed",
            Self::NoneFailedMinOneSuccess => "none_failed_min_one_success",
            Self::Always => "always",
        }
    }
}

impl fmt::Display for TriggerRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The future a type-erased handler returns.
pub(crate) type StepFuture = Pin<Box<dyn Future<Output = Result<Output, BoxError>> + Send>>;

/// A step handler with its types erased.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    fn call(&self, ctx: StepContext) -> StepFuture;
}

struct FnHandler<F, T, E> {
    f: F,
    _types: PhantomData<fn() -> (T, E)>,
}

impl<F, Fut, T, E> ErasedHandler for FnHandler<F, T, E>
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + Sync + 'static,
    E: Into<BoxError> + 'static,
{
    fn call(&self, ctx: StepContext) -> StepFuture {
        let fut = (self.f)(ctx);
        Box::pin(async move {
            match fut.await {
                Ok(value) => Ok(Arc::new(value) as Output),
                Err(error) => Err(error.into()),
            }
        })
    }
}

/// A step's condition: looked at once the step's trigger rule holds.
pub(crate) type Condition = Arc<dyn Fn(&StepContext) -> bool + Send + Sync>;

/// Per-step options: retries, timeout, own task, trigger rule, condition.
#[derive(Clone, Default)]
pub struct StepOptions {
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) own_task: bool,
    pub(crate) trigger: TriggerRule,
    pub(crate) condition: Option<Condition>,
}

impl fmt::Debug for StepOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepOptions")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("own_task", &self.own_task)
            .field("trigger", &self.trigger)
            .field("condition", &self.condition.as_ref().map(|_| ".."))
            .finish()
    }
}

#[derive(Clone)]
pub(crate) struct StepDef {
    pub(crate) name: Arc<str>,
    pub(crate) depends_on: Vec<String>,
    pub(crate) handler: Arc<dyn ErasedHandler>,
    pub(crate) output_type: &'static str,
    /// The output is a [`Branch`](crate::Branch): the executor reads it.
    pub(crate) is_branch: bool,
    pub(crate) options: StepOptions,
}

/// The validated form of a workflow: dependencies as indices.
#[derive(Debug)]
pub(crate) struct Plan {
    /// For each step, the indices of its dependencies, sorted, no repeats.
    pub(crate) deps: Vec<Vec<usize>>,
    /// For each step, the indices of the steps that depend on it.
    pub(crate) dependents: Vec<Vec<usize>>,
    /// Step name to index.
    pub(crate) index: Arc<HashMap<Arc<str>, usize>>,
    /// Steps with no dependencies, in the order they were added.
    pub(crate) roots: Vec<usize>,
}

#[derive(Clone)]
pub(crate) struct WorkflowInner {
    pub(crate) name: Arc<str>,
    pub(crate) steps: Vec<StepDef>,
    plan: OnceLock<Result<Arc<Plan>, ValidationErrors>>,
}

impl WorkflowInner {
    pub(crate) fn plan(&self) -> Result<Arc<Plan>, ValidationErrors> {
        self.plan.get_or_init(|| validate(self)).clone()
    }
}

/// A named DAG of async steps, built while the program runs.
///
/// Cloning is cheap (one reference count); a clone that is then changed
/// copies the definition first, so runs in progress never see a change.
/// A workflow can be executed any number of times, concurrently.
///
/// ```
/// use orchestrator_core::{StepContext, WorkflowEngine};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = WorkflowEngine::new();
/// let mut wf = engine.create_workflow("double");
/// wf.add_step("two", |_ctx: StepContext| async { Ok::<_, std::io::Error>(2) });
/// wf.add_step("four", |ctx: StepContext| async move {
///     let two = ctx.output::<i32>("two")?;
///     Ok::<_, orchestrator_core::ContextError>(two * 2)
/// })
/// .depends_on(["two"]);
/// let report = engine.execute(&wf).await?;
/// assert_eq!(report.output::<i32>("four"), Some(&4));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Workflow {
    pub(crate) inner: Arc<WorkflowInner>,
}

impl Workflow {
    /// An empty workflow. [`WorkflowEngine::create_workflow`](crate::WorkflowEngine::create_workflow)
    /// does the same.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(WorkflowInner {
                name: Arc::from(name.into()),
                steps: Vec::new(),
                plan: OnceLock::new(),
            }),
        }
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.inner.steps.len()
    }

    /// Whether the workflow has no steps.
    pub fn is_empty(&self) -> bool {
        self.inner.steps.is_empty()
    }

    /// Adds a step and returns a builder for its dependencies and options.
    ///
    /// `handler` is any async function or closure taking a [`StepContext`]
    /// and returning `Result<T, E>`, where `T: Send + Sync + 'static` is the
    /// step's output and `E` any error (anything that converts into
    /// [`BoxError`]). Problems with the name (empty, repeated) are reported
    /// by [`validate`](Self::validate) and before a run, never by a panic.
    pub fn add_step<F, Fut, T, E>(&mut self, name: impl Into<String>, handler: F) -> StepBuilder<'_>
    where
        F: Fn(StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + Sync + 'static,
        E: Into<BoxError> + 'static,
    {
        let def = StepDef {
            name: Arc::from(name.into()),
            depends_on: Vec::new(),
            handler: Arc::new(FnHandler {
                f: handler,
                _types: PhantomData,
            }),
            output_type: std::any::type_name::<T>(),
            is_branch: std::any::TypeId::of::<T>() == std::any::TypeId::of::<crate::Branch>(),
            options: StepOptions::default(),
        };
        let inner = self.make_mut();
        inner.steps.push(def);
        let step = inner.steps.len() - 1;
        StepBuilder {
            def: &mut inner.steps[step],
        }
    }

    /// Checks the workflow: empty and repeated names, self-dependencies,
    /// unknown dependencies (with the closest existing name) and cycles
    /// (with their whole path). Every problem is reported, not just the
    /// first. The result is cached until the workflow changes.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        self.inner.plan().map(|_| ())
    }

    /// The steps' names, in the order they were added.
    pub fn step_names(&self) -> impl Iterator<Item = &str> {
        self.inner.steps.iter().map(|s| &*s.name)
    }

    /// The dependencies of the step named `step`, as written.
    pub fn dependencies(&self, step: &str) -> Option<&[String]> {
        self.inner
            .steps
            .iter()
            .find(|s| &*s.name == step)
            .map(|s| s.depends_on.as_slice())
    }

    /// The workflow's plain description (names and dependencies, no
    /// handlers), for [analysis](crate::analysis) and
    /// [rendering](crate::render). Durations are unknown (`None`).
    pub fn definition(&self) -> WorkflowDefinition {
        WorkflowDefinition {
            name: self.name().to_owned(),
            steps: self
                .inner
                .steps
                .iter()
                .map(|step| StepDefinition {
                    name: step.name.to_string(),
                    depends_on: step.depends_on.clone(),
                    duration: None,
                })
                .collect(),
        }
    }

    fn make_mut(&mut self) -> &mut WorkflowInner {
        let inner = Arc::make_mut(&mut self.inner);
        inner.plan = OnceLock::new();
        inner
    }
}

impl fmt::Debug for Workflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut steps = f.debug_map();
        for step in &self.inner.steps {
            steps.entry(&step.name, &step.depends_on);
        }
        steps.finish()?;
        Ok(())
    }
}

/// Sets a new step's dependencies and options; returned by
/// [`Workflow::add_step`].
pub struct StepBuilder<'a> {
    def: &'a mut StepDef,
}

impl StepBuilder<'_> {
    /// The steps this one waits for, and whose outputs it may read.
    /// Calling it again adds more.
    pub fn depends_on<I, S>(self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.def
            .depends_on
            .extend(steps.into_iter().map(Into::into));
        self
    }

    /// Retries failed attempts according to `policy`.
    pub fn retry(self, policy: RetryPolicy) -> Self {
        self.def.options.retry = Some(policy);
        self
    }

    /// Fails an attempt that runs longer than `limit` (as `TimedOut`).
    pub fn timeout(self, limit: Duration) -> Self {
        self.def.options.timeout = Some(limit);
        self
    }

    /// Runs the step on its own tokio task, so CPU-heavy steps use every
    /// core of a multi-threaded runtime. Other steps are polled by the
    /// run's own task, which is cheaper.
    pub fn own_task(self) -> Self {
        self.def.options.own_task = true;
        self
    }

    /// When the step runs given its dependencies' states
    /// (default [`TriggerRule::AllSuccess`]).
    pub fn trigger_rule(self, rule: TriggerRule) -> Self {
        self.def.options.trigger = rule;
        self
    }

    /// Runs the step only if `condition` holds; it is looked at, with the
    /// step's context (its dependencies' outputs, the input), once the
    /// trigger rule holds. When false the step is Skipped with the reason
    /// "condition", and its dependents follow their trigger rules. A
    /// condition that panics fails the step.
    pub fn condition(
        self,
        condition: impl Fn(&StepContext) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.def.options.condition = Some(Arc::new(condition));
        self
    }
}

/// Checks a workflow and builds its plan; see [`Workflow::validate`].
fn validate(wf: &WorkflowInner) -> Result<Arc<Plan>, ValidationErrors> {
    let Checked { deps, errors, .. } = crate::validate::check(&wf.name, &wf.steps);
    if !errors.is_empty() {
        return Err(ValidationErrors {
            workflow: wf.name.to_string(),
            errors,
        });
    }
    let index = wf
        .steps
        .iter()
        .enumerate()
        .map(|(position, step)| (step.name.clone(), position))
        .collect();
    let dependents = graph::successors(&deps);
    let roots = (0..deps.len()).filter(|&i| deps[i].is_empty()).collect();
    Ok(Arc::new(Plan {
        deps,
        dependents,
        index: Arc::new(index),
        roots,
    }))
}

impl NamedStep for StepDef {
    fn name(&self) -> &str {
        &self.name
    }

    fn depends_on(&self) -> &[String] {
        &self.depends_on
    }
}
