//! The MCP server (`orchestrator mcp`): the analysis as Model Context
//! Protocol tools over stdio, so an AI agent can check the DAG it plans
//! before it runs it. Built on `rmcp`, the official Rust MCP SDK.
//!
//! Tools, each taking the workflow definition in its `workflow` argument:
//! `analyze_workflow`, `validate_workflow` and `render_workflow`. Bad
//! arguments and workflows over the server's [`Limits`] get a tool error
//! (`isError: true`) saying what is wrong; the server keeps serving.

use orchestrator_core::analysis::{AnalysisOptions, analyze_with};
use orchestrator_core::{WorkflowDefinition, render};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, ServerHandler, ServiceExt as _, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::report::{AnalysisReport, Problem};

/// How big a workflow the server accepts. Larger ones get a tool error, so
/// one request cannot exhaust the server's time or memory. (Messages over
/// 16 MiB are dropped by the SDK's stdio transport before they reach the
/// tools.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most steps in one workflow.
    pub max_steps: usize,
    /// The most dependencies in one workflow, as written.
    pub max_dependencies: usize,
    /// The longest step or dependency name, in bytes.
    pub max_name_length: usize,
    /// The budget of the redundant-dependency search (see
    /// [`AnalysisOptions::redundant_edge_budget`]).
    pub redundant_edge_budget: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 10_000,
            max_dependencies: 100_000,
            max_name_length: 1_000,
            redundant_edge_budget: 10_000_000,
        }
    }
}

/// The arguments of `analyze_workflow` and `validate_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowArgs {
    /// The workflow definition: its name and steps, each step with a
    /// unique name, the names of the steps it depends on and, optionally,
    /// its expected duration in seconds.
    pub workflow: WorkflowDefinition,
}

/// The arguments of `render_workflow`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderArgs {
    /// The workflow definition, as for `analyze_workflow`.
    pub workflow: WorkflowDefinition,
    /// The picture's language: `mermaid` (the default) or `dot` (Graphviz).
    #[serde(default)]
    pub format: PictureFormat,
}

/// A picture's language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PictureFormat {
    /// A Mermaid flowchart.
    #[default]
    Mermaid,
    /// A Graphviz DOT graph.
    Dot,
}

/// The result of `validate_workflow`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidationReport {
    /// The workflow's name.
    pub workflow: String,
    /// Whether the workflow is a valid DAG.
    pub valid: bool,
    /// Every problem, in plain words (cycles with their paths, unknown
    /// dependencies with the closest step name, duplicates, …).
    pub errors: Vec<Problem>,
}

/// The result of `render_workflow`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Picture {
    /// The workflow's name.
    pub workflow: String,
    /// The picture's language.
    pub format: PictureFormat,
    /// The picture's source text.
    pub diagram: String,
}

