//! The one validation of a workflow's shape, shared by runtime workflows
//! ([`Workflow`](crate::Workflow)) and plain definitions
//! ([`WorkflowDefinition`](crate::WorkflowDefinition)).
//!
//! It looks only at names: each step's name and the names it depends on. It
//! resolves the names into the index form the graph algorithms work on, and
//! collects every problem on the way, in a stable order: empty names,
//! repeated names, then per step its self-dependency and unknown
//! dependencies, then every cycle.

use std::collections::HashMap;

use crate::error::ValidationError;
use crate::graph;
use crate::halves;

/// How much work "did you mean" may spend in one validation, counted in
/// character pairs compared. Each unknown dependency is compared with every
/// step's name, so a huge workflow full of typos would otherwise take
/// quadratic time; past this budget the remaining unknown dependencies get
/// no suggestion. A few hundred milliseconds at most.
const SUGGESTION_BUDGET: usize = 200_000_000;

/// Names longer than this are neither given nor offered as suggestions:
/// comparing two names costs the product of their lengths.
const SUGGESTION_MAX_LEN: usize = 128;

/// A step as validation sees it: a name and the names it depends on.
pub(crate) trait NamedStep {
    /// The step's name.
    fn name(&self) -> &str;
    /// The names of the steps it depends on, as written.
    fn depends_on(&self) -> &[String];
}

/// The outcome of [`check`]: the dependencies as indices, and every problem.
#[derive(Debug)]
pub(crate) struct Checked {
    /// For each step, the positions of its dependencies, sorted, without
    /// repeats; self-dependencies and unknown names are left out.
    pub(crate) deps: Vec<Vec<usize>>,
    /// Every problem found, in a stable order (empty when valid).
    pub(crate) errors: Vec<ValidationError>,
    /// A topological order of `deps`; shorter than the workflow when it has
    /// a cycle (see [`graph::order_and_levels`]).
    pub(crate) order: Vec<usize>,
    /// Each step's level in `deps` (meaningful only without a cycle).
    pub(crate) level: Vec<usize>,
}

/// Resolves the steps' dependencies to positions and checks the workflow:
/// empty and repeated names, self-dependencies, unknown dependencies (with
/// the closest existing name) and cycles (with their whole path).
///
/// Runs in time linear in steps and dependencies (plus the "did you mean"
/// comparisons, which are bounded), iteratively; a big workflow's names are
/// resolved in two halves on two threads.
pub(crate) fn check<S: NamedStep + Sync>(workflow: &str, steps: &[S]) -> Checked {
    check_with_budget(workflow, steps, SUGGESTION_BUDGET)
}

