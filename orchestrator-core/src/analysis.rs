//! What can be known about a workflow's DAG before it runs: a topological
//! order, the parallel levels, roots and leaves, the widest level, the
//! critical path, redundant dependencies, and every problem (cycles with
//! their paths, unknown names, duplicates).
//!
//! Plain code over a [`WorkflowDefinition`], no async runtime. Everything is
//! iterative, so a chain of a million steps cannot overflow the stack, and
//! runs in time linear in steps plus dependencies, except the search for
//! redundant dependencies, which is bounded by a budget (see
//! [`AnalysisOptions::redundant_edge_budget`]).
//!
//! ```
//! use orchestrator_core::{StepDefinition, WorkflowDefinition, analyze};
//!
//! let wf = WorkflowDefinition::new("review")
//!     .with_step(StepDefinition::new("scan"))
//!     .with_step(StepDefinition::new("review").with_dependencies(["scan"]))
//!     .with_step(StepDefinition::new("fix").with_dependencies(["review", "scan"]));
//! let analysis = analyze(&wf);
//! assert!(analysis.is_valid());
//! assert_eq!(analysis.levels, vec![vec!["scan"], vec!["review"], vec!["fix"]]);
//! assert_eq!(analysis.critical_path, vec!["scan", "review", "fix"]);
//! // `fix` needs `scan` anyway, through `review`:
//! assert_eq!(analysis.redundant_edges[0].via, vec!["scan", "review", "fix"]);
//! ```

use crate::definition::WorkflowDefinition;
use crate::error::{ValidationError, ValidationErrors};

/// The default for [`AnalysisOptions::redundant_edge_budget`]: fifty
/// million dependency visits, about a second on one core of a small
/// machine in the worst case (visits in random order).
pub const DEFAULT_REDUNDANT_EDGE_BUDGET: u64 = 50_000_000;

/// Limits of [`analyze_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// How many dependencies the search for redundant ones may visit in
    /// all. Finding every redundant dependency (a transitive reduction) can
    /// cost steps × dependencies on unlucky graphs; when the budget runs
    /// out the search stops, [`Analysis::redundant_edges_complete`] is
    /// `false`, and the edges found so far are still reported (each one is
    /// truly redundant). Everything else in the analysis is linear and
    /// unaffected.
    pub redundant_edge_budget: u64,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            redundant_edge_budget: DEFAULT_REDUNDANT_EDGE_BUDGET,
        }
    }
}

/// The analysis of a workflow's DAG; see [`analyze`].
///
/// Steps are named by borrowing from the analysed definition. When the
/// workflow is invalid, only [`errors`](Self::errors) and
/// [`cycles`](Self::cycles) are filled: the other fields need a valid DAG.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Analysis<'a> {
    /// The workflow's name.
    pub workflow: &'a str,
    /// How many steps the workflow has.
    pub step_count: usize,
    /// How many distinct dependencies between existing steps it has.
    pub edge_count: usize,
    /// Every problem, in the order and words of
    /// [`WorkflowDefinition::validate`]; empty when the workflow is valid.
    pub errors: Vec<ValidationError>,
    /// The path of one cycle per knot of steps that depend on each other
    /// (a strongly connected component), in the direction data flows, the
    /// first step repeated at the end: `["review", "fix", "review"]`; a step
    /// that depends on itself gives `["fix", "fix"]`. The same problems are
    /// in [`errors`](Self::errors). A knot can hold exponentially many
    /// distinct cycles; breaking the one shown and analysing again reveals
    /// the next.
    pub cycles: Vec<Vec<String>>,
    /// Every step, dependencies first (among steps ready together, the one
    /// defined first comes first).
    pub order: Vec<&'a str>,
    /// The parallel levels: level 0 holds the steps with no dependencies,
    /// level `k` the steps whose longest chain of dependencies has `k`
    /// steps. The steps of a level can run at the same time. Inside a
    /// level, steps come in definition order.
    pub levels: Vec<Vec<&'a str>>,
    /// The steps with no dependencies, in definition order.
    pub roots: Vec<&'a str>,
    /// The steps nothing depends on, in definition order.
    pub leaves: Vec<&'a str>,
    /// The index in [`levels`](Self::levels) of the widest level (the
    /// first, on a tie); `None` for a workflow without steps.
    pub widest_level: Option<usize>,
    /// The longest chain of steps, weighted by each step's duration, or by
    /// 1 for a step without one; the run cannot finish faster than this
    /// chain. The first such chain found, on a tie.
    pub critical_path: Vec<&'a str>,
    /// The sum of the critical path's weights: its number of steps when no
    /// duration is known.
    pub critical_path_length: f64,
    /// Dependencies implied by a longer path (dropping them changes
    /// nothing about the order of execution), sorted by the dependent step
    /// then by the dependency, in definition order.
    pub redundant_edges: Vec<RedundantEdge<'a>>,
    /// Whether the search for redundant dependencies finished within its
    /// budget; when `false`, [`redundant_edges`](Self::redundant_edges) is
    /// a true but partial list.
    pub redundant_edges_complete: bool,
}

