//! The runtime API: validation, execution semantics, the report and events.

use std::future::{Future, IntoFuture};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestrator::{
    BoxError, ContextError, EventKind, RetryPolicy, RunOutcome, SkipReason, StepContext,
    StepFailure, StepStatus, TriggerRule, ValidationError, Workflow, WorkflowEngine, WorkflowError,
};
use tokio::time::{Instant, sleep};

type Res<T> = Result<T, BoxError>;

/// A step that sleeps `ms` (virtual time in paused tests) and returns `ms`.
fn sleeper(
    ms: u64,
) -> impl Fn(StepContext) -> std::pin::Pin<Box<dyn Future<Output = Res<u64>> + Send>>
+ Send
+ Sync
+ 'static {
    move |_ctx| {
        Box::pin(async move {
            sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        })
    }
}

fn failing(
    message: &'static str,
) -> impl Fn(StepContext) -> std::future::Ready<Res<()>> + Send + Sync + 'static {
    move |_ctx| std::future::ready(Err(message.into()))
}

fn invalid(result: Result<orchestrator::RunReport, WorkflowError>) -> Vec<ValidationError> {
    match result {
        Err(WorkflowError::Invalid(errors)) => errors.errors().to_vec(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Data flow

#[tokio::test]
async fn dependents_read_their_dependencies_outputs_typed() {
    #[derive(Debug, PartialEq)]
    struct ScanReport {
        files: Vec<&'static str>,
    }
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("code_review_pipeline");
    wf.add_step("scan", |_ctx| async {
        Ok::<_, BoxError>(ScanReport {
            files: vec!["a.rs", "b.rs"],
        })
    });
    wf.add_step("review", |ctx: StepContext| async move {
        let scan = ctx.output::<ScanReport>("scan")?;
        Ok::<_, BoxError>(scan.files.len())
    })
    .depends_on(["scan"]);
    wf.add_step("verify", |ctx: StepContext| async move {
        let n = ctx.output::<usize>("review")?;
        let scan = ctx.output_arc::<ScanReport>("scan")?;
        Ok::<_, BoxError>(format!("{n} of {}", scan.files.len()))
    })
    .depends_on(["review", "scan"]);

    let report = engine.execute(&wf).await.expect("valid workflow");
    report.ensure_success().expect("every step succeeds");
    assert_eq!(report.output::<usize>("review"), Some(&2));
    assert_eq!(
        report.output::<String>("verify").map(String::as_str),
        Some("2 of 2")
    );
    assert_eq!(report.counts().succeeded, 3);
}

#[tokio::test]
async fn small_outputs_read_back_through_every_accessor_and_only_as_their_type() {
    // Counts, flags and `()` are stored inline rather than behind a
    // pointer: every way of reading an output still works on them.
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("small");
    wf.add_step("count", |_ctx| async { Ok::<_, BoxError>(41u64) });
    wf.add_step("lint", |_ctx| async { Ok::<_, BoxError>(()) });
    wf.add_step("flag", |_ctx| async { Ok::<_, BoxError>(true) });
    wf.add_step("sum", |ctx: StepContext| async move {
        let count = ctx.output_arc::<u64>("count")?;
        ctx.output::<()>("lint")?;
        let all: u64 = ctx.outputs::<u64>().map(|(_, n)| *n).sum();
        let wrong = ctx.output::<u32>("count").err().map(|e| e.to_string());
        Ok::<_, BoxError>((*count + all, *ctx.output::<bool>("flag")?, wrong))
    })
    .depends_on(["count", "lint", "flag"]);
    let report = engine.execute(&wf).await.expect("valid workflow");
    report.ensure_success().expect("every step succeeds");
    let (sum, flag, wrong) = report
        .output::<(u64, bool, Option<String>)>("sum")
        .expect("sum's output")
        .clone();
    assert_eq!((sum, flag), (82, true));
    let wrong = wrong.expect("reading a u64 as a u32 is an error");
    assert!(wrong.contains("u32") && wrong.contains("u64"), "{wrong}");
    assert_eq!(report.output::<u64>("count"), Some(&41));
    assert_eq!(report.output_arc::<u64>("count").as_deref(), Some(&41));
    assert_eq!(report.output::<i64>("count"), None);
    assert_eq!(report.output_arc::<i64>("count"), None);
    assert_eq!(report.output::<()>("lint"), Some(&()));
    assert_eq!(report.output::<bool>("flag"), Some(&true));
}

#[tokio::test]
async fn every_attempt_a_condition_and_a_step_after_a_failure_read_their_dependencies() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("inputs");
    wf.add_step("plan", |_ctx| async {
        Ok::<_, BoxError>(String::from("plan"))
    });
    wf.add_step("broken", |_ctx| async { Err::<u8, _>("no") });
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&attempts);
    // Fails its first attempt: the retry reads the output again.
    wf.add_step("flaky", move |ctx: StepContext| {
        let seen = Arc::clone(&seen);
        async move {
            let plan = ctx.output::<String>("plan")?.clone();
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(BoxError::from("first attempt"));
            }
            Ok(format!("{plan} again"))
        }
    })
    .depends_on(["plan"])
    .retry(RetryPolicy::attempts(2).backoff(Duration::ZERO, Duration::ZERO));
    wf.add_step("gated", |_ctx| async { Ok::<_, BoxError>(1u8) })
        .depends_on(["plan"])
        .condition(|ctx| ctx.output::<String>("plan").is_ok_and(|p| p == "plan"));
    // Runs after every dependency is final, failed or not.
    wf.add_step("cleanup", |ctx: StepContext| async move {
        let plan = ctx.output::<String>("plan")?.clone();
        let broken = ctx.output::<u8>("broken").err().map(|e| e.to_string());
        Ok::<_, BoxError>((plan, broken))
    })
    .depends_on(["plan", "broken"])
    .trigger_rule(TriggerRule::AllDone);
    let report = engine.execute(&wf).await.expect("valid workflow");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        report.output::<String>("flaky").map(String::as_str),
        Some("plan again")
    );
    assert_eq!(
        report.step("gated").map(|s| s.status()),
        Some(StepStatus::Succeeded)
    );
    let (plan, broken) = report
        .output::<(String, Option<String>)>("cleanup")
        .expect("cleanup ran")
        .clone();
    assert_eq!(plan, "plan");
    let broken = broken.expect("a failed dependency has no output");
    assert!(broken.contains("broken"), "{broken}");
}

