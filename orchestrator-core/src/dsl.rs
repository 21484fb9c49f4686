//! What the `#[step]` and `workflow!` macros build on: the traits their
//! generated code implements and the error of a typed run.
//!
//! Users rarely name these directly: `#[step]` implements [`Step`] and
//! [`Param`] for a hidden type named after the function, and `workflow!`
//! generates a type whose `run` returns [`RunError`] on failure.

use std::fmt;

pub use crate::run_record::{LazyReport, RunRecord, erased};
pub use crate::static_run::{
    Finished, FusedLayer, FusedRun, Leaf, Pair, Reserve, STATIC_FUTURES_LIMIT,
    STATIC_FUTURES_LIMIT_DEBUG, Segment, Slot, StaticEnv, StaticRun, StepResult, Steps,
    fits_static, future_size, leaf, made_future_size, output, pair, segment,
};

use crate::error::{RunFailed, WorkflowError};
use crate::report::RunReport;
use std::future::Future;

use crate::context::StepContext;
use crate::error::BoxError;
use crate::workflow::{StepBuilder, Workflow};

/// A step declared with `#[step]`: its name, output type, dependencies and
/// options. Implemented by the macro on a hidden type named like the
/// function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a step",
    label = "not a `#[step]` function",
    note = "add `#[step]` to the async function `{Self}` so `workflow!` can use it"
)]
pub trait Step {
    /// The `T` of the function's `Result<T, E>`.
    type Output: Send + Sync + 'static;
    /// The step's name (the function's name).
    const NAME: &'static str;
    /// The names in `depends_on`, as written.
    const DEPENDS_ON: &'static [&'static str];
    /// Applies the step's dependencies and options (retry, timeout, own
    /// task, trigger rule) to a step being added to a workflow.
    fn configure(step: StepBuilder<'_>) -> StepBuilder<'_>;
}

/// A step that runs a nested workflow (a sub-workflow, a loop or a gate):
/// its function returns the nested workflow's input, and `finish` turns it
/// into the step's output.
pub trait Composite: Step {
    /// The `T` of the function's `Result<T, E>`.
    type Returned: Send + Sync + 'static;
    /// Runs the nested workflow as part of the step `ctx` belongs to.
    fn finish(
        ctx: &StepContext,
        value: Self::Returned,
    ) -> impl Future<Output = Result<Self::Output, BoxError>> + Send + '_;
}

/// A type made by `workflow!`: its workflow, input and typed outputs.
pub trait WorkflowType {
    /// The input of a run.
    type Input: Send + Sync + 'static;
    /// The typed outputs of a successful run.
    type Output: Send + Sync + 'static;
    /// The workflow, built once.
    fn workflow() -> &'static Workflow;
    /// The typed outputs of a report of this workflow.
    fn from_report(report: RunReport) -> Result<Self::Output, RunError>;
}

/// The type behind parameter `I` of a step function (`T` for `&T`), so the
/// generated code can name it from any module.
pub trait Param<const I: usize> {
    /// The parameter's referent type.
    type Type: ?Sized + Send + Sync + 'static;
}

/// The owned type behind a parameter's referent: `T` for a sized `T`,
/// `String` for `str`, `Vec<T>` for `[T]`, so a step may take its input
/// as `&str` or `&[T]`.
pub trait Owned {
    /// The owned type.
    type Owned: Send + Sync + 'static;
}

impl<T: Send + Sync + 'static> Owned for T {
    type Owned = T;
}

impl Owned for str {
    type Owned = String;
}

impl<T: Send + Sync + 'static> Owned for [T] {
    type Owned = Vec<T>;
}

/// The output of step `index` of `report` as a `T`, when that step is named
/// `name` and succeeded with a `T`: how a `workflow!` type reads its typed
/// outputs. Only the downcast is generic, so each step's lookup is a few
/// instructions of its own around one shared function.
pub fn output_at<T: Send + Sync + 'static>(
    report: &RunReport,
    index: usize,
    name: &str,
) -> Option<crate::report::StepOutput<T>> {
    erased_output_at(report, index, name)?.typed::<T>()
}

#[inline(never)]
fn erased_output_at<'a>(
    report: &'a RunReport,
    index: usize,
    name: &str,
) -> Option<&'a crate::report::Output> {
    let step = report.steps().get(index)?;
    if step.name() != name {
        return None;
    }
    step.output.as_ref()
}

/// Adds a step whose handler already erases its output (with [`erase`]):
/// the future is boxed as it is, with no wrapper of its own, so each
/// generated step carries one state machine rather than two.
pub fn add_step<'a, T, F, Fut>(wf: &'a mut Workflow, name: &str, handler: F) -> StepBuilder<'a>
where
    T: Send + Sync + 'static,
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<crate::report::Output, BoxError>> + Send + 'static,
{
    wf.push_handler(name, crate::workflow::ErasedFnHandler::<F, T>::new(handler))
}

/// A step's output, type-erased as the engine stores it.
pub fn erase<T: Send + Sync + 'static>(value: T) -> crate::report::Output {
    crate::report::Output::new(value)
}

/// A step's parameter could not be read: the error its handler returns.
/// One shared, out-of-line copy, rather than the boxing inlined into every
/// generated step.
#[cold]
#[inline(never)]
pub fn context_error(error: crate::ContextError) -> BoxError {
    Box::new(error)
}

/// Why a typed run of a `workflow!` type did not produce its outputs.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The workflow could not start (it was invalid).
    Invalid(WorkflowError),
    /// The run finished, but not every step succeeded.
    Failed {
        /// Every step that did not succeed, and why.
        failure: RunFailed,
        /// The whole report.
        report: Box<RunReport>,
    },
    /// A report given to `from_report` lacks a step's output: it is not a
    /// report of a successful run of this workflow.
    MissingOutput {
        /// The workflow type's name.
        workflow: &'static str,
        /// The step whose output is missing.
        step: &'static str,
    },
}

impl RunError {
    /// The run's report, when the run took place.
    pub fn report(&self) -> Option<&RunReport> {
        match self {
            Self::Invalid(_) | Self::MissingOutput { .. } => None,
            Self::Failed { report, .. } => Some(report),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(error) => error.fmt(f),
            Self::Failed { failure, .. } => failure.fmt(f),
            Self::MissingOutput { workflow, step } => write!(
                f,
                "the report has no output of step `{step}`: it is not the report of a successful run of workflow `{workflow}`"
            ),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(error) => Some(error),
            Self::Failed { failure, .. } => Some(failure),
            Self::MissingOutput { .. } => None,
        }
    }
}

impl From<WorkflowError> for RunError {
    fn from(error: WorkflowError) -> Self {
        Self::Invalid(error)
    }
}

impl RunError {
    /// `Ok(report)` when every step succeeded, otherwise [`RunError::Failed`]
    /// with the report.
    pub fn from_report(report: RunReport) -> Result<RunReport, Self> {
        match report.ensure_success() {
            Ok(_) => Ok(report),
            Err(failure) => Err(Self::Failed {
                failure,
                report: Box::new(report),
            }),
        }
    }
}
