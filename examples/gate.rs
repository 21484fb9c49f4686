//! A review gate that sends work back: `draft` writes, `review` judges it;
//! on a failed review the draft is written again with the reviewer's
//! feedback, at most three times, before the workflow goes on.
//!
//! ```text
//! topic -> review_gate (gate, at most 3 attempts: draft -> review) -> publish
//!                                                  \-> escalate (only if the gate fails)
//! ```
//!
//! Written with the runtime API, for a gate assembled while the program
//! runs; `tests/dsl_patterns.rs` shows the DSL's `#[step(gate = ...)]`.
//!
//! Run it with `cargo run --example gate`.

use orchestrator::patterns::{Gate, Iteration, Repeated, Verdict};
use orchestrator::{BoxError, StepContext, TriggerRule, Workflow, WorkflowEngine};

/// The checked workflow: `draft`, then `review` returns a `Verdict`.
fn drafting(required: &'static [&'static str]) -> Workflow {
    let mut wf = Workflow::new("drafting");
    wf.add_step("draft", |ctx: StepContext| async move {
        let attempt = ctx.input::<Iteration<String>>()?;
        let mut text = attempt
            .previous_output::<String>("draft")
            .cloned()
            .unwrap_or_else(|| format!("An essay on {}.", attempt.input()));
        if let Some(feedback) = attempt.feedback() {
            text.push_str(&format!(" [{feedback}]"));
        }
        println!("  attempt {}: {text}", attempt.number());
        Ok::<_, BoxError>(text)
    });
    wf.add_step("review", move |ctx: StepContext| async move {
        let text = ctx.output::<String>("draft")?;
        let missing = required.iter().find(|part| !text.contains(*part));
        Ok::<_, BoxError>(match missing {
            None => Verdict::Pass,
            Some(part) => Verdict::retry(format!("add {part}")),
        })
    })
    .depends_on(["draft"]);
    wf
}

fn essay(required: &'static [&'static str]) -> Workflow {
    let mut wf = Workflow::new("essay");
    wf.add_step("topic", |ctx: StepContext| async move {
        Ok::<_, BoxError>(ctx.input::<String>()?.clone())
    });
    wf.add_gate(
        "review_gate",
        Gate::new(drafting(required), "review", 3)
            .input(|ctx| Ok(ctx.output::<String>("topic")?.clone())),
    )
    .depends_on(["topic"]);
    wf.add_step("publish", |ctx: StepContext| async move {
        let gate = ctx.output::<Repeated>("review_gate")?;
        let text = gate.output::<String>("draft").cloned().unwrap_or_default();
        Ok::<_, BoxError>(format!(
            "published after {} attempt(s): {text}",
            gate.iterations
        ))
    })
    .depends_on(["review_gate"]);
    wf.add_step("escalate", |_ctx| async {
        Ok::<_, BoxError>("asked a human to finish the essay")
    })
    .depends_on(["review_gate"])
    .trigger_rule(TriggerRule::OneFailed);
    wf
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let engine = WorkflowEngine::new();

    println!("a reviewer who wants sources and examples:");
    let report = engine
        .execute(&essay(&["sources", "examples"]))
        .input(String::from("DAG executors"))
        .await?;
    println!("{report}");
    report.ensure_success()?;

    println!("\na reviewer who can never be satisfied:");
    let report = engine
        .execute(&essay(&["sources", "examples", "jokes", "poems"]))
        .input(String::from("DAG executors"))
        .await?;
    println!("{report}");
    let escalated = report
        .output::<&str>("escalate")
        .ok_or("the gate should have failed")?;
    println!("\n{escalated}");
    Ok(())
}

#[test]
fn the_example_runs() -> Result<(), BoxError> {
    main()
}
