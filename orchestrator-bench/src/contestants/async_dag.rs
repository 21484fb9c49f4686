//! `async_dag` 0.1: tasks are closures whose arguments are their parents'
//! outputs, in positions set by `add_child_task` / `update_dependency`.
//!
//! Adaptations: a task takes at most 12 arguments, so a step with more
//! parents (the fan-out's sink) reads them through a tree of partial-sum
//! tasks of at most 12 inputs each (91 extra tasks for 1,000 inputs). The
//! graph is not `Send`, so it runs on a worker thread handed over with
//! `block_in_place`; it polls every task in its own future, on one thread.
//! A graph runs once, so each run builds it anew.

use std::convert::Infallible;
use std::sync::Arc;

use async_dag::{Graph, NodeIndex};

use super::{Contestant, Run, Shape, extra_nodes, reduce_fan_in, timed_local};
use crate::dag::checksum;
use crate::work::Load;

/// The largest number of arguments of an `async_dag` task.
const MAX_INPUTS: usize = 12;

/// `async_dag` 0.1.
pub struct AsyncDag;

impl Contestant for AsyncDag {
    fn name(&self) -> &'static str {
        "async_dag 0.1"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        let extra = extra_nodes(&shape.dag, MAX_INPUTS);
        if extra > 0 {
            eprintln!("  async_dag: {extra} partial-sum tasks added for fan-ins over {MAX_INPUTS}");
        }
        let shape = Arc::clone(shape);
        Ok(Box::new(move |runtime| {
            let shape = Arc::clone(&shape);
            timed_local(runtime, move || run(shape))
        }))
    }
}

/// What a task does with the sum of its inputs: a step's work and `+ 1`,
/// or (for partial sums) nothing.
#[derive(Clone)]
struct Node {
    step: Option<usize>,
    load: Load,
}

impl Node {
    async fn finish(self, sum: u64) -> Result<u64, Infallible> {
        Ok(match self.step {
            Some(step) => {
                self.load.perform(step).await;
                sum.wrapping_add(1)
            }
            None => sum,
        })
    }
}

/// Adds a task reading `inputs` (at most 12) and wires them.
fn add(graph: &mut Graph<'static>, node: Node, inputs: &[NodeIndex]) -> NodeIndex {
    macro_rules! task {
        ($($arg:ident),*) => {
            graph.add_try_task(move |$($arg: u64),*| node.finish(0u64 $(.wrapping_add($arg))*))
        };
    }
    let index = match inputs.len() {
        0 => task!(),
        1 => task!(a),
        2 => task!(a, b),
        3 => task!(a, b, c),
        4 => task!(a, b, c, d),
        5 => task!(a, b, c, d, e),
        6 => task!(a, b, c, d, e, f),
        7 => task!(a, b, c, d, e, f, g),
        8 => task!(a, b, c, d, e, f, g, h),
        9 => task!(a, b, c, d, e, f, g, h, i),
        10 => task!(a, b, c, d, e, f, g, h, i, j),
        11 => task!(a, b, c, d, e, f, g, h, i, j, k),
        12 => task!(a, b, c, d, e, f, g, h, i, j, k, l),
        _ => unreachable!("fan-ins are reduced to {MAX_INPUTS} inputs first"),
    };
    for (position, &parent) in inputs.iter().enumerate() {
        graph
            .update_dependency(parent, index, position as u8)
            .expect("a u64 input");
    }
    index
}

async fn run(shape: Arc<Shape>) -> u64 {
    let mut graph = Graph::new();
    let mut indices: Vec<NodeIndex> = Vec::with_capacity(shape.dag.len());
    for step in 0..shape.dag.len() {
        let inputs: Vec<NodeIndex> = shape
            .dag
            .parents(step)
            .iter()
            .map(|&p| indices[p as usize])
            .collect();
        let inputs = reduce_fan_in(inputs, MAX_INPUTS, |chunk| {
            let partial = Node {
                step: None,
                load: shape.load.clone(),
            };
            add(&mut graph, partial, chunk)
        });
        let node = Node {
            step: Some(step),
            load: shape.load.clone(),
        };
        indices.push(add(&mut graph, node, &inputs));
    }
    graph.run().await;
    checksum(shape.sinks.iter().map(|&s| {
        graph
            .get_value::<u64>(indices[s as usize])
            .expect("a sink's output")
    }))
}
