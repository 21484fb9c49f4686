//! Branches: a step that decides which of its dependents proceed.

/// The output of a branch step: the dependents that proceed. The step's
/// other dependents are Skipped with the reason naming the branch.
///
/// A step whose output type is `Branch` is a branch step. Choosing a step
/// that is not one of its dependents fails the branch step with an error
/// naming the choice and the dependents.
///
/// ```
/// use orchestrator_core::{Branch, BoxError, StepContext, TriggerRule, WorkflowEngine};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = WorkflowEngine::new();
/// let mut wf = engine.create_workflow("triage");
/// wf.add_step("route", |ctx: StepContext| async move {
///     let size = *ctx.input::<usize>()?;
///     Ok::<_, BoxError>(if size > 100 { Branch::to("deep_review") } else { Branch::to("quick_review") })
/// });
/// wf.add_step("quick_review", |_ctx| async { Ok::<_, BoxError>("quick") }).depends_on(["route"]);
/// wf.add_step("deep_review", |_ctx| async { Ok::<_, BoxError>("deep") }).depends_on(["route"]);
/// // The join after the branch: runs when one side succeeded and none failed.
/// wf.add_step("merge", |_ctx| async { Ok::<_, BoxError>(()) })
///     .depends_on(["quick_review", "deep_review"])
///     .trigger_rule(TriggerRule::NoneFailedMinOneSuccess);
///
/// let report = engine.execute(&wf).input(7usize).await?;
/// assert_eq!(report.output::<&str>("quick_review"), Some(&"quick"));
/// assert!(report.output::<&str>("deep_review").is_none());  // skipped: not chosen
/// assert!(report.is_success());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branch {
    chosen: Vec<String>,
}

impl Branch {
    /// Only `step` proceeds (an exclusive choice).
    pub fn to(step: impl Into<String>) -> Self {
        Self {
            chosen: vec![step.into()],
        }
    }

    /// Every step of `steps` proceeds.
    pub fn to_all<I, S>(steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            chosen: steps.into_iter().map(Into::into).collect(),
        }
    }

    /// No dependent proceeds.
    pub fn none() -> Self {
        Self::default()
    }

    /// The chosen dependents.
    pub fn chosen(&self) -> &[String] {
        &self.chosen
    }
}
