//! Our runtime API, `WorkflowEngine`, in three ways of use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrator::{BoxError, StepContext, Workflow, WorkflowEngine};

use super::{Contestant, Run, Shape, ShapeId, timed};
use crate::dag::{checksum, step_value};

/// How the engine is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Build the workflow, then run it: what a one-shot user does. Steps
    /// are polled by the run's own task, except in the CPU-bound shape,
    /// where they ask for their own task (`.own_task()`) to use every core.
    BuildAndRun,
    /// Run a workflow built (and validated) before timing starts: a
    /// workflow executed many times.
    Prebuilt,
    /// Build and run with every step on its own tokio task.
    OwnTask,
}

impl Contestant for Engine {
    fn name(&self) -> &'static str {
        match self {
            Engine::BuildAndRun => "engine: build + run",
            Engine::Prebuilt => "engine: run prebuilt",
            Engine::OwnTask => "engine: every step own_task",
        }
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        let shape = Arc::clone(shape);
        let own_task = *self == Engine::OwnTask || shape.id == ShapeId::Cpu;
        // The names come with the shape, as they come with a workflow file
        // or an agent's plan: formatting a million integers is not the
        // engine's work. `add_step` copies each name, and that is timed.
        let names = Arc::new(step_names(&shape));
        Ok(match self {
            Engine::BuildAndRun | Engine::OwnTask => Box::new(move |runtime| {
                let (shape, names) = (Arc::clone(&shape), Arc::clone(&names));
                timed(runtime, move || async move {
                    let (engine, workflow) = build(&shape, &names, own_task);
                    execute(&engine, &workflow, &shape).await
                })
            }),
            Engine::Prebuilt => {
                let (engine, workflow) = build(&shape, &names, own_task);
                workflow.validate().map_err(|e| e.to_string())?;
                Box::new(move |runtime| {
                    let (shape, engine, workflow) =
                        (Arc::clone(&shape), engine.clone(), workflow.clone());
                    timed(runtime, move || async move {
                        execute(&engine, &workflow, &shape).await
                    })
                })
            }
        })
    }
}

/// The name of every step of `shape`: step `i` is `s{i}`.
pub fn step_names(shape: &Shape) -> Vec<String> {
    (0..shape.dag.len())
        .map(|step| format!("s{step}"))
        .collect()
}

/// The workflow for `shape`, its steps named by `names`.
pub fn build(shape: &Shape, names: &[String], own_task: bool) -> (WorkflowEngine, Workflow) {
    let dag = &shape.dag;
    let engine = WorkflowEngine::new();
    let mut workflow = engine.create_workflow(shape.name);
    // The size is known, as it is for a workflow file or a plan.
    workflow.reserve(dag.len());
    for step in 0..dag.len() {
        let load = shape.load.clone();
        let builder = workflow
            .add_step(&names[step], move |ctx: StepContext| {
                let load = load.clone();
                async move {
                    load.perform(step).await;
                    Ok::<_, BoxError>(step_value(ctx.outputs::<u64>().map(|(_, v)| *v)))
                }
            })
            .depends_on(dag.parents(step).iter().map(|&p| &names[p as usize]));
        if own_task {
            builder.own_task();
        }
    }
    (engine, workflow)
}

async fn execute(engine: &WorkflowEngine, workflow: &Workflow, shape: &Shape) -> u64 {
    let report = engine
        .execute(workflow)
        .await
        .expect("the workflow is valid");
    assert!(report.is_success(), "{}", report.counts().failed);
    // Steps are reported in the order they were added: read sinks by index,
    // as the other contestants do, rather than by name.
    let steps = report.steps();
    checksum(
        shape
            .sinks
            .iter()
            .map(|&s| *steps[s as usize].output::<u64>().expect("a sink's output")),
    )
}

/// Where the engine's time and memory go on `shape`, phase by phase: each
/// phase's time and heap (peak above the start of the phase, and what it
/// leaves live).
pub fn breakdown(
    shape: &Shape,
    runtime: &tokio::runtime::Runtime,
) -> Vec<(&'static str, Duration, crate::alloc::Measurement)> {
    use crate::alloc;
    let mut phases = Vec::new();
    let mut phase = |name: &'static str, f: &mut dyn FnMut()| {
        alloc::start();
        let start = Instant::now();
        f();
        let took = start.elapsed();
        phases.push((name, took, alloc::stop()));
    };
    let names = step_names(shape);
    let mut built = None;
    phase("build: add_step + depends_on", &mut || {
        built = Some(build(shape, &names, false));
    });
    let (engine, workflow) = built.take().expect("built");
    phase("validate: the plan", &mut || {
        workflow.validate().expect("valid");
    });
    let mut report = None;
    phase("execute: run to the report", &mut || {
        report = Some(
            runtime
                .block_on(async { engine.execute(&workflow).await })
                .expect("valid"),
        );
    });
    assert!(report.as_ref().is_some_and(|r| r.is_success()));
    phase("drop the report", &mut || drop(report.take()));
    let mut workflow = Some(workflow);
    phase("drop the workflow", &mut || drop(workflow.take()));
    phases
}

/// Runs of a prebuilt workflow for `shape`, `runs` of each, alternating: on
/// an engine nobody listens to, and on one whose subscriber takes every
/// event as it comes (on the runtime's other worker). Each run's time,
/// quiet then listened to, and how many events were sent to the
/// subscriber.
pub fn events(
    shape: &Shape,
    runtime: &tokio::runtime::Runtime,
    runs: usize,
) -> (Vec<Duration>, Vec<Duration>, u64) {
    let names = step_names(shape);
    let (quiet, workflow) = build(shape, &names, false);
    workflow.validate().expect("valid");
    let listened = WorkflowEngine::new();
    let mut events = listened.subscribe();
    let expected = shape.expected;
    runtime.block_on(async {
        let drain = tokio::spawn(async move {
            let mut taken = 0;
            while events.recv().await.is_some() {
                taken += 1;
            }
            // Events it fell too far behind to take (the channel keeps
            // the latest 1,024) count as heard: they were sent.
            taken + events.missed()
        });
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            for (engine, times) in [(&quiet, &mut without), (&listened, &mut with)] {
                let start = Instant::now();
                let sum = execute(engine, &workflow, shape).await;
                times.push(start.elapsed());
                assert_eq!(sum, expected, "wrong result");
            }
        }
        // The last sender goes with the engine: the subscriber then ends.
        drop(listened);
        let taken = drain.await.expect("the subscriber does not panic");
        (without, with, taken)
    })
}
