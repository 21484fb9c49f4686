//! The compile-time DSL: `#[step]` and `workflow!` run on the engine, with
//! typed data flow, the same report and events, and step options.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use orchestrator::{EventKind, RunError, RunOutcome, StepStatus, WorkflowEngine, step, workflow};

#[derive(Debug, Clone, PartialEq)]
struct Repo {
    name: String,
}

#[derive(Debug, PartialEq)]
struct ScanReport {
    files: Vec<String>,
}

#[derive(Debug, PartialEq)]
struct Review {
    comments: usize,
}

#[derive(Debug, PartialEq)]
struct Patch {
    lines: usize,
}

#[derive(Debug)]
enum ReviewError {
    Flaky,
    Broken(&'static str),
}

impl std::fmt::Display for ReviewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flaky => f.write_str("flaky"),
            Self::Broken(why) => write!(f, "broken: {why}"),
        }
    }
}
impl std::error::Error for ReviewError {}

/// Steps may live in other modules and are named by path.
mod scanning {
    use super::{Repo, ReviewError, ScanReport};

    use orchestrator::step;

    #[step]
    pub(crate) async fn scan(repo: &Repo) -> Result<ScanReport, ReviewError> {
        Ok(ScanReport {
            files: vec![
                format!("{}/src/lib.rs", repo.name),
                format!("{}/src/main.rs", repo.name),
            ],
        })
    }
}

struct Reviewer {
    strictness: usize,
}

#[step(depends_on = "scan")]
async fn review(scan: &ScanReport, #[resource] reviewer: &Reviewer) -> Result<Review, ReviewError> {
    Ok(Review {
        comments: scan.files.len() * reviewer.strictness,
    })
}

static FIX_ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[step(depends_on = ["review", "scan"], retry = 3, backoff = "1ms", timeout = "30s")]
async fn fix(review: &Review, scan: &ScanReport) -> Result<Patch, ReviewError> {
    if FIX_ATTEMPTS.fetch_add(1, Ordering::SeqCst) < 2 {
        return Err(ReviewError::Flaky);
    }
    Ok(Patch {
        lines: review.comments + scan.files.len(),
    })
}

workflow!(
    /// The code review pipeline of the README.
    CodeReview: scanning::scan, review, fix
);

#[tokio::test]
async fn a_dsl_workflow_passes_typed_outputs_and_retries_by_its_options() {
    let engine = WorkflowEngine::builder()
        .resource(Reviewer { strictness: 3 })
        .build();
    let mut events = engine.subscribe();
    let out = CodeReview::run(
        &engine,
        Repo {
            name: String::from("acme"),
        },
    )
    .await
    .expect("the pipeline succeeds");

    assert_eq!(out.scan.files, ["acme/src/lib.rs", "acme/src/main.rs"]);
    assert_eq!(*out.review, Review { comments: 6 });
    assert_eq!(out.fix.lines, 8, "typed: `out.fix` is a Patch");
    assert_eq!(out.report().step("fix").map(|s| s.attempts()), Some(3));
    assert_eq!(out.report().workflow(), "CodeReview");

    // The same events as the runtime API.
    let mut retries = 0;
    while let Some(event) = events.recv().await {
        match event.kind {
            EventKind::StepRetrying { ref step, .. } if &**step == "fix" => retries += 1,
            EventKind::RunFinished { success, .. } => {
                assert!(success);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(retries, 2);
}

#[test]
fn a_dsl_workflow_exposes_its_graph() {
    let wf = CodeReview::workflow();
    assert_eq!(wf.name(), "CodeReview");
    assert_eq!(
        wf.step_names().collect::<Vec<_>>(),
        ["scan", "review", "fix"]
    );
    assert_eq!(
        wf.dependencies("fix"),
        Some(&[String::from("review"), String::from("scan")][..])
    );
    assert!(wf.validate().is_ok());
    assert_eq!(CodeReview::NAME, "CodeReview");
}

#[step]
async fn load(n: &u32) -> Result<u32, ReviewError> {
    Ok(*n)
}

#[step(depends_on = "load")]
async fn explode(load: &u32) -> Result<u32, ReviewError> {
    if *load > 10 {
        return Err(ReviewError::Broken("too big"));
    }
    Ok(load * 2)
}

#[step(depends_on = "explode")]
async fn after_explode(explode: &u32) -> Result<u32, ReviewError> {
    Ok(explode + 1)
}

#[step(depends_on = "explode", trigger_rule = "all_done")]
async fn cleanup() -> Result<&'static str, ReviewError> {
    Ok("cleaned")
}

workflow!(Exploding: load, explode, after_explode, cleanup);

#[tokio::test]
async fn a_failed_dsl_run_lists_every_step_that_did_not_succeed() {
    let engine = WorkflowEngine::new();
    let ok = Exploding::run(&engine, 4)
        .await
        .expect("small input succeeds");
    assert_eq!(*ok.after_explode, 9);
    assert_eq!(*ok.cleanup, "cleaned");

    let error = Exploding::run(&engine, 40)
        .await
        .expect_err("big input fails");
    let message = error.to_string();
    assert!(
        message.contains("`explode`: failed: broken: too big"),
        "{message}"
    );
    assert!(
        message.contains("`after_explode`: skipped: upstream step `explode` failed"),
        "{message}"
    );
    let RunError::Failed { report, .. } = error else {
        panic!("expected a failed run");
    };
    assert_eq!(
        report.status("cleanup"),
        Some(StepStatus::Succeeded),
        "all_done runs anyway"
    );
}

#[step(timeout = "20ms")]
async fn sleepy() -> Result<(), ReviewError> {
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(())
}

#[step(own_task)]
async fn on_its_own() -> Result<std::thread::ThreadId, ReviewError> {
    Ok(std::thread::current().id())
}

workflow!(Options: sleepy, on_its_own);

#[tokio::test(start_paused = true)]
async fn step_options_in_the_attribute_apply_to_the_run() {
    let engine = WorkflowEngine::new();
    let report = Options::execute(&engine, ())
        .timeout(Duration::from_secs(5))
        .await
        .expect("valid");
    assert_eq!(report.outcome(), RunOutcome::Completed);
    assert_eq!(report.status("sleepy"), Some(StepStatus::TimedOut));
    assert_eq!(report.status("on_its_own"), Some(StepStatus::Succeeded));
}
