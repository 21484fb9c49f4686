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

use std::sync::Arc;

use crate::error::{ValidationError, ValidationErrors};
use crate::graph;
use crate::halves;
use crate::workflow::{Adjacency, FORWARD, Plan, WorkflowInner};

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

/// "Did you mean" for unknown names, within a budget of work (see
/// [`SUGGESTION_BUDGET`]).
#[derive(Clone, Copy)]
struct Suggestions {
    budget: usize,
    /// The cost of comparing a name of length `l` with every suggestible
    /// step name is `(l + 1) * per_char`.
    per_char: usize,
}

impl Suggestions {
    fn new<'a>(names: impl Iterator<Item = &'a str>, budget: usize) -> Self {
        let per_char = names
            .filter(|name| suggestible(name))
            .map(|name| name.len() + 1)
            .sum();
        Self { budget, per_char }
    }

    /// A share of the budget, for one of `parts` parts of the work.
    fn part(self, parts: usize) -> Self {
        Self {
            budget: self.budget / parts.max(1),
            ..self
        }
    }

    /// The closest of `names` to `unknown`, while the budget lasts.
    fn suggest<'a>(
        &mut self,
        unknown: &str,
        names: impl Iterator<Item = &'a str>,
    ) -> Option<String> {
        let cost = (unknown.len() + 1).saturating_mul(self.per_char);
        if !suggestible(unknown) || cost > self.budget {
            return None;
        }
        self.budget -= cost;
        graph::closest_name(unknown, names.filter(|name| suggestible(name))).map(str::to_owned)
    }
}