#[tokio::test]
async fn asking_for_a_step_that_is_not_a_dependency_is_an_error_naming_both() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("scan", |_ctx| async { Ok::<_, BoxError>(1u8) });
    wf.add_step("other", |_ctx| async { Ok::<_, BoxError>(2u8) });
    wf.add_step("review", |ctx: StepContext| async move {
        Ok::<_, ContextError>(*ctx.output::<u8>("other")?)
    })
    .depends_on(["scan"]);
    let report = engine.execute(&wf).await.expect("valid workflow");
    let failure = report
        .step("review")
        .and_then(|s| s.failure())
        .expect("review failed");
    let error = failure
        .downcast_ref::<ContextError>()
        .expect("a context error");
    assert_eq!(
        error,
        &ContextError::NotADependency {
            step: "review".into(),
            requested: "other".into()
        }
    );
    assert!(
        failure
            .to_string()
            .contains("add `other` to the dependencies of `review`")
    );
}

#[tokio::test]
async fn asking_for_the_wrong_type_is_an_error_naming_both_types() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("scan", |_ctx| async {
        Ok::<_, BoxError>(String::from("x"))
    });
    wf.add_step("review", |ctx: StepContext| async move {
        Ok::<_, ContextError>(*ctx.output::<u32>("scan")?)
    })
    .depends_on(["scan"]);
    let report = engine.execute(&wf).await.expect("valid workflow");
    let message = report
        .step("review")
        .and_then(|s| s.error_message())
        .unwrap_or_default();
    assert!(message.contains("`scan` as `u32`"), "{message}");
    assert!(
        message.contains("produces `alloc::string::String`"),
        "{message}"
    );
    assert_eq!(report.status("review"), Some(StepStatus::Failed));
}

#[tokio::test]
async fn steps_read_the_run_input_and_shared_resources() {
    struct Client {
        base: &'static str,
    }
    let engine = WorkflowEngine::builder()
        .resource(Client {
            base: "https://api",
        })
        .build();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("fetch", |ctx: StepContext| async move {
        let client = ctx.resource::<Client>()?;
        let repo = ctx.input::<String>()?;
        let token = ctx.resource::<u32>()?;
        Ok::<_, ContextError>(format!("{}/{repo}?t={token}", client.base))
    });
    let report = engine
        .execute(&wf)
        .input(String::from("orchestrator"))
        .resource(7u32)
        .await
        .expect("valid workflow");
    assert_eq!(
        report.output::<String>("fetch").map(String::as_str),
        Some("https://api/orchestrator?t=7")
    );

    // Without the input, the step fails with an error saying what is missing.
    let report = engine
        .execute(&wf)
        .resource(7u32)
        .await
        .expect("valid workflow");
    let message = report
        .step("fetch")
        .and_then(|s| s.error_message())
        .unwrap_or_default();
    assert!(message.contains("the run has no input"), "{message}");
}

