//! Pictures of a workflow, as Mermaid flowcharts and Graphviz DOT graphs:
//! of its definition, and of a finished run with every step coloured by its
//! status and labelled with its duration.
//!
//! Nodes get generated ids (`s0`, `s1`, …) and the step names are escaped
//! into labels, so any name (quotes, spaces, `#`, `<`, unicode) gives valid
//! output. Invalid workflows are drawn too: a cycle is drawn as it is, and
//! an unknown dependency as a dashed node marked `(missing)`.
//!
//! ```
//! use orchestrator_core::{StepDefinition, WorkflowDefinition, render};
//!
//! let wf = WorkflowDefinition::new("review")
//!     .with_step(StepDefinition::new("scan"))
//!     .with_step(StepDefinition::new("review").with_dependencies(["scan"]));
//! assert_eq!(
//!     render::mermaid(&wf),
//!     "flowchart TD\n    %% workflow `review`\n    s0[\"scan\"]\n    s1[\"review\"]\n    s0 --> s1\n"
//! );
//! assert!(render::dot(&wf).contains("s0 -> s1;"));
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::definition::WorkflowDefinition;
use crate::report::{RunReport, StepStatus};

/// A Mermaid flowchart of the workflow's steps and dependencies; a step
/// with a known duration shows it.
pub fn mermaid(definition: &WorkflowDefinition) -> String {
    Picture::of_definition(definition).mermaid()
}

/// A Graphviz DOT graph of the workflow's steps and dependencies; a step
/// with a known duration shows it.
pub fn dot(definition: &WorkflowDefinition) -> String {
    Picture::of_definition(definition).dot()
}

/// A Mermaid flowchart of a finished run: each step coloured by its status
/// and labelled with its status and duration. Steps are matched to the
/// report by name; a step the report does not know is drawn as not run.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use orchestrator_core::{StepContext, WorkflowEngine, render};
///
/// let engine = WorkflowEngine::new();
/// let mut wf = engine.create_workflow("hello");
/// wf.add_step("greet", |_ctx: StepContext| async { Ok::<_, std::io::Error>("hi") });
/// let report = engine.execute(&wf).await?;
/// let picture = render::mermaid_run(&wf.definition(), &report);
/// assert!(picture.contains(":::succeeded"));
/// # Ok(()) }
/// ```
pub fn mermaid_run(definition: &WorkflowDefinition, report: &RunReport) -> String {
    Picture::of_run(definition, report).mermaid()
}

/// A Graphviz DOT graph of a finished run: each step filled with its
/// status's colour and labelled with its status and duration.
pub fn dot_run(definition: &WorkflowDefinition, report: &RunReport) -> String {
    Picture::of_run(definition, report).dot()
}

/// The look of a step in a picture of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
    TimedOut,
    NotRun,
}

impl Look {
    const ALL: [Look; 6] = [
        Look::Succeeded,
        Look::Failed,
        Look::Skipped,
        Look::Cancelled,
        Look::TimedOut,
        Look::NotRun,
    ];

    fn of(status: StepStatus) -> Self {
        match status {
            StepStatus::Succeeded => Self::Succeeded,
            StepStatus::Failed => Self::Failed,
            StepStatus::Skipped => Self::Skipped,
            StepStatus::Cancelled => Self::Cancelled,
            StepStatus::TimedOut => Self::TimedOut,
        }
    }

    /// The Mermaid class name.
    fn class(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::NotRun => "not_run",
        }
    }

    /// (fill, stroke, text) colours.
    fn colours(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Succeeded => ("#d4edda", "#28a745", "#155724"),
            Self::Failed => ("#f8d7da", "#dc3545", "#721c24"),
            Self::Skipped => ("#e2e3e5", "#6c757d", "#383d41"),
            Self::Cancelled => ("#fff3cd", "#d39e00", "#856404"),
            Self::TimedOut => ("#ffe5d0", "#fd7e14", "#7a3e00"),
            Self::NotRun => ("#ffffff", "#adb5bd", "#6c757d"),
        }
    }
}

/// A step in a picture: its label lines, and its look in a run.
struct Node {
    lines: Vec<String>,
    look: Option<Look>,
    missing: bool,
}

/// What both syntaxes draw.
struct Picture {
    title: String,
    nodes: Vec<Node>,
    /// (dependency, dependent), as node positions.
    edges: Vec<(usize, usize)>,
}

impl Picture {
    fn of_definition(definition: &WorkflowDefinition) -> Self {
        Self::build(definition, |step| {
            let mut lines = vec![step.name.clone()];
            if let Some(seconds) = step.duration {
                lines.push(format!("{seconds}s"));
            }
            (lines, None)
        })
    }

