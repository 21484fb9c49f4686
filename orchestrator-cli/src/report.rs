//! The analysis as the command line prints it (plain text) and as JSON, the
//! same JSON the MCP server returns as structured content.

use std::fmt::Write as _;

use orchestrator_core::{Analysis, ValidationError};
use schemars::JsonSchema;
use serde::Serialize;

/// The analysis of a workflow, in the JSON form of `--format json` and of
/// the MCP tool `analyze_workflow`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalysisReport {
    /// The workflow's name.
    pub workflow: String,
    /// Whether the workflow is a valid DAG; when not, only `errors` and
    /// `cycles` are filled.
    pub valid: bool,
    /// How many steps it has.
    pub step_count: usize,
    /// How many distinct dependencies between existing steps it has.
    pub edge_count: usize,
    /// Every problem, in plain words.
    pub errors: Vec<Problem>,
    /// One cycle per knot of steps that depend on each other, as the path
    /// data flows along, first step repeated at the end (`["fix", "fix"]`
    /// for a step that depends on itself).
    pub cycles: Vec<Vec<String>>,
    /// Every step, dependencies first.
    pub order: Vec<String>,
    /// Parallel levels: level 0 has no dependencies; the steps of a level
    /// can run at the same time.
    pub levels: Vec<Vec<String>>,
    /// Steps without dependencies.
    pub roots: Vec<String>,
    /// Steps nothing depends on.
    pub leaves: Vec<String>,
    /// The widest level (the first one, on a tie).
    pub widest_level: Option<WidestLevel>,
    /// The longest chain of steps, weighted by duration (1 for a step
    /// without one).
    pub critical_path: Vec<String>,
    /// The critical path's total weight (its number of steps when no
    /// duration is known).
    pub critical_path_length: f64,
    /// Dependencies implied by a longer path, which can be dropped.
    pub redundant_edges: Vec<RedundantDependency>,
    /// False when the search for redundant dependencies stopped at its
    /// budget (huge graphs): `redundant_edges` is then a true but partial
    /// list.
    pub redundant_edges_complete: bool,
    /// A Mermaid flowchart of the workflow (MCP only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mermaid: Option<String>,
}

/// The widest parallel level.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WidestLevel {
    /// Its index in `levels`.
    pub index: usize,
    /// How many steps it has.
    pub width: usize,
}

/// A dependency implied by a longer path.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RedundantDependency {
    /// The dependency.
    pub from: String,
    /// The dependent step.
    pub to: String,
    /// The longer path from `from` to `to` that implies it.
    pub via: Vec<String>,
}

/// What kind of problem a workflow has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A step has an empty name.
    EmptyName,
    /// Two or more steps share a name.
    DuplicateStep,
    /// A step depends on itself.
    SelfDependency,
    /// A step depends on a name no step carries.
    UnknownDependency,
    /// A duration is negative, not a number, or over 10¹² seconds.
    InvalidDuration,
    /// Steps depend on each other in a circle.
    Cycle,
    /// Anything else.
    Other,
}

/// One problem with a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The problem in plain words, with what to do.
    pub message: String,
    /// The step concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The unknown dependency's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// The closest existing step name to an unknown dependency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// A cycle's path, first step repeated at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<String>>,
}

