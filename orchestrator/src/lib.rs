//! Define and run DAG workflows of async steps, checked at compile time or
//! at run time.
//!
//! Two front doors over one engine:
//!
//! - **The compile-time DSL**: [`#[step]`](macro@step) on async functions
//!   and [`workflow!`]. The DAG is checked while the crate compiles: a cycle,
//!   an unknown or duplicate step, or a parameter whose type does not match
//!   the output it receives is a compile error at your own tokens.
//! - **The runtime API**: [`WorkflowEngine`] → [`create_workflow`](WorkflowEngine::create_workflow)
//!   → [`add_step`](Workflow::add_step) with [`depends_on`](StepBuilder::depends_on)
//!   → [`execute`](WorkflowEngine::execute), for DAGs built while the
//!   program runs. The same checks come back as errors.
//!
//! Both produce the same [`RunReport`] and [`Event`]s.
//!
//! ```
//! use orchestrator::{step, workflow, WorkflowEngine};
//!
//! #[derive(Debug)]
//! struct ScanReport { files: Vec<String> }
//!
//! #[step]
//! async fn scan(repo: &String) -> Result<ScanReport, std::io::Error> {
//!     Ok(ScanReport { files: vec![format!("{repo}/src/lib.rs")] })
//! }
//!
//! #[step(depends_on = "scan", retry = 3, timeout = "30s")]
//! async fn review(scan: &ScanReport) -> Result<usize, std::io::Error> {
//!     Ok(scan.files.len())
//! }
//!
//! workflow!(CodeReview: scan, review);
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), orchestrator::RunError> {
//! let engine = WorkflowEngine::new();
//! let out = CodeReview::run(&engine, String::from("acme")).await?;
//! assert_eq!(*out.review, 1);            // typed: `out.review` is a `usize`
//! println!("{}", out.report());          // the same report as the runtime API
//! # Ok(()) }
//! ```

// So that `::orchestrator::...` in generated code also resolves inside this
// crate.
extern crate self as orchestrator;

pub use orchestrator_core::*;

/// Declares an async function as a step of a [`workflow!`].
///
/// ```
/// # use orchestrator::step;
/// # struct ScanReport; struct Review; struct Client;
/// # #[derive(Debug)] struct MyError; impl std::fmt::Display for MyError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("e") } } impl std::error::Error for MyError {}
/// #[step(depends_on = "scan", retry = 3, backoff = "100ms", timeout = "30s")]
/// async fn review(
///     scan: &ScanReport,             // named after a dependency: its output
///     repo: &String,                 // any other parameter: the workflow's input
///     #[resource] client: &Client,   // a shared resource, by type
/// ) -> Result<Review, MyError> {
///     Ok(Review)
/// }
/// ```
///
/// The function must be `async` and return `Result<T, E>`, where `T` (the
/// step's output) is `Send + Sync + 'static` and `E` converts into
/// [`BoxError`]. Every parameter is taken by reference:
///
/// - a parameter named after a step in `depends_on` receives that step's
///   output (outputs never need to be `Clone`);
/// - one other parameter (or the one marked `#[input]`) receives the
///   workflow's input;
/// - a parameter marked `#[resource]` receives the shared resource of its
///   type (see [`EngineBuilder::resource`]).
///
/// Options:
///
/// | option | meaning |
/// | --- | --- |
/// | `depends_on = "a"` or `["a", "b"]` | the steps this one waits for |
/// | `retry = N`, `backoff = "100ms"`, `max_backoff = "10s"` | attempts in all, and the delays between them ([`RetryPolicy`]) |
/// | `timeout = "30s"` | a limit per attempt; the step is then `TimedOut` |
/// | `own_task` | run on its own tokio task (CPU-heavy steps) |
/// | `trigger_rule = "all_done"` | when the step runs after its dependencies ([`TriggerRule`]) |
/// | `condition = path` | a `fn(&StepContext) -> bool`; false skips the step |
/// | `branches = ["a", "b"]` | the step returns a [`Branch`] among these dependents (checked at compile time) |
/// | `workflow = Child` | the function returns `Child`'s input; the output is `ChildOutput` |
/// | `repeat = Body, max_iterations = N, until = path` | a bounded loop over `Body` (the function returns its input; the output is a [`patterns::Repeated`]) |
/// | `gate = Checked, check = "review", max_attempts = N` | a gate over `Checked`, judged by its step `review` |
/// | `map_over = "list", concurrency = N, collect_errors` | run once per item of `list`'s output; the parameter `list` takes one item |
/// | `crate = "path"` | where the `orchestrator` crate is, if not `::orchestrator` (renames in `Cargo.toml` are found alone) |
///
/// # What it expands to
///
/// The function is emitted unchanged (minus the `#[input]`/`#[resource]`
/// markers). Beside it, for `#[step(depends_on = "scan", retry = 3)] async
/// fn review(scan: &ScanReport) -> Result<Review, MyError>`:
///
/// ```text
/// #[doc(hidden)]
/// #[allow(non_camel_case_types)]
/// struct review {}                       // type namespace: no clash with the fn
///
/// impl ::orchestrator::__private::Step for review {
///     type Output = Review;
///     const NAME: &'static str = "review";
///     const DEPENDS_ON: &'static [&'static str] = &["scan"];
///     fn configure(step: StepBuilder<'_>) -> StepBuilder<'_> {
///         step.depends_on(Self::DEPENDS_ON.iter().copied())
///             .retry(::orchestrator::RetryPolicy::attempts(3))
///     }
/// }
/// impl ::orchestrator::__private::Param<0> for review { type Type = ScanReport; }
///
/// // Only for a step with an `#[input]` parameter (`repo: &Repo`): the
/// // workflow's input type, under a name `workflow!` can use even where the
/// // hidden type above (as private as your function) cannot be named:
/// pub(crate) type __orchestrator_input_review = Repo;
///
/// // Read by `workflow!` to learn the step's dependencies with your spans:
/// macro_rules! __orchestrator_step_review { /* ... */ }
/// pub(crate) use __orchestrator_step_review as review;   // macro namespace
/// ```
///
/// Mistakes are compile errors at your tokens, all reported at once, and
/// the function is still emitted so one mistake does not cascade: a
/// function that is not `async` or does not return a `Result`, a parameter
/// that matches no dependency (with "did you mean"), an unknown, repeated
/// or malformed option (`timeout = "3 parsecs"`).
pub use orchestrator_macros::step;

/// Declares a workflow type from [`#[step]`](macro@step) functions.
///
/// ```
/// # use orchestrator::{step, workflow};
/// # #[step] async fn scan(repo: &String) -> Result<u32, std::io::Error> { Ok(1) }
/// # #[step(depends_on = "scan")] async fn review(scan: &u32) -> Result<u32, std::io::Error> { Ok(*scan) }
/// workflow!(pub CodeReview: scan, review);
/// ```
///
/// Steps may live in other modules of the crate: list them by path
/// (`workflow!(Pipeline: checks::scan, review)`). The whole graph is
/// checked while the crate compiles: an unknown dependency (with "did you
/// mean"), a step listed twice, a dependency that is not part of the
/// workflow, every cycle (reported at each member, with its path), and a
/// parameter whose type differs from the output of the step it names (the
/// error is under the parameter's type).
///
/// # What it expands to
///
/// For `workflow!(pub CodeReview: scan, review)`:
///
/// ```text
/// pub struct CodeReview;
///
/// // Each field derefs to the step's output (`*out.review` is a `Review`),
/// // the value the report holds, never cloned (see `StepOutput`):
/// pub struct CodeReviewOutput {
///     pub scan: StepOutput<ScanReport>,
///     pub review: StepOutput<Review>,
///     /* the report */
/// }
///
/// impl CodeReview {
///     pub const NAME: &'static str = "CodeReview";
///     /// Built once: a runtime `Workflow` whose handlers read each
///     /// parameter from the step context, typed, and call your function.
///     pub fn workflow() -> &'static Workflow;
///     pub fn execute(engine: &WorkflowEngine, input: Input) -> Execution;
///     pub async fn run(engine: &WorkflowEngine, input: Input)
///         -> Result<CodeReviewOutput, RunError> {
///         // The static path, when the steps' futures are small enough
///         // (512 KiB in all, 64 KiB in a debug build) and the engine and
///         // every step use only defaults (no options, subscribers, limits,
///         // timeouts):
///         if __orchestrator_workflow_CodeReview::__orchestrator_static_fits() {
///             if let Some(run) = StaticRun::begin(engine, Self::workflow()) {
///                 return __orchestrator_workflow_CodeReview::__orchestrator_start_static(run, &input).await;
///             }
///         }
///         Self::run_with(Self::execute(engine, input)).await // the executor
///     }
///     pub async fn run_with(execution: Execution) -> Result<CodeReviewOutput, RunError>;
///     pub async fn report_with(execution: Execution) -> Result<RunReport, WorkflowError>;
/// }
///
/// // A hidden companion type holds the static path:
/// impl __orchestrator_workflow_CodeReview {
///     // One function per step making its future from its dependencies'
///     // outputs (and the input and resources it asks for): your
///     // function's own future.
///     fn __orchestrator_static_step1<'a>(
///         (__orchestrator_r0,): (&'a StepOutput<ScanReport>,),
///         __orchestrator_input: &'a Input,
///         __orchestrator_env: &'a StaticEnv,
///     ) -> impl Future<Output: StepResult<Ok = Review>> + 'a {
///         let (arg0,) = (&**__orchestrator_r0,);
///         review(arg0)
///     }
///     // A step that reads a resource gets `Result<impl Future, BoxError>`
///     // instead: the error of a resource it could not read. A step of a
///     // wider layer gets an `async fn` around your function, with its
///     // error boxed.
///     //
///     // The size of each step's future, without making it, added up
///     // while the crate compiles:
///     fn __orchestrator_static_fits() -> bool {
///         const { fits_static(&[future_size(&Self::__orchestrator_static_step0), /* ... */], cfg!(debug_assertions)) }
///     }
///     // The run's future, made in this function's frame alone and boxed:
///     #[inline(never)]
///     fn __orchestrator_start_static<'a>(run: StaticRun, input: &'a Input)
///         -> Pin<Box<impl Future<Output = Result<CodeReviewOutput, RunError>> + 'a>> {
///         Box::pin(Self::__orchestrator_run_static(run, input))
///     }
///     async fn __orchestrator_run_static(run: StaticRun, input: &Input)
///         -> Result<CodeReviewOutput, RunError> {
///         // Every step's output slot:
///         let mut outs: (Option<StepOutput<ScanReport>>, Option<StepOutput<Review>>) = Default::default();
///         // The steps form complete layers (every step of a layer depends
///         // on every step of the one before: a chain, a fan-out and its
///         // fan-in), so the layers run in order, as you would write them
///         // by hand: an `async fn` per run of up to 64 one-step layers,
///         // each step's future awaited in it, as written by hand,
///         async fn __orchestrator_layer0(fused: &mut FusedRun, outs: &mut Outs, input, env) -> bool {
///             fused.reserve(2).await;       // yields first once the run's budget of steps is spent
///             fused.begin(0);
///             let result = Self::__orchestrator_static_step0((), input, env).await;
///             // The typed output to its slot and the step's timing to the
///             // run, or false when the step failed (recorded):
///             if !fused.end(result, &mut outs.0) { return false; }
///             // (A step that reads a resource: `match` its maker's result,
///             // and on a resource it could not read, `fused.unmade(error)`,
///             // the step's failure.)
///             let (r0,) = (match &outs.0 { Some(value) => value, None => return false },);
///             fused.begin(1);
///             match Self::__orchestrator_static_step1((r0,), input, env) { /* the same */ }
///             true
///         }
///         // and one per wider layer, whose steps' futures are joined,
///         // each polled again only when it is woken:
///         //     let mut steps = pin!(pair(leaf(/* step 4's future */, &mut outs.4), /* ... */));
///         //     fused.layer(&[4, 5], steps.as_mut()).await
///         let (mut fused, env) = run.fused();
///         let mut ok = true;
///         // A panic in a run of one-step layers is caught around it, once,
///         // and recorded as the failure of the step that was running:
///         if ok {
///             ok = match segment(__orchestrator_layer0(&mut fused, &mut outs, input, &env)).await {
///                 Ok(ok) => ok,
///                 Err(payload) => { fused.step_panicked(payload); false }
///             };
///         }
///         // What the run recorded. After a layer that did not all succeed,
///         // the report is made now, every later step skipped with the
///         // executor's reasons:
///         let record = fused.finish(&[0, 1]);
///         // Typed outputs taken from their slots, or `RunError::Failed`
///         // with the report (the outputs there are erased into it):
///         __orchestrator_outputs(outs, record)
///     }
///     // Any other graph: every step's future is made at once (by an
///     // `async fn` per step) and first polled once its dependencies
///     // succeeded, reading their slots (`&OnceLock<StepOutput<_>>`) then;
///     // the futures are in a balanced tree
///     // (in a debug build made in boxed chunks of 16 steps, each in a
///     // function of its own, to keep stack frames small), and the engine's
///     // bookkeeping (ready steps, skips, the report) polls step `i`
///     // through the tree in a few comparisons:
///     //     let mut steps = pin!(pair(leaf(/* step 0 */, &outs.0), leaf(/* step 1 */, &outs.1)));
///     //     let record = run.drive(|i, cx| steps.as_mut().advance(i, cx)).await;
///     //     __orchestrator_outputs(outs, record)
/// }
/// impl CodeReviewOutput {
///     pub fn from_report(report: RunReport) -> Result<Self, RunError>;
///     // After a static run whose every step succeeded, made on the first
///     // call from the steps' timings and these outputs (sharing them),
///     // then kept:
///     pub fn report(&self) -> &RunReport;
/// }
/// ```
///
/// `Input` is the type of the parameter that takes the workflow's input
/// (`()` when no step takes one). Both paths give the same report; the
/// static one costs no box, no context and no lookup by name per step. A
/// workflow with a composite step (a sub-workflow, loop or gate) always
/// runs on the executor, and so does one whose steps' futures add up to
/// more than the static path's limit: the executor boxes each step's
/// future on its own, so steps with large futures never overflow the
/// stack. Each step's macro is called in turn to
/// collect its metadata, so a workflow of more than about 120 steps needs
/// a higher `#![recursion_limit]`.
#[macro_export]
macro_rules! workflow {
    ($($input:tt)*) => {
        $crate::__private::workflow_entry! { [$crate] $($input)* }
    };
}

#[doc(hidden)]
pub mod __private {
    //! Items used by the code the macros generate. Not public API.
    pub use orchestrator_core::dsl::{
        Composite, FusedRun, LazyReport, Owned, Param, RunRecord, StaticEnv, StaticRun, Step,
        StepResult, Steps, WorkflowType, add_step, context_error, erase, erased, fits_static,
        future_size, leaf, made_future_size, output, output_at, pair, segment,
    };
    pub use orchestrator_macros::{workflow_entry, workflow_finish};
}
