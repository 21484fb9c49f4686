//! The engine: creates workflows, runs them, and publishes their events.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::context::Resources;
use crate::error::WorkflowError;
use crate::events::{Event, EventStream};
use crate::executor::{self, RunSettings, RunShared};
use crate::report::RunReport;
use crate::workflow::Workflow;

/// Runs workflows. Cheap to clone; clones share options, resources and
/// the event stream.
///
/// ```
/// use std::time::Duration;
/// use orchestrator_core::WorkflowEngine;
///
/// let engine = WorkflowEngine::builder()
///     .max_concurrency(8)
///     .run_timeout(Duration::from_secs(60))
///     .resource(String::from("https://api.example"))
///     .build();
/// let wf = engine.create_workflow("pipeline");
/// assert_eq!(wf.name(), "pipeline");
/// ```
#[derive(Clone)]
pub struct WorkflowEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    max_concurrency: usize,
    fail_fast: bool,
    run_timeout: Option<Duration>,
    resources: Arc<Resources>,
    /// The channel of the engine's events, made when the first subscriber
    /// subscribes: an engine nobody listens to (most) never allocates its
    /// `event_capacity` slots.
    events: OnceLock<broadcast::Sender<Event>>,
    event_capacity: usize,
    next_run_id: AtomicU64,
}

impl EngineInner {
    /// The events' channel, if anyone listens to it now.
    fn listened_events(&self) -> Option<&broadcast::Sender<Event>> {
        self.events
            .get()
            .filter(|events| events.receiver_count() > 0)
    }
}

impl WorkflowEngine {
    /// An engine with default options: no concurrency limit, failures do
    /// not stop other branches, no run timeout.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Whether runs on this engine need nothing but their steps: no event
    /// subscriber, concurrency limit, fail-fast or run timeout.
    pub(crate) fn runs_plain(&self) -> bool {
        let engine = &self.inner;
        engine.max_concurrency == usize::MAX
            && !engine.fail_fast
            && engine.run_timeout.is_none()
            && engine.listened_events().is_none()
    }

    /// A fresh run id.
    pub(crate) fn next_run_id(&self) -> u64 {
        self.inner.next_run_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The engine's resources.
    pub(crate) fn resources(&self) -> Arc<Resources> {
        Arc::clone(&self.inner.resources)
    }

    /// A builder for an engine with options.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// An empty workflow named `name`.
    pub fn create_workflow(&self, name: impl Into<String>) -> Workflow {
        Workflow::new(name)
    }

    /// A stream of the events of every run of this engine (or of any
    /// clone of it) that starts after this call.
    ///
    /// The first call makes the engine's event channel, with room for
    /// [`EngineBuilder::event_capacity`] events: an engine nobody
    /// subscribes to allocates none, and its runs send no events.
    pub fn subscribe(&self) -> EventStream {
        let capacity = self.inner.event_capacity;
        let events = self
            .inner
            .events
            .get_or_init(|| broadcast::channel(capacity).0);
        EventStream::new(events.subscribe())
    }

    /// Prepares a run of `workflow`; `.await` it for the report, or set
    /// run options first.
    ///
    /// The run validates the workflow first and returns
    /// [`WorkflowError::Invalid`] with every problem when it is not a valid
    /// DAG; nothing runs then. Otherwise it returns the report, whatever
    /// the steps did: check it with
    /// [`RunReport::ensure_success`](crate::RunReport::ensure_success).
    pub fn execute(&self, workflow: &Workflow) -> Execution {
        Execution {
            engine: self.clone(),
            workflow: workflow.clone(),
            input: None,
            resources: Resources::default(),
            cancel: CancellationToken::new(),
            max_concurrency: None,
            fail_fast: None,
            timeout: None,
        }
    }
}

impl Default for WorkflowEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WorkflowEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowEngine")
            .field("max_concurrency", &self.inner.max_concurrency)
            .field("fail_fast", &self.inner.fail_fast)
            .field("run_timeout", &self.inner.run_timeout)
            .field("resources", &self.inner.resources)
            .finish_non_exhaustive()
    }
}

/// Options of a [`WorkflowEngine`], from [`WorkflowEngine::builder`].
#[derive(Debug)]
#[must_use = "call `.build()` to get the engine"]
pub struct EngineBuilder {
    max_concurrency: usize,
    fail_fast: bool,
    run_timeout: Option<Duration>,
    resources: Resources,
    event_capacity: usize,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            max_concurrency: usize::MAX,
            fail_fast: false,
            run_timeout: None,
            resources: Resources::default(),
            event_capacity: 1024,
        }
    }
}

