//! The code-review pipeline of `code_review.rs`, written with the
//! compile-time DSL: each step is an annotated async function, the DAG is
//! checked while the crate compiles, and data flows typed from each step to
//! its dependents.
//!
//! ```text
//! scan -> { review_style, review_security } -> fix -> verify
//! ```
//!
//! Run it with `cargo run --example code_review_dsl`.

use std::time::Duration;

use orchestrator::{BoxError, WorkflowEngine, step, workflow};

/// The repository to review: the workflow's input.
#[derive(Debug)]
struct Repo {
    url: String,
}

/// What the scan found.
#[derive(Debug)]
struct ScanReport {
    files: Vec<String>,
}

/// A reviewer's findings.
#[derive(Debug)]
struct Findings(Vec<String>);

/// The patch that fixes the findings.
#[derive(Debug)]
struct Patch {
    fixes: usize,
}

/// A shared client, handed to steps as a resource instead of a global.
struct Linter {
    max_line: usize,
}

/// The reviewers live in their own module; `workflow!` names them by path.
mod reviewers {
    use super::{BoxError, Findings, Linter, ScanReport};
    use orchestrator::step;

    #[step(depends_on = "scan")]
    pub async fn review_style(
        scan: &ScanReport,
        #[resource] linter: &Linter,
    ) -> Result<Findings, BoxError> {
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        Ok(Findings(
            scan.files
                .iter()
                .filter(|f| f.len() > linter.max_line)
                .map(|f| format!("style: {f} has a long name"))
                .collect(),
        ))
    }

    #[step(depends_on = "scan", timeout = "5s")]
    pub async fn review_security(scan: &ScanReport) -> Result<Findings, BoxError> {
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        Ok(Findings(
            scan.files
                .iter()
                .filter(|f| f.contains("auth"))
                .map(|f| format!("security: check {f}"))
                .collect(),
        ))
    }
}

#[step]
async fn scan(repo: &Repo) -> Result<ScanReport, BoxError> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(ScanReport {
        files: vec![
            format!("{}/src/auth/session.rs", repo.url),
            format!("{}/src/lib.rs", repo.url),
        ],
    })
}

#[step(depends_on = ["review_style", "review_security"], retry = 3, backoff = "10ms")]
async fn fix(review_style: &Findings, review_security: &Findings) -> Result<Patch, BoxError> {
    Ok(Patch {
        fixes: review_style.0.len() + review_security.0.len(),
    })
}

#[step(depends_on = ["fix", "scan"])]
async fn verify(fix: &Patch, scan: &ScanReport) -> Result<bool, BoxError> {
    Ok(fix.fixes <= scan.files.len() * 2)
}

workflow!(
    /// The code-review pipeline.
    CodeReview: scan, reviewers::review_style, reviewers::review_security, fix, verify
);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let engine = WorkflowEngine::builder()
        .resource(Linter { max_line: 30 })
        .build();
    let repo = Repo {
        url: String::from("github.com/acme/widgets"),
    };

    // Typed outputs: `out.fix` is a `Patch`, `out.verify` a `bool`.
    let out = CodeReview::run(&engine, repo).await?;
    println!("{}\n", out.report());
    for finding in out.review_style.0.iter().chain(&out.review_security.0) {
        println!("  {finding}");
    }
    println!("\n{} fix(es), verified: {}", out.fix.fixes, out.verify);
    Ok(())
}

#[test]
fn the_example_runs() -> Result<(), BoxError> {
    main()
}
