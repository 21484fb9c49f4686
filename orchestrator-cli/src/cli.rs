//! The command line: subcommands, options and their help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::mcp::Limits;

/// Analyse and draw DAG workflows, and check them for AI agents over MCP.
#[derive(Debug, Parser)]
#[command(
    name = "orchestrator",
    version,
    about,
    long_about = "Analyse and draw DAG workflows of steps, and check them for AI agents over the \
Model Context Protocol.\n\n\
A workflow file is JSON or YAML:\n\n  \
{\"name\": \"code_review_pipeline\",\n   \
\"steps\": [{\"name\": \"scan\"},\n             \
{\"name\": \"review\", \"depends_on\": [\"scan\"], \"duration\": 2.5}]}\n\n\
Each step has a unique `name`, optional `depends_on` (names of the steps it waits for) and an \
optional `duration` in seconds (weights the critical path; a step without one counts as 1). \
Any other field is an error.",
    after_help = "Exit status: 0 the workflow is valid; 1 it is invalid (cycle, unknown \
dependency, …: the problems are printed on stderr); 2 the file cannot be read or parsed, or \
the command line is wrong."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse a workflow file: order, levels, critical path, redundant
    /// dependencies, or a picture of it.
    #[command(
        long_about = "Analyse a workflow file: its topological order, parallel levels, roots \
and leaves, widest level, critical path and its length, and redundant dependencies (implied by \
a longer path). An invalid workflow is reported on stderr in plain words (every cycle with its \
path, every unknown dependency with the closest step name, duplicates) and exits with status 1.",
        after_help = "Examples:\n  \
orchestrator analyze pipeline.yaml\n  \
orchestrator analyze pipeline.json --format json | jq .critical_path\n  \
orchestrator analyze pipeline.json --format dot | dot -Tsvg > pipeline.svg\n  \
cat pipeline.json | orchestrator analyze -"
    )]
    Analyze(AnalyzeArgs),
    /// Serve the analysis over the Model Context Protocol on stdin/stdout.
    #[command(
        long_about = "Serve the analysis over the Model Context Protocol (MCP) on stdin and \
stdout, so an AI agent can check the DAG it plans before it runs it. Tools: `analyze_workflow` \
(validity, errors, order, levels, critical path, redundant dependencies, a Mermaid diagram), \
`validate_workflow` (validity and errors) and `render_workflow` (Mermaid or DOT). Each takes \
the workflow definition as a JSON object in its `workflow` argument. The server runs until its \
client closes stdin; logs go to stderr.",
        after_help = "Register it with an MCP client, for example:\n  \
{\"mcpServers\": {\"orchestrator\": {\"command\": \"orchestrator\", \"args\": [\"mcp\"]}}}"
    )]
    Mcp(McpArgs),
}

/// The arguments of `orchestrator analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The workflow file (`.json`, `.yaml` or `.yml`; another name is read
    /// as JSON if it starts with `{`, as YAML otherwise); `-` reads stdin.
    pub file: PathBuf,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// How many dependencies the search for redundant ones may visit; on
    /// huge graphs it stops there and says its list may be incomplete.
    #[arg(
        long,
        value_name = "VISITS",
        default_value_t = orchestrator_core::analysis::DEFAULT_REDUNDANT_EDGE_BUDGET
    )]
    pub redundant_budget: u64,
}

/// What `orchestrator analyze` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The analysis, for people.
    Text,
    /// The analysis as JSON, for programs (also for invalid workflows).
    Json,
    /// A Mermaid flowchart of the workflow.
    Mermaid,
    /// A Graphviz DOT graph of the workflow.
    Dot,
}

/// The arguments of `orchestrator mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The most steps a workflow sent to the server may have; larger ones
    /// get a tool error.
    #[arg(long, default_value_t = Limits::default().max_steps, value_name = "N")]
    pub max_steps: usize,
    /// The most dependencies a workflow sent to the server may have.
    #[arg(long, default_value_t = Limits::default().max_dependencies, value_name = "N")]
    pub max_dependencies: usize,
}

impl McpArgs {
    /// The server's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_steps: self.max_steps,
            max_dependencies: self.max_dependencies,
            ..Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