impl EngineBuilder {
    /// At most `limit` steps of one run in flight at once (at least 1).
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = limit.max(1);
        self
    }

    /// When a step fails, cancel the running steps and mark the rest
    /// Cancelled, instead of letting independent branches finish.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Cancels a run still going after `limit`.
    pub fn run_timeout(mut self, limit: Duration) -> Self {
        self.run_timeout = Some(limit);
        self
    }

    /// Adds a shared resource every step can read with
    /// [`StepContext::resource`](crate::StepContext::resource).
    pub fn resource<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.resources.insert(value);
        self
    }

    /// How many events a slow subscriber may fall behind before it loses
    /// the oldest (default 1024, at least 1).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// The engine. The first engine of a process also calibrates the
    /// clock that times steps (0.6 ms on the benchmark machine; `quanta`
    /// stops at 200 ms at most), so no run pays for it.
    pub fn build(self) -> WorkflowEngine {
        crate::clock::calibrate();
        WorkflowEngine {
            inner: Arc::new(EngineInner {
                max_concurrency: self.max_concurrency,
                fail_fast: self.fail_fast,
                run_timeout: self.run_timeout,
                resources: Arc::new(self.resources),
                events: OnceLock::new(),
                event_capacity: self.event_capacity,
                next_run_id: AtomicU64::new(1),
            }),
        }
    }
}

/// Cancels a run from anywhere; from [`Execution::cancel_handle`].
#[derive(Debug, Clone)]
pub struct CancelHandle(CancellationToken);

impl CancelHandle {
    /// Cancels the run: running steps are dropped (their tasks aborted),
    /// and every unfinished step is reported Cancelled.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether the run was cancelled (or ended by a timeout or fail-fast).
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// One run of a workflow, ready to start: set its options, then `.await`
/// it. From [`WorkflowEngine::execute`].
///
/// The future owns everything it needs (it can be spawned). Dropping it
/// cancels every step and leaves no task behind.
///
/// ```
/// # use orchestrator_core::{StepContext, WorkflowEngine};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let engine = WorkflowEngine::new();
/// # let mut wf = engine.create_workflow("greet");
/// # wf.add_step("hello", |ctx: StepContext| async move {
/// #     Ok::<_, orchestrator_core::ContextError>(format!("hello {}", ctx.input::<&str>()?))
/// # });
/// let run = engine.execute(&wf).input("world").max_concurrency(4);
/// let cancel = run.cancel_handle(); // e.g. for a Ctrl-C handler
/// let report = run.await?;
/// assert_eq!(report.output::<String>("hello").map(String::as_str), Some("hello world"));
/// # drop(cancel); Ok(()) }
/// ```
#[must_use = "an execution does nothing until it is awaited"]
pub struct Execution {
    engine: WorkflowEngine,
    workflow: Workflow,
    input: Option<(crate::report::Output, &'static str)>,
    resources: Resources,
    cancel: CancellationToken,
    max_concurrency: Option<usize>,
    fail_fast: Option<bool>,
    timeout: Option<Duration>,
}

impl Execution {
    /// The run's input, read by steps with
    /// [`StepContext::input`](crate::StepContext::input).
    pub fn input<T: Send + Sync + 'static>(mut self, input: T) -> Self {
        self.input = Some((
            crate::report::Output::new(input),
            std::any::type_name::<T>(),
        ));
        self
    }

    /// A resource for this run only, taking precedence over the engine's.
    pub fn resource<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.resources.insert(value);
        self
    }

    /// At most `limit` steps in flight at once, for this run.
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit.max(1));
        self
    }

    /// Fail fast (or not) for this run; see [`EngineBuilder::fail_fast`].
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = Some(fail_fast);
        self
    }

    /// Cancels this run if it is still going after `limit`.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Runs under `token`: cancelling it cancels the run. Use it to tie
    /// runs to a wider shutdown signal.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// A handle that cancels this run.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.cancel.clone())
    }

    async fn run(self) -> Result<RunReport, WorkflowError> {
        let (shared, settings) = self.prepare()?;
        Ok(executor::drive(shared, settings).await)
    }

    /// Validates the workflow and sets up the run's shared state.
    pub(crate) fn prepare(self) -> Result<(Arc<RunShared>, RunSettings), WorkflowError> {
        let inner = Arc::clone(&self.workflow.inner);
        let plan = inner.plan()?;
        let engine = &self.engine.inner;
        let run_id = self.engine.next_run_id();
        let events = engine.listened_events().cloned();
        let shared = Arc::new(RunShared {
            workflow: inner,
            plan,
            input: self.input,
            run_resources: self.resources,
            engine_resources: self.engine.resources(),
            events,
            run_id,
            // A child, so that stopping this run never cancels a token the
            // caller shares with other work.
            cancel: self.cancel.child_token(),
            engine: self.engine.clone(),
            nested: std::sync::Mutex::new(Vec::new()),
        });
        let settings = RunSettings {
            max_concurrency: self.max_concurrency.unwrap_or(engine.max_concurrency),
            fail_fast: self.fail_fast.unwrap_or(engine.fail_fast),
            timeout: self.timeout.or(engine.run_timeout),
        };
        Ok((shared, settings))
    }
}

impl IntoFuture for Execution {
    type Output = Result<RunReport, WorkflowError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl fmt::Debug for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Execution")
            .field("workflow", &self.workflow.name())
            .field("max_concurrency", &self.max_concurrency)
            .field("fail_fast", &self.fail_fast)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