/// A dependency implied by a longer path; see
/// [`Analysis::redundant_edges`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedundantEdge<'a> {
    /// The dependency: the step that must finish first.
    pub from: &'a str,
    /// The dependent step.
    pub to: &'a str,
    /// A longer path from `from` to `to` that implies the dependency, both
    /// ends included: `["scan", "review", "fix"]` for `scan -> fix`.
    pub via: Vec<&'a str>,
}

impl Analysis<'_> {
    /// Whether the workflow is valid (no [`errors`](Self::errors)).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems as [`WorkflowDefinition::validate`] returns them
    /// (`Display` lists them all in plain words).
    pub fn validation(&self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(ValidationErrors {
            workflow: self.workflow.to_owned(),
            errors: self.errors.clone(),
        })
    }

    /// The steps of the widest level (empty for a workflow without steps).
    pub fn widest_level_steps(&self) -> &[&str] {
        self.widest_level
            .and_then(|i| self.levels.get(i))
            .map_or(&[], Vec::as_slice)
    }
}

/// Analyses a workflow with the default [`AnalysisOptions`].
///
/// Runs in time linear in steps plus dependencies (the redundant-edge
/// search is bounded by its budget) and memory linear in the same, without
/// recursion.
pub fn analyze(definition: &WorkflowDefinition) -> Analysis<'_> {
    analyze_with(definition, AnalysisOptions::default())
}

