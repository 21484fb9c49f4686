//! The errors of the engine: what is wrong with a workflow, with a step's
//! access to its context, and with a finished run.

use std::fmt;

/// The error type a step handler's error is converted into.
///
/// Handlers may return any error that converts into it: every
/// `std::error::Error + Send + Sync`, `String`, `&str`, `anyhow::Error`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One problem found while validating a workflow.
///
/// Validation collects every problem, so a workflow with a typo and a cycle
/// reports both.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A step was added with an empty name.
    #[error(
        "step #{position} of workflow `{workflow}` has an empty name; give every step a unique, non-empty name"
    )]
    EmptyName {
        /// The workflow's name.
        workflow: String,
        /// The step's position (0-based) in the order steps were added.
        position: usize,
    },
    /// Two or more steps share a name.
    #[error(
        "step `{step}` is defined {count} times in workflow `{workflow}`; step names must be unique, rename or remove the extra definitions"
    )]
    DuplicateStep {
        /// The workflow's name.
        workflow: String,
        /// The repeated name.
        step: String,
        /// How many steps carry it.
        count: usize,
    },
    /// A step lists itself among its dependencies.
    #[error(
        "step `{step}` of workflow `{workflow}` depends on itself; remove `{step}` from its own dependencies"
    )]
    SelfDependency {
        /// The workflow's name.
        workflow: String,
        /// The step.
        step: String,
    },
    /// A step depends on a name that no step carries.
    #[error(
        "step `{step}` depends on `{dependency}`, which is not a step of workflow `{workflow}`{}",
        did_you_mean(.suggestion.as_deref())
    )]
    UnknownDependency {
        /// The workflow's name.
        workflow: String,
        /// The step whose dependency is unknown.
        step: String,
        /// The unknown name.
        dependency: String,
        /// The closest existing step name, when one is close enough.
        suggestion: Option<String>,
    },
    /// A step's expected duration is negative, not a number, or longer than
    /// [`MAX_DURATION`](crate::definition::MAX_DURATION) (only
    /// [`WorkflowDefinition`](crate::WorkflowDefinition)s carry durations).
    #[error(
        "step `{step}` of workflow `{workflow}` has duration {duration}; a duration is a number of seconds from 0 to 1e12"
    )]
    InvalidDuration {
        /// The workflow's name.
        workflow: String,
        /// The step.
        step: String,
        /// The duration as given, printed (`-1`, `NaN`, `inf`).
        duration: String,
    },
    /// The dependencies form a cycle.
    #[error(
        "workflow `{workflow}` has a cycle: {}; a workflow must be acyclic, so remove one of these dependencies",
        .path.join(" -> ")
    )]
    Cycle {
        /// The workflow's name.
        workflow: String,
        /// The steps of the cycle in the direction data flows, the first
        /// repeated at the end: `["review", "fix", "review"]` means `fix`
        /// depends on `review` and `review` depends on `fix`.
        path: Vec<String>,
    },
    /// More steps, or more dependencies on steps not yet added, than a
    /// workflow can hold.
    #[error(
        "workflow `{workflow}` has {steps} steps; a workflow holds at most {limit} steps and {limit} dependencies on steps added after them, so split it into nested workflows"
    )]
    TooLarge {
        /// The workflow's name.
        workflow: String,
        /// How many steps it has.
        steps: usize,
        /// The most it may have.
        limit: usize,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::from("; add that step or fix the name"),
    }
}

/// Everything wrong with a workflow, returned by
/// [`Workflow::validate`](crate::Workflow::validate) and before a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    pub(crate) workflow: String,
    pub(crate) errors: Vec<ValidationError>,
}

impl ValidationErrors {
    /// The name of the invalid workflow.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }

    /// Every problem found, in a stable order.
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "workflow `{}` is invalid ({n} problem{}):",
            self.workflow,
            if n == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The workflow failed validation; nothing ran.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
}

/// A step's failed attempt to read from its [`StepContext`](crate::StepContext).
///
/// Returned, never panicked, so a handler can propagate it with `?`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The step asked for the output of a step it does not depend on.
    #[error(
        "step `{step}` asked for the output of `{requested}`, but does not depend on it; add `{requested}` to the dependencies of `{step}`"
    )]
    NotADependency {
        /// The asking step.
        step: String,
        /// The step whose output was asked for.
        requested: String,
    },
    /// The dependency exists but produced a value of another type.
    #[error(
        "step `{step}` asked for the output of `{dependency}` as `{requested}`, but `{dependency}` produces `{actual}`"
    )]
    WrongType {
        /// The asking step.
        step: String,
        /// The dependency.
        dependency: String,
        /// The type asked for.
        requested: &'static str,
        /// The type the dependency produces.
        actual: &'static str,
    },
    /// The dependency did not succeed, so it has no output (possible only
    /// under trigger rules that run a step after a failed dependency).
    #[error("step `{step}` asked for the output of `{dependency}`, which did not succeed")]
    NoOutput {
        /// The asking step.
        step: String,
        /// The dependency.
        dependency: String,
    },
    /// The run has no input, or an input of another type.
    #[error("step `{step}` asked for the run input as `{requested}`, but {actual}")]
    Input {
        /// The asking step.
        step: String,
        /// The type asked for.
        requested: &'static str,
        /// What the run has instead.
        actual: String,
    },
    /// No resource of the requested type was registered.
    #[error(
        "step `{step}` asked for a resource of type `{requested}`, but none was registered; add it with `WorkflowEngine::builder().resource(..)` or `.resource(..)` on the execution"
    )]
    MissingResource {
        /// The asking step.
        step: String,
        /// The type asked for.
        requested: &'static str,
    },
}

// Shared, out-of-line builders for the errors both the step context and the
// DSL's static path report: neither path carries its own copy.
impl ContextError {
    /// Step `step` asked for the output of `dependency`, which has none.
    #[cold]
    #[inline(never)]
    pub(crate) fn no_output(step: &str, dependency: &str) -> Self {
        Self::NoOutput {
            step: step.to_owned(),
            dependency: dependency.to_owned(),
        }
    }

    /// Step `step` asked for a resource of type `requested`, which the run
    /// does not have.
    #[cold]
    #[inline(never)]
    pub(crate) fn missing_resource(step: &str, requested: &'static str) -> Self {
        Self::MissingResource {
            step: step.to_owned(),
            requested,
        }
    }
}

/// The error of [`RunReport::ensure_success`](crate::RunReport::ensure_success):
/// every step that did not succeed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailed {
    pub(crate) workflow: String,
    pub(crate) failures: Vec<(String, String)>,
}

impl RunFailed {
    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }

    /// `(step, what happened)` for every step that did not succeed, in the
    /// workflow's step order.
    pub fn failures(&self) -> &[(String, String)] {
        &self.failures
    }
}

impl fmt::Display for RunFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.failures.len();
        write!(
            f,
            "workflow `{}` did not succeed: {n} step{} did not succeed",
            self.workflow,
            if n == 1 { "" } else { "s" }
        )?;
        for (step, why) in &self.failures {
            write!(f, "\n  - `{step}`: {why}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RunFailed {}
