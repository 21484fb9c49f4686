//! The plain description of a workflow: step names, their dependencies and
//! expected durations, without handlers.
//!
//! It is the common input of [analysis](crate::analysis) and
//! [rendering](crate::render), whichever way the workflow was made: a
//! runtime [`Workflow`](crate::Workflow) gives one with
//! [`Workflow::definition`](crate::Workflow::definition), a workflow file
//! parses into one (with the `serde` feature), and the DSL's generated
//! workflows expose one.

use crate::error::{ValidationError, ValidationErrors};
use crate::validate::{self, Checked, NamedStep};

/// The longest expected duration of a step, in seconds: 10¹² (about 31,700
/// years). Longer, negative or non-numeric durations are validation errors.
pub const MAX_DURATION: f64 = 1e12;

/// A workflow's name and steps, without handlers.
///
/// With the `serde` feature it reads and writes the workflow-file format;
/// unknown fields are rejected by name:
///
/// ```json
/// {"name": "code_review_pipeline",
///  "steps": [{"name": "scan"},
///            {"name": "review", "depends_on": ["scan"], "duration": 2.5}]}
/// ```
///
/// ```
/// use orchestrator_core::{StepDefinition, WorkflowDefinition};
///
/// let wf = WorkflowDefinition::new("code_review_pipeline")
///     .with_step(StepDefinition::new("scan"))
///     .with_step(StepDefinition::new("review").with_dependencies(["scan"]).with_duration(2.5));
/// assert!(wf.validate().is_ok());
/// assert_eq!(wf.edge_count(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
#[cfg_attr(
    feature = "schemars",
    derive(schemars::JsonSchema),
    schemars(
        description = "A workflow: its name and its steps. Step names are unique; each step lists the names of the steps it depends on."
    )
)]
pub struct WorkflowDefinition {
    /// The workflow's name.
    pub name: String,
    /// The steps, in the order they were defined.
    pub steps: Vec<StepDefinition>,
}

/// One step of a [`WorkflowDefinition`].
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
#[cfg_attr(
    feature = "schemars",
    derive(schemars::JsonSchema),
    schemars(description = "One step of a workflow.")
)]
pub struct StepDefinition {
    /// The step's name, unique in its workflow.
    pub name: String,
    /// The names of the steps it waits for.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub depends_on: Vec<String>,
    /// How long the step is expected to take, in seconds (weights the
    /// critical path; a step without one counts as 1).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub duration: Option<f64>,
}

impl WorkflowDefinition {
    /// A workflow named `name`, with no steps.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            steps: Vec::new(),
        }
    }

    /// Adds a step.
    pub fn with_step(mut self, step: StepDefinition) -> Self {
        self.steps.push(step);
        self
    }

    /// The number of dependencies, as written (repeats and unknown names
    /// included).
    pub fn edge_count(&self) -> usize {
        self.steps.iter().map(|s| s.depends_on.len()).sum()
    }

    /// Checks the workflow exactly as [`Workflow::validate`](crate::Workflow::validate)
    /// does (empty and repeated names, self-dependencies, unknown
    /// dependencies with the closest name, every cycle with its path), and
    /// that every duration is a number of seconds from 0 to
    /// [`MAX_DURATION`] (so that no sum of durations overflows).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let checked = self.check();
        if checked.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                workflow: self.name.clone(),
                errors: checked.errors,
            })
        }
    }

    /// The dependencies as positions, and every problem.
    pub(crate) fn check(&self) -> Checked {
        let mut checked = validate::check(&self.name, &self.steps);
        let cycles_from = checked
            .errors
            .iter()
            .position(|e| matches!(e, ValidationError::Cycle { .. }))
            .unwrap_or(checked.errors.len());
        let durations = self.steps.iter().filter_map(|step| {
            let duration = step.duration?;
            (!(0.0..=MAX_DURATION).contains(&duration)).then(|| ValidationError::InvalidDuration {
                workflow: self.name.clone(),
                step: step.name.clone(),
                duration: duration.to_string(),
            })
        });
        // Durations go after the name problems and before the cycles.
        let cycles = checked.errors.split_off(cycles_from);
        checked.errors.extend(durations);
        checked.errors.extend(cycles);
        checked
    }
}

impl StepDefinition {
    /// A step named `name`, with no dependencies and no duration.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            depends_on: Vec::new(),
            duration: None,
        }
    }

    /// Adds dependencies.
    pub fn with_dependencies<I, S>(mut self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.depends_on.extend(steps.into_iter().map(Into::into));
        self
    }

    /// Sets the expected duration, in seconds.
    pub fn with_duration(mut self, seconds: f64) -> Self {
        self.duration = Some(seconds);
        self
    }
}

impl NamedStep for StepDefinition {
    fn name(&self) -> &str {
        &self.name
    }

    fn depends_on(&self) -> &[String] {
        &self.depends_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, deps: &[&str]) -> StepDefinition {
        StepDefinition::new(name).with_dependencies(deps.iter().copied())
    }

    #[test]
    fn a_definition_is_validated_like_a_runtime_workflow() {
        let wf = WorkflowDefinition::new("pipeline")
            .with_step(step("scan", &[]))
            .with_step(step("review", &["sacn"]));
        let errors = wf.validate().expect_err("invalid");
        assert_eq!(
            errors.errors()[0].to_string(),
            "step `review` depends on `sacn`, which is not a step of workflow `pipeline`; did you mean `scan`?"
        );
    }

    #[test]
    fn a_runtime_workflow_gives_its_definition() {
        use crate::{BoxError, StepContext, Workflow};
        let mut wf = Workflow::new("pipeline");
        wf.add_step("scan", |_ctx: StepContext| async { Ok::<_, BoxError>(()) });
        wf.add_step("review", |_ctx: StepContext| async {
            Ok::<_, BoxError>(())
        })
        .depends_on(["scan"]);
        let expected = WorkflowDefinition::new("pipeline")
            .with_step(step("scan", &[]))
            .with_step(step("review", &["scan"]));
        assert_eq!(wf.definition(), expected);
    }

    #[test]
    fn negative_and_infinite_durations_are_rejected_by_name() {
        let wf = WorkflowDefinition::new("wf")
            .with_step(step("a", &[]).with_duration(-1.0))
            .with_step(step("b", &["a"]).with_duration(f64::INFINITY))
            .with_step(step("c", &["b"]).with_duration(0.0))
            .with_step(step("d", &["c"]).with_duration(MAX_DURATION))
            .with_step(step("e", &["d"]).with_duration(MAX_DURATION * 2.0));
        let errors = wf.validate().expect_err("invalid");
        let messages: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[2].contains("step `e` of workflow `wf` has duration 2000000000000;"));
        assert!(messages[0].contains("step `a` of workflow `wf` has duration -1"));
        assert!(messages[1].contains("step `b` of workflow `wf` has duration inf"));
    }

    #[test]
    fn duration_problems_come_before_cycles() {
        let wf = WorkflowDefinition::new("wf")
            .with_step(step("a", &["b"]).with_duration(f64::NAN))
            .with_step(step("b", &["a"]));
        let errors = wf.validate().expect_err("invalid");
        assert!(matches!(
            errors.errors(),
            [
                ValidationError::InvalidDuration { .. },
                ValidationError::Cycle { .. }
            ]
        ));
    }
}