fn check_with_budget<S: NamedStep + Sync>(
    workflow: &str,
    steps: &[S],
    suggestion_budget: usize,
) -> Checked {
    let mut errors = Vec::new();
    // name -> (first position, how many steps carry it). foldhash: fast on
    // short strings and seeded per process, so crafted names cannot force
    // collisions.
    let mut index: HashMap<&str, (usize, usize), foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(steps.len(), foldhash::fast::RandomState::default());
    // The keys are copies of the names packed in one buffer: comparing a
    // looked-up name with its key then reads a few compact megabytes that
    // stay in the cache, rather than a million scattered allocations.
    let mut arena = String::with_capacity(steps.iter().map(|s| s.name().len()).sum());
    let mut ends = Vec::with_capacity(steps.len());
    for step in steps {
        arena.push_str(step.name());
        ends.push(arena.len());
    }
    let mut start = 0;
    let keys = ends.iter().map(|&end| {
        let key = &arena[start..end];
        start = end;
        key
    });
    // The first position of every name that turns out to be repeated.
    let mut repeated = Vec::new();
    for ((position, step), key) in steps.iter().enumerate().zip(keys) {
        if step.name().is_empty() {
            errors.push(ValidationError::EmptyName {
                workflow: workflow.to_owned(),
                position,
            });
        }
        let (first, count) = index.entry(key).or_insert((position, 0));
        *count += 1;
        if *count == 2 && !step.name().is_empty() {
            repeated.push(*first);
        }
    }
    repeated.sort_unstable();
    for first in repeated {
        let name = steps[first].name();
        let count = index.get(name).map_or(0, |&(_, count)| count);
        errors.push(ValidationError::DuplicateStep {
            workflow: workflow.to_owned(),
            step: name.to_owned(),
            count,
        });
    }

    let suggestible = |name: &&str| name.len() <= SUGGESTION_MAX_LEN;
    // The cost of comparing a name of length `l` with every suggestible
    // step name is `(l + 1) * per_char`.
    let per_char: usize = steps
        .iter()
        .map(NamedStep::name)
        .filter(suggestible)
        .map(|name| name.len() + 1)
        .sum();
    let size = steps.iter().map(|s| s.depends_on().len()).sum::<usize>();
    let parts = halves::in_parts(steps.len(), size, |range, parts| {
        let mut budget = suggestion_budget / parts;
        let mut deps = Vec::with_capacity(range.len());
        let mut errors = Vec::new();
        for step in &steps[range] {
            let mut ids = Vec::with_capacity(step.depends_on().len());
            for dependency in step.depends_on() {
                if dependency == step.name() {
                    errors.push(ValidationError::SelfDependency {
                        workflow: workflow.to_owned(),
                        step: step.name().to_owned(),
                    });
                    continue;
                }
                if let Some(&(id, _)) = index.get(dependency.as_str()) {
                    ids.push(id);
                    continue;
                }
                let cost = (dependency.len() + 1).saturating_mul(per_char);
                let suggestion = if suggestible(&dependency.as_str()) && cost <= budget {
                    budget -= cost;
                    let candidates = steps.iter().map(NamedStep::name).filter(suggestible);
                    graph::closest_name(dependency, candidates).map(str::to_owned)
                } else {
                    None
                };
                errors.push(ValidationError::UnknownDependency {
                    workflow: workflow.to_owned(),
                    step: step.name().to_owned(),
                    dependency: dependency.clone(),
                    suggestion,
                });
            }
            ids.sort_unstable();
            ids.dedup();
            deps.push(ids);
        }
        (deps, errors)
    });
    let mut deps = Vec::with_capacity(steps.len());
    for (part_deps, part_errors) in parts {
        deps.extend(part_deps);
        errors.extend(part_errors);
    }

    // Kahn's algorithm orders every step of an acyclic graph; only when it
    // cannot are the (costlier) strongly connected components looked for.
    let (order, level) = graph::order_and_levels(&deps);
    if order.len() < deps.len() {
        for cycle in graph::cycles(&deps) {
            errors.push(ValidationError::Cycle {
                workflow: workflow.to_owned(),
                path: cycle.iter().map(|&i| steps[i].name().to_owned()).collect(),
            });
        }
    }
    Checked {
        deps,
        errors,
        order,
        level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Step(&'static str, Vec<String>);

    impl NamedStep for Step {
        fn name(&self) -> &str {
            self.0
        }
        fn depends_on(&self) -> &[String] {
            &self.1
        }
    }

    fn step(name: &'static str, deps: &[&str]) -> Step {
        Step(name, deps.iter().map(|d| (*d).to_owned()).collect())
    }

    #[test]
    fn dependencies_resolve_to_sorted_positions_without_repeats() {
        let steps = [step("a", &[]), step("b", &[]), step("c", &["b", "a", "b"])];
        let checked = check("wf", &steps);
        assert!(checked.errors.is_empty());
        assert_eq!(checked.deps, vec![vec![], vec![], vec![0, 1]]);
    }

    #[test]
    fn problems_come_in_a_stable_order() {
        let steps = [
            step("b", &["c"]),
            step("c", &["b", "x"]),
            step("", &[]),
            step("c", &["c"]),
        ];
        let kinds: Vec<String> = check("wf", &steps)
            .errors
            .iter()
            .map(|e| match e {
                ValidationError::EmptyName { position, .. } => format!("empty {position}"),
                ValidationError::DuplicateStep { step, .. } => format!("duplicate {step}"),
                ValidationError::SelfDependency { step, .. } => format!("self {step}"),
                ValidationError::UnknownDependency { dependency, .. } => {
                    format!("unknown {dependency}")
                }
                ValidationError::Cycle { path, .. } => format!("cycle {}", path.join(" ")),
                other => format!("{other}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "empty 2",
                "duplicate c",
                "unknown x",
                "self c",
                "cycle b c b"
            ]
        );
    }

    #[test]
    fn very_long_names_get_no_suggestion() {
        let long = "x".repeat(SUGGESTION_MAX_LEN + 1);
        let steps = [Step("a", vec![long.clone()]), step("b", &[])];
        let errors = check("wf", &steps).errors;
        assert!(matches!(
            &errors[..],
            [ValidationError::UnknownDependency {
                suggestion: None,
                ..
            }]
        ));
    }

    #[test]
    fn suggestions_stop_when_their_budget_is_spent() {
        // Each unknown name costs one comparison per step; a workflow whose
        // steps times unknown names exceeds the budget gets no quadratic
        // blow-up, just fewer suggestions.
        let mut steps = vec![step("scan", &[]), step("review", &[]), step("fix", &[])];
        steps[0].1 = vec!["reveiw".into(), "fxi".into(), "revew".into()];
        // Each comparison of "reveiw" with the 3 names costs 7 * 16 = 112.
        let errors = check_with_budget("wf", &steps, 112 + 4 * 16).errors;
        let suggested = errors
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ValidationError::UnknownDependency {
                        suggestion: Some(_),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(errors.len(), 3);
        assert_eq!(suggested, 2, "{errors:?}");
    }
}