fn suggestible(name: &str) -> bool {
    name.len() <= SUGGESTION_MAX_LEN
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

    let suggestions = Suggestions::new(steps.iter().map(NamedStep::name), suggestion_budget);
    let size = steps.iter().map(|s| s.depends_on().len()).sum::<usize>();
    let parts = halves::in_parts(steps.len(), size, |range, parts| {
        let mut suggestions = suggestions.part(parts);
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
                let suggestion = suggestions.suggest(dependency, steps.iter().map(NamedStep::name));
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

/// Checks a runtime workflow and builds its plan. Same checks and same
/// order of problems as [`check`], on a workflow whose names were resolved
/// while it was built (see [`WorkflowInner`]): linear, with one name
/// lookup per dependency given before its step existed.
pub(crate) fn check_workflow(wf: &WorkflowInner) -> Result<Plan, ValidationErrors> {
    let workflow = &*wf.name;
    let n = wf.steps.len();
    let name_of = |i: usize| &*wf.steps[i].name;
    let mut errors = Vec::new();
    if n >= FORWARD as usize
        || wf.forward.len() > (!FORWARD) as usize
        || u32::try_from(wf.edges.len()).is_err()
    {
        errors.push(ValidationError::TooLarge {
            workflow: workflow.to_owned(),
            steps: n,
            limit: (FORWARD - 1) as usize,
        });
        return Err(ValidationErrors {
            workflow: workflow.to_owned(),
            errors,
        });
    }
    // One pass over the steps for what does not need the names: empty
    // names; whether every step's dependencies were resolved while it was
    // built, in increasing order (then the workflow's own list serves as
    // the plan's, and a workflow built in order pays nothing for its
    // plan's dependencies; a name given before its step existed is an
    // entry above every position, so it fails the order); the roots of
    // such a list; and whether every step keeps the default options.
    let mut as_given = true;
    let mut given_roots = Vec::new();
    let mut default_options = true;
    for (position, step) in wf.steps.iter().enumerate() {
        if step.name.is_empty() {
            errors.push(ValidationError::EmptyName {
                workflow: workflow.to_owned(),
                position,
            });
        }
        let raw = wf.raw_deps(position);
        match raw.last() {
            #[allow(clippy::cast_possible_truncation)] // below FORWARD
            None => given_roots.push(position as u32),
            Some(&last) => {
                as_given &= (last as usize) < position && raw.windows(2).all(|w| w[0] < w[1]);
            }
        }
        default_options &= step.has_default_options();
    }
    if !wf.repeated.is_empty() {
        // (first position, how many steps carry the name), by first position.
        let mut counts: Vec<(usize, usize)> = Vec::new();
        for &later in &wf.repeated {
            let first = wf
                .position(name_of(later as usize))
                .unwrap_or(later as usize);
            counts.push((first, 0));
        }
        counts.sort_unstable();
        counts.dedup();
        for &later in &wf.repeated {
            let first = wf
                .position(name_of(later as usize))
                .unwrap_or(later as usize);
            if let Ok(i) = counts.binary_search_by_key(&first, |&(f, _)| f) {
                counts[i].1 += 1;
            }
        }
        for (first, later) in counts {
            errors.push(ValidationError::DuplicateStep {
                workflow: workflow.to_owned(),
                step: name_of(first).to_owned(),
                count: later + 1,
            });
        }
    }

    // Made when the first unknown dependency needs one (reading every
    // name, which a valid workflow need not do).
    let mut suggestions = None;
    let mut own = (!as_given).then(|| Adjacency::with_capacity(n, wf.edges.len()));
    let mut scratch: Vec<u32> = Vec::new();
    // When the dependencies are not as given, the plan has a list of its
    // own: each step's looked up, sorted, without repeats; and its roots.
    let mut roots = given_roots;
    if let Some(own) = &mut own {
        roots.clear();
        for step in 0..n {
            scratch.clear();
            for &entry in wf.raw_deps(step) {
                let position = if entry & FORWARD == 0 {
                    Some(entry as usize)
                } else {
                    wf.position(wf.dep_name(entry))
                };
                match position {
                    Some(position) if position == step => {
                        errors.push(ValidationError::SelfDependency {
                            workflow: workflow.to_owned(),
                            step: name_of(step).to_owned(),
                        });
                    }
                    #[allow(clippy::cast_possible_truncation)] // below FORWARD
                    Some(position) => scratch.push(position as u32),
                    None => {
                        let dependency = wf.dep_name(entry);
                        errors.push(ValidationError::UnknownDependency {
                            workflow: workflow.to_owned(),
                            step: name_of(step).to_owned(),
                            dependency: dependency.to_owned(),
                            suggestion: suggestions
                                .get_or_insert_with(|| {
                                    Suggestions::new(
                                        wf.steps.iter().map(|s| &*s.name),
                                        SUGGESTION_BUDGET,
                                    )
                                })
                                .suggest(dependency, wf.steps.iter().map(|s| &*s.name)),
                        });
                    }
                }
            }
            scratch.sort_unstable();
            scratch.dedup();
            if scratch.is_empty() {
                #[allow(clippy::cast_possible_truncation)] // below FORWARD
                roots.push(step as u32);
            }
            own.push(&scratch);
        }
    }
    let deps_of = |step: usize| match &own {
        Some(own) => own.get(step),
        None => wf.raw_deps(step),
    };
    let dependents = Adjacency::reverse(n, deps_of);

    // Dependencies given in increasing order, each before its step, point
    // backwards only and cannot close a cycle. Otherwise Kahn's algorithm
    // visits every step of an acyclic graph; only when it cannot are the
    // (costlier) strongly connected components looked for.
    if own.is_some() {
        find_cycles(wf, &roots, &dependents, deps_of, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ValidationErrors {
            workflow: workflow.to_owned(),
            errors,
        });
    }
    Ok(Plan {
        own_deps: own,
        dependents,
        index: Arc::clone(&wf.names),
        roots,
        plain: default_options && !wf.handlers.any_branch(),
        event_names: std::sync::OnceLock::new(),
    })
}

/// Pushes a [`ValidationError::Cycle`] for every cycle of `wf`'s plan
/// (`roots`, `dependents`, `deps_of`), found by Kahn's algorithm.
fn find_cycles<'a>(
    wf: &WorkflowInner,
    roots: &[u32],
    dependents: &Adjacency,
    deps_of: impl Fn(usize) -> &'a [u32],
    errors: &mut Vec<ValidationError>,
) {
    let n = wf.steps.len();
    let mut remaining: Vec<usize> = (0..n).map(|step| deps_of(step).len()).collect();
    let mut queue: Vec<u32> = roots.to_vec();
    let mut visited = 0;
    while let Some(step) = queue.pop() {
        visited += 1;
        for &dependent in dependents.get(step as usize) {
            let left = &mut remaining[dependent as usize];
            *left -= 1;
            if *left == 0 {
                queue.push(dependent);
            }
        }
    }
    if visited < n {
        let lists: Vec<Vec<usize>> = (0..n)
            .map(|step| deps_of(step).iter().map(|&d| d as usize).collect())
            .collect();
        for cycle in graph::cycles(&lists) {
            errors.push(ValidationError::Cycle {
                workflow: wf.name.to_string(),
                path: cycle
                    .iter()
                    .map(|&i| wf.steps[i].name.to_string())
                    .collect(),
            });
        }
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
    fn a_runtime_workflow_is_checked_exactly_like_its_definition() {
        // Names resolved while a workflow is built (forward references,
        // repeated and empty names, self-dependencies, typos, cycles) give
        // the same problems, in the same order, as checking its plain
        // definition.
        let pool = ["a", "b", "c", "d", "", "scan", "sacn", "e"];
        let mut rng = fastrand::Rng::with_seed(7);
        let mut invalid = 0;
        for case in 0..500 {
            let mut wf = crate::Workflow::new("wf");
            for _ in 0..rng.usize(1..10) {
                let name = pool[rng.usize(..pool.len())];
                let deps: Vec<&str> = (0..rng.usize(0..4))
                    .map(|_| pool[rng.usize(..pool.len())])
                    .collect();
                wf.add_step(name, |_| async { Ok::<_, crate::BoxError>(()) })
                    .depends_on(deps);
            }
            let expected = check("wf", &wf.definition().steps).errors;
            let actual = wf.validate().err().map(|e| e.errors).unwrap_or_default();
            assert_eq!(actual, expected, "case {case}: {wf:?}");
            invalid += usize::from(!expected.is_empty());
        }
        assert!(invalid > 100 && invalid < 500, "{invalid} of 500 invalid");
    }

    #[test]
    fn a_runtime_workflow_plans_its_dependencies_sorted_without_repeats() {
        let mut wf = crate::Workflow::new("wf");
        // `c` names `b` before `b` exists.
        wf.add_step("a", |_| async { Ok::<_, crate::BoxError>(()) });
        wf.add_step("c", |_| async { Ok::<_, crate::BoxError>(()) })
            .depends_on(["b", "a", "b"]);
        wf.add_step("b", |_| async { Ok::<_, crate::BoxError>(()) });
        let plan = wf.inner.plan().expect("valid");
        assert!(plan.own_deps.is_some());
        assert_eq!(plan.deps(&wf.inner, 1), [0, 2]);
        assert_eq!(plan.dependents.get(0), [1]);
        assert_eq!(plan.dependents.get(2), [1]);
        assert_eq!(plan.roots, [0, 2]);
        assert_eq!(plan.dependency_counts(&wf.inner), [0, 2, 0], "repeats once");
        assert_eq!(wf.dependencies("c"), Some(vec!["b", "a", "b"]));

        // Built in order, a workflow's own list is its plan's.
        let mut wf = crate::Workflow::new("wf");
        for (name, deps) in [("a", &[][..]), ("b", &[]), ("c", &["a", "b"])] {
            wf.add_step(name, |_| async { Ok::<_, crate::BoxError>(()) })
                .depends_on(deps);
        }
        let plan = wf.inner.plan().expect("valid");
        assert!(plan.own_deps.is_none());
        assert_eq!(plan.deps(&wf.inner, 2), [0, 1]);
        assert_eq!(plan.dependents.get(1), [2]);
        assert_eq!(plan.roots, [0, 1]);
        assert_eq!(plan.dependency_counts(&wf.inner), [0, 0, 2]);
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
