//! Workflows: named steps, their dependencies and options, validated once
//! into an execution plan.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::step_name::StepName;

use crate::context::StepContext;
use crate::definition::{StepDefinition, WorkflowDefinition};
use crate::error::{BoxError, ValidationErrors};
use crate::handlers::{HandlerRef, Handlers};
use crate::names::NameIndex;
use crate::report::Output;
use crate::retry::RetryPolicy;

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

/// The future of a step's handler, its types erased: boxed, in a box a
/// later step with the same handler type may reuse (see
/// [`StepSlot`](crate::handlers::StepSlot)).
pub(crate) type StepFuture = Pin<Box<dyn crate::handlers::StepSlot>>;

/// A step handler with its output type erased.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    /// The future of one call.
    type Fut: Future<Output = Result<Output, BoxError>> + Send + 'static;
    fn call(&self, ctx: StepContext) -> Self::Fut;
    /// The name of the type the step produces, as a function (half the
    /// size of the name itself, for the million copies reports may hold).
    fn output_type(&self) -> fn() -> &'static str;
    /// Whether the step produces a [`Branch`](crate::Branch), which the
    /// executor reads.
    fn is_branch(&self) -> bool;
}

pub(crate) struct FnHandler<F, T, E> {
    f: F,
    _types: PhantomData<fn() -> (T, E)>,
}

#[cfg(test)]
impl<F, T, E> FnHandler<F, T, E> {
    pub(crate) fn new(f: F) -> Self {
        Self {
            f,
            _types: PhantomData,
        }
    }
}

impl<F, Fut, T, E> ErasedHandler for FnHandler<F, T, E>
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + Sync + 'static,
    E: Into<BoxError> + 'static,
{
    type Fut = Erase<Fut, T, E>;

    fn call(&self, ctx: StepContext) -> Self::Fut {
        Erase {
            fut: (self.f)(ctx),
            _types: PhantomData,
        }
    }

    fn output_type(&self) -> fn() -> &'static str {
        std::any::type_name::<T>
    }

    fn is_branch(&self) -> bool {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<crate::Branch>()
    }
}

pin_project_lite::pin_project! {
    /// A handler's future, its output erased as the engine stores it. A
    /// plain future rather than an `async` block around the handler's:
    /// the block moved the handler's future into its own state when first
    /// polled, a copy of the whole future per step.
    pub(crate) struct Erase<Fut, T, E> {
        #[pin]
        fut: Fut,
        _types: PhantomData<fn() -> (T, E)>,
    }
}

impl<Fut, T, E> Future for Erase<Fut, T, E>
where
    Fut: Future<Output = Result<T, E>>,
    T: Send + Sync + 'static,
    E: Into<BoxError>,
{
    type Output = Result<Output, BoxError>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.project().fut.poll(cx).map(|result| match result {
            Ok(value) => Ok(crate::dsl::erase(value)),
            Err(error) => Err(error.into()),
        })
    }
}

/// A handler whose future yields the erased output itself: what
/// `workflow!` generates (see [`crate::dsl::add_step`]).
pub(crate) struct ErasedFnHandler<F, T> {
    f: F,
    _types: PhantomData<fn() -> T>,
}

impl<F, T> ErasedFnHandler<F, T> {
    pub(crate) fn new(f: F) -> Self {
        Self {
            f,
            _types: PhantomData,
        }
    }
}