    fn of_run(definition: &WorkflowDefinition, report: &RunReport) -> Self {
        let by_name: HashMap<&str, _> = report.steps().iter().map(|s| (s.name(), s)).collect();
        let mut picture = Self::build(definition, |step| match by_name.get(step.name.as_str()) {
            Some(run) => {
                let mut status = run.status().to_string();
                if let Some(duration) = run.duration() {
                    let _ = write!(status, ", {duration:.1?}");
                }
                (
                    vec![step.name.clone(), status],
                    Some(Look::of(run.status())),
                )
            }
            None => (
                vec![step.name.clone(), String::from("not run")],
                Some(Look::NotRun),
            ),
        });
        picture.title = format!("{} (run {})", definition.name, report.run_id());
        picture
    }

    fn build(
        definition: &WorkflowDefinition,
        mut node: impl FnMut(&crate::definition::StepDefinition) -> (Vec<String>, Option<Look>),
    ) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(definition.steps.len());
        for (i, step) in definition.steps.iter().enumerate() {
            index.entry(step.name.as_str()).or_insert(i);
        }
        let mut nodes: Vec<Node> = definition
            .steps
            .iter()
            .map(|step| {
                let (lines, look) = node(step);
                Node {
                    lines,
                    look,
                    missing: false,
                }
            })
            .collect();
        let mut missing: HashMap<&str, usize> = HashMap::new();
        let mut edges = Vec::with_capacity(definition.edge_count());
        for (i, step) in definition.steps.iter().enumerate() {
            for dependency in &step.depends_on {
                let from = match index.get(dependency.as_str()) {
                    Some(&from) => from,
                    None => *missing.entry(dependency).or_insert_with(|| {
                        nodes.push(Node {
                            lines: vec![format!("{dependency} (missing)")],
                            look: None,
                            missing: true,
                        });
                        nodes.len() - 1
                    }),
                };
                edges.push((from, i));
            }
        }
        Self {
            title: definition.name.clone(),
            nodes,
            edges,
        }
    }

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let _ = writeln!(out, "    %% workflow `{}`", one_line(&self.title));
        for look in Look::ALL {
            if self.nodes.iter().any(|n| n.look == Some(look)) {
                let (fill, stroke, text) = look.colours();
                let _ = writeln!(
                    out,
                    "    classDef {} fill:{fill},stroke:{stroke},color:{text}",
                    look.class()
                );
            }
        }
        if self.nodes.iter().any(|n| n.missing) {
            out.push_str(
                "    classDef missing fill:#ffffff,stroke:#dc3545,color:#721c24,stroke-dasharray:4 3\n",
            );
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let label: Vec<String> = node.lines.iter().map(|l| mermaid_text(l)).collect();
            let _ = write!(out, "    s{i}[\"{}\"]", label.join("<br/>"));
            if node.missing {
                out.push_str(":::missing");
            } else if let Some(look) = node.look {
                let _ = write!(out, ":::{}", look.class());
            }
            out.push('\n');
        }
        for &(from, to) in &self.edges {
            let arrow = if self.nodes[from].missing {
                "-.->"
            } else {
                "-->"
            };
            let _ = writeln!(out, "    s{from} {arrow} s{to}");
        }
        out
    }

    fn dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", dot_text(&self.title));
        out.push_str("    rankdir=TB;\n");
        out.push_str("    node [shape=box, style=\"rounded\", fontname=\"Helvetica\"];\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let label: Vec<String> = node.lines.iter().map(|l| dot_text(l)).collect();
            let _ = write!(out, "    s{i} [label=\"{}\"", label.join("\\n"));
            if node.missing {
                out.push_str(", style=\"rounded,dashed\", color=\"#dc3545\"");
            } else if let Some(look) = node.look {
                let (fill, stroke, text) = look.colours();
                let _ = write!(
                    out,
                    ", style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"{stroke}\", fontcolor=\"{text}\""
                );
            }
            out.push_str("];\n");
        }
        for &(from, to) in &self.edges {
            let style = if self.nodes[from].missing {
                " [style=dashed]"
            } else {
                ""
            };
            let _ = writeln!(out, "    s{from} -> s{to}{style};");
        }
        out.push_str("}\n");
        out
    }
}

