//! The checks `workflow!` makes over the whole graph, each reported at the
//! user's own tokens. The graph algorithms themselves are the core's.

use orchestrator_core::graph;

use crate::errors::Errors;
use crate::workflow::Finish;

/// The resolved graph: for each step, for each entry of its `depends_on`,
/// the index of that step in the workflow (`None` when unknown).
pub(crate) struct Graph {
    pub(crate) deps: Vec<Vec<Option<usize>>>,
}

impl Graph {
    /// The index of the step named `name`.
    pub(crate) fn dependency(&self, finish: &Finish, step: usize, name: &str) -> Option<usize> {
        finish.steps[step]
            .deps
            .iter()
            .position(|lit| lit.value() == name)
            .and_then(|i| self.deps[step][i])
    }
}

/// Resolves every dependency and reports unknown ones and cycles.
pub(crate) fn graph(finish: &Finish, errors: &mut Errors) -> Graph {
    let workflow = finish.name.to_string();
    let names: Vec<String> = finish.steps.iter().map(|s| s.ident.to_string()).collect();
    let deps: Vec<Vec<Option<usize>>> = finish
        .steps
        .iter()
        .map(|step| {
            step.deps
                .iter()
                .map(|lit| {
                    let dep = lit.value();
                    let found = names.iter().position(|n| *n == dep);
                    if found.is_none() {
                        check_unknown_dependency(
                            &workflow,
                            &step.ident.to_string(),
                            lit,
                            &names,
                            errors,
                        );
                    }
                    found
                })
                .collect()
        })
        .collect();
    let graph = Graph { deps };
    check_cycles(finish, &graph, &names, errors);
    check_branches(finish, &graph, &names, errors);
    graph
}

/// A branch may only choose among its own dependents.
fn check_branches(finish: &Finish, graph: &Graph, names: &[String], errors: &mut Errors) {
    for (index, step) in finish.steps.iter().enumerate() {
        let branch = step.ident.to_string();
        for lit in &step.branches {
            let target = lit.value();
            let Some(target_index) = names.iter().position(|n| *n == target) else {
                let hint = graph::closest_name(&target, names.iter().map(String::as_str))
                    .map(|close| format!("; did you mean `{close}`?"))
                    .unwrap_or_default();
                errors.at(
                    lit,
                    format!(
                        "branch `{branch}` may choose `{target}`, which is not a step of workflow `{}`{hint}",
                        finish.name
                    ),
                );
                continue;
            };
            if !graph.deps[target_index].contains(&Some(index)) {
                errors.at(
                    lit,
                    format!(
                        "branch `{branch}` may choose `{target}`, but `{target}` does not depend on `{branch}`; a branch chooses among its dependents: add \"{branch}\" to the `depends_on` of `{target}`"
                    ),
                );
            }
        }
    }
}

/// A dependency must name a step of this workflow; suggest the closest.
fn check_unknown_dependency(
    workflow: &str,
    step: &str,
    lit: &syn::LitStr,
    names: &[String],
    errors: &mut Errors,
) {
    let dep = lit.value();
    let hint = match graph::closest_name(&dep, names.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!(
            "if `{dep}` is a `#[step]` defined elsewhere, add it to `workflow!({workflow}: ...)`; otherwise fix the name"
        ),
    };
    errors.at(
        lit,
        format!(
            "step `{step}` depends on `{dep}`, which is not a step of workflow `{workflow}`; {hint}"
        ),
    );
}

/// A workflow must be acyclic. Each cycle is reported once per member, at
/// the dependency that member wrote, with the whole path spelled out.
fn check_cycles(finish: &Finish, graph: &Graph, names: &[String], errors: &mut Errors) {
    let preds: Vec<Vec<usize>> = graph
        .deps
        .iter()
        .map(|deps| deps.iter().flatten().copied().collect())
        .collect();
    for cycle in graph::cycles(&preds) {
        let path = cycle
            .iter()
            .map(|&i| names[i].as_str())
            .collect::<Vec<_>>()
            .join(" -> ");
        let members = cycle.len() - 1;
        for (k, pair) in cycle.windows(2).enumerate() {
            let (from, to) = (pair[0], pair[1]);
            let Some(lit) = finish.steps[to]
                .deps
                .iter()
                .find(|lit| lit.value() == names[from])
            else {
                continue;
            };
            errors.at(
                lit,
                format!(
                    "cycle ({}/{members}) in workflow `{}`: `{path}`; here `{}` depends on `{}`. A workflow must be acyclic: remove one of these dependencies",
                    k + 1,
                    finish.name,
                    names[to],
                    names[from],
                ),
            );
        }
    }
}
