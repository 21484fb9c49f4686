//! A picture of a finished run: the code-review pipeline where the security
//! review fails and the test review times out, drawn as a Mermaid flowchart
//! with every step coloured by its status and labelled with its duration.
//!
//! ```sh
//! cargo run -p orchestrator-core --example run_picture            # Mermaid
//! cargo run -p orchestrator-core --example run_picture -- dot     # Graphviz DOT
//! ```

use std::time::Duration;

use orchestrator_core::{BoxError, StepContext, WorkflowEngine, render};

fn sleeps(
    ms: u64,
) -> impl Fn(StepContext) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>
+ Send
+ Sync
+ 'static {
    move |_ctx| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let engine = WorkflowEngine::new();
    let mut wf = engine.create_workflow("code_review_pipeline");
    wf.add_step("scan", sleeps(50));
    wf.add_step("review_style", sleeps(120))
        .depends_on(["scan"]);
    wf.add_step("review_security", |_ctx: StepContext| async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Err::<(), BoxError>("a secret is committed in config.toml".into())
    })
    .depends_on(["scan"]);
    wf.add_step("review_tests", sleeps(500))
        .depends_on(["scan"])
        .timeout(Duration::from_millis(80));
    wf.add_step("aggregate", sleeps(10)).depends_on([
        "review_style",
        "review_security",
        "review_tests",
    ]);
    wf.add_step("fix", sleeps(10)).depends_on(["aggregate"]);
    wf.add_step("verify", sleeps(10))
        .depends_on(["fix", "aggregate"]);

    let report = engine.execute(&wf).await?;
    let definition = wf.definition();
    let picture = match std::env::args().nth(1).as_deref() {
        Some("dot") => render::dot_run(&definition, &report),
        _ => render::mermaid_run(&definition, &report),
    };
    print!("{picture}");
    Ok(())
}
