//! Workflow patterns in the runtime API: conditions, branches, gates,
//! bounded loops, maps and sub-workflows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use orchestrator::patterns::{Gate, Iteration, Loop, Map, Repeated, Verdict};
use orchestrator::{
    BoxError, Branch, ContextError, EventKind, SkipReason, StepContext, StepFailure, StepStatus,
    TriggerRule, Workflow, WorkflowEngine,
};

fn value(
    v: u32,
) -> impl Fn(StepContext) -> std::future::Ready<Result<u32, BoxError>> + Send + Sync {
    move |_ctx| std::future::ready(Ok(v))
}

#[tokio::test]
async fn a_false_condition_skips_the_step_and_its_dependents_follow_their_rules() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("count", value(0));
    wf.add_step("summarize", value(1))
        .depends_on(["count"])
        .condition(|ctx| ctx.output::<u32>("count").is_ok_and(|n| *n > 0));
    wf.add_step("publish", value(2)).depends_on(["summarize"]);
    wf.add_step("report_anyway", value(3))
        .depends_on(["summarize"])
        .trigger_rule(TriggerRule::NoneFailed);
    let report = engine.execute(&wf).await.expect("valid");
    let summarize = report.step("summarize").expect("exists");
    assert_eq!(summarize.status(), StepStatus::Skipped);
    assert_eq!(summarize.reason(), Some(&SkipReason::Condition));
    assert_eq!(summarize.error_message().as_deref(), Some("condition"));
    assert_eq!(
        report.step("publish").and_then(|s| s.reason()),
        Some(&SkipReason::Upstream {
            step: "summarize".into(),
            status: StepStatus::Skipped
        })
    );
    assert_eq!(report.status("report_anyway"), Some(StepStatus::Succeeded));
    assert!(report.is_success(), "skips by rule are not failures");
}

#[tokio::test]
async fn a_condition_on_a_root_step_is_checked_too_and_a_panicking_one_fails_the_step() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("wf");
    wf.add_step("never", value(1)).condition(|_| false);
    wf.add_step("broken", value(1))
        .condition(|_| panic!("bad predicate"));
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(report.status("never"), Some(StepStatus::Skipped));
    let broken = report.step("broken").expect("exists");
    assert_eq!(broken.status(), StepStatus::Failed);
    assert_eq!(
        broken.error_message().as_deref(),
        Some("its condition panicked: bad predicate")
    );
}

fn triage(choice: fn(u32) -> Branch) -> Workflow {
    let mut wf = Workflow::new("triage");
    wf.add_step("route", move |ctx: StepContext| async move {
        Ok::<_, ContextError>(choice(*ctx.input::<u32>()?))
    });
    wf.add_step("quick", value(1)).depends_on(["route"]);
    wf.add_step("deep", value(2)).depends_on(["route"]);
    wf.add_step("after_deep", value(3)).depends_on(["deep"]);
    wf.add_step("merge", |ctx: StepContext| async move {
        Ok::<_, BoxError>(ctx.outputs::<u32>().map(|(_, v)| *v).sum::<u32>())
    })
    .depends_on(["quick", "after_deep"])
    .trigger_rule(TriggerRule::NoneFailedMinOneSuccess);
    wf
}

#[tokio::test]
async fn a_branch_skips_the_dependents_it_did_not_choose_and_the_join_still_runs() {
    let engine = WorkflowEngine::new();
    let wf = triage(|size| {
        if size > 10 {
            Branch::to("deep")
        } else {
            Branch::to("quick")
        }
    });
    let small = engine.execute(&wf).input(3u32).await.expect("valid");
    assert_eq!(
        small.step("deep").and_then(|s| s.reason()),
        Some(&SkipReason::NotChosen {
            branch: "route".into()
        })
    );
    assert_eq!(small.status("after_deep"), Some(StepStatus::Skipped));
    assert_eq!(
        small.output::<u32>("merge"),
        Some(&1),
        "the join after a branch runs"
    );
    assert!(small.is_success());

    let big = engine.execute(&wf).input(30u32).await.expect("valid");
    assert_eq!(big.status("quick"), Some(StepStatus::Skipped));
    assert_eq!(big.output::<u32>("merge"), Some(&3));
}

#[tokio::test]
async fn a_branch_to_a_step_that_is_not_a_dependent_fails_naming_the_choice_and_the_dependents() {
    let engine = WorkflowEngine::new();
    let wf = triage(|_| Branch::to("nowhere"));
    let report = engine.execute(&wf).input(1u32).await.expect("valid");
    assert_eq!(
        report
            .step("route")
            .and_then(|s| s.error_message())
            .as_deref(),
        Some(
            "branch `route` chose `nowhere`, which is not one of its dependents (`quick`, `deep`)"
        )
    );
    assert_eq!(report.status("merge"), Some(StepStatus::Skipped));
}

