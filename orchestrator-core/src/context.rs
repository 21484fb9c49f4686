//! What a step handler gets: its dependencies' outputs, the run's input and
//! shared resources, and the run's cancellation signal.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::engine::WorkflowEngine;
use crate::error::{ContextError, WorkflowError};
use crate::executor::RunShared;
use crate::report::{Output, RunReport};
use crate::workflow::Workflow;

/// Shared values (clients, configuration) that steps read by type.
///
/// Set on the engine with [`EngineBuilder::resource`](crate::EngineBuilder::resource)
/// or for one run with [`Execution::resource`](crate::Execution::resource);
/// read with [`StepContext::resource`].
#[derive(Clone, Default)]
pub struct Resources {
    /// Each resource with its type's id and name, sorted by the id: a
    /// step's lookup is a binary search over a few entries, with no
    /// hashing (a program has a handful of resources, read once per step
    /// that asks for one).
    entries: Vec<(TypeId, Arc<dyn Any + Send + Sync>, &'static str)>,
}

impl Resources {
    /// Adds `value`, replacing a resource of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        let entry = (id, Arc::new(value) as _, std::any::type_name::<T>());
        match self.position(id) {
            Ok(at) => self.entries[at] = entry,
            Err(at) => self.entries.insert(at, entry),
        }
    }

    /// The resource of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.get_erased(TypeId::of::<T>())?.downcast_ref::<T>()
    }

    pub(crate) fn get_erased(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
        let at = self.position(type_id).ok()?;
        Some(&*self.entries[at].1)
    }

    /// Where the resource of type `type_id` is, or would go.
    fn position(&self, type_id: TypeId) -> Result<usize, usize> {
        self.entries.binary_search_by(|(id, _, _)| id.cmp(&type_id))
    }

    /// Whether no resource was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.entries.iter().map(|(_, _, name)| name))
            .finish()
    }
}

/// The view a step handler has of its run.
///
/// Cheap to clone; owned, so it can move into the handler's future.
///
/// ```
/// use orchestrator_core::{ContextError, StepContext};
///
/// async fn review(ctx: StepContext) -> Result<usize, ContextError> {
///     let scan: &Vec<String> = ctx.output("scan")?;   // typed, by reference
///     let repo: &String = ctx.input()?;               // the run's input
///     Ok(scan.len() + repo.len())
/// }
/// ```
#[derive(Clone)]
pub struct StepContext {
    pub(crate) shared: Arc<RunShared>,
    pub(crate) step: usize,
    pub(crate) attempt: u32,
    /// The outputs of this step's dependencies, in the order of
    /// [`RunShared::deps`]: `None` for one that produced none (a step run
    /// by a trigger rule after a failure).
    pub(crate) inputs: Inputs,
}

/// The outputs a step reads, copied (or shared) into its context when it
/// starts, when every dependency is final: no cell shared with the run
/// to write once and read through. Most steps have one or two
/// dependencies, kept inline.
pub(crate) type Inputs = smallvec::SmallVec<[Option<Output>; 2]>;

impl StepContext {
    /// This step's name.
    pub fn step_name(&self) -> &str {
        &self.shared.workflow.steps[self.step].name
    }

    /// The workflow's name.
    pub fn workflow_name(&self) -> &str {
        &self.shared.workflow.name
    }

    /// The run's id.
    pub fn run_id(&self) -> u64 {
        self.shared.run_id
    }

