//! The static path of `workflow!` types: on an engine with default
//! settings, `run` drives the steps' futures itself (no box, no context,
//! no lookup by name). These tests hold it to the full executor's word:
//! the same report, concurrency, and events whenever someone listens.

use std::time::Duration;

use orchestrator::{
    EventKind, RunError, RunOutcome, RunReport, StepStatus, WorkflowEngine, step, workflow,
};

#[derive(Debug)]
struct Broken(&'static str);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "broken: {}", self.0)
    }
}
impl std::error::Error for Broken {}

/// A resource the steps read.
struct Factor(u32);

#[step]
async fn seed(n: &u32) -> Result<u32, Broken> {
    Ok(*n)
}

#[step(depends_on = "seed")]
async fn scaled(seed: &u32, #[resource] factor: &Factor) -> Result<u32, Broken> {
    Ok(seed * factor.0)
}

#[step(depends_on = "seed")]
async fn checked(seed: &u32) -> Result<u32, Broken> {
    if *seed > 10 {
        return Err(Broken("seed over 10"));
    }
    Ok(seed + 1)
}

#[step(depends_on = "seed")]
async fn fragile(seed: &u32) -> Result<u32, Broken> {
    assert!(*seed != 7, "unlucky seed");
    Ok(*seed)
}

#[step(depends_on = ["scaled", "checked"])]
async fn combined(scaled: &u32, checked: &u32) -> Result<u32, Broken> {
    Ok(scaled + checked)
}

#[step(depends_on = "combined")]
async fn last(combined: &u32) -> Result<String, Broken> {
    Ok(format!("total {combined}"))
}

workflow!(Mixed: seed, scaled, checked, fragile, combined, last);

#[step(depends_on = ["scaled", "checked", "fragile"])]
async fn summed(scaled: &u32, checked: &u32, fragile: &u32) -> Result<u32, Broken> {
    Ok(scaled + checked + fragile)
}

#[step(depends_on = "summed")]
async fn reported(summed: &u32) -> Result<String, Broken> {
    Ok(format!("sum {summed}"))
}

// Complete layers (every step of a layer depends on every step of the one
// before): the static path runs them in order, each step's future made
// when its layer starts. `Mixed` is not (`combined` skips `fragile`): its
// steps' futures are polled by position in a tree.
workflow!(Layers: seed, scaled, checked, fragile, summed, reported);

#[step(depends_on = "seed")]
async fn tripled(seed: &u32, #[resource] factor: &Factor) -> Result<u32, Broken> {
    Ok(seed * factor.0)
}

// A chain: each step alone in its layer, its future the function's own.
workflow!(Alone: seed, tripled);

#[step(depends_on = "seed")]
async fn brittle(seed: &u32) -> Result<u32, Broken> {
    // Panics on a later poll than its first, mid-chain.
    tokio::task::yield_now().await;
    assert!(*seed != 7, "unlucky seed");
    Ok(seed + 1)
}

#[step(depends_on = "brittle")]
async fn after(brittle: &u32) -> Result<u32, Broken> {
    Ok(brittle * 2)
}

// A chain whose middle step can panic: a run of one-step layers catches a
// panic once, around the whole run.
workflow!(Brittle: seed, brittle, after);

fn engine() -> WorkflowEngine {
    WorkflowEngine::builder().resource(Factor(3)).build()
}

/// Whether `run` takes the static path for this engine and workflow (what
/// the generated `run` asks first: whether its steps' futures are small
/// enough, `fits`, then whether the engine and workflow use only
/// defaults): without it, these tests would compare the executor with
/// itself.
fn takes_static_path(
    engine: &WorkflowEngine,
    workflow: &orchestrator::Workflow,
    fits: fn() -> bool,
) -> bool {
    fits() && orchestrator::__private::StaticRun::begin(engine, workflow).is_some()
}

/// A step's name, status, error or skip reason, attempts and `u32` output.
type StepSummary = (String, StepStatus, Option<String>, u32, Option<u32>);