// ---------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn an_unknown_dependency_names_both_steps_and_suggests_the_closest_name() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("pipeline");
    wf.add_step("scan", sleeper(1));
    wf.add_step("review", sleeper(1)).depends_on(["sacn"]);
    let errors = invalid(engine.execute(&wf).await);
    assert_eq!(
        errors,
        vec![ValidationError::UnknownDependency {
            workflow: "pipeline".into(),
            step: "review".into(),
            dependency: "sacn".into(),
            suggestion: Some("scan".into()),
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "step `review` depends on `sacn`, which is not a step of workflow `pipeline`; did you mean `scan`?"
    );
}

#[tokio::test]
async fn a_cycle_is_reported_with_its_whole_path() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("pipeline");
    wf.add_step("scan", sleeper(1));
    wf.add_step("review", sleeper(1))
        .depends_on(["scan", "fix"]);
    wf.add_step("fix", sleeper(1)).depends_on(["review"]);
    let errors = invalid(engine.execute(&wf).await);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("review -> fix -> review"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn every_problem_is_reported_not_just_the_first() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("messy");
    wf.add_step("", sleeper(1));
    wf.add_step("a", sleeper(1)).depends_on(["a"]);
    wf.add_step("b", sleeper(1)).depends_on(["c"]);
    wf.add_step("c", sleeper(1)).depends_on(["b", "nowhere"]);
    wf.add_step("d", sleeper(1));
    wf.add_step("d", sleeper(1));
    let errors = invalid(engine.execute(&wf).await);
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            ValidationError::EmptyName { .. } => "empty",
            ValidationError::DuplicateStep { step, count: 2, .. } if step == "d" => "duplicate d",
            ValidationError::SelfDependency { step, .. } if step == "a" => "self a",
            ValidationError::UnknownDependency {
                dependency,
                suggestion: None,
                ..
            } if dependency == "nowhere" => "unknown nowhere",
            ValidationError::Cycle { path, .. } if path == &["b", "c", "b"] => "cycle b c",
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "empty",
            "duplicate d",
            "self a",
            "unknown nowhere",
            "cycle b c"
        ]
    );
    let message = wf.validate().expect_err("invalid").to_string();
    assert!(
        message.starts_with("workflow `messy` is invalid (5 problems):"),
        "{message}"
    );
}

#[tokio::test]
async fn an_invalid_workflow_runs_no_step() {
    let ran = Arc::new(AtomicUsize::new(0));
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    let counter = Arc::clone(&ran);
    wf.add_step("ok", move |_ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, BoxError>(()) }
    });
    wf.add_step("bad", sleeper(1)).depends_on(["missing"]);
    assert!(engine.execute(&wf).await.is_err());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// Scheduling

#[tokio::test(start_paused = true)]
async fn a_slow_branch_never_delays_an_unrelated_one() {
    // fast(10) -> after_fast(10) and slow(100) -> after_slow(10). With a
    // barrier between levels, after_fast would wait for slow.
    let engine = WorkflowEngine::new();
    let started = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let mut wf = engine.create_workflow("branches");
    wf.add_step("fast", sleeper(10));
    wf.add_step("slow", sleeper(100));
    let log = Arc::clone(&started);
    wf.add_step("after_fast", move |_ctx| {
        log.lock().map(|mut l| l.push(t0.elapsed())).ok();
        sleep(Duration::from_millis(10)).then_ok()
    })
    .depends_on(["fast"]);
    wf.add_step("after_slow", sleeper(10)).depends_on(["slow"]);
    let report = engine.execute(&wf).await.expect("valid workflow");
    report.ensure_success().expect("all succeed");
    let started = started.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(started, vec![Duration::from_millis(10)]);
    assert_eq!(t0.elapsed(), Duration::from_millis(110));
}

trait ThenOk: Future<Output = ()> + Sized + Send + 'static {
    fn then_ok(self) -> std::pin::Pin<Box<dyn Future<Output = Res<()>> + Send>> {
        Box::pin(async move {
            self.await;
            Ok(())
        })
    }
}
impl<F: Future<Output = ()> + Send + 'static> ThenOk for F {}

#[tokio::test(start_paused = true)]
async fn independent_steps_run_concurrently() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("parallel");
    for name in ["a", "b", "c", "d"] {
        wf.add_step(name, sleeper(100));
    }
    let t0 = Instant::now();
    engine
        .execute(&wf)
        .await
        .expect("valid")
        .ensure_success()
        .expect("ok");
    assert_eq!(t0.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_limit_bounds_steps_in_flight() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let engine = WorkflowEngine::builder().max_concurrency(2).build();
    let mut wf = engine.create_workflow("limited");
    for i in 0..6 {
        let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
        wf.add_step(format!("s{i}"), move |_ctx| {
            let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                sleep(Duration::from_millis(10)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, BoxError>(())
            }
        });
    }
    let t0 = Instant::now();
    engine
        .execute(&wf)
        .await
        .expect("valid")
        .ensure_success()
        .expect("ok");
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(t0.elapsed(), Duration::from_millis(30));
    // The run's own option overrides the engine's.
    peak.store(0, Ordering::SeqCst);
    engine.execute(&wf).max_concurrency(3).await.expect("valid");
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn steps_on_their_own_task_run_in_parallel_on_several_threads() {
    // Each step blocks its thread until both are running: only possible
    // when they run on two threads at once.
    let arrived = Arc::new(AtomicUsize::new(0));
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("cpu");
    for name in ["left", "right"] {
        let arrived = Arc::clone(&arrived);
        wf.add_step(name, move |_ctx| {
            let arrived = Arc::clone(&arrived);
            async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while arrived.load(Ordering::SeqCst) < 2 {
                    if std::time::Instant::now() > deadline {
                        return Err::<std::thread::ThreadId, BoxError>("ran alone".into());
                    }
                    std::hint::spin_loop();
                }
                Ok(std::thread::current().id())
            }
        })
        .own_task();
    }
    let report = engine.execute(&wf).await.expect("valid");
    report.ensure_success().expect("both met");
    assert_ne!(
        report.output::<std::thread::ThreadId>("left"),
        report.output::<std::thread::ThreadId>("right")
    );
}