    /// The current attempt, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The output of dependency `step`, as a `T`.
    ///
    /// Errors (never panics) when `step` is not a dependency of this step,
    /// when it produced another type (the error names both), or when it did
    /// not succeed.
    pub fn output<T: Send + Sync + 'static>(&self, step: &str) -> Result<&T, ContextError> {
        // The generic part is only the downcast: everything else is one
        // copy shared by every caller, so a workflow of a thousand steps
        // does not carry a thousand copies of it (see BENCHMARKS.md).
        let (dependency, value) = self.output_erased(step)?;
        match value.downcast_ref::<T>() {
            Some(value) => Ok(value),
            None => Err(self.wrong_type(step, dependency, std::any::type_name::<T>())),
        }
    }

    /// The output of dependency `step`, with its position, as stored.
    #[inline(never)]
    fn output_erased(&self, step: &str) -> Result<(usize, &Output), ContextError> {
        let (position, dependency) = self.dependency_index(step)?;
        match self.inputs.get(position) {
            Some(Some(value)) => Ok((dependency, value)),
            _ => Err(ContextError::no_output(self.step_name(), step)),
        }
    }

    #[cold]
    #[inline(never)]
    fn wrong_type(&self, step: &str, dependency: usize, requested: &'static str) -> ContextError {
        ContextError::WrongType {
            step: self.step_name().to_owned(),
            dependency: step.to_owned(),
            requested,
            actual: self.shared.workflow.output_type(dependency),
        }
    }

    /// Like [`output`](Self::output), as a shared pointer the caller may keep
    /// (a new one for an output of a small primitive type, which the run
    /// stores inline: see [`StepReport::output_arc`](crate::StepReport::output_arc)).
    pub fn output_arc<T: Send + Sync + 'static>(&self, step: &str) -> Result<Arc<T>, ContextError> {
        let (dependency, value) = self.output_erased(step)?;
        value
            .to_arc::<T>()
            .ok_or_else(|| self.wrong_type(step, dependency, std::any::type_name::<T>()))
    }

    /// The names of this step's dependencies, in index order.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        self.shared
            .deps(self.step)
            .iter()
            .map(|&d| &*self.shared.workflow.steps[d as usize].name)
    }

    /// The outputs of every dependency that produced a `T`, with their
    /// names, in the order the dependencies were added to the workflow. A
    /// fan-in step reads all its inputs with this, without naming each.
    pub fn outputs<T: Send + Sync + 'static>(&self) -> impl Iterator<Item = (&str, &T)> {
        let steps = &self.shared.workflow.steps;
        self.shared
            .deps(self.step)
            .iter()
            .zip(&self.inputs)
            .filter_map(|(&d, value)| {
                let value = value.as_ref()?.downcast_ref::<T>()?;
                Some((&*steps[d as usize].name, value))
            })
    }

    /// The run's input, as a `T`.
    pub fn input<T: Send + Sync + 'static>(&self) -> Result<&T, ContextError> {
        if let Some((value, _)) = &self.shared.input
            && let Some(value) = value.downcast_ref::<T>()
        {
            return Ok(value);
        }
        Err(self.input_error(std::any::type_name::<T>()))
    }

    #[cold]
    #[inline(never)]
    fn input_error(&self, requested: &'static str) -> ContextError {
        ContextError::Input {
            step: self.step_name().to_owned(),
            requested,
            actual: match &self.shared.input {
                None => String::from(
                    "the run has no input; pass one with `.input(..)` on the execution",
                ),
                Some((_, type_name)) => format!("the run's input is a `{type_name}`"),
            },
        }
    }

    /// The shared resource of type `T`: the run's own, else the engine's.
    pub fn resource<T: Send + Sync + 'static>(&self) -> Result<&T, ContextError> {
        match self
            .resource_erased(TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
        {
            Some(value) => Ok(value),
            None => Err(ContextError::missing_resource(
                self.step_name(),
                std::any::type_name::<T>(),
            )),
        }
    }

    /// The resource stored under `type_id`: the run's own, else the engine's.
    #[inline(never)]
    fn resource_erased(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
        self.shared
            .run_resources
            .get_erased(type_id)
            .or_else(|| self.shared.engine_resources.get_erased(type_id))
    }

    /// A token cancelled when the run is cancelled, times out or fails
    /// fast. Long computations can check it to stop early; futures are
    /// dropped at their next `.await` anyway.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.shared.cancel
    }

    /// The engine running this step, e.g. to run another workflow.
    pub fn engine(&self) -> &WorkflowEngine {
        &self.shared.engine
    }

    /// Runs `workflow` with `input` as part of this step: on the same
    /// engine, cancelled with this run, and its report nested in this
    /// step's report ([`StepReport::nested`](crate::StepReport::nested)).
    /// Returns the nested run's report (check it with `ensure_success`).
    pub async fn run_workflow<I: Send + Sync + 'static>(
        &self,
        workflow: &Workflow,
        input: I,
    ) -> Result<RunReport, WorkflowError> {
        let report = self
            .shared
            .engine
            .execute(workflow)
            .input(input)
            .cancel_token(self.shared.cancel.child_token())
            .await?;
        let mut nested = match self.shared.nested.lock() {
            Ok(nested) => nested,
            Err(poisoned) => poisoned.into_inner(),
        };
        nested.push((self.step, report.clone()));
        Ok(report)
    }

    /// Where dependency `step` is in this step's dependency list, and its
    /// position in the workflow.
    fn dependency_index(&self, step: &str) -> Result<(usize, usize), ContextError> {
        let deps = self.shared.deps(self.step);
        let steps = &self.shared.workflow.steps;
        // Few dependencies: compare names; many: the plan's name index.
        let found = if deps.len() <= 16 {
            deps.iter()
                .position(|&d| steps[d as usize].name.is(step))
                .map(|position| (position, deps[position] as usize))
        } else {
            self.shared
                .plan
                .index
                .get(step, |i| &steps[i].name)
                .and_then(|d| {
                    let position = deps.binary_search(&u32::try_from(d).ok()?).ok()?;
                    Some((position, d))
                })
        };
        found.ok_or_else(|| ContextError::NotADependency {
            step: self.step_name().to_owned(),
            requested: step.to_owned(),
        })
    }
}

impl fmt::Debug for StepContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepContext")
            .field("workflow", &self.workflow_name())
            .field("step", &self.step_name())
            .field("run_id", &self.run_id())
            .field("attempt", &self.attempt)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_of_many_types_are_each_found_by_their_type() {
        struct A(u8);
        struct B(u8);
        let mut resources = Resources::default();
        assert!(resources.is_empty());
        resources.insert(A(1));
        resources.insert(B(2));
        resources.insert(3u8);
        resources.insert(String::from("four"));
        resources.insert(vec![5u8]);
        resources.insert(A(6)); // replaces the first `A`
        assert_eq!(resources.get::<A>().map(|a| a.0), Some(6));
        assert_eq!(resources.get::<B>().map(|b| b.0), Some(2));
        assert_eq!(resources.get::<u8>(), Some(&3));
        assert_eq!(resources.get::<String>().map(String::as_str), Some("four"));
        assert_eq!(resources.get::<Vec<u8>>(), Some(&vec![5]));
        assert_eq!(resources.get::<u16>(), None);
        assert_eq!(resources.entries.len(), 5);
        assert_eq!(
            format!("{resources:?}").matches(", ").count(),
            4,
            "{resources:?}"
        );
    }
}