/// The MCP server: its limits and its tools.
#[derive(Debug, Clone)]
pub struct Server {
    limits: Limits,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Server {
    /// A server with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            tool_router: Self::tool_router(),
        }
    }

    /// A tool error when `workflow` is over the limits.
    fn check_size(&self, workflow: &WorkflowDefinition) -> Result<(), String> {
        let limits = &self.limits;
        let too_large = |what: String| {
            format!(
                "workflow `{}` is too large for this server: {what}; split it into smaller \
                 workflows, or analyse it with the `orchestrator analyze FILE` command, which has \
                 no such limit",
                workflow.name.chars().take(100).collect::<String>()
            )
        };
        if workflow.steps.len() > limits.max_steps {
            return Err(too_large(format!(
                "it has {} steps and the limit is {}",
                workflow.steps.len(),
                limits.max_steps
            )));
        }
        let dependencies = workflow.edge_count();
        if dependencies > limits.max_dependencies {
            return Err(too_large(format!(
                "it has {dependencies} dependencies and the limit is {}",
                limits.max_dependencies
            )));
        }
        let names = std::iter::once(&workflow.name).chain(
            workflow
                .steps
                .iter()
                .flat_map(|s| std::iter::once(&s.name).chain(&s.depends_on)),
        );
        if let Some(long) = names.into_iter().find(|n| n.len() > limits.max_name_length) {
            return Err(too_large(format!(
                "a name is {} bytes long (it starts `{}`) and the limit is {}",
                long.len(),
                long.chars().take(40).collect::<String>(),
                limits.max_name_length
            )));
        }
        Ok(())
    }

    /// Analyses a workflow: validity and errors, order, levels, critical
    /// path, redundant dependencies, and a Mermaid diagram.
    #[tool(
        name = "analyze_workflow",
        description = "Analyse a DAG workflow before running it. Returns whether it is valid \
        and every problem in plain words (each cycle with its path, unknown dependencies with \
        the closest step name, duplicate names), and for a valid workflow: a topological order, \
        the parallel levels (steps of one level can run at the same time), roots, leaves, the \
        widest level, the critical path and its length (weighted by step durations in seconds \
        when given, by 1 otherwise), redundant dependencies (implied by a longer path), and a \
        Mermaid diagram.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    fn analyze_workflow(
        &self,
        Parameters(WorkflowArgs { workflow }): Parameters<WorkflowArgs>,
    ) -> Result<Json<AnalysisReport>, String> {
        self.check_size(&workflow)?;
        let options = AnalysisOptions {
            redundant_edge_budget: self.limits.redundant_edge_budget,
        };
        let analysis = analyze_with(&workflow, options);
        let mut report = AnalysisReport::of(&analysis);
        report.mermaid = Some(render::mermaid(&workflow));
        Ok(Json(report))
    }

    /// Validates a workflow: validity and errors only.
    #[tool(
        name = "validate_workflow",
        description = "Check a DAG workflow before running it: whether it is valid, and every \
        problem in plain words (each cycle with its path, unknown dependencies with the closest \
        step name, duplicate or empty names, steps depending on themselves, bad durations).",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    fn validate_workflow(
        &self,
        Parameters(WorkflowArgs { workflow }): Parameters<WorkflowArgs>,
    ) -> Result<Json<ValidationReport>, String> {
        self.check_size(&workflow)?;
        let errors = match workflow.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.errors().iter().map(Problem::of).collect(),
        };
        Ok(Json(ValidationReport {
            workflow: workflow.name,
            valid: errors.is_empty(),
            errors,
        }))
    }

    /// Draws a workflow as Mermaid or Graphviz DOT.
    #[tool(
        name = "render_workflow",
        description = "Draw a DAG workflow as a Mermaid flowchart (`format: \"mermaid\"`, the \
        default) or a Graphviz DOT graph (`format: \"dot\"`). Invalid workflows are drawn too: \
        cycles as they are, unknown dependencies as dashed `(missing)` nodes.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    fn render_workflow(
        &self,
        Parameters(RenderArgs { workflow, format }): Parameters<RenderArgs>,
    ) -> Result<Json<Picture>, String> {
        self.check_size(&workflow)?;
        let diagram = match format {
            PictureFormat::Mermaid => render::mermaid(&workflow),
            PictureFormat::Dot => render::dot(&workflow),
        };
        Ok(Json(Picture {
            workflow: workflow.name,
            format,
            diagram,
        }))
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "orchestrator",
    instructions = "Check a DAG workflow you plan before you run it. Every tool takes the \
    workflow as {\"workflow\": {\"name\": \"…\", \"steps\": [{\"name\": \"scan\"}, {\"name\": \
    \"review\", \"depends_on\": [\"scan\"], \"duration\": 2.5}]}}. `validate_workflow` lists the \
    problems; `analyze_workflow` adds the order, parallel levels, critical path and redundant \
    dependencies; `render_workflow` draws it as Mermaid or DOT."
)]
impl ServerHandler for Server {}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The client's `initialize` exchange failed.
    #[error("the MCP session could not start: {0}")]
    Initialize(String),
    /// The server's task ended abnormally.
    #[error("the MCP server stopped abnormally: {0}")]
    Stopped(String),
}

/// Serves the tools over stdin/stdout until the client closes the stream.
pub fn serve(limits: Limits) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let service = Server::new(limits)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| ServeError::Initialize(e.to_string()))?;
        service
            .waiting()
            .await
            .map_err(|e| ServeError::Stopped(e.to_string()))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator_core::StepDefinition;

    fn chain(n: usize) -> WorkflowDefinition {
        let mut wf = WorkflowDefinition::new("chain");
        for i in 0..n {
            let step = StepDefinition::new(format!("s{i}"));
            wf.steps.push(if i == 0 {
                step
            } else {
                step.with_dependencies([format!("s{}", i - 1)])
            });
        }
        wf
    }

    #[test]
    fn workflows_over_the_limits_are_refused_in_plain_words() {
        let server = Server::new(Limits {
            max_steps: 3,
            max_dependencies: 2,
            max_name_length: 5,
            ..Limits::default()
        });
        assert!(server.check_size(&chain(3)).is_ok());
        let message = server.check_size(&chain(4)).err().unwrap_or_default();
        assert!(
            message.contains("it has 4 steps and the limit is 3"),
            "{message}"
        );
        let mut wf = chain(3);
        wf.steps[2].depends_on.push("s0".into());
        let message = server.check_size(&wf).err().unwrap_or_default();
        assert!(message.contains("3 dependencies and the limit is 2"));
        let mut wf = chain(1);
        wf.steps[0].name = "abcdefgh".into();
        let message = server.check_size(&wf).err().unwrap_or_default();
        assert!(message.contains("a name is 8 bytes long (it starts `abcdefgh`)"));
    }

    #[test]
    fn every_tool_publishes_an_input_schema() {
        let server = Server::new(Limits::default());
        let tools = server.tool_router.list_all();
        let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
        assert_eq!(
            names,
            ["analyze_workflow", "render_workflow", "validate_workflow"]
        );
        for tool in &tools {
            let schema = serde_json::to_string(&tool.input_schema).unwrap_or_default();
            assert!(schema.contains("depends_on"), "{}: {schema}", tool.name);
            assert!(tool.output_schema.is_some(), "{}", tool.name);
        }
    }
}