// ---------------------------------------------------------------------------
// Failure

#[tokio::test]
async fn a_failed_step_skips_its_dependents_transitively_and_other_branches_continue() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("scan", failing("disk on fire"));
    wf.add_step("review", sleeper(1)).depends_on(["scan"]);
    wf.add_step("fix", sleeper(1)).depends_on(["review"]);
    wf.add_step("lint", sleeper(1));
    wf.add_step("report", sleeper(1)).depends_on(["lint"]);
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(report.status("scan"), Some(StepStatus::Failed));
    for skipped in ["review", "fix"] {
        let step = report.step(skipped).expect("step exists");
        assert_eq!(step.status(), StepStatus::Skipped);
        assert_eq!(
            step.reason(),
            Some(&SkipReason::Upstream {
                step: "scan".into(),
                status: StepStatus::Failed
            })
        );
        assert_eq!(step.attempts(), 0);
    }
    assert_eq!(report.status("report"), Some(StepStatus::Succeeded));
    assert!(!report.is_success());
    let error = report.ensure_success().expect_err("failed").to_string();
    assert!(error.contains("`scan`: failed: disk on fire"), "{error}");
    assert!(
        error.contains("`fix`: skipped: upstream step `scan` failed"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_running_steps_and_marks_the_rest_cancelled() {
    let engine = WorkflowEngine::builder().fail_fast(true).build();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("boom", |_ctx| async {
        sleep(Duration::from_millis(10)).await;
        Err::<(), _>("boom")
    });
    wf.add_step("long", sleeper(1_000));
    wf.add_step("after_long", sleeper(1)).depends_on(["long"]);
    let t0 = Instant::now();
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(t0.elapsed(), Duration::from_millis(10));
    assert_eq!(report.outcome(), RunOutcome::FailedFast);
    assert_eq!(report.status("boom"), Some(StepStatus::Failed));
    for name in ["long", "after_long"] {
        let step = report.step(name).expect("exists");
        assert_eq!(step.status(), StepStatus::Cancelled);
        assert_eq!(
            step.reason(),
            Some(&SkipReason::FailFast {
                step: "boom".into()
            })
        );
    }
}

#[tokio::test]
async fn a_panicking_step_fails_with_its_message_and_the_others_carry_on() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("inline", |_ctx| async {
        if true {
            panic!("inline went wrong");
        }
        Ok::<(), BoxError>(())
    });
    wf.add_step("spawned", |_ctx| async {
        let v: Vec<u8> = Vec::new();
        Ok::<u8, BoxError>(v[3])
    })
    .own_task();
    wf.add_step("fine", sleeper(1));
    let report = engine.execute(&wf).await.expect("valid");
    let inline = report.step("inline").expect("exists");
    assert_eq!(inline.status(), StepStatus::Failed);
    assert_eq!(
        inline.error_message().as_deref(),
        Some("panicked: inline went wrong")
    );
    let spawned = report
        .step("spawned")
        .and_then(|s| s.error_message())
        .unwrap_or_default();
    assert!(
        spawned.starts_with("panicked: index out of bounds"),
        "{spawned}"
    );
    assert_eq!(report.status("fine"), Some(StepStatus::Succeeded));
}

/// A step of one closure type whose future, by `i % 4`, panics, fails,
/// waits, or returns `i`; the future holds `held` until dropped.
fn mixed(
    i: u64,
    held: Arc<()>,
) -> impl Fn(StepContext) -> std::pin::Pin<Box<dyn Future<Output = Res<u64>> + Send>>
+ Send
+ Sync
+ 'static {
    move |_ctx: StepContext| {
        let held = Arc::clone(&held);
        Box::pin(async move {
            let _held = held;
            match i % 4 {
                0 => panic!("step {i} went wrong"),
                1 => Err(format!("step {i} failed").into()),
                2 => {
                    tokio::task::yield_now().await;
                    Ok(i)
                }
                _ => Ok(i),
            }
        })
    }
}

#[tokio::test]
async fn steps_of_one_closure_type_that_panic_fail_wait_or_succeed_each_end_as_their_own() {
    let held = Arc::new(());
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    // Roots (each starts when the one before ends) and a chain.
    for i in 0..20 {
        wf.add_step(format!("r{i}"), mixed(i, Arc::clone(&held)));
    }
    for i in 0..20u64 {
        let step = wf.add_step(format!("c{i}"), mixed(4 * i + 3, Arc::clone(&held)));
        if i > 0 {
            step.depends_on([format!("c{}", i - 1)]);
        }
    }
    let report = engine.execute(&wf).await.expect("valid");
    for i in 0..20 {
        let step = report.step(&format!("r{i}")).expect("exists");
        match i % 4 {
            0 => assert_eq!(
                step.error_message().as_deref(),
                Some(format!("panicked: step {i} went wrong").as_str())
            ),
            1 => assert_eq!(
                step.error_message().as_deref(),
                Some(format!("step {i} failed").as_str())
            ),
            _ => assert_eq!(step.output::<u64>(), Some(&i), "r{i}"),
        }
        assert_eq!(
            report.output::<u64>(&format!("c{i}")),
            Some(&(4 * i + 3)),
            "c{i}"
        );
    }
    // Every future was dropped, and the workflow holds its 40 handlers.
    assert_eq!(Arc::strong_count(&held), 1 + 40);
}

