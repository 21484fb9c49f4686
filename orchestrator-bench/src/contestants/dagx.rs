//! `dagx` 0.3: typed tasks wired with `depends_on((&a, &b, ..))`.
//!
//! Adaptations: a task takes a fixed tuple of at most 8 inputs, so a step
//! with more parents (the fan-out's sink) reads them through a tree of
//! partial-sum tasks of at most 8 inputs each (143 extra tasks for 1,000
//! inputs). The number of inputs is part of a task's type, so there is one
//! task type per arity, chosen at run time. A `DagRunner` runs once, so each
//! run builds it anew.

// dagx passes each input as an argument: tasks of 7 and 8 inputs have that
// many arguments.
#![allow(clippy::too_many_arguments)]

use std::sync::Arc;

use dagx::{DagRunner, Task, TaskHandle, task};

use super::{Contestant, Run, Shape, extra_nodes, reduce_fan_in, timed};
use crate::dag::checksum;
use crate::work::Load;

/// The largest number of inputs of a `dagx` task.
const MAX_INPUTS: usize = 8;

/// `dagx` 0.3.
pub struct Dagx;

impl Contestant for Dagx {
    fn name(&self) -> &'static str {
        "dagx 0.3"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        let extra = extra_nodes(&shape.dag, MAX_INPUTS);
        if extra > 0 {
            eprintln!("  dagx: {extra} partial-sum tasks added for fan-ins over {MAX_INPUTS}");
        }
        let shape = Arc::clone(shape);
        Ok(Box::new(move |runtime| {
            let shape = Arc::clone(&shape);
            timed(runtime, move || run(shape))
        }))
    }
}

/// What a task node does: a step's work and `+ 1`, or (for partial sums)
/// neither.
struct Node {
    step: Option<usize>,
    load: Load,
}

impl Node {
    async fn finish(&self, sum: u64) -> u64 {
        match self.step {
            Some(step) => {
                self.load.perform(step).await;
                sum.wrapping_add(1)
            }
            None => sum,
        }
    }
}

macro_rules! arity {
    ($name:ident $(, $input:ident)*) => {
        struct $name(Node);

        #[task]
        impl $name {
            async fn run(&self $(, $input: &u64)*) -> u64 {
                self.0.finish(0u64 $(.wrapping_add(*$input))*).await
            }
        }
    };
}

arity!(In0);
arity!(In1, a);
arity!(In2, a, b);
arity!(In3, a, b, c);
arity!(In4, a, b, c, d);
arity!(In5, a, b, c, d, e);
arity!(In6, a, b, c, d, e, f);
arity!(In7, a, b, c, d, e, f, g);
arity!(In8, a, b, c, d, e, f, g, h);

fn add(dag: &DagRunner, node: Node, inputs: &[TaskHandle<u64>]) -> TaskHandle<u64> {
    match inputs {
        [] => dag.add_task(In0(node)).into(),
        [a] => dag.add_task(In1(node)).depends_on(a),
        [a, b] => dag.add_task(In2(node)).depends_on((a, b)),
        [a, b, c] => dag.add_task(In3(node)).depends_on((a, b, c)),
        [a, b, c, d] => dag.add_task(In4(node)).depends_on((a, b, c, d)),
        [a, b, c, d, e] => dag.add_task(In5(node)).depends_on((a, b, c, d, e)),
        [a, b, c, d, e, f] => dag.add_task(In6(node)).depends_on((a, b, c, d, e, f)),
        [a, b, c, d, e, f, g] => dag.add_task(In7(node)).depends_on((a, b, c, d, e, f, g)),
        [a, b, c, d, e, f, g, h] => dag.add_task(In8(node)).depends_on((a, b, c, d, e, f, g, h)),
        _ => unreachable!("fan-ins are reduced to {MAX_INPUTS} inputs first"),
    }
}

async fn run(shape: Arc<Shape>) -> u64 {
    let dag = DagRunner::new();
    let mut handles: Vec<TaskHandle<u64>> = Vec::with_capacity(shape.dag.len());
    for step in 0..shape.dag.len() {
        let inputs: Vec<TaskHandle<u64>> = shape
            .dag
            .parents(step)
            .iter()
            .map(|&p| handles[p as usize])
            .collect();
        let inputs = reduce_fan_in(inputs, MAX_INPUTS, |chunk| {
            let partial = Node {
                step: None,
                load: shape.load.clone(),
            };
            add(&dag, partial, chunk)
        });
        let node = Node {
            step: Some(step),
            load: shape.load.clone(),
        };
        handles.push(add(&dag, node, &inputs));
    }
    dag.run(|fut| {
        tokio::spawn(fut);
    })
    .await
    .expect("dagx runs the DAG");
    checksum(
        shape
            .sinks
            .iter()
            .map(|&s| dag.get(handles[s as usize]).expect("a sink's output")),
    )
}
