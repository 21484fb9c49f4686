//! The contestants: one module each. A contestant turns a [`Shape`] into a
//! [`Run`]: a closure that runs the shape once on the shared runtime and
//! reports the checksum and the time taken.
//!
//! Adding a contestant (the DSL one, for instance) is one more module here
//! and one more line in [`all`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::dag::Dag;
use crate::work::Load;

pub mod async_dag;
pub mod dagrs;
pub mod dagx;
pub mod dsl;
pub mod engine;
pub mod hand_written;
pub mod spawn_oneshot;

/// Which of the suite's shapes a [`Shape`] is, for contestants that have
/// code generated per shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeId {
    /// A chain of 1,000 steps.
    Chain,
    /// A fan-out 1 → 1,000 → 1.
    FanOut,
    /// The 10,000-step layered random DAG.
    Layered,
    /// The same DAG, each step sleeping 1 µs–2 ms.
    Sleep,
    /// A 1,000-step layered DAG of CPU-bound steps.
    Cpu,
    /// The big layered DAG (1,000,000 steps, or fewer in quick mode).
    Big,
}

/// One benchmark shape: a DAG, what its steps do, and the answer.
#[derive(Debug)]
pub struct Shape {
    /// Which shape.
    pub id: ShapeId,
    /// The name in tables and on the command line.
    pub name: &'static str,
    /// The DAG.
    pub dag: Dag,
    /// What each step does besides adding its inputs.
    pub load: Load,
    /// The steps nobody depends on, whose outputs make the checksum.
    pub sinks: Vec<u32>,
    /// The checksum a correct run reports.
    pub expected: u64,
}

impl Shape {
    /// A shape, with its sinks and expected checksum worked out.
    pub fn new(id: ShapeId, name: &'static str, dag: Dag, load: Load) -> Self {
        Self {
            id,
            name,
            sinks: dag.sinks(),
            expected: dag.expected_checksum(),
            dag,
            load,
        }
    }
}

/// What one run reports.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The wrapping sum of the sinks' outputs.
    pub checksum: u64,
    /// Wall time from the start of building the graph to the checked
    /// result, measured inside the runtime.
    pub elapsed: Duration,
}

/// One prepared contestant for one shape: call it for each run.
pub type Run = Box<dyn FnMut(&Runtime) -> Outcome>;

/// A way to run a DAG.
pub trait Contestant {
    /// The name in the table.
    fn name(&self) -> &'static str;

    /// Untimed setup for `shape`, or why this contestant cannot run it.
    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String>;
}

/// Every contestant, in table order.
pub fn all() -> Vec<Box<dyn Contestant>> {
    vec![
        Box::new(hand_written::HandWritten),
        Box::new(spawn_oneshot::SpawnOneshot),
        Box::new(dsl::Dsl),
        Box::new(dsl::ByHand),
        Box::new(engine::Engine::BuildAndRun),
        Box::new(engine::Engine::Prebuilt),
        Box::new(engine::Engine::OwnTask),
        Box::new(dagrs::Dagrs),
        Box::new(dagx::Dagx),
        Box::new(async_dag::AsyncDag),
    ]
}

/// Runs the future `make` returns as a task on a worker thread of
/// `runtime` (so spawns from it go to the worker's local queue, as in a
/// server), timing it from inside the task.
pub fn timed<F, Fut>(runtime: &Runtime, make: F) -> Outcome
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    runtime.block_on(async {
        tokio::spawn(async move {
            let start = Instant::now();
            let checksum = make().await;
            Outcome {
                checksum,
                elapsed: start.elapsed(),
            }
        })
        .await
        .expect("a contestant panicked")
    })
}

/// Like [`timed`], for a future that is not `Send`: the worker task hands
/// its thread over with `block_in_place` and drives the future there.
pub fn timed_local<F, Fut>(runtime: &Runtime, make: F) -> Outcome
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = u64>,
{
    runtime.block_on(async {
        tokio::spawn(async move {
            tokio::task::block_in_place(move || {
                let handle = tokio::runtime::Handle::current();
                let start = Instant::now();
                let checksum = handle.block_on(make());
                Outcome {
                    checksum,
                    elapsed: start.elapsed(),
                }
            })
        })
        .await
        .expect("a contestant panicked")
    })
}