/// What a user reads from a report, step by step, without its timings.
fn summary(report: &RunReport) -> Vec<StepSummary> {
    report
        .steps()
        .iter()
        .map(|step| {
            let detail = step
                .error_message()
                .or_else(|| step.reason().map(ToString::to_string));
            (
                step.name().to_owned(),
                step.status(),
                detail,
                step.attempts(),
                step.output::<u32>().copied(),
            )
        })
        .collect()
}

/// The report of a run of `$workflow` with `$input` on the static path (or
/// its error) and on the full executor.
macro_rules! both_paths {
    ($workflow:ident, $input:expr) => {{
        let engine = engine();
        let fast = $workflow::run(&engine, $input)
            .await
            .map(|out| out.report().clone());
        let full = $workflow::report_with($workflow::execute(&engine, $input))
            .await
            .expect("the workflow is valid");
        (fast, full)
    }};
}

/// Asserts that `step` failed, its error naming the missing resource.
fn assert_failed_for_want_of_factor(report: &RunReport, step: &str) {
    let record = report.step(step).expect("a step of the workflow");
    assert_eq!(record.status(), StepStatus::Failed, "{step}");
    let message = record.error_message().unwrap_or_default();
    assert!(
        message.contains("Factor"),
        "{step}: names the missing type: {message}"
    );
}

async fn both_paths(input: u32) -> (Result<orchestrator::RunReport, RunError>, RunReport) {
    both_paths!(Mixed, input)
}

#[test]
fn complete_layers_are_run_in_order_and_any_other_graph_as_a_tree() {
    const { assert!(__orchestrator_workflow_Layers::__ORCHESTRATOR_FUSED) };
    const { assert!(__orchestrator_workflow_Diamond::__ORCHESTRATOR_FUSED) };
    const { assert!(!__orchestrator_workflow_Mixed::__ORCHESTRATOR_FUSED) };
    assert!(takes_static_path(
        &engine(),
        Layers::workflow(),
        __orchestrator_workflow_Layers::__orchestrator_static_fits
    ));
}

#[tokio::test]
async fn a_step_alone_in_its_layer_fails_without_running_when_its_resource_is_missing() {
    const { assert!(__orchestrator_workflow_Alone::__ORCHESTRATOR_FUSED) };
    assert_eq!(*Alone::run(&engine(), 2).await.expect("seed 2").tripled, 6);
    let bare = WorkflowEngine::new();
    let Err(RunError::Failed { report, .. }) = Alone::run(&bare, 2).await else {
        panic!("`tripled` has no resource");
    };
    assert_failed_for_want_of_factor(&report, "tripled");
    let full = Alone::report_with(Alone::execute(&bare, 2))
        .await
        .expect("the workflow is valid");
    assert_eq!(summary(&report), summary(&full));
}

#[tokio::test]
async fn layers_run_in_order_give_the_executors_report_whatever_the_steps_do() {
    let out = Layers::run(&engine(), 2).await.expect("seed 2 succeeds");
    assert_eq!((*out.scaled, *out.checked, *out.fragile), (6, 3, 2));
    assert_eq!(*out.reported, "sum 11");
    let shared = out.report().output::<String>("reported");
    assert!(shared.is_some_and(|r| std::ptr::eq(r, &*out.reported)));
    for step in out.report().steps() {
        assert!(step.started_at().is_some(), "{} has a start", step.name());
        assert!(step.duration().is_some(), "{} has a duration", step.name());
    }
    // 2: success; 40: `checked` fails; 7: `fragile` panics. Either way the
    // rest of the layer runs, and every later layer is skipped.
    for input in [2, 40, 7] {
        let (fast, full) = both_paths!(Layers, input);
        let fast = match fast {
            Ok(report) => report,
            Err(RunError::Failed { report, .. }) => *report,
            Err(other) => panic!("seed {input}: {other}"),
        };
        assert_eq!(summary(&fast), summary(&full), "seed {input}");
        if input != 2 {
            assert_eq!(fast.status("scaled"), Some(StepStatus::Succeeded));
            assert_eq!(fast.status("summed"), Some(StepStatus::Skipped));
            assert_eq!(fast.status("reported"), Some(StepStatus::Skipped));
        }
    }
    let Err(RunError::Failed { report, .. }) = Layers::run(&WorkflowEngine::new(), 2).await else {
        panic!("`scaled` has no resource");
    };
    assert_eq!(report.status("scaled"), Some(StepStatus::Failed));
    assert_eq!(report.status("checked"), Some(StepStatus::Succeeded));
    assert_eq!(report.status("reported"), Some(StepStatus::Skipped));
}