/// Control characters (line breaks, tabs) as spaces, so a name stays on
/// its line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text for a quoted Mermaid label: the characters Mermaid would read as
/// syntax or markup become entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#38;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for a quoted DOT string.
fn dot_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::StepDefinition;

    fn two_steps(first: &str, second: &str) -> WorkflowDefinition {
        WorkflowDefinition::new("wf")
            .with_step(StepDefinition::new(first))
            .with_step(StepDefinition::new(second).with_dependencies([first]))
    }

    #[test]
    fn mermaid_draws_every_step_and_dependency() {
        let picture = mermaid(&two_steps("scan", "review"));
        assert!(picture.starts_with("flowchart TD\n"));
        assert!(picture.contains("s0[\"scan\"]"));
        assert!(picture.contains("s1[\"review\"]"));
        assert!(picture.contains("s0 --> s1"));
    }

    #[test]
    fn mermaid_escapes_quotes_markup_and_line_breaks_in_names() {
        let picture = mermaid(&two_steps("say \"hi\" #1 <b>", "two\nlines & `ticks`"));
        assert!(picture.contains("s0[\"say #quot;hi#quot; #35;1 #60;b#62;\"]"));
        assert!(picture.contains("s1[\"two lines #38; #96;ticks#96;\"]"));
    }

    #[test]
    fn unicode_and_spaces_pass_through_unharmed() {
        let wf = two_steps("revue du code ✓", "検証");
        assert!(mermaid(&wf).contains("s0[\"revue du code ✓\"]"));
        assert!(dot(&wf).contains("s1 [label=\"検証\"]"));
    }

    #[test]
    fn dot_escapes_quotes_and_backslashes() {
        let picture = dot(&two_steps("a \"b\" \\c", "d\ne"));
        assert!(
            picture.contains("s0 [label=\"a \\\"b\\\" \\\\c\"]"),
            "{picture}"
        );
        assert!(picture.contains("s1 [label=\"d\\ne\"]"), "{picture}");
        assert!(picture.contains("s0 -> s1;"));
        assert!(picture.ends_with("}\n"));
    }

    #[test]
    fn the_workflow_name_cannot_break_out_of_its_comment_or_string() {
        let mut wf = two_steps("a", "b");
        wf.name = String::from("x\"}\n%%{init}%%");
        assert!(mermaid(&wf).contains("    %% workflow `x\"} %%{init}%%`\n"));
        assert!(dot(&wf).starts_with("digraph \"x\\\"}\\n%%{init}%%\" {\n"));
    }

    #[test]
    fn known_durations_appear_in_labels() {
        let wf =
            WorkflowDefinition::new("wf").with_step(StepDefinition::new("scan").with_duration(2.5));
        assert!(mermaid(&wf).contains("s0[\"scan<br/>2.5s\"]"));
        assert!(dot(&wf).contains("s0 [label=\"scan\\n2.5s\"]"));
    }

    #[test]
    fn unknown_dependencies_are_drawn_as_missing_dashed_nodes() {
        let wf = WorkflowDefinition::new("wf")
            .with_step(StepDefinition::new("review").with_dependencies(["sacn"]));
        let picture = mermaid(&wf);
        assert!(picture.contains("s1[\"sacn (missing)\"]:::missing"));
        assert!(picture.contains("s1 -.-> s0"));
        assert!(dot(&wf).contains("s1 -> s0 [style=dashed];"));
    }

    #[tokio::test]
    async fn a_run_is_coloured_by_status_with_durations() {
        use crate::{BoxError, StepContext, WorkflowEngine};
        let engine = WorkflowEngine::new();
        let mut wf = engine.create_workflow("run");
        wf.add_step("ok", |_ctx: StepContext| async { Ok::<_, BoxError>(1) });
        wf.add_step("boom", |_ctx: StepContext| async {
            Err::<(), BoxError>("broken".into())
        })
        .depends_on(["ok"]);
        wf.add_step("after", |_ctx: StepContext| async { Ok::<_, BoxError>(()) })
            .depends_on(["boom"]);
        let report = engine.execute(&wf).await;
        let Ok(report) = report else {
            panic!("the workflow is valid")
        };
        let mut definition = wf.definition();
        definition.steps.push(StepDefinition::new("later"));
        let picture = mermaid_run(&definition, &report);
        assert!(picture.contains("classDef failed fill:#f8d7da"));
        assert!(picture.contains("s0[\"ok<br/>succeeded, "), "{picture}");
        assert!(picture.contains(":::succeeded\n"));
        assert!(picture.contains("s1[\"boom<br/>failed, "), "{picture}");
        assert!(
            picture.contains("s2[\"after<br/>skipped\"]:::skipped"),
            "{picture}"
        );
        assert!(picture.contains("s3[\"later<br/>not run\"]:::not_run"));
        let graph = dot_run(&definition, &report);
        assert!(graph.contains("fillcolor=\"#f8d7da\""));
        assert!(graph.contains("digraph \"run (run "));
    }
}