/// Analyses a workflow; see [`Analysis`] for what it finds.
pub fn analyze_with(definition: &WorkflowDefinition, options: AnalysisOptions) -> Analysis<'_> {
    let checked = definition.check();
    let name = |i: usize| definition.steps[i].name.as_str();
    let names = |ids: &[usize]| ids.iter().map(|&i| name(i)).collect::<Vec<_>>();
    let cycles = checked
        .errors
        .iter()
        .filter_map(|e| match e {
            ValidationError::SelfDependency { step, .. } => Some(vec![step.clone(), step.clone()]),
            ValidationError::Cycle { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let mut analysis = Analysis {
        workflow: &definition.name,
        step_count: definition.steps.len(),
        edge_count: checked.deps.iter().map(Vec::len).sum(),
        errors: checked.errors,
        cycles,
        order: Vec::new(),
        levels: Vec::new(),
        roots: Vec::new(),
        leaves: Vec::new(),
        widest_level: None,
        critical_path: Vec::new(),
        critical_path_length: 0.0,
        redundant_edges: Vec::new(),
        redundant_edges_complete: true,
    };
    if !analysis.errors.is_empty() {
        return analysis;
    }
    let (preds, order, level) = (checked.deps, checked.order, checked.level);
    let mut by_level: Vec<Vec<&str>> = Vec::new();
    for (i, &l) in level.iter().enumerate() {
        if by_level.len() <= l {
            by_level.resize_with(l + 1, Vec::new);
        }
        by_level[l].push(name(i));
    }
    let mut widest: Option<usize> = None;
    for (i, steps) in by_level.iter().enumerate() {
        if widest.is_none_or(|w| steps.len() > by_level[w].len()) {
            widest = Some(i);
        }
    }

    let mut has_dependents = vec![false; preds.len()];
    for &p in preds.iter().flatten() {
        has_dependents[p] = true;
    }

    let weights: Vec<f64> = definition
        .steps
        .iter()
        .map(|s| s.duration.unwrap_or(1.0))
        .collect();
    let (path, length) = critical_path(&preds, &order, &weights);
    let redundant = redundant_edges(&preds, &level, options.redundant_edge_budget);

    analysis.order = names(&order);
    analysis.levels = by_level;
    analysis.widest_level = widest;
    analysis.roots = (0..preds.len())
        .filter(|&i| preds[i].is_empty())
        .map(name)
        .collect();
    analysis.leaves = (0..preds.len())
        .filter(|&i| !has_dependents[i])
        .map(name)
        .collect();
    analysis.critical_path = names(&path);
    analysis.critical_path_length = length;
    analysis.redundant_edges = redundant
        .edges
        .iter()
        .map(|edge| RedundantEdge {
            from: name(edge.from),
            to: name(edge.to),
            via: names(&edge.via),
        })
        .collect();
    analysis.redundant_edges_complete = redundant.complete;
    analysis
}

/// Each node's level, as [`graph::order_and_levels`] gives it.
#[cfg(test)]
fn levels(preds: &[Vec<usize>]) -> Vec<usize> {
    crate::graph::order_and_levels(preds).1
}

/// The heaviest path (nodes weighted by `weights`) and its weight, in
/// `O(nodes + edges)`. `order` must be a topological order of `preds`. On a
/// tie the path ending at the lowest index wins, and at each node the
/// dependency with the lowest index.
fn critical_path(preds: &[Vec<usize>], order: &[usize], weights: &[f64]) -> (Vec<usize>, f64) {
    const NONE: usize = usize::MAX;
    let n = preds.len();
    let mut finish = vec![0.0f64; n];
    let mut parent = vec![NONE; n];
    for &node in order {
        let mut best = 0.0;
        for &p in &preds[node] {
            if parent[node] == NONE || finish[p] > best {
                best = finish[p];
                parent[node] = p;
            }
        }
        finish[node] = best + weights[node];
    }
    let mut end = None;
    for node in 0..n {
        if end.is_none_or(|e: usize| finish[node] > finish[e]) {
            end = Some(node);
        }
    }
    let Some(end) = end else {
        return (Vec::new(), 0.0);
    };
    let mut path = vec![end];
    let mut node = end;
    while parent[node] != NONE {
        node = parent[node];
        path.push(node);
    }
    path.reverse();
    (path, finish[end])
}

/// A dependency `from -> to` implied by the longer path `via`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Implied {
    from: usize,
    to: usize,
    via: Vec<usize>,
}

/// The outcome of [`redundant_edges`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Redundant {
    edges: Vec<Implied>,
    complete: bool,
}

