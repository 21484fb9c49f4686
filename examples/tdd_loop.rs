//! A bounded test-driven loop: write code, run the tests, and go round
//! again with what the tests said, until they pass or the bound is hit.
//!
//! ```text
//! plan -> tdd (loop, at most 5 iterations: write_code -> run_tests) -> ship
//! ```
//!
//! The loop is one node of the enclosing DAG, so the DAG stays acyclic; its
//! report shows every iteration. Written with the DSL; `tests/patterns.rs`
//! shows the same loop with the runtime API.
//!
//! Run it with `cargo run --example tdd_loop`.

use orchestrator::patterns::{Iteration, Repeated};
use orchestrator::{BoxError, RunReport, WorkflowEngine, step, workflow};

/// What the code must do: here, how many tests it must make pass.
#[derive(Debug, Clone)]
struct Spec {
    tests: u32,
}

/// The code written so far: how many tests it passes.
#[derive(Debug)]
struct Code {
    passing: u32,
}

/// The outcome of running the tests.
#[derive(Debug)]
struct TestRun {
    failing: u32,
}

// The body of the loop: one iteration. Its input is an `Iteration<Spec>`,
// which also carries the previous iteration's report.

#[step]
async fn write_code(it: &Iteration<Spec>) -> Result<Code, BoxError> {
    let passing_before = it
        .previous_output::<Code>("write_code")
        .map_or(0, |code| code.passing);
    // Each iteration fixes up to three more tests.
    Ok(Code {
        passing: (passing_before + 3).min(it.input().tests),
    })
}

#[step(depends_on = "write_code")]
async fn run_tests(write_code: &Code, it: &Iteration<Spec>) -> Result<TestRun, BoxError> {
    let failing = it.input().tests - write_code.passing;
    println!("  iteration {}: {failing} test(s) failing", it.number());
    Ok(TestRun { failing })
}

workflow!(TddIteration: write_code, run_tests);

fn all_green(iteration: &RunReport) -> bool {
    iteration
        .output::<TestRun>("run_tests")
        .is_some_and(|run| run.failing == 0)
}

// The enclosing workflow.

#[step]
async fn plan(feature: &String) -> Result<Spec, BoxError> {
    println!("planning `{feature}`");
    Ok(Spec {
        tests: feature.len() as u32,
    })
}

/// The loop: its value is the body's input; its output the last iteration.
#[step(depends_on = "plan", repeat = TddIteration, max_iterations = 5, until = all_green)]
async fn tdd(plan: &Spec) -> Result<Spec, BoxError> {
    Ok(plan.clone())
}

#[step(depends_on = "tdd")]
async fn ship(tdd: &Repeated) -> Result<String, BoxError> {
    Ok(format!("shipped after {} iteration(s)", tdd.iterations))
}

workflow!(Feature: plan, tdd, ship);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let engine = WorkflowEngine::new();
    let out = Feature::run(&engine, String::from("retry-backoff")).await?;
    println!("\n{}", out.report());
    let iterations = out.report().step("tdd").map_or(0, |s| s.nested().len());
    println!("\n{} ({iterations} nested reports)", out.ship);

    // A feature too big for the bound: the loop fails, naming itself and
    // its bound, and `ship` is skipped.
    let error = Feature::run(
        &engine,
        String::from("a-much-larger-feature-than-five-rounds"),
    )
    .await
    .err()
    .ok_or("the oversized feature should hit the loop's bound")?;
    println!("\nas expected: {error}");
    Ok(())
}

#[test]
fn the_example_runs() -> Result<(), BoxError> {
    main()
}
