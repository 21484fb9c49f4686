//! The graph model and async executor behind the
//! [`orchestrator`](https://docs.rs/orchestrator) crate.
//!
//! Most users depend on `orchestrator`, which re-exports everything here
//! together with the `#[step]` and `workflow!` macros. This crate has no
//! procedural macros and can be used on its own for workflows built while
//! the program runs.
//!
//! Besides running workflows, it checks and measures them before they run,
//! with plain code: [`definition`] holds a workflow's plain description
//! (also the workflow-file format, with the `serde` feature), [`analysis`]
//! finds its order, parallel levels, critical path, redundant dependencies
//! and problems, and [`render`] draws it, or a finished run, as Mermaid or
//! Graphviz DOT.
//!
//! ```
//! use orchestrator_core::{StepContext, WorkflowEngine};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = WorkflowEngine::new();
//! let mut wf = engine.create_workflow("hello");
//! wf.add_step("greet", |_ctx: StepContext| async { Ok::<_, std::io::Error>("hello") });
//! wf.add_step("shout", |ctx: StepContext| async move {
//!     Ok::<_, orchestrator_core::ContextError>(ctx.output::<&str>("greet")?.to_uppercase())
//! })
//! .depends_on(["greet"]);
//! let report = engine.execute(&wf).await?;
//! report.ensure_success()?;
//! assert_eq!(report.output::<String>("shout").map(String::as_str), Some("HELLO"));
//! # Ok(()) }
//! ```

pub mod analysis;
pub mod definition;
pub mod graph;
pub mod render;

#[doc(hidden)]
pub mod dsl;

mod branch;
mod clock;
mod context;
mod engine;
mod error;
mod events;
mod executor;
mod halves;
mod handlers;
mod names;
pub mod patterns;
mod report;
mod retry;
mod run_record;
mod static_run;
mod step_name;
mod validate;
mod workflow;

pub use analysis::{Analysis, RedundantEdge, analyze};
pub use branch::Branch;
pub use context::{Resources, StepContext};
pub use definition::{StepDefinition, WorkflowDefinition};
pub use dsl::RunError;
pub use engine::{CancelHandle, EngineBuilder, Execution, WorkflowEngine};
pub use error::{
    BoxError, ContextError, RunFailed, ValidationError, ValidationErrors, WorkflowError,
};
pub use events::{Event, EventKind, EventStream};
pub use report::{
    RunOutcome, RunReport, SkipReason, StatusCounts, StepFailure, StepOutput, StepReport,
    StepStatus,
};
pub use retry::RetryPolicy;
pub use tokio_util::sync::CancellationToken;
pub use workflow::{StepBuilder, StepOptions, TriggerRule, Workflow};