/// Finds every edge `p -> v` such that `p` also reaches `v` through another
/// of `v`'s dependencies (the edges a transitive reduction removes).
///
/// For each node `v` with two or more dependencies, a depth-first search
/// walks backwards from `v`'s dependencies; a dependency of `v` reached that
/// way is redundant. `level` (see [`graph::order_and_levels`](crate::graph::order_and_levels)) prunes the search: only a
/// dependency on a lower level than another can be redundant, so nodes
/// below the lowest such level are never entered, and a node whose
/// dependencies all share one level is skipped outright. Layered graphs,
/// where dependencies stay near each other, cost close to linear time; the
/// worst case is `O(nodes × edges)`, which is why the total number of
/// dependencies visited is capped by `budget`. Iterative; memory
/// `O(nodes)` besides the result. (It stays on one thread: searches that
/// start late in a big graph roam all over it and two threads fighting for
/// the cache were slower than one.)
fn redundant_edges(preds: &[Vec<usize>], level: &[usize], budget: u64) -> Redundant {
    // Marks and stamps are `u32`, for a record of 16 bytes per node; a
    // graph with 4 billion steps is not searched (it would not fit in
    // memory anyway).
    let Ok(n) = u32::try_from(preds.len()) else {
        return Redundant {
            edges: Vec::new(),
            complete: false,
        };
    };
    // One record per node, so that looking at a node costs one cache miss.
    // Stamps are `v + 1` for the search of `v`, so nothing needs clearing.
    let mut marks: Vec<Mark> = level
        .iter()
        .map(|&level| Mark {
            level: u32::try_from(level).unwrap_or(u32::MAX),
            visited: 0,
            dependency_of: 0,
            next: 0,
        })
        .collect();
    // The dependencies again, in two flat arrays of 32-bit ids: the search
    // jumps from node to node, and compact arrays keep more of the graph in
    // the cache. Those of `x` are `flat[start[x]..start[x + 1]]`.
    let mut start = Vec::with_capacity(preds.len() + 1);
    let mut flat: Vec<u32> = Vec::with_capacity(preds.iter().map(Vec::len).sum());
    start.push(0);
    for ps in preds {
        // `p < n <= u32::MAX`: checked above.
        flat.extend(ps.iter().map(|&p| p as u32));
        start.push(flat.len());
    }
    let mut stack: Vec<u32> = Vec::new();
    let mut edges = Vec::new();
    let mut spent = 0u64;

    for v in 0..n {
        let ps = &preds[v as usize];
        if ps.len() < 2 {
            continue;
        }
        let top = ps.iter().map(|&p| marks[p].level).max().unwrap_or(0);
        let candidates = ps.iter().filter(|&&p| marks[p].level < top).count();
        if candidates == 0 {
            continue;
        }
        let floor = ps.iter().map(|&p| marks[p].level).min().unwrap_or(0);
        let stamp = v + 1;
        for &p in ps {
            marks[p].dependency_of = stamp;
        }
        let mut search = Search {
            start: &start,
            flat: &flat,
            marks: &mut marks,
            stack: &mut stack,
            floor,
            stamp,
            spent: &mut spent,
        };
        search.stack.clear();
        for &q in ps {
            // `q < n <= u32::MAX`: checked above.
            search.enter_dependencies_of(q as u32);
        }
        let mut left = candidates;
        while let Some(x) = search.stack.pop() {
            if search.marks[x as usize].dependency_of == stamp {
                let mut via = vec![x as usize];
                let mut node = search.marks[x as usize].next;
                while search.marks[node as usize].dependency_of != stamp {
                    via.push(node as usize);
                    node = search.marks[node as usize].next;
                }
                via.extend([node as usize, v as usize]);
                edges.push(Implied {
                    from: x as usize,
                    to: v as usize,
                    via,
                });
                left -= 1;
                if left == 0 {
                    break;
                }
            }
            if *search.spent > budget {
                break;
            }
            search.enter_dependencies_of(x);
        }
        if spent > budget {
            break;
        }
    }
    edges.sort_by_key(|e| (e.to, e.from));
    Redundant {
        edges,
        complete: spent <= budget,
    }
}

/// What [`redundant_edges`] knows of a node.
#[derive(Debug, Clone, Copy)]
struct Mark {
    level: u32,
    /// The stamp of the last search that visited the node.
    visited: u32,
    /// The stamp of the last search whose node depends on this one.
    dependency_of: u32,
    /// Where the last search came from: the next node on the way to its
    /// node.
    next: u32,
}

/// One backward search of [`redundant_edges`].
struct Search<'s> {
    /// The dependencies of `x` are `flat[start[x]..start[x + 1]]`.
    start: &'s [usize],
    flat: &'s [u32],
    marks: &'s mut [Mark],
    stack: &'s mut Vec<u32>,
    /// Nodes below this level cannot lead to a redundant dependency.
    floor: u32,
    /// Marks the nodes visited by this search.
    stamp: u32,
    spent: &'s mut u64,
}

