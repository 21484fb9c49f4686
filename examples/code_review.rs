//! A code-review pipeline built with the runtime API:
//!
//! ```text
//! scan -> { review_style, review_security, review_tests } -> aggregate -> fix -> verify
//! ```
//!
//! The three reviewers run in parallel (a fan-out), `aggregate` reads all of
//! their outputs (a fan-in), `fix` is retried on a flaky failure, and the
//! progress is printed from the engine's event stream while the run goes on.
//!
//! Run it with `cargo run --example code_review`.

use std::time::Duration;

use orchestrator::{BoxError, EventKind, RetryPolicy, StepContext, WorkflowEngine};

/// What the scan found.
#[derive(Debug)]
struct ScanReport {
    files: Vec<&'static str>,
}

/// One reviewer's findings.
#[derive(Debug)]
struct Review {
    reviewer: &'static str,
    findings: Vec<String>,
}

/// The patch that fixes every finding.
#[derive(Debug)]
struct Patch {
    fixes: usize,
}

async fn scan_code(ctx: StepContext) -> Result<ScanReport, BoxError> {
    let repo = ctx.input::<String>()?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!("    scanning {repo}");
    Ok(ScanReport {
        files: vec!["src/lib.rs", "src/engine.rs", "tests/engine.rs"],
    })
}

fn reviewer(
    name: &'static str,
    delay_ms: u64,
) -> impl Fn(StepContext) -> std::pin::Pin<Box<dyn Future<Output = Result<Review, BoxError>> + Send>>
+ Send
+ Sync
+ 'static {
    move |ctx| {
        Box::pin(async move {
            let scan = ctx.output::<ScanReport>("scan")?;
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let findings = scan
                .files
                .iter()
                .filter(|f| f.len() % 3 == delay_ms as usize % 3)
                .map(|f| format!("{name}: look at {f}"))
                .collect();
            Ok(Review {
                reviewer: name,
                findings,
            })
        })
    }
}

async fn aggregate(ctx: StepContext) -> Result<Vec<String>, BoxError> {
    let mut all = Vec::new();
    for (_, review) in ctx.outputs::<Review>() {
        println!(
            "    {} found {} issue(s)",
            review.reviewer,
            review.findings.len()
        );
        all.extend(review.findings.iter().cloned());
    }
    Ok(all)
}

async fn apply_fixes(ctx: StepContext) -> Result<Patch, BoxError> {
    let findings = ctx.output::<Vec<String>>("aggregate")?;
    if ctx.attempt() == 1 {
        return Err("the formatter crashed (transient)".into());
    }
    Ok(Patch {
        fixes: findings.len(),
    })
}

async fn verify_fixes(ctx: StepContext) -> Result<bool, BoxError> {
    let patch = ctx.output::<Patch>("fix")?;
    let findings = ctx.output::<Vec<String>>("aggregate")?;
    Ok(patch.fixes == findings.len())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let engine = WorkflowEngine::builder().max_concurrency(8).build();

    let mut wf = engine.create_workflow("code_review_pipeline");
    wf.add_step("scan", scan_code);
    let reviewers = [
        ("review_style", 120),
        ("review_security", 200),
        ("review_tests", 80),
    ];
    for (name, delay) in reviewers {
        wf.add_step(name, reviewer(name, delay))
            .depends_on(["scan"]);
    }
    wf.add_step("aggregate", aggregate)
        .depends_on(reviewers.map(|(name, _)| name));
    wf.add_step("fix", apply_fixes)
        .depends_on(["aggregate"])
        .retry(RetryPolicy::attempts(3).backoff(Duration::from_millis(20), Duration::from_secs(1)))
        .timeout(Duration::from_secs(5));
    wf.add_step("verify", verify_fixes)
        .depends_on(["fix", "aggregate"]);

    // Progress, from the event stream, while the run goes on.
    let mut events = engine.subscribe();
    let progress = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event.kind {
                EventKind::StepStarted { step, attempt } => {
                    println!("  > {step} started (attempt {attempt})")
                }
                EventKind::StepSucceeded { step, duration, .. } => {
                    println!("  ✓ {step} succeeded in {duration:.1?}")
                }
                EventKind::StepRetrying {
                    step, delay, error, ..
                } => println!("  ↻ {step} failed ({error}); retrying in {delay:.1?}"),
                EventKind::StepFailed { step, error, .. } => println!("  ✗ {step} failed: {error}"),
                EventKind::RunFinished { .. } => break,
                _ => {}
            }
        }
    });

    let report = engine
        .execute(&wf)
        .input(String::from("github.com/acme/widgets"))
        .await?;
    let _ = progress.await;

    println!("\n{report}\n");
    report.ensure_success()?;
    let verified = report.output::<bool>("verify").copied().unwrap_or(false);
    println!("verified: {verified}");
    Ok(())
}

#[test]
fn the_example_runs() -> Result<(), BoxError> {
    main()
}
