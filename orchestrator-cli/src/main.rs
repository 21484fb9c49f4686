//! `orchestrator`: analyse and draw workflow files, and serve the analysis
//! to AI agents over the Model Context Protocol.
//!
//! ```sh
//! orchestrator analyze pipeline.yaml                 # order, levels, critical path, …
//! orchestrator analyze pipeline.json --format mermaid
//! orchestrator mcp                                   # an MCP server on stdin/stdout
//! ```

mod cli;
mod mcp;
mod report;
mod workflow_file;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use orchestrator_core::analysis::{AnalysisOptions, analyze_with};
use orchestrator_core::render;

use crate::cli::{AnalyzeArgs, Cli, Command, Format};
use crate::report::AnalysisReport;

/// The workflow is valid (or the server ended normally).
const OK: u8 = 0;
/// The workflow is invalid: it has a cycle, an unknown dependency, …
const INVALID: u8 = 1;
/// The file could not be read or parsed, or the command line is wrong
/// (clap uses 2 for usage errors too).
const UNUSABLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Analyze(args) => run_analyze(&args),
        Command::Mcp(args) => match mcp::serve(args.limits()) {
            Ok(()) => OK,
            Err(error) => {
                eprintln!("orchestrator mcp: {error}");
                UNUSABLE
            }
        },
    };
    ExitCode::from(code)
}

fn run_analyze(args: &AnalyzeArgs) -> u8 {
    let definition = match workflow_file::read(&args.file) {
        Ok(definition) => definition,
        Err(error) => {
            eprintln!("error: {error}");
            return UNUSABLE;
        }
    };
    let options = AnalysisOptions {
        redundant_edge_budget: args.redundant_budget,
    };
    let analysis = analyze_with(&definition, options);
    let output = match args.format {
        Format::Text if analysis.is_valid() => report::text(&analysis),
        Format::Text => String::new(),
        Format::Json => match serde_json::to_string_pretty(&AnalysisReport::of(&analysis)) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("error: cannot write the analysis as JSON: {error}");
                return UNUSABLE;
            }
        },
        Format::Mermaid => render::mermaid(&definition),
        Format::Dot => render::dot(&definition),
    };
    let code = if analysis.is_valid() { OK } else { INVALID };
    if let Err(errors) = analysis.validation() {
        eprintln!("error: {errors}");
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => code,
        // `orchestrator analyze … | head`: the reader has seen enough.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(error) => {
            eprintln!("error: cannot write the output: {error}");
            UNUSABLE
        }
    }
}
