//! Property tests over random DAGs: every step runs exactly once, only after
//! all of its dependencies finished, and a run of sleeping steps takes as
//! long as the critical path, not the sum of the levels.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use orchestrator::{BoxError, StepContext, StepStatus, WorkflowEngine};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// A random DAG: `deps[i]` are indices below `i`; `sleep_ms[i]` its duration.
#[derive(Debug, Clone)]
struct Dag {
    deps: Vec<Vec<usize>>,
    sleep_ms: Vec<u64>,
}

fn dag() -> impl Strategy<Value = Dag> {
    (1usize..40).prop_flat_map(|n| {
        let deps = (0..n)
            .map(|i| proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(4)))
            .collect::<Vec<_>>();
        (deps, proptest::collection::vec(0u64..20, n))
            .prop_map(|(deps, sleep_ms)| Dag { deps, sleep_ms })
    })
}

/// The longest path through the DAG, weighted by sleep time.
fn critical_path_ms(dag: &Dag) -> u64 {
    let mut finish = vec![0u64; dag.deps.len()];
    for i in 0..dag.deps.len() {
        let ready = dag.deps[i].iter().map(|&d| finish[d]).max().unwrap_or(0);
        finish[i] = ready + dag.sleep_ms[i];
    }
    finish.into_iter().max().unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_step_runs_once_after_its_dependencies_and_the_run_takes_the_critical_path(dag in dag()) {
        let n = dag.deps.len();
        let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        // finished[i] is the tick at which step i finished (0 = not yet).
        let finished: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
        let clock = Arc::new(AtomicU64::new(1));

        let engine = WorkflowEngine::new();
        let mut wf = engine.create_workflow("random");
        for i in 0..n {
            let (runs, finished, clock) = (Arc::clone(&runs), Arc::clone(&finished), Arc::clone(&clock));
            let deps = dag.deps[i].clone();
            let sleep = Duration::from_millis(dag.sleep_ms[i]);
            wf.add_step(format!("s{i}"), move |ctx: StepContext| {
                let (runs, finished, clock, deps) =
                    (Arc::clone(&runs), Arc::clone(&finished), Arc::clone(&clock), deps.clone());
                async move {
                    runs[i].fetch_add(1, Ordering::SeqCst);
                    let started = clock.fetch_add(1, Ordering::SeqCst);
                    for &d in &deps {
                        let done = finished[d].load(Ordering::SeqCst);
                        if done == 0 || done >= started {
                            return Err::<u64, BoxError>(format!("s{i} started before s{d} finished").into());
                        }
                    }
                    let inputs: u64 = ctx.outputs::<u64>().map(|(_, v)| *v).sum();
                    tokio::time::sleep(sleep).await;
                    finished[i].store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                    Ok(1 + inputs)
                }
            })
            .depends_on(dag.deps[i].iter().map(|d| format!("s{d}")));
        }

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()?;
        let (report, elapsed) = runtime.block_on(async {
            let t0 = tokio::time::Instant::now();
            let report = engine.execute(&wf).await;
            (report, t0.elapsed())
        });
        let report = report?;
        prop_assert!(report.ensure_success().is_ok(), "{}", report);
        for (i, count) in runs.iter().enumerate() {
            prop_assert_eq!(count.load(Ordering::SeqCst), 1, "step s{} ran once", i);
        }
        // Each output is 1 + the sum of its inputs: check against the model.
        let mut expected = vec![0u64; n];
        for i in 0..n {
            expected[i] = 1 + dag.deps[i].iter().map(|&d| expected[d]).sum::<u64>();
            prop_assert_eq!(report.output::<u64>(&format!("s{i}")), Some(&expected[i]));
        }
        prop_assert_eq!(elapsed, Duration::from_millis(critical_path_ms(&dag)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Failures never hang a run: every step ends in a final state, a step
    /// runs only when all its dependencies succeeded, and a step is skipped
    /// exactly when one of them did not.
    #[test]
    fn failures_skip_exactly_the_dependents_and_never_hang(
        dag in dag(),
        failing in proptest::collection::vec(proptest::bool::weighted(0.2), 40),
    ) {
        let n = dag.deps.len();
        let engine = WorkflowEngine::new();
        let mut wf = engine.create_workflow("random_failures");
        for (i, &fails) in failing.iter().enumerate().take(n) {
            let sleep = Duration::from_millis(dag.sleep_ms[i]);
            wf.add_step(format!("s{i}"), move |_ctx: StepContext| async move {
                tokio::time::sleep(sleep).await;
                if fails {
                    Err::<(), BoxError>("planned failure".into())
                } else {
                    Ok(())
                }
            })
            .depends_on(dag.deps[i].iter().map(|d| format!("s{d}")));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()?;
        let report = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(3600), engine.execute(&wf)).await
        });
        let report = report.map_err(|_| TestCaseError::fail("the run hung"))??;

        // The model: a step runs iff all its dependencies succeeded.
        let mut succeeded = vec![false; n];
        let mut any_failed = false;
        for i in 0..n {
            let runs = dag.deps[i].iter().all(|&d| succeeded[d]);
            let status = report.status(&format!("s{i}"));
            let expected = match (runs, failing[i]) {
                (false, _) => StepStatus::Skipped,
                (true, true) => StepStatus::Failed,
                (true, false) => StepStatus::Succeeded,
            };
            prop_assert_eq!(status, Some(expected), "step s{}", i);
            succeeded[i] = expected == StepStatus::Succeeded;
            any_failed |= expected == StepStatus::Failed;
        }
        prop_assert_eq!(report.is_success(), !any_failed);
    }
}