#[tokio::test]
async fn a_successful_run_gives_typed_outputs_and_the_executors_report() {
    let engine = engine();
    assert!(takes_static_path(
        &engine,
        Mixed::workflow(),
        __orchestrator_workflow_Mixed::__orchestrator_static_fits
    ));
    let out = Mixed::run(&engine, 2).await.expect("seed 2 succeeds");
    assert_eq!(*out.scaled, 6);
    assert_eq!(*out.checked, 3);
    assert_eq!(*out.combined, 9);
    assert_eq!(*out.last, "total 9");
    let report = out.report();
    assert_eq!(report.outcome(), RunOutcome::Completed);
    assert_eq!(report.workflow(), "Mixed");
    // A typed output and the report hold one value, not two copies.
    let shared = report.output::<String>("last");
    assert!(shared.is_some_and(|last| std::ptr::eq(last, &*out.last)));
    let full = Mixed::run_with(Mixed::execute(&engine, 2)).await;
    let full = full.expect("seed 2 succeeds");
    let shared = full.report().output::<String>("last");
    assert!(shared.is_some_and(|last| std::ptr::eq(last, &*full.last)));
    assert_eq!((*full.scaled, *full.combined), (6, 9));
    for step in report.steps() {
        assert!(step.started_at().is_some(), "{} has a start", step.name());
        assert!(step.duration().is_some(), "{} has a duration", step.name());
    }

    let (fast, full) = both_paths(2).await;
    assert_eq!(
        summary(&fast.expect("seed 2 succeeds")),
        summary(&full),
        "the same report as the full executor"
    );
}

#[tokio::test]
async fn a_failed_step_skips_its_dependents_with_the_executors_reasons() {
    let (fast, full) = both_paths(40).await;
    let Err(RunError::Failed { failure, report }) = fast else {
        panic!("seed 40 fails `checked`");
    };
    assert_eq!(report.status("checked"), Some(StepStatus::Failed));
    assert_eq!(report.status("combined"), Some(StepStatus::Skipped));
    assert_eq!(report.status("last"), Some(StepStatus::Skipped));
    assert_eq!(report.status("scaled"), Some(StepStatus::Succeeded));
    assert_eq!(
        report.output::<u32>("scaled"),
        Some(&120),
        "steps that did not depend on the failure still ran"
    );
    let message = failure.to_string();
    assert!(message.contains("broken: seed over 10"), "{message}");
    assert!(
        message.contains("`last`: skipped: upstream step `checked` failed"),
        "skipped transitively, naming the step that failed: {message}"
    );
    assert_eq!(summary(&report), summary(&full));
}

#[tokio::test]
async fn a_panicking_step_is_a_failed_step_and_the_run_goes_on() {
    let (fast, full) = both_paths(7).await;
    let Err(RunError::Failed { report, .. }) = fast else {
        panic!("seed 7 panics in `fragile`");
    };
    let fragile = report.step("fragile").expect("fragile is a step");
    assert_eq!(fragile.status(), StepStatus::Failed);
    assert!(fragile.failure().is_some_and(|f| f.is_panic()));
    assert!(
        fragile
            .error_message()
            .is_some_and(|m| m.contains("unlucky seed")),
        "{:?}",
        fragile.error_message()
    );
    assert_eq!(
        report.output::<String>("last").map(String::as_str),
        Some("total 29")
    );
    assert_eq!(summary(&report), summary(&full));
}