impl Problem {
    /// The problem in JSON form.
    pub fn of(error: &ValidationError) -> Self {
        let mut problem = Self {
            kind: ProblemKind::Other,
            message: error.to_string(),
            step: None,
            dependency: None,
            suggestion: None,
            path: None,
        };
        match error {
            ValidationError::EmptyName { .. } => problem.kind = ProblemKind::EmptyName,
            ValidationError::DuplicateStep { step, .. } => {
                problem.kind = ProblemKind::DuplicateStep;
                problem.step = Some(step.clone());
            }
            ValidationError::SelfDependency { step, .. } => {
                problem.kind = ProblemKind::SelfDependency;
                problem.step = Some(step.clone());
            }
            ValidationError::UnknownDependency {
                step,
                dependency,
                suggestion,
                ..
            } => {
                problem.kind = ProblemKind::UnknownDependency;
                problem.step = Some(step.clone());
                problem.dependency = Some(dependency.clone());
                problem.suggestion = suggestion.clone();
            }
            ValidationError::InvalidDuration { step, .. } => {
                problem.kind = ProblemKind::InvalidDuration;
                problem.step = Some(step.clone());
            }
            ValidationError::Cycle { path, .. } => {
                problem.kind = ProblemKind::Cycle;
                problem.path = Some(path.clone());
            }
            _ => {}
        }
        problem
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

impl AnalysisReport {
    /// The report of `analysis`, without a picture.
    pub fn of(analysis: &Analysis<'_>) -> Self {
        Self {
            workflow: analysis.workflow.to_owned(),
            valid: analysis.is_valid(),
            step_count: analysis.step_count,
            edge_count: analysis.edge_count,
            errors: analysis.errors.iter().map(Problem::of).collect(),
            cycles: analysis.cycles.clone(),
            order: owned(&analysis.order),
            levels: analysis.levels.iter().map(|l| owned(l)).collect(),
            roots: owned(&analysis.roots),
            leaves: owned(&analysis.leaves),
            widest_level: analysis.widest_level.map(|index| WidestLevel {
                index,
                width: analysis.widest_level_steps().len(),
            }),
            critical_path: owned(&analysis.critical_path),
            critical_path_length: analysis.critical_path_length,
            redundant_edges: analysis
                .redundant_edges
                .iter()
                .map(|e| RedundantDependency {
                    from: e.from.to_owned(),
                    to: e.to.to_owned(),
                    via: owned(&e.via),
                })
                .collect(),
            redundant_edges_complete: analysis.redundant_edges_complete,
            mermaid: None,
        }
    }
}

/// A number of seconds or steps, without needless decimals: `5`, `2.5`,
/// `0.333`.
pub fn number(x: f64) -> String {
    let text = format!("{x:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        String::from("0")
    } else {
        text.to_owned()
    }
}

/// The analysis of a valid workflow as plain text, for people.
pub fn text(analysis: &Analysis<'_>) -> String {
    let mut out = String::new();
    let plural =
        |n: usize, word: &str, words: &str| format!("{n} {}", if n == 1 { word } else { words });
    let _ = writeln!(
        out,
        "workflow `{}`: valid, {}, {}",
        analysis.workflow,
        plural(analysis.step_count, "step", "steps"),
        plural(analysis.edge_count, "dependency", "dependencies")
    );
    let _ = writeln!(out, "order:          {}", analysis.order.join(", "));
    let _ = writeln!(
        out,
        "levels:         {}",
        plural(analysis.levels.len(), "level", "levels")
    );
    let digits = analysis.levels.len().saturating_sub(1).to_string().len();
    for (i, level) in analysis.levels.iter().enumerate() {
        let _ = writeln!(out, "  {i:>digits$}  {}", level.join(", "));
    }
    let _ = writeln!(out, "roots:          {}", analysis.roots.join(", "));
    let _ = writeln!(out, "leaves:         {}", analysis.leaves.join(", "));
    if let Some(widest) = analysis.widest_level {
        let _ = writeln!(
            out,
            "widest level:   level {widest}, {}",
            plural(analysis.widest_level_steps().len(), "step", "steps")
        );
    }
    let _ = writeln!(
        out,
        "critical path:  {} (length {})",
        analysis.critical_path.join(" -> "),
        number(analysis.critical_path_length)
    );
    if analysis.redundant_edges.is_empty() {
        out.push_str("redundant:      none\n");
    } else {
        let _ = writeln!(
            out,
            "redundant:      {} (implied by a longer path; each can be dropped)",
            plural(analysis.redundant_edges.len(), "dependency", "dependencies")
        );
        for edge in &analysis.redundant_edges {
            let _ = writeln!(
                out,
                "  {} -> {}  (via {})",
                edge.from,
                edge.to,
                edge.via.join(" -> ")
            );
        }
    }
    if !analysis.redundant_edges_complete {
        out.push_str(
            "  (the search for redundant dependencies stopped at its budget on this large graph; the list may be incomplete)\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator_core::{StepDefinition, WorkflowDefinition, analyze};

    fn review() -> WorkflowDefinition {
        WorkflowDefinition::new("review")
            .with_step(StepDefinition::new("scan"))
            .with_step(StepDefinition::new("review").with_dependencies(["scan"]))
            .with_step(StepDefinition::new("fix").with_dependencies(["review", "scan"]))
    }

    #[test]
    fn numbers_lose_needless_decimals() {
        assert_eq!(number(5.0), "5");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1.0 / 3.0), "0.333");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn text_lists_every_part_of_the_analysis() {
        let wf = review();
        let text = text(&analyze(&wf));
        assert!(text.starts_with("workflow `review`: valid, 3 steps, 3 dependencies\n"));
        assert!(text.contains("order:          scan, review, fix\n"));
        assert!(text.contains("  0  scan\n  1  review\n  2  fix\n"));
        assert!(text.contains("critical path:  scan -> review -> fix (length 3)\n"));
        assert!(text.contains("  scan -> fix  (via scan -> review -> fix)\n"));
    }

    #[test]
    fn problems_carry_their_parts_for_machines() {
        let wf = WorkflowDefinition::new("wf")
            .with_step(StepDefinition::new("scan"))
            .with_step(StepDefinition::new("review").with_dependencies(["sacn", "fix"]))
            .with_step(StepDefinition::new("fix").with_dependencies(["review"]));
        let report = AnalysisReport::of(&analyze(&wf));
        assert!(!report.valid);
        assert_eq!(report.errors[0].kind, ProblemKind::UnknownDependency);
        assert_eq!(report.errors[0].suggestion.as_deref(), Some("scan"));
        assert_eq!(report.errors[1].kind, ProblemKind::Cycle);
        assert_eq!(
            report.errors[1].path,
            Some(vec!["review".into(), "fix".into(), "review".into()])
        );
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["errors"][1]["kind"], "cycle");
        assert!(json.get("mermaid").is_none());
    }
}