// ---------------------------------------------------------------------------
// Retries and timeouts

#[tokio::test(start_paused = true)]
async fn a_step_is_retried_with_exponential_backoff_until_it_succeeds() {
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = WorkflowEngine::new();
    let mut events = engine.subscribe();
    let mut wf = engine.create_workflow("wf");
    let counter = Arc::clone(&calls);
    wf.add_step("flaky", move |ctx: StepContext| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if ctx.attempt() < 3 {
                Err::<u32, _>(format!("attempt {} failed", ctx.attempt()))
            } else {
                Ok(ctx.attempt())
            }
        }
    })
    .retry(
        RetryPolicy::attempts(5)
            .backoff(Duration::from_millis(100), Duration::from_secs(1))
            .jitter(0.0),
    );
    let t0 = Instant::now();
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(report.output::<u32>("flaky"), Some(&3));
    assert_eq!(report.step("flaky").map(|s| s.attempts()), Some(3));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(t0.elapsed(), Duration::from_millis(300));
    let mut retries = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(1), events.recv()).await
    {
        if let EventKind::StepRetrying {
            attempt,
            delay,
            error,
            ..
        } = event.kind
        {
            retries.push((attempt, delay, error));
        }
    }
    assert_eq!(
        retries,
        vec![
            (
                1,
                Duration::from_millis(100),
                String::from("attempt 1 failed")
            ),
            (
                2,
                Duration::from_millis(200),
                String::from("attempt 2 failed")
            ),
        ]
    );
}

