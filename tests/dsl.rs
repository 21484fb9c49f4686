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
    assert_eq!(wf.dependencies("fix"), Some(vec!["review", "scan"]));
    assert!(wf.validate().is_ok());
    assert_eq!(CodeReview::NAME, "CodeReview");
}

#[test]
fn a_dsl_workflow_is_analysed_and_drawn_like_a_runtime_one() {
    let definition = CodeReview::workflow().definition();
    let analysis = orchestrator::analyze(&definition);
    assert!(analysis.errors.is_empty());
    assert_eq!(analysis.order, ["scan", "review", "fix"]);
    assert_eq!(analysis.critical_path, ["scan", "review", "fix"]);
    // `fix -> scan` is implied by `scan -> review -> fix`.
    assert_eq!(analysis.redundant_edges.len(), 1);
    let picture = orchestrator::render::mermaid(&definition);
    assert!(
        picture.contains("scan") && picture.contains("fix"),
        "{picture}"
    );
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

// --- The generated executor path: cancellation, limits, panics -------------

mod static_path {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use orchestrator::{RunOutcome, SkipReason, StepStatus, WorkflowEngine, step, workflow};

    /// Counts live step futures: incremented when one starts, decremented
    /// when it is dropped.
    pub(crate) struct Live(pub(crate) Arc<AtomicUsize>);
    impl Drop for Live {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[step]
    async fn forever(#[resource] live: &Arc<AtomicUsize>) -> Result<(), std::io::Error> {
        live.fetch_add(1, Ordering::SeqCst);
        let _guard = Live(Arc::clone(live));
        std::future::pending::<()>().await;
        Ok(())
    }

    #[step(own_task)]
    async fn forever_spawned(#[resource] live: &Arc<AtomicUsize>) -> Result<(), std::io::Error> {
        live.fetch_add(1, Ordering::SeqCst);
        let _guard = Live(Arc::clone(live));
        std::future::pending::<()>().await;
        Ok(())
    }

    #[step(depends_on = "forever")]
    async fn never_reached() -> Result<(), std::io::Error> {
        Ok(())
    }

    workflow!(Forever: forever, forever_spawned, never_reached);

    async fn until(counter: &AtomicUsize, value: usize) {
        for _ in 0..10_000 {
            if counter.load(Ordering::SeqCst) == value {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_generated_run_is_cancelled_by_its_handle_and_reports_every_step() {
        let live = Arc::new(AtomicUsize::new(0));
        let engine = WorkflowEngine::builder()
            .resource(Arc::clone(&live))
            .build();
        let execution = Forever::execute(&engine, ());
        let cancel = execution.cancel_handle();
        let run = tokio::spawn(Forever::report_with(execution));
        until(&live, 2).await;
        cancel.cancel();
        let report = run.await.expect("task").expect("valid");
        assert_eq!(report.outcome(), RunOutcome::Cancelled);
        assert_eq!(report.counts().cancelled, 3);
        assert_eq!(
            report.step("never_reached").and_then(|s| s.reason()),
            Some(&SkipReason::RunCancelled)
        );
        until(&live, 0).await;
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "both step futures were dropped"
        );
    }

    #[tokio::test]
    async fn dropping_a_generated_run_drops_its_steps_and_their_tasks() {
        let live = Arc::new(AtomicUsize::new(0));
        let engine = WorkflowEngine::builder()
            .resource(Arc::clone(&live))
            .build();
        let run = tokio::spawn(Forever::run_with(Forever::execute(&engine, ())));
        until(&live, 2).await;
        run.abort();
        let _ = run.await;
        until(&live, 0).await;
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    async fn busy() -> Result<u8, std::io::Error> {
        let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        Ok(1)
    }

    #[step]
    async fn b1() -> Result<u8, std::io::Error> {
        busy().await
    }
    #[step]
    async fn b2() -> Result<u8, std::io::Error> {
        busy().await
    }
    #[step]
    async fn b3() -> Result<u8, std::io::Error> {
        busy().await
    }
    #[step]
    async fn b4() -> Result<u8, std::io::Error> {
        busy().await
    }
    #[step(depends_on = ["b1", "b2", "b3", "b4"])]
    async fn boom(b1: &u8) -> Result<u8, std::io::Error> {
        if *b1 == 1 {
            panic!("boom after {b1}");
        }
        Ok(0)
    }
    #[step(depends_on = "boom")]
    async fn after_boom() -> Result<u8, std::io::Error> {
        Ok(2)
    }

    workflow!(Busy: b1, b2, b3, b4, boom, after_boom);

    #[tokio::test(start_paused = true)]
    async fn a_generated_run_keeps_its_limits_and_catches_panics() {
        let engine = WorkflowEngine::new();
        let t0 = tokio::time::Instant::now();
        let report = Busy::report_with(Busy::execute(&engine, ()).max_concurrency(2))
            .await
            .expect("valid");
        assert_eq!(PEAK.load(Ordering::SeqCst), 2);
        assert_eq!(t0.elapsed(), Duration::from_millis(20), "two waves of two");
        let boom = report.step("boom").expect("exists");
        assert_eq!(boom.status(), StepStatus::Failed);
        assert_eq!(
            boom.error_message().as_deref(),
            Some("panicked: boom after 1")
        );
        assert_eq!(report.status("after_boom"), Some(StepStatus::Skipped));

        // A run timeout cancels what is still running.
        let report =
            Busy::report_with(Busy::execute(&engine, ()).timeout(Duration::from_millis(5)))
                .await
                .expect("valid");
        assert_eq!(report.outcome(), RunOutcome::TimedOut);
        assert_eq!(report.counts().cancelled, 6);
    }
}

/// A `pub` workflow whose private steps take its input, declared in a
/// module of its own and run from outside it: the workflow names its input
/// type through an alias `#[step]` emits, not through the steps' hidden
/// types, which are as private as the functions.
mod private_steps {
    use orchestrator::{step, workflow};

    #[derive(Debug)]
    pub struct Order {
        pub items: u32,
    }

    #[step]
    async fn price(#[input] order: &Order) -> Result<u32, std::io::Error> {
        Ok(order.items * 3)
    }

    #[step(depends_on = "price")]
    async fn total(price: &u32, #[input] order: &Order) -> Result<u32, std::io::Error> {
        Ok(price + order.items)
    }

    workflow!(pub Checkout: price, total);
}

#[tokio::test]
async fn a_pub_workflow_of_private_steps_taking_its_input_runs_from_another_module() {
    let engine = WorkflowEngine::new();
    let out = private_steps::Checkout::run(&engine, private_steps::Order { items: 4 })
        .await
        .expect("the checkout succeeds");
    assert_eq!((*out.price, *out.total), (12, 16));
}