/// A checked workflow: `write` drafts text (using the feedback), `check`
/// passes it once it has been revised twice.
fn drafting() -> Workflow {
    let mut wf = Workflow::new("drafting");
    wf.add_step("write", |ctx: StepContext| async move {
        let attempt = ctx.input::<Iteration<String>>()?;
        Ok::<_, BoxError>(match attempt.feedback() {
            None => attempt.input().clone(),
            Some(feedback) => format!(
                "{} + {feedback}",
                attempt
                    .previous_output::<String>("write")
                    .cloned()
                    .unwrap_or_default()
            ),
        })
    });
    wf.add_step("check", |ctx: StepContext| async move {
        let draft = ctx.output::<String>("write")?;
        Ok::<_, BoxError>(if draft.matches('+').count() >= 2 {
            Verdict::Pass
        } else {
            Verdict::retry("more detail")
        })
    })
    .depends_on(["write"]);
    wf
}

#[tokio::test]
async fn a_gate_sends_work_back_with_its_feedback_until_the_check_passes() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("essay");
    wf.add_step("topic", |_ctx| async {
        Ok::<_, BoxError>(String::from("rust"))
    });
    wf.add_gate(
        "review_gate",
        Gate::new(drafting(), "check", 5).input(|ctx| Ok(ctx.output::<String>("topic")?.clone())),
    )
    .depends_on(["topic"]);
    wf.add_step("publish", |ctx: StepContext| async move {
        Ok::<_, BoxError>(
            ctx.output::<Repeated>("review_gate")?
                .output::<String>("write")
                .cloned(),
        )
    })
    .depends_on(["review_gate"]);
    let report = engine.execute(&wf).await.expect("valid");
    report
        .ensure_success()
        .expect("the gate passes on the third attempt");
    assert_eq!(
        report.output::<Option<String>>("publish"),
        Some(&Some(String::from("rust + more detail + more detail")))
    );
    let gate = report.step("review_gate").expect("exists");
    assert_eq!(gate.nested().len(), 3, "every attempt is in the report");
    assert!(gate.nested().iter().all(|r| r.workflow() == "drafting"));
}

#[tokio::test]
async fn a_gate_that_never_passes_fails_naming_the_gate_the_checked_steps_and_its_bound() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("essay");
    wf.add_gate(
        "review_gate",
        Gate::new(drafting(), "check", 2).input(|_| Ok(String::from("x"))),
    );
    wf.add_step("publish", value(1)).depends_on(["review_gate"]);
    wf.add_step("notify_failure", value(2))
        .depends_on(["review_gate"])
        .trigger_rule(TriggerRule::OneFailed);
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(
        report
            .step("review_gate")
            .and_then(|s| s.error_message())
            .as_deref(),
        Some(
            "gate `review_gate` failed after 2 attempts of `write`; the last feedback of `check`: more detail"
        )
    );
    assert_eq!(report.status("publish"), Some(StepStatus::Skipped));
    assert_eq!(report.status("notify_failure"), Some(StepStatus::Succeeded));
}

/// The TDD loop's body: `write_code` improves on the previous iteration,
/// `run_tests` reports how many tests fail.
fn tdd_body() -> Workflow {
    let mut body = Workflow::new("tdd_iteration");
    body.add_step("write_code", |ctx: StepContext| async move {
        let it = ctx.input::<Iteration<u32>>()?;
        let failing_before = it
            .previous_output::<u32>("run_tests")
            .copied()
            .unwrap_or(*it.input());
        Ok::<_, BoxError>(failing_before.saturating_sub(2))
    });
    body.add_step("run_tests", |ctx: StepContext| async move {
        Ok::<_, BoxError>(*ctx.output::<u32>("write_code")?)
    })
    .depends_on(["write_code"]);
    body
}