impl<F, Fut, T> ErasedHandler for ErasedFnHandler<F, T>
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Output, BoxError>> + Send + 'static,
    T: Send + Sync + 'static,
{
    type Fut = Fut;

    fn call(&self, ctx: StepContext) -> Fut {
        (self.f)(ctx)
    }

    fn output_type(&self) -> fn() -> &'static str {
        std::any::type_name::<T>
    }

    fn is_branch(&self) -> bool {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<crate::Branch>()
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

/// The options of a step that sets none, shared by all such steps.
static DEFAULT_OPTIONS: StepOptions = StepOptions {
    retry: None,
    timeout: None,
    own_task: false,
    trigger: TriggerRule::AllSuccess,
    condition: None,
};

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

/// A dependency as `depends_on` recorded it: the position of a step, or,
/// with this bit set, the position in [`WorkflowInner::forward`] of the
/// name of a step not added yet.
pub(crate) const FORWARD: u32 = 1 << 31;

/// One step of a workflow: 48 bytes, plus its handler in
/// [`WorkflowInner::handlers`] (and its name when longer than 23 bytes).
#[derive(Clone)]
pub(crate) struct StepDef {
    /// Inline when short, so most steps' names cost no allocation, and
    /// copying it into each run's report no reference count.
    pub(crate) name: StepName,
    pub(crate) handler: HandlerRef,
    /// Where this step's dependencies end in [`WorkflowInner::edges`];
    /// they start where the previous step's end.
    deps_end: usize,
    /// `None` for the default options, which most steps keep.
    options: Option<Box<StepOptions>>,
}

impl StepDef {
    pub(crate) fn options(&self) -> &StepOptions {
        self.options.as_deref().unwrap_or(&DEFAULT_OPTIONS)
    }

    /// Whether the step sets no option (no retry, timeout, own task,
    /// trigger rule or condition).
    pub(crate) fn has_default_options(&self) -> bool {
        self.options.is_none()
    }
}

/// A CSR adjacency list: the neighbours of node `i` are
/// `targets[offsets[i]..offsets[i + 1]]`. Offsets are 32-bit: validation
/// refuses a workflow with more dependencies than that.
#[derive(Debug, Default)]
pub(crate) struct Adjacency {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Adjacency {
    /// The neighbours of `node`.
    pub(crate) fn get(&self, node: usize) -> &[u32] {
        &self.targets[self.offsets[node] as usize..self.offsets[node + 1] as usize]
    }

    /// How many neighbours each node has.
    pub(crate) fn degrees(&self) -> Vec<u32> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// An empty list of `nodes` nodes, with room for `edges` neighbours,
    /// to [`push`](Self::push) node after node.
    pub(crate) fn with_capacity(nodes: usize, edges: usize) -> Self {
        let mut offsets = Vec::with_capacity(nodes + 1);
        offsets.push(0);
        Self {
            offsets,
            targets: Vec::with_capacity(edges),
        }
    }

    /// Appends the next node's neighbours.
    #[allow(clippy::cast_possible_truncation)] // validation bounds the edges
    pub(crate) fn push(&mut self, neighbours: &[u32]) {
        self.targets.extend_from_slice(neighbours);
        self.offsets.push(self.targets.len() as u32);
    }

    /// The reverse of the `nodes` lists `list(i)`: for each node, the nodes
    /// that list it, in increasing order.
    pub(crate) fn reverse<'a>(nodes: usize, list: impl Fn(usize) -> &'a [u32]) -> Self {
        // Count each node's neighbours, sum the counts into where each
        // node's list ends, then fill every list from its end, taking the
        // nodes last to first: the lists come out in increasing order and
        // the ends become the starts, with no second array of positions.
        let mut offsets = vec![0u32; nodes + 1];
        for node in 0..nodes {
            for &t in list(node) {
                offsets[t as usize] += 1;
            }
        }
        for i in 1..=nodes {
            offsets[i] += offsets[i - 1];
        }
        let mut targets = vec![0u32; offsets[nodes] as usize];
        for node in (0..nodes).rev() {
            for &t in list(node) {
                let end = &mut offsets[t as usize];
                *end -= 1;
                #[allow(clippy::cast_possible_truncation)] // below FORWARD
                {
                    targets[*end as usize] = node as u32;
                }
            }
        }
        Self { offsets, targets }
    }
}

/// The validated form of a workflow: dependencies as positions.
#[derive(Debug)]
pub(crate) struct Plan {
    /// For each step, the positions of its dependencies, sorted, no
    /// repeats; `None` when the workflow's own list already is that.
    pub(crate) own_deps: Option<Adjacency>,
    /// For each step, the positions of the steps that depend on it.
    pub(crate) dependents: Adjacency,
    /// Step name to position, shared with the workflow and its reports.
    pub(crate) index: Arc<NameIndex>,
    /// Steps with no dependencies, in the order they were added.
    pub(crate) roots: Vec<u32>,
    /// Whether every step has default options and none is a branch, so
    /// a `workflow!` type may run it on its static path.
    pub(crate) plain: bool,
    /// The steps' names as events carry them, made when a run first has
    /// a subscriber (see [`Plan::event_name`]).
    pub(crate) event_names: OnceLock<Box<[Arc<str>]>>,
}

impl Plan {
    /// The name of step `step` of `wf` for an event. A short name is
    /// inline in its step, so the names are made shared once per plan
    /// (per version of the workflow), the first time a run has a
    /// subscriber: each event then shares its step's name rather than
    /// allocating one.
    pub(crate) fn event_name(&self, wf: &WorkflowInner, step: usize) -> Arc<str> {
        let names = self
            .event_names
            .get_or_init(|| wf.steps.iter().map(|s| s.name.clone().into()).collect());
        match names.get(step) {
            Some(name) => Arc::clone(name),
            None => Arc::from(""),
        }
    }

    /// The positions of the dependencies of `step` of `wf` (the workflow
    /// this plan was made from), sorted, no repeats.
    pub(crate) fn deps<'a>(&'a self, wf: &'a WorkflowInner, step: usize) -> &'a [u32] {
        match &self.own_deps {
            Some(deps) => deps.get(step),
            None => wf.raw_deps(step),
        }
    }

    /// How many dependencies each step of `wf` waits for: the counts a run
    /// starts from.
    /// (The differences of consecutive list ends: one pass, no lookups.)
    pub(crate) fn dependency_counts(&self, wf: &WorkflowInner) -> Vec<u32> {
        match &self.own_deps {
            Some(deps) => deps.degrees(),
            None => {
                let mut start = 0;
                wf.steps
                    .iter()
                    .map(|step| {
                        #[allow(clippy::cast_possible_truncation)] // validation bounds the edges
                        let count = (step.deps_end - start) as u32;
                        start = step.deps_end;
                        count
                    })
                    .collect()
            }
        }
    }
}

#[derive(Clone)]
pub(crate) struct WorkflowInner {
    pub(crate) name: Arc<str>,
    pub(crate) steps: Vec<StepDef>,
    /// The steps' handlers.
    pub(crate) handlers: Handlers,
    /// Every step's dependencies, step after step (see [`FORWARD`]).
    pub(crate) edges: Vec<u32>,
    /// Names of dependencies that were not steps yet when they were given.
    pub(crate) forward: Vec<Box<str>>,
    /// The steps' names; a repeated name points at its first step.
    pub(crate) names: Arc<NameIndex>,
    /// Positions of steps whose name an earlier step already has.
    pub(crate) repeated: Vec<u32>,
    plan: OnceLock<Result<Arc<Plan>, ValidationErrors>>,
}

impl WorkflowInner {
    /// A record per step, none of them run yet: the records a run starts
    /// from.
    pub(crate) fn pending_records(&self) -> Vec<crate::report::StepReport> {
        self.steps
            .iter()
            .map(|step| {
                // The handler is asked first: a name copied before the call
                // is kept across it on the stack, and read back in words
                // other than it was written in (a store-forwarding stall).
                let output_type = self.handlers.output_type(step.handler);
                crate::report::StepReport::pending(step.name.clone(), output_type)
            })
            .collect()
    }

    pub(crate) fn plan(&self) -> Result<Arc<Plan>, ValidationErrors> {
        self.plan
            .get_or_init(|| crate::validate::check_workflow(self).map(Arc::new))
            .clone()
    }

    /// The name of the type step `step` produces.
    pub(crate) fn output_type(&self, step: usize) -> &'static str {
        self.handlers.output_type(self.steps[step].handler)()
    }

    /// Calls the handler of step `step`.
    pub(crate) fn call(&self, step: usize, ctx: StepContext) -> StepFuture {
        self.handlers.call(self.steps[step].handler, ctx)
    }

    /// Calls the handler of step `step`, its future in `spare` (a box of a
    /// step's finished future) when that held one of the same handler
    /// type, else in a new box.
    pub(crate) fn call_reusing(
        &self,
        step: usize,
        ctx: StepContext,
        spare: Option<StepFuture>,
    ) -> StepFuture {
        self.handlers
            .call_reusing(self.steps[step].handler, ctx, spare)
    }

    /// Whether step `step` produces a [`Branch`](crate::Branch).
    pub(crate) fn is_branch(&self, step: usize) -> bool {
        self.handlers.is_branch(self.steps[step].handler)
    }

    /// The raw dependency entries of step `step` (see [`FORWARD`]).
    pub(crate) fn raw_deps(&self, step: usize) -> &[u32] {
        let start = match step {
            0 => 0,
            _ => self.steps[step - 1].deps_end,
        };
        &self.edges[start..self.steps[step].deps_end]
    }

    /// The name a raw dependency entry stands for.
    pub(crate) fn dep_name(&self, entry: u32) -> &str {
        if entry & FORWARD == 0 {
            &self.steps[entry as usize].name
        } else {
            &self.forward[(entry & !FORWARD) as usize]
        }
    }

    /// The names step `step` depends on, as given.
    pub(crate) fn dependency_names(&self, step: usize) -> impl Iterator<Item = &str> {
        self.raw_deps(step).iter().map(|&e| self.dep_name(e))
    }

    /// Adds `dependency` to the last step's dependencies.
    fn depend_on(&mut self, dependency: &str) {
        let Self {
            steps: defs,
            edges,
            forward,
            names,
            ..
        } = self;
        let me = defs.len() - 1;
        let entry = if defs[me].name.is(dependency) {
            Some(me)
        } else {
            names.get(dependency, |i| &defs[i].name)
        };
        let entry = match entry.filter(|&i| i < FORWARD as usize) {
            #[allow(clippy::cast_possible_truncation)] // below FORWARD
            Some(position) => position as u32,
            None => {
                forward.push(Box::from(dependency));
                // A workflow with 2^31 forward names is reported by
                // validation; the entry then saturates.
                u32::try_from(forward.len() - 1).map_or(u32::MAX, |k| k.min(!FORWARD) | FORWARD)
            }
        };
        edges.push(entry);
        defs[me].deps_end = edges.len();
    }

    /// The position of the step named `name`.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.names.get(name, |i| &self.steps[i].name)
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
                handlers: Handlers::default(),
                edges: Vec::new(),
                forward: Vec::new(),
                names: Arc::default(),
                repeated: Vec::new(),
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
    /// `name` is borrowed (`&str`, `&String`, `String`, ...): the workflow
    /// keeps one copy of it, shared with its reports.
    /// `handler` is any async function or closure taking a [`StepContext`]
    /// and returning `Result<T, E>`, where `T: Send + Sync + 'static` is the
    /// step's output and `E` any error (anything that converts into
    /// [`BoxError`]). Problems with the name (empty, repeated) are reported
    /// by [`validate`](Self::validate) and before a run, never by a panic.
    // Inlined where it is called, so the handler's captures go from the
    // caller's registers into its allocation rather than through memory.
    #[inline]
    pub fn add_step<F, Fut, T, E>(&mut self, name: impl AsRef<str>, handler: F) -> StepBuilder<'_>
    where
        F: Fn(StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + Sync + 'static,
        E: Into<BoxError> + 'static,
    {
        self.push_handler(
            name.as_ref(),
            FnHandler {
                f: handler,
                _types: PhantomData,
            },
        )
    }

    /// Adds a step with `handler`: stores the handler by its type, then
    /// the rest ([`push_step`](Self::push_step)).
    #[inline]
    pub(crate) fn push_handler<H: ErasedHandler>(
        &mut self,
        name: &str,
        handler: H,
    ) -> StepBuilder<'_> {
        let inner = self.make_mut();
        let handler = inner.handlers.push(handler);
        Self::push_step(inner, name, handler)
    }

    /// The part of [`add_step`](Self::add_step) that does not depend on the
    /// handler's type: one copy, however many handler types a program has.
    fn push_step<'a>(
        inner: &'a mut WorkflowInner,
        name: &str,
        handler: HandlerRef,
    ) -> StepBuilder<'a> {
        let WorkflowInner {
            steps,
            edges,
            names,
            repeated,
            ..
        } = inner;
        // Room first: a step made before the list may grow is kept in
        // memory across that call and copied in other widths than it was
        // written (a store-forwarding stall per step).
        if steps.len() == steps.capacity() {
            steps.reserve(1);
        }
        steps.push(StepDef {
            name: StepName::new(name),
            handler,
            deps_end: edges.len(),
            options: None,
        });
        let position = steps.len() - 1;
        // Positions past `FORWARD` are not indexed; validation reports them.
        if let Some(position) = u32::try_from(position).ok().filter(|&p| p < FORWARD) {
            let name = &steps[position as usize].name;
            let names = Arc::make_mut(names);
            if names.insert(name, position, |i| &steps[i].name).is_err() && !name.is_empty() {
                repeated.push(position);
            }
        }
        StepBuilder { inner }
    }

    /// Makes room for `additional` more steps, so adding them does not
    /// grow the workflow's lists and name table step by step: for a
    /// workflow whose size is known before it is built (a workflow file,
    /// an agent's plan).
    ///
    /// ```
    /// use orchestrator_core::{BoxError, StepContext, Workflow};
    ///
    /// let plan = [("fetch", vec![]), ("parse", vec!["fetch"]), ("store", vec!["parse"])];
    /// let mut wf = Workflow::new("etl");
    /// wf.reserve(plan.len());
    /// for (name, deps) in &plan {
    ///     wf.add_step(name, |_ctx: StepContext| async { Ok::<_, BoxError>(()) })
    ///         .depends_on(deps);
    /// }
    /// assert!(wf.validate().is_ok());
    /// assert_eq!(wf.dependencies("store"), Some(vec!["parse"]));
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        let inner = self.make_mut();
        let WorkflowInner {
            steps,
            names,
            handlers,
            ..
        } = inner;
        steps.reserve(additional);
        Arc::make_mut(names).reserve(additional, |i| &steps[i].name);
        handlers.expect(additional);
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
    pub fn dependencies(&self, step: &str) -> Option<Vec<&str>> {
        let position = self.inner.position(step)?;
        Some(self.inner.dependency_names(position).collect())
    }

    /// The workflow's plain description (names and dependencies, no
    /// handlers), for [analysis](crate::analysis) and
    /// [rendering](crate::render). Durations are unknown (`None`).
    pub fn definition(&self) -> WorkflowDefinition {
        WorkflowDefinition {
            name: self.name().to_owned(),
            steps: (0..self.len())
                .map(|step| StepDefinition {
                    name: self.inner.steps[step].name.to_string(),
                    depends_on: self
                        .inner
                        .dependency_names(step)
                        .map(str::to_owned)
                        .collect(),
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
        for (position, step) in self.inner.steps.iter().enumerate() {
            let deps: Vec<&str> = self.inner.dependency_names(position).collect();
            steps.entry(&step.name, &deps);
        }
        steps.finish()?;
        Ok(())
    }
}

/// Sets a new step's dependencies and options; returned by
/// [`Workflow::add_step`].
pub struct StepBuilder<'a> {
    /// The workflow; the step is its last one.
    inner: &'a mut WorkflowInner,
}

impl StepBuilder<'_> {
    fn options(&mut self) -> &mut StepOptions {
        let Some(def) = self.inner.steps.last_mut() else {
            unreachable!("a step builder exists only after its step was added")
        };
        def.options.get_or_insert_default()
    }

    /// The steps this one waits for, and whose outputs it may read.
    /// Calling it again adds more.
    pub fn depends_on<I, S>(self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for dependency in steps {
            self.inner.depend_on(dependency.as_ref());
        }
        self
    }

    /// Retries failed attempts according to `policy`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options().retry = Some(policy);
        self
    }

    /// Fails an attempt that runs longer than `limit` (as `TimedOut`).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.options().timeout = Some(limit);
        self
    }

    /// Runs the step on its own tokio task, so CPU-heavy steps use every
    /// core of a multi-threaded runtime. Other steps are polled by the
    /// run's own task, which is cheaper.
    pub fn own_task(mut self) -> Self {
        self.options().own_task = true;
        self
    }

    /// When the step runs given its dependencies' states
    /// (default [`TriggerRule::AllSuccess`]).
    pub fn trigger_rule(mut self, rule: TriggerRule) -> Self {
        self.options().trigger = rule;
        self
    }

    /// Runs the step only if `condition` holds; it is looked at, with the
    /// step's context (its dependencies' outputs, the input), once the
    /// trigger rule holds. When false the step is Skipped with the reason
    /// "condition", and its dependents follow their trigger rules. A
    /// condition that panics fails the step.
    pub fn condition(
        mut self,
        condition: impl Fn(&StepContext) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.options().condition = Some(Arc::new(condition));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Adjacency;

    #[test]
    fn the_reverse_of_a_list_names_each_nodes_listers_in_increasing_order() {
        let lists: [&[u32]; 5] = [&[], &[0], &[0, 1], &[1], &[3, 0]];
        let reverse = Adjacency::reverse(lists.len(), |node| lists[node]);
        let got: Vec<&[u32]> = (0..lists.len()).map(|node| reverse.get(node)).collect();
        let expected: [&[u32]; 5] = [&[1, 2, 4], &[2, 3], &[], &[4], &[]];
        assert_eq!(got, expected);
        assert_eq!(reverse.degrees(), [3, 2, 0, 1, 0]);
        assert!(Adjacency::reverse(0, |_| &[]).degrees().is_empty());
    }
}
