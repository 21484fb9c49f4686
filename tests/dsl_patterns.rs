//! Workflow patterns in the DSL: conditions, branches, sub-workflows,
//! bounded loops, gates and maps, each one `#[step]` with its options.

use orchestrator::patterns::{Iteration, Verdict};
use orchestrator::{
    BoxError, Branch, RunReport, SkipReason, StepContext, StepStatus, WorkflowEngine, step,
    workflow,
};

// --- Conditions and branches -----------------------------------------------

fn has_work(ctx: &StepContext) -> bool {
    ctx.output::<u32>("size").is_ok_and(|n| *n > 0)
}

#[step]
async fn size(n: &u32) -> Result<u32, BoxError> {
    Ok(*n)
}

#[step(depends_on = "size", condition = has_work, branches = ["quick", "deep"])]
async fn route(size: &u32) -> Result<Branch, BoxError> {
    Ok(if *size > 10 {
        Branch::to("deep")
    } else {
        Branch::to("quick")
    })
}

#[step(depends_on = "route")]
async fn quick() -> Result<&'static str, BoxError> {
    Ok("quick")
}

#[step(depends_on = "route")]
async fn deep() -> Result<&'static str, BoxError> {
    Ok("deep")
}

#[step(depends_on = ["quick", "deep"], trigger_rule = "none_failed_min_one_success")]
async fn merge() -> Result<&'static str, BoxError> {
    Ok("merged")
}

workflow!(Triage: size, route, quick, deep, merge);

#[tokio::test]
async fn dsl_branches_choose_dependents_and_conditions_skip_steps() {
    let engine = WorkflowEngine::new();
    let big = Triage::execute(&engine, 42).await.expect("valid");
    assert_eq!(big.output::<&str>("deep"), Some(&"deep"));
    assert_eq!(
        big.step("quick").and_then(|s| s.reason()),
        Some(&SkipReason::NotChosen {
            branch: "route".into()
        })
    );
    assert_eq!(
        big.output::<&str>("merge"),
        Some(&"merged"),
        "the join runs"
    );

    let empty = Triage::execute(&engine, 0).await.expect("valid");
    assert_eq!(
        empty.step("route").and_then(|s| s.reason()),
        Some(&SkipReason::Condition)
    );
    assert_eq!(empty.status("merge"), Some(StepStatus::Skipped));
    assert!(empty.is_success());
}

// --- A sub-workflow ----------------------------------------------------------

#[step]
async fn double(n: &u32) -> Result<u32, BoxError> {
    Ok(n * 2)
}

workflow!(Doubler: double);

#[step]
async fn seed() -> Result<u32, BoxError> {
    Ok(21)
}

/// Returns the sub-workflow's input; the step's output is its typed outputs.
#[step(depends_on = "seed", workflow = Doubler)]
async fn doubled(seed: &u32) -> Result<u32, BoxError> {
    Ok(*seed)
}

#[step(depends_on = "doubled")]
async fn answer(doubled: &DoublerOutput) -> Result<u32, BoxError> {
    Ok(*doubled.double)
}

workflow!(Parent: seed, doubled, answer);

#[tokio::test]
async fn a_dsl_sub_workflow_passes_its_typed_outputs_and_nests_its_report() {
    let engine = WorkflowEngine::new();
    let out = Parent::run(&engine, ()).await.expect("succeeds");
    assert_eq!(*out.answer, 42);
    let nested = out
        .report()
        .step("doubled")
        .map(|s| s.nested())
        .unwrap_or_default();
    assert_eq!(nested.len(), 1);
    assert_eq!(nested[0].workflow(), "Doubler");
}

// --- A bounded loop ----------------------------------------------------------

#[step]
async fn write_code(it: &Iteration<u32>) -> Result<u32, BoxError> {
    let failing = it
        .previous_output::<u32>("run_tests")
        .copied()
        .unwrap_or(*it.input());
    Ok(failing.saturating_sub(2))
}

#[step(depends_on = "write_code")]
async fn run_tests(write_code: &u32) -> Result<u32, BoxError> {
    Ok(*write_code)
}

workflow!(TddIteration: write_code, run_tests);

fn green(iteration: &RunReport) -> bool {
    iteration.output::<u32>("run_tests") == Some(&0)
}

#[step(repeat = TddIteration, max_iterations = 4, until = green)]
async fn tdd(failing: &u32) -> Result<u32, BoxError> {
    Ok(*failing)
}