#[tokio::test]
async fn a_step_of_a_chain_that_panics_fails_and_its_dependents_are_skipped() {
    const { assert!(__orchestrator_workflow_Brittle::__ORCHESTRATOR_FUSED) };
    assert!(takes_static_path(
        &engine(),
        Brittle::workflow(),
        __orchestrator_workflow_Brittle::__orchestrator_static_fits
    ));
    let (fast, full) = both_paths!(Brittle, 7);
    let Err(RunError::Failed { report, .. }) = fast else {
        panic!("seed 7 panics in `brittle`");
    };
    let brittle = report.step("brittle").expect("brittle is a step");
    assert!(
        brittle.failure().is_some_and(|f| f.is_panic()),
        "{brittle:?}"
    );
    assert!(brittle.duration().is_some(), "timed up to its panic");
    assert_eq!(report.output::<u32>("seed"), Some(&7));
    assert_eq!(report.status("after"), Some(StepStatus::Skipped));
    assert_eq!(summary(&report), summary(&full));
    // The same steps without the panic: every output, typed.
    let out = Brittle::run(&engine(), 2).await.expect("seed 2");
    assert_eq!((*out.brittle, *out.after), (3, 6));
}

#[tokio::test]
async fn a_missing_resource_fails_only_the_step_that_asks_for_it() {
    let engine = WorkflowEngine::new();
    let Err(RunError::Failed { report, .. }) = Mixed::run(&engine, 2).await else {
        panic!("`scaled` has no resource");
    };
    assert_failed_for_want_of_factor(&report, "scaled");
    assert_eq!(report.status("checked"), Some(StepStatus::Succeeded));
}

#[step]
async fn slow_left() -> Result<u32, Broken> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(1)
}

#[step]
async fn slow_right() -> Result<u32, Broken> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(2)
}

#[step(depends_on = ["slow_left", "slow_right"])]
async fn joined(slow_left: &u32, slow_right: &u32) -> Result<u32, Broken> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(slow_left + slow_right)
}

workflow!(Diamond: slow_left, slow_right, joined);

#[tokio::test(start_paused = true)]
async fn independent_steps_wait_at_the_same_time() {
    let engine = WorkflowEngine::new();
    assert!(takes_static_path(
        &engine,
        Diamond::workflow(),
        __orchestrator_workflow_Diamond::__orchestrator_static_fits
    ));
    let start = tokio::time::Instant::now();
    let out = Diamond::run(&engine, ()).await.expect("diamond succeeds");
    assert_eq!(*out.joined, 3);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(200),
        "both roots sleep together, then the join"
    );
}

#[tokio::test]
async fn a_run_someone_listens_to_emits_every_event() {
    let engine = engine();
    let mut events = engine.subscribe();
    assert!(
        !takes_static_path(
            &engine,
            Mixed::workflow(),
            __orchestrator_workflow_Mixed::__orchestrator_static_fits
        ),
        "a listener needs the executor's events"
    );
    Mixed::run(&engine, 2).await.expect("seed 2 succeeds");
    let mut succeeded = Vec::new();
    let mut finished = false;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), events.recv()).await
    {
        match event.kind {
            EventKind::StepSucceeded { step, .. } => succeeded.push(step.to_string()),
            EventKind::RunFinished { success, .. } => finished = success,
            _ => {}
        }
    }
    succeeded.sort();
    assert_eq!(
        succeeded,
        ["checked", "combined", "fragile", "last", "scaled", "seed"]
    );
    assert!(finished, "the run's end is announced");
}

#[tokio::test]
async fn dropping_a_run_drops_its_running_steps() {
    let engine = WorkflowEngine::new();
    let run = Forever::run(&engine, ());
    assert!(
        tokio::time::timeout(Duration::from_millis(20), run)
            .await
            .is_err(),
        "the step never finishes"
    );
    assert!(
        GUARD_DROPPED.load(std::sync::atomic::Ordering::SeqCst),
        "the step's future, and what it held, is gone with the run"
    );
}

static GUARD_DROPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[step]
async fn forever() -> Result<(), Broken> {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            GUARD_DROPPED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _guard = Guard;
    std::future::pending::<()>().await;
    Ok(())
}

workflow!(Forever: forever);