#[tokio::test]
async fn a_loop_reads_the_previous_iteration_and_stops_when_its_condition_holds() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("tdd");
    wf.add_loop(
        "tdd",
        Loop::new(tdd_body(), 10)
            .input(|_| Ok(5u32))
            .until(|it| it.output::<u32>("run_tests") == Some(&0)),
    );
    let report = engine.execute(&wf).await.expect("valid");
    let out = report.output::<Repeated>("tdd").expect("the loop succeeds");
    assert_eq!(out.iterations, 3, "5 -> 3 -> 1 -> 0 failing tests");
    let per_iteration: Vec<u32> = report
        .step("tdd")
        .map(|s| {
            s.nested()
                .iter()
                .filter_map(|r| r.output::<u32>("run_tests").copied())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(per_iteration, [3, 1, 0], "the report shows every iteration");
}

#[tokio::test]
async fn exceeding_a_loop_bound_is_an_error_naming_the_loop_and_its_bound() {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("tdd");
    wf.add_loop(
        "tdd",
        Loop::new(tdd_body(), 2)
            .input(|_| Ok(100u32))
            .until(|it| it.output::<u32>("run_tests") == Some(&0)),
    );
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(
        report
            .step("tdd")
            .and_then(|s| s.error_message())
            .as_deref(),
        Some("loop `tdd` did not reach its condition within its bound of 2 iterations")
    );
    assert_eq!(report.step("tdd").map(|s| s.nested().len()), Some(2));
}

#[tokio::test(start_paused = true)]
async fn a_map_runs_over_a_list_made_at_run_time_within_its_limit_and_keeps_the_order() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("fan");
    wf.add_step("list", |_ctx| async {
        Ok::<_, BoxError>((1..=8u64).collect::<Vec<_>>())
    });
    let (f, p) = (Arc::clone(&in_flight), Arc::clone(&peak));
    wf.add_map(
        "square",
        Map::new(
            |ctx| Ok(ctx.output::<Vec<u64>>("list")?.clone()),
            move |n: u64| {
                let (f, p) = (Arc::clone(&f), Arc::clone(&p));
                async move {
                    p.fetch_max(f.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    // Later items finish first: the order must still hold.
                    tokio::time::sleep(Duration::from_millis(100 - n * 10)).await;
                    f.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, BoxError>(n * n)
                }
            },
        )
        .concurrency(3),
    )
    .depends_on(["list"]);
    wf.add_step("total", |ctx: StepContext| async move {
        Ok::<_, BoxError>(ctx.output::<Vec<u64>>("square")?.iter().sum::<u64>())
    })
    .depends_on(["square"]);
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(
        report.output::<Vec<u64>>("square"),
        Some(&vec![1, 4, 9, 16, 25, 36, 49, 64])
    );
    assert_eq!(report.output::<u64>("total"), Some(&204));
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_failed_item_fails_the_map_or_is_collected_as_the_user_chooses() {
    let items = |_: &StepContext| Ok(vec![1u32, 0, 3]);
    let invert = |n: u32| async move {
        12u32
            .checked_div(n)
            .ok_or_else(|| BoxError::from("division by zero"))
    };
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("fan");
    wf.add_map("strict", Map::new(items, invert));
    wf.add_map_collecting("lenient", Map::new(items, invert));
    let report = engine.execute(&wf).await.expect("valid");
    assert_eq!(
        report
            .step("strict")
            .and_then(|s| s.error_message())
            .as_deref(),
        Some("item 1 failed: division by zero")
    );
    let lenient = report
        .output::<Vec<Result<u32, StepFailure>>>("lenient")
        .expect("collected");
    let shown: Vec<String> = lenient
        .iter()
        .map(|r| match r {
            Ok(v) => v.to_string(),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(shown, ["12", "division by zero", "4"]);
}

#[tokio::test]
async fn a_sub_workflow_is_one_step_whose_report_nests_in_the_parent() {
    let mut child = Workflow::new("child");
    child.add_step("double", |ctx: StepContext| async move {
        Ok::<_, ContextError>(ctx.input::<u32>()? * 2)
    });
    let engine = WorkflowEngine::new();
    let mut events = engine.subscribe();
    let mut parent = engine.create_workflow("parent");
    parent.add_step("seed", value(21));
    parent
        .add_workflow("sub", &child, |ctx| Ok(*ctx.output::<u32>("seed")?))
        .depends_on(["seed"]);
    parent
        .add_step("use", |ctx: StepContext| async move {
            let sub = ctx.output::<orchestrator::RunReport>("sub")?;
            Ok::<_, BoxError>(sub.output::<u32>("double").copied())
        })
        .depends_on(["sub"]);
    let report = engine.execute(&parent).await.expect("valid");
    assert_eq!(report.output::<Option<u32>>("use"), Some(&Some(42)));
    let nested = report.step("sub").map(|s| s.nested()).unwrap_or_default();
    assert_eq!(nested.len(), 1);
    assert_eq!(nested[0].workflow(), "child");

    // The nested run publishes its own events too.
    let mut workflows = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await
    {
        if let EventKind::RunStarted { .. } = event.kind {
            workflows.push(event.workflow.to_string());
        }
    }
    assert_eq!(workflows, ["parent", "child"]);
}
