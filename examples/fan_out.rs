//! Dynamic fan-out and fan-in: `list_files` finds the files at run time,
//! `count_lines` runs once per file (at most 4 at a time), and `summarize`
//! receives every count in the list's order.
//!
//! ```text
//! list_files -> count_lines (map, one per file) -> summarize
//! ```
//!
//! Written with the DSL's `map_over`; the runtime API has `Workflow::add_map`.
//!
//! Run it with `cargo run --example fan_out`.

use std::time::Duration;

use orchestrator::{BoxError, WorkflowEngine, step, workflow};

#[step]
async fn list_files(root: &str) -> Result<Vec<String>, BoxError> {
    Ok((1..=10).map(|i| format!("{root}/module_{i}.rs")).collect())
}

/// Runs once per element of `list_files`' output; its output is the list
/// of results, in order.
#[step(map_over = "list_files", concurrency = 4)]
async fn count_lines(list_files: &str) -> Result<usize, BoxError> {
    // Stand-in for reading the file: later files are quicker, yet the
    // results still come back in the list's order.
    let lines = list_files.len() * 10;
    tokio::time::sleep(Duration::from_millis(200 - lines as u64)).await;
    Ok(lines)
}

#[step(depends_on = ["count_lines", "list_files"])]
async fn summarize(count_lines: &[usize], list_files: &[String]) -> Result<String, BoxError> {
    let total: usize = count_lines.iter().sum();
    let biggest = count_lines
        .iter()
        .zip(list_files)
        .max_by_key(|(lines, _)| **lines)
        .map(|(_, file)| file.as_str())
        .unwrap_or("none");
    Ok(format!(
        "{} files, {total} lines, the biggest is {biggest}",
        list_files.len()
    ))
}

workflow!(LineCount: list_files, count_lines, summarize);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let engine = WorkflowEngine::new();
    let out = LineCount::run(&engine, String::from("src")).await?;
    println!("{}\n", out.report());
    println!("per file: {:?}", out.count_lines);
    println!("{}", out.summarize);
    Ok(())
}

#[test]
fn the_example_runs() -> Result<(), BoxError> {
    main()
}