impl Search<'_> {
    /// Pushes the unvisited dependencies of `node` at or above the floor.
    fn enter_dependencies_of(&mut self, node: u32) {
        // The dependencies of a node on the floor are all below it.
        if self.marks[node as usize].level <= self.floor {
            return;
        }
        let node_index = node as usize;
        let preds = &self.flat[self.start[node_index]..self.start[node_index + 1]];
        *self.spent += preds.len() as u64;
        for &r in preds {
            let mark = &mut self.marks[r as usize];
            if mark.level >= self.floor && mark.visited != self.stamp {
                mark.visited = self.stamp;
                mark.next = node;
                self.stack.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::StepDefinition;

    fn wf(steps: &[(&str, &[&str])]) -> WorkflowDefinition {
        let mut wf = WorkflowDefinition::new("wf");
        for (name, deps) in steps {
            wf = wf.with_step(StepDefinition::new(*name).with_dependencies(deps.iter().copied()));
        }
        wf
    }

    /// scan -> {style, security, tests} -> aggregate -> fix -> verify, and
    /// verify also depends on aggregate.
    fn code_review() -> WorkflowDefinition {
        wf(&[
            ("scan", &[]),
            ("style", &["scan"]),
            ("security", &["scan"]),
            ("tests", &["scan"]),
            ("aggregate", &["style", "security", "tests"]),
            ("fix", &["aggregate"]),
            ("verify", &["fix", "aggregate"]),
        ])
    }

    fn chain(n: usize) -> Vec<Vec<usize>> {
        (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect()
    }

    #[test]
    fn levels_group_steps_that_can_run_together() {
        let wf = code_review();
        let a = analyze(&wf);
        assert!(a.is_valid());
        assert_eq!(
            a.levels,
            vec![
                vec!["scan"],
                vec!["style", "security", "tests"],
                vec!["aggregate"],
                vec!["fix"],
                vec!["verify"],
            ]
        );
        assert_eq!(a.widest_level, Some(1));
        assert_eq!(a.widest_level_steps(), ["style", "security", "tests"]);
    }

    #[test]
    fn order_puts_every_dependency_first() {
        let wf = code_review();
        let a = analyze(&wf);
        let pos = |s: &str| a.order.iter().position(|&o| o == s);
        for step in &wf.steps {
            for dep in &step.depends_on {
                assert!(pos(dep) < pos(&step.name), "{dep} before {}", step.name);
            }
        }
        assert_eq!(a.order.len(), wf.steps.len());
    }

    #[test]
    fn roots_and_leaves_are_the_ends_of_the_dag() {
        let wf = wf(&[("a", &[]), ("b", &[]), ("c", &["a"]), ("d", &["a"])]);
        let a = analyze(&wf);
        assert_eq!(a.roots, ["a", "b"]);
        assert_eq!(a.leaves, ["b", "c", "d"]);
    }

    #[test]
    fn critical_path_counts_steps_when_no_duration_is_known() {
        let wf = code_review();
        let a = analyze(&wf);
        assert_eq!(
            a.critical_path,
            ["scan", "style", "aggregate", "fix", "verify"]
        );
        assert_eq!(a.critical_path_length, 5.0);
    }

    #[test]
    fn critical_path_uses_durations_when_known() {
        let mut wf = code_review();
        for step in &mut wf.steps {
            step.duration = Some(match step.name.as_str() {
                "security" => 10.0,
                "tests" => 3.0,
                _ => 0.5,
            });
        }
        let a = analyze(&wf);
        assert_eq!(
            a.critical_path,
            ["scan", "security", "aggregate", "fix", "verify"]
        );
        assert_eq!(a.critical_path_length, 12.0);
    }

    #[test]
    fn steps_without_a_duration_weigh_one() {
        let mut wf = wf(&[("a", &[]), ("b", &["a"]), ("c", &[])]);
        wf.steps[2].duration = Some(1.5);
        let a = analyze(&wf);
        assert_eq!(a.critical_path, ["a", "b"]);
        assert_eq!(a.critical_path_length, 2.0);
    }

    #[test]
    fn a_dependency_implied_by_a_longer_path_is_redundant() {
        let wf = code_review();
        let a = analyze(&wf);
        assert!(a.redundant_edges_complete);
        assert_eq!(
            a.redundant_edges,
            vec![RedundantEdge {
                from: "aggregate",
                to: "verify",
                via: vec!["aggregate", "fix", "verify"],
            }]
        );
    }

    #[test]
    fn redundant_edges_are_found_across_long_paths_and_levels() {
        // 0 -> 1 -> 2 -> 3 -> 4, plus 0 -> 4, 1 -> 3 and 5 -> 4.
        let mut preds = chain(5);
        preds[4].extend([0, 5]);
        preds[3].push(1);
        preds.push(vec![]);
        let level = levels(&preds);
        let found = redundant_edges(&preds, &level, u64::MAX);
        assert!(found.complete);
        let pairs: Vec<(usize, usize)> = found.edges.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(pairs, [(1, 3), (0, 4)]);
        // Any longer path is a witness; here the one through `1 -> 3`.
        assert_eq!(found.edges[1].via, [0, 1, 3, 4]);
    }

    #[test]
    fn a_diamond_has_no_redundant_edge() {
        let wf = wf(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        assert!(analyze(&wf).redundant_edges.is_empty());
    }

    #[test]
    fn an_exhausted_budget_is_reported_with_what_was_found() {
        let mut preds = chain(100);
        preds[99].push(0);
        preds[50].push(0);
        let level = levels(&preds);
        let found = redundant_edges(&preds, &level, 60);
        assert!(!found.complete);
        let pairs: Vec<(usize, usize)> = found.edges.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(pairs, [(0, 50)]);
    }

    #[test]
    fn an_invalid_workflow_reports_every_cycle_with_its_path() {
        let wf = wf(&[
            ("a", &["c"]),
            ("b", &["a"]),
            ("c", &["b"]),
            ("d", &["e"]),
            ("e", &["d", "nope"]),
        ]);
        let a = analyze(&wf);
        assert!(!a.is_valid());
        assert_eq!(
            a.cycles,
            vec![vec!["a", "b", "c", "a"], vec!["d", "e", "d"]]
        );
        assert_eq!(a.errors.len(), 3);
        assert!(a.order.is_empty() && a.levels.is_empty());
    }

    #[test]
    fn a_step_depending_on_itself_is_a_cycle_of_one() {
        let wf = wf(&[("a", &[]), ("fix", &["a", "fix"])]);
        let a = analyze(&wf);
        assert_eq!(a.cycles, vec![vec!["fix", "fix"]]);
        assert!(matches!(
            a.errors[..],
            [ValidationError::SelfDependency { .. }]
        ));
    }

    #[test]
    fn an_empty_workflow_is_valid_and_empty() {
        let wf = WorkflowDefinition::new("empty");
        let a = analyze(&wf);
        assert!(a.is_valid());
        assert_eq!(a.widest_level, None);
        assert!(a.critical_path.is_empty());
        assert_eq!(a.critical_path_length, 0.0);
    }

    #[test]
    fn a_million_step_chain_is_analysed_without_overflowing_the_stack() {
        let n = 1_000_000;
        let mut wf = WorkflowDefinition::new("chain");
        wf.steps = (0..n)
            .map(|i| StepDefinition {
                name: format!("s{i}"),
                depends_on: if i == 0 {
                    vec![]
                } else {
                    vec![format!("s{}", i - 1)]
                },
                duration: None,
            })
            .collect();
        // Every step also depends on the first one: redundant but for s1.
        for step in wf.steps.iter_mut().skip(2).step_by(100_000) {
            step.depends_on.push("s0".into());
        }
        let a = analyze(&wf);
        assert!(a.is_valid());
        assert_eq!(a.levels.len(), n);
        assert_eq!(a.critical_path.len(), n);
        assert_eq!(a.critical_path_length, n as f64);
        assert!(a.redundant_edges_complete);
        assert_eq!(a.redundant_edges.len(), 10);
    }
}