workflow!(Tdd: tdd);

#[tokio::test]
async fn a_dsl_loop_runs_until_its_condition_within_its_bound() {
    let engine = WorkflowEngine::new();
    let out = Tdd::run(&engine, 5).await.expect("green in 3 iterations");
    assert_eq!(out.tdd.iterations, 3);
    assert_eq!(out.tdd.output::<u32>("run_tests"), Some(&0));

    let error = Tdd::run(&engine, 100).await.expect_err("bound exceeded");
    assert!(
        error
            .to_string()
            .contains("loop `tdd` did not reach its condition within its bound of 4 iterations"),
        "{error}"
    );
}

// --- A gate ------------------------------------------------------------------

#[step]
async fn draft(attempt: &Iteration<String>) -> Result<String, BoxError> {
    Ok(match attempt.feedback() {
        None => attempt.input().clone(),
        Some(feedback) => format!("{} ({feedback})", attempt.input()),
    })
}

#[step(depends_on = "draft")]
async fn judge(draft: &str) -> Result<Verdict, BoxError> {
    Ok(if draft.contains("cite sources") {
        Verdict::Pass
    } else {
        Verdict::retry("cite sources")
    })
}

workflow!(Drafting: draft, judge);

#[step(gate = Drafting, check = "judge", max_attempts = 3)]
async fn review_gate(topic: &str) -> Result<String, BoxError> {
    Ok(topic.to_owned())
}

workflow!(Essay: review_gate);

#[tokio::test]
async fn a_dsl_gate_sends_work_back_with_feedback() {
    let engine = WorkflowEngine::new();
    let out = Essay::run(&engine, String::from("rust"))
        .await
        .expect("passes on attempt 2");
    assert_eq!(out.review_gate.iterations, 2);
    assert_eq!(
        out.review_gate
            .output::<String>("draft")
            .map(String::as_str),
        Some("rust (cite sources)")
    );
}

// --- A map -------------------------------------------------------------------

#[step]
async fn files(prefix: &String) -> Result<Vec<String>, BoxError> {
    Ok((1..=5).map(|i| format!("{prefix}/{i}.rs")).collect())
}

#[step(map_over = "files", concurrency = 2)]
async fn line_counts(files: &str) -> Result<usize, BoxError> {
    Ok(files.len())
}

#[step(depends_on = "line_counts")]
async fn total(line_counts: &[usize]) -> Result<usize, BoxError> {
    Ok(line_counts.iter().sum())
}

workflow!(Counting: files, line_counts, total);

#[tokio::test]
async fn a_dsl_map_runs_once_per_item_in_order_and_fans_in() {
    let engine = WorkflowEngine::new();
    let out = Counting::run(&engine, String::from("src"))
        .await
        .expect("succeeds");
    assert_eq!(*out.line_counts, vec![8; 5]);
    assert_eq!(*out.total, 40);
}

#[step]
async fn divisors() -> Result<Vec<u32>, BoxError> {
    Ok(vec![4, 0, 3])
}

#[step(map_over = "divisors", collect_errors)]
async fn quotients(divisors: &u32) -> Result<u32, BoxError> {
    12u32
        .checked_div(*divisors)
        .ok_or_else(|| BoxError::from("division by zero"))
}

#[step(map_over = "divisors")]
async fn strict_quotients(divisors: &u32) -> Result<u32, BoxError> {
    12u32
        .checked_div(*divisors)
        .ok_or_else(|| BoxError::from("division by zero"))
}

workflow!(Dividing: divisors, quotients, strict_quotients);

#[tokio::test]
async fn a_dsl_map_collects_failed_items_or_fails_as_the_user_chooses() {
    let engine = WorkflowEngine::new();
    let report = Dividing::execute(&engine, ()).await.expect("valid");
    let collected = report
        .output::<Vec<Result<u32, orchestrator::StepFailure>>>("quotients")
        .expect("collect_errors keeps going");
    let shown: Vec<String> = collected
        .iter()
        .map(|r| {
            r.as_ref()
                .map_or_else(ToString::to_string, ToString::to_string)
        })
        .collect();
    assert_eq!(shown, ["3", "division by zero", "4"]);
    assert_eq!(
        report
            .step("strict_quotients")
            .and_then(|s| s.error_message())
            .as_deref(),
        Some("item 1 failed: division by zero")
    );
}