/// Adds `inputs` up in a tree of partial sums of at most `max` inputs each,
/// for peers with a fixed largest number of inputs per task. `partial`
/// adds one node summing (without the `+ 1`) up to `max` handles.
/// Returns at most `max` handles whose sum is the sum of `inputs`.
pub fn reduce_fan_in<H: Clone>(
    mut inputs: Vec<H>,
    max: usize,
    mut partial: impl FnMut(&[H]) -> H,
) -> Vec<H> {
    while inputs.len() > max {
        inputs = inputs.chunks(max).map(&mut partial).collect();
    }
    inputs
}

/// How many partial-sum nodes [`reduce_fan_in`] adds for `dag`.
pub fn extra_nodes(dag: &Dag, max: usize) -> usize {
    (0..dag.len())
        .map(|step| {
            let mut n = dag.parents(step).len();
            let mut extra = 0;
            while n > max {
                n = n.div_ceil(max);
                extra += n;
            }
            extra
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag;

    fn runtime() -> Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn every_contestant_gets_the_right_checksum(shape: Shape) {
        let runtime = runtime();
        let shape = Arc::new(shape);
        for contestant in all() {
            let mut run = match contestant.prepare(&shape) {
                Ok(run) => run,
                // The DSL is generated for the fixed chain and fan-out only.
                Err(reason) if reason.starts_with("not generated") => continue,
                Err(reason) => panic!("{} cannot run {}: {reason}", contestant.name(), shape.name),
            };
            shape.load.reset();
            let outcome = run(&runtime);
            assert_eq!(
                outcome.checksum,
                shape.expected,
                "{} on {}",
                contestant.name(),
                shape.name
            );
            // Every step's sleep ended and was recorded: the critical path
            // as slept is computed from it.
            if matches!(shape.load, Load::Sleep { .. }) {
                assert!(
                    shape.load.slept().is_some(),
                    "{}: a step's sleep was not recorded",
                    contestant.name()
                );
            }
        }
    }

    #[test]
    fn every_contestant_runs_the_chain_right() {
        every_contestant_gets_the_right_checksum(Shape::new(
            ShapeId::Chain,
            "chain",
            dag::fixed::chain(),
            Load::Trivial,
        ));
    }

    #[test]
    fn every_contestant_runs_the_fan_out_right_adapting_its_fan_in() {
        every_contestant_gets_the_right_checksum(Shape::new(
            ShapeId::FanOut,
            "fan-out",
            dag::fixed::fan_out(),
            Load::Trivial,
        ));
    }

    #[test]
    fn every_contestant_runs_a_layered_dag_of_sleeping_steps_right() {
        let dag = Dag::layered(300, 30, 3);
        let nanos = (0..dag.len() as u32).map(|i| 1_000 + i * 300).collect();
        let load = Load::sleep(nanos);
        every_contestant_gets_the_right_checksum(Shape::new(ShapeId::Big, "small", dag, load));
    }

    #[test]
    fn the_events_comparison_times_both_engines_and_its_subscriber_hears_every_step() {
        let runtime = runtime();
        let shape = Shape::new(ShapeId::Chain, "chain", dag::fixed::chain(), Load::Trivial);
        let (without, with, taken) = engine::events(&shape, &runtime, 3);
        assert_eq!((without.len(), with.len()), (3, 3));
        // A step's start and success, and each run's start and end.
        let per_run = 2 * shape.dag.len() as u64 + 2;
        assert_eq!(taken, 3 * per_run);
    }

    #[test]
    fn reduce_fan_in_keeps_the_sum_and_bounds_the_width() {
        let inputs: Vec<u64> = (1..=1000).collect();
        let mut nodes = 0;
        let out = reduce_fan_in(inputs, 8, |chunk| {
            nodes += 1;
            assert!(chunk.len() <= 8);
            chunk.iter().sum()
        });
        assert!(out.len() <= 8);
        assert_eq!(out.iter().sum::<u64>(), 500_500);
        assert_eq!(nodes, extra_nodes(&Dag::fan_out(1000), 8));
    }
}