#[derive(Debug)]
enum ApiError {
    Transient,
    Fatal,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for ApiError {}

#[tokio::test(start_paused = true)]
async fn the_retry_predicate_chooses_which_errors_are_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    let counter = Arc::clone(&calls);
    wf.add_step("api", move |_ctx| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            Err::<(), _>(if n == 0 {
                ApiError::Transient
            } else {
                ApiError::Fatal
            })
        }
    })
    .retry(RetryPolicy::attempts(10).retry_if(|f: &StepFailure| {
        matches!(f.downcast_ref::<ApiError>(), Some(ApiError::Transient))
    }));
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "transient retried, fatal not"
    );
    assert_eq!(
        report
            .step("api")
            .and_then(|s| s.error_message())
            .as_deref(),
        Some("Fatal")
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_exceeds_its_timeout_is_reported_timed_out() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("slow", sleeper(10_000))
        .timeout(Duration::from_millis(50))
        .retry(RetryPolicy::attempts(2).backoff(Duration::ZERO, Duration::ZERO));
    wf.add_step("after", sleeper(1)).depends_on(["slow"]);
    let t0 = Instant::now();
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(100),
        "two attempts of 50 ms"
    );
    let slow = report.step("slow").expect("exists");
    assert_eq!(slow.status(), StepStatus::TimedOut);
    assert_eq!(slow.attempts(), 2);
    assert_eq!(
        slow.error_message().as_deref(),
        Some("timed out after 50ms")
    );
    assert_eq!(
        report.step("after").and_then(|s| s.reason()),
        Some(&SkipReason::Upstream {
            step: "slow".into(),
            status: StepStatus::TimedOut
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_timeout_cancels_what_is_still_running() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("quick", sleeper(10));
    wf.add_step("slow", sleeper(10_000));
    wf.add_step("after", sleeper(1)).depends_on(["slow"]);
    let t0 = Instant::now();
    let report = engine
        .execute(&wf)
        .timeout(Duration::from_millis(500))
        .await
        .expect("valid");
    assert_eq!(t0.elapsed(), Duration::from_millis(500));
    assert_eq!(report.outcome(), RunOutcome::TimedOut);
    assert_eq!(report.status("quick"), Some(StepStatus::Succeeded));
    for name in ["slow", "after"] {
        let step = report.step(name).expect("exists");
        assert_eq!(step.status(), StepStatus::Cancelled);
        assert_eq!(
            step.reason(),
            Some(&SkipReason::RunTimedOut(Duration::from_millis(500)))
        );
    }
    assert!(!report.is_success());
}

// ---------------------------------------------------------------------------
// Cancellation

/// Counts how many step futures were dropped.
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn forever_workflow(started: &Arc<AtomicUsize>, dropped: &Arc<AtomicUsize>) -> Workflow {
    let mut wf = Workflow::new("forever");
    for (name, own_task) in [("inline", false), ("spawned", true)] {
        let (started, dropped) = (Arc::clone(started), Arc::clone(dropped));
        let step = wf.add_step(name, move |_ctx| {
            let guard = DropCounter(Arc::clone(&dropped));
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            }
        });
        if own_task {
            let _ = step.own_task();
        }
    }
    wf
}

async fn wait_until(counter: &AtomicUsize, value: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter.load(Ordering::SeqCst) < value && Instant::now() < deadline {
        tokio::task::yield_now().await;
        sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn a_cancel_handle_cancels_the_run_and_its_steps() {
    let (started, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let engine = WorkflowEngine::new();
    let wf = forever_workflow(&started, &dropped);
    let run = engine.execute(&wf);
    let cancel = run.cancel_handle();
    let task = tokio::spawn(run.into_future());
    wait_until(&started, 2).await;
    cancel.cancel();
    let report = task.await.expect("run task").expect("valid");
    assert_eq!(report.outcome(), RunOutcome::Cancelled);
    assert_eq!(report.counts().cancelled, 2);
    wait_until(&dropped, 2).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn dropping_the_run_future_cancels_every_step_and_leaves_no_task_behind() {
    let (started, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let engine = WorkflowEngine::new();
    let wf = forever_workflow(&started, &dropped);
    let task = tokio::spawn(engine.execute(&wf).into_future());
    wait_until(&started, 2).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    task.abort();
    let _ = task.await;
    wait_until(&dropped, 2).await;
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "inline and spawned step futures dropped"
    );
}

// ---------------------------------------------------------------------------
// Trigger rules

#[tokio::test]
async fn trigger_rules_decide_whether_a_step_runs_after_failures() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("ok", sleeper(1));
    wf.add_step("bad", failing("no"));
    let rules = [
        ("all_success", TriggerRule::AllSuccess, StepStatus::Skipped),
        ("all_done", TriggerRule::AllDone, StepStatus::Succeeded),
        (
            "one_success",
            TriggerRule::OneSuccess,
            StepStatus::Succeeded,
        ),
        ("one_failed", TriggerRule::OneFailed, StepStatus::Succeeded),
        ("none_failed", TriggerRule::NoneFailed, StepStatus::Skipped),
        ("always", TriggerRule::Always, StepStatus::Succeeded),
    ];
    for (name, rule, _) in rules {
        wf.add_step(name, sleeper(1))
            .depends_on(["ok", "bad"])
            .trigger_rule(rule);
    }
    let report = engine.execute(&wf).await.expect("valid");
    for (name, _, expected) in rules {
        assert_eq!(report.status(name), Some(expected), "rule {name}");
    }
}

#[tokio::test]
async fn a_join_after_a_skipped_branch_runs_under_none_failed_min_one_success() {
    // gate fails -> taken is skipped; other succeeds; join must still run.
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("gate", failing("branch not taken"));
    wf.add_step("taken", sleeper(1)).depends_on(["gate"]);
    wf.add_step("other", sleeper(1));
    wf.add_step("join", |ctx: StepContext| async move {
        Ok::<_, BoxError>(
            ctx.outputs::<u64>()
                .map(|(name, _)| name.to_owned())
                .collect::<Vec<_>>(),
        )
    })
    .depends_on(["taken", "other"])
    .trigger_rule(TriggerRule::NoneFailedMinOneSuccess);
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(report.status("taken"), Some(StepStatus::Skipped));
    assert_eq!(
        report.output::<Vec<String>>("join"),
        Some(&vec![String::from("other")])
    );
}

// ---------------------------------------------------------------------------
// Reuse, events and the report

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_runs_many_times_concurrently_and_clones_are_independent() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("input", |ctx: StepContext| async move {
        Ok::<_, ContextError>(*ctx.input::<u64>()?)
    });
    wf.add_step("double", |ctx: StepContext| async move {
        Ok::<_, ContextError>(ctx.output::<u64>("input")? * 2)
    })
    .depends_on(["input"]);
    let runs = (0..50u64).map(|i| {
        let run = engine.execute(&wf).input(i);
        tokio::spawn(run.into_future())
    });
    let results = futures::future::join_all(runs).await;
    let mut ids = std::collections::HashSet::new();
    for (i, result) in results.into_iter().enumerate() {
        let report = result.expect("task").expect("valid");
        assert_eq!(report.output::<u64>("double"), Some(&(i as u64 * 2)));
        ids.insert(report.run_id());
    }
    assert_eq!(ids.len(), 50, "every run has its own id");

    let mut changed = wf.clone();
    changed.add_step("extra", sleeper(1)).depends_on(["ghost"]);
    assert!(changed.validate().is_err());
    assert!(wf.validate().is_ok(), "the original is untouched");
    assert_eq!((wf.len(), changed.len()), (2, 3));
}

/// A step returning `value`, holding `held` until its workflow is dropped:
/// one closure type for every value.
fn constant(
    value: u64,
    held: Arc<()>,
) -> impl Fn(StepContext) -> std::future::Ready<Res<u64>> + Send + Sync + 'static {
    move |_ctx: StepContext| {
        let _ = &held;
        std::future::ready(Ok(value))
    }
}

#[tokio::test]
async fn steps_added_with_one_closure_type_each_run_their_own_and_a_changed_clone_keeps_its_own() {
    let held = Arc::new(());
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    for i in 0..100 {
        wf.add_step(format!("s{i}"), constant(i, Arc::clone(&held)));
    }
    wf.add_step("text", |_ctx: StepContext| async {
        Ok::<_, BoxError>(String::from("t"))
    });
    wf.add_step("after", constant(1000, Arc::clone(&held)));
    // The clone shares every handler so far; each adds its own after.
    let mut clone = wf.clone();
    clone.add_step("extra", constant(7, Arc::clone(&held)));
    wf.add_step("extra", constant(8, Arc::clone(&held)));
    clone.add_step("more", constant(9, Arc::clone(&held)));
    assert_eq!(Arc::strong_count(&held), 1 + 101 + 3);

    let (report, cloned) = (engine.execute(&wf).await, engine.execute(&clone).await);
    let (report, cloned) = (report.expect("valid"), cloned.expect("valid"));
    for i in 0..100 {
        let name = format!("s{i}");
        assert_eq!(report.output::<u64>(&name), Some(&i));
        assert_eq!(cloned.output::<u64>(&name), Some(&i));
    }
    assert_eq!(
        report.output::<String>("text").map(String::as_str),
        Some("t")
    );
    assert_eq!(report.output::<u64>("after"), Some(&1000));
    assert_eq!(cloned.output::<u64>("after"), Some(&1000));
    assert_eq!(report.output::<u64>("extra"), Some(&8));
    assert_eq!(cloned.output::<u64>("extra"), Some(&7));
    assert_eq!(cloned.output::<u64>("more"), Some(&9));
    assert!(report.step("more").is_none());

    // Each handler is dropped once, with the last workflow holding it.
    drop(wf);
    assert_eq!(Arc::strong_count(&held), 1 + 101 + 2, "the clone's remain");
    drop(clone);
    assert_eq!(Arc::strong_count(&held), 1);
}

#[tokio::test]
async fn subscribers_see_every_event_of_a_run_in_order() {
    let engine = WorkflowEngine::new();
    let mut events = engine.subscribe();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("scan", sleeper(1));
    wf.add_step("bad", failing("nope")).depends_on(["scan"]);
    wf.add_step("after", sleeper(1)).depends_on(["bad"]);
    let report = engine.execute(&wf).await.expect("valid");
    let mut seen = Vec::new();
    loop {
        let event = events.recv().await.expect("events until run finished");
        assert_eq!(event.run_id, report.run_id());
        assert_eq!(&*event.workflow, "wf");
        let finished = matches!(event.kind, EventKind::RunFinished { success: false, .. });
        seen.push(match &event.kind {
            EventKind::RunStarted { steps } => format!("run started {steps}"),
            EventKind::RunFinished { .. } => String::from("run finished"),
            other => format!(
                "{} {}",
                other.step().unwrap_or_default(),
                match other {
                    EventKind::StepStarted { attempt, .. } => format!("started {attempt}"),
                    k => k.final_status().map(|s| s.to_string()).unwrap_or_default(),
                }
            ),
        });
        if finished {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "run started 3",
            "scan started 1",
            "scan succeeded",
            "bad started 1",
            "bad failed",
            "after skipped",
            "run finished"
        ]
    );
    assert_eq!(events.missed(), 0);
}

/// The events `events` holds now, without waiting for more.
fn received(events: &mut orchestrator::EventStream) -> Vec<orchestrator::Event> {
    std::iter::from_fn(|| futures::FutureExt::now_or_never(events.recv()).flatten()).collect()
}

/// The run ids of the events `events` holds now, run by run, and whether
/// each run's `RunFinished` was among them.
fn runs_seen(events: &mut orchestrator::EventStream) -> Vec<(u64, bool)> {
    let mut runs: Vec<(u64, bool)> = Vec::new();
    for event in received(events) {
        let finished = matches!(event.kind, EventKind::RunFinished { .. });
        match runs.last_mut() {
            Some((run, seen_end)) if *run == event.run_id => *seen_end |= finished,
            _ => runs.push((event.run_id, finished)),
        }
    }
    runs
}

#[tokio::test]
async fn every_clone_of_an_engine_shares_one_event_channel_whoever_subscribes_first() {
    // The channel is made when the first subscriber comes: a subscriber of
    // a clone made before then still sees the runs of the original, and a
    // later subscriber sees the runs that start after it subscribed.
    let engine = WorkflowEngine::new();
    let clone = engine.clone();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("a", |_ctx: StepContext| async { Ok::<_, BoxError>(1u8) });
    let unheard = engine.execute(&wf).await.expect("valid").run_id();
    let mut early = clone.subscribe();
    let first = engine.execute(&wf).await.expect("valid").run_id();
    let mut late = engine.subscribe();
    let second = clone.execute(&wf).await.expect("valid").run_id();
    assert_ne!(unheard, first);
    assert_eq!(runs_seen(&mut early), [(first, true), (second, true)]);
    assert_eq!(runs_seen(&mut late), [(second, true)]);
    assert_eq!((early.missed(), late.missed()), (0, 0));
    // Once every handle on the engine is gone, the streams end.
    drop((engine, clone));
    assert!(early.recv().await.is_none());
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_the_event_capacity_loses_the_oldest_and_counts_them() {
    let engine = WorkflowEngine::builder().event_capacity(4).build();
    let mut events = engine.subscribe();
    let mut wf = engine.create_workflow("wf");
    for name in ["a", "b", "c"] {
        wf.add_step(name, |_ctx: StepContext| async { Ok::<_, BoxError>(()) });
    }
    engine.execute(&wf).await.expect("valid");
    // A run of three steps sends eight events: run started, a start and an
    // end per step, run finished. Four fit.
    let kept: Vec<EventKind> = received(&mut events).into_iter().map(|e| e.kind).collect();
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert_eq!(events.missed(), 4);
    assert!(matches!(
        kept.last(),
        Some(EventKind::RunFinished { success: true, .. })
    ));
}

#[tokio::test]
async fn step_names_of_any_length_come_back_as_written_in_the_report_and_events() {
    // Short names are kept inline and long ones shared: both must read
    // back the same everywhere a name appears.
    let names = [
        String::from("a"),
        "x".repeat(23),
        "y".repeat(24),
        "étape-à-nom-très-long-".repeat(5),
    ];
    let engine = WorkflowEngine::new();
    let mut events = engine.subscribe();
    let mut wf = engine.create_workflow("names");
    for (i, name) in names.iter().enumerate() {
        let step = wf.add_step(name, move |_ctx: StepContext| async move {
            Ok::<_, BoxError>(i)
        });
        if let Some(before) = i.checked_sub(1) {
            step.depends_on([&names[before]]);
        }
    }
    let report = engine.execute(&wf).await.expect("valid");
    let reported: Vec<&str> = report.steps().iter().map(|s| s.name()).collect();
    assert_eq!(
        reported,
        names.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (i, name) in names.iter().enumerate() {
        assert_eq!(report.output::<usize>(name), Some(&i), "{name}");
    }
    let mut started_names = async || {
        let mut started = Vec::new();
        loop {
            let event = events.recv().await.expect("events until run finished");
            match &event.kind {
                EventKind::StepStarted { step, .. } => started.push(step.to_string()),
                EventKind::RunFinished { .. } => break started,
                _ => {}
            }
        }
    };
    assert_eq!(started_names().await, names);
    // Changed after a run, the workflow's events name its steps as they
    // are now.
    wf.add_step("added-after-a-run", |_ctx: StepContext| async {
        Ok::<_, BoxError>(())
    })
    .depends_on([&names[3]]);
    engine.execute(&wf).await.expect("valid");
    let started = started_names().await;
    assert_eq!(
        started.last().map(String::as_str),
        Some("added-after-a-run")
    );
    assert_eq!(started.len(), names.len() + 1);
}

#[tokio::test]
async fn the_report_prints_as_a_table_with_every_step() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("table");
    wf.add_step("scan", sleeper(1));
    wf.add_step("review", failing("found 3 bugs"))
        .depends_on(["scan"]);
    wf.add_step("fix", sleeper(1)).depends_on(["review"]);
    let report = engine.execute(&wf).await.expect("valid");
    let table = report.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("workflow `table` run "), "{table}");
    assert!(lines[0].contains("failed in"), "{table}");
    assert!(
        lines[0].ends_with("(1 succeeded, 1 failed, 1 skipped)"),
        "{table}"
    );
    assert!(
        lines[1]
            .split_whitespace()
            .eq(["step", "status", "attempts", "duration", "detail"])
    );
    assert!(
        lines[2]
            .split_whitespace()
            .take(3)
            .eq(["scan", "succeeded", "1"]),
        "{table}"
    );
    assert!(
        lines[3]
            .split_whitespace()
            .take(3)
            .eq(["review", "failed", "1"]),
        "{table}"
    );
    assert!(lines[3].ends_with("found 3 bugs"), "{table}");
    assert!(
        lines[4].contains("skipped") && lines[4].ends_with("upstream step `review` failed"),
        "{table}"
    );
    let step = report.step("scan").expect("exists");
    assert!(step.started_at().is_some() && step.duration().is_some());
}

#[test]
fn engine_workflow_and_report_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<WorkflowEngine>();
    send_sync::<Workflow>();
    send_sync::<orchestrator::RunReport>();
    send_sync::<StepContext>();
    let engine = WorkflowEngine::new();
    let wf = engine.create_workflow("x");
    send(&engine.execute(&wf).into_future());
}

#[tokio::test]
async fn step_times_lie_within_the_run_and_a_dependent_starts_after_its_dependency_ends() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("timed");
    for (name, deps) in [("a", vec![]), ("b", vec!["a"]), ("c", vec!["b"])] {
        wf.add_step(name, |_ctx: StepContext| async {
            sleep(Duration::from_millis(20)).await;
            Ok::<_, BoxError>(())
        })
        .depends_on(deps);
    }
    let report = engine.execute(&wf).await.expect("valid");
    assert!(report.is_success(), "{report}");
    let run_start = report.started_at();
    let run_end = run_start + report.elapsed();
    let mut previous_end = run_start;
    for step in report.steps() {
        let start = step.started_at().expect("it ran");
        let duration = step.duration().expect("it ran");
        assert!(
            duration >= Duration::from_millis(20),
            "{}: {duration:?}",
            step.name()
        );
        assert!(
            start >= previous_end,
            "{} starts before its dependency ends",
            step.name()
        );
        previous_end = start + duration;
    }
    assert!(previous_end <= run_end, "the last step ends after the run");
    assert!(previous_end >= run_start + Duration::from_millis(60));
}
