//! `dagrs` 0.9: nodes with an `Action`, bounded channels along the edges,
//! one tokio task per node.
//!
//! Adaptations: none for the shape; a node reads all its input channels
//! (any number) and broadcasts its value to its children. A `Graph` runs
//! once (a second run needs `reset()`), so each run builds it anew.

use std::sync::Arc;

use dagrs::{
    Action, Content, DefaultNode, EnvVar, Graph, InChannels, Node as _, NodeId, NodeTable,
    OutChannels, Output,
};

use super::{Contestant, Run, Shape, timed};
use crate::dag::checksum;
use crate::work::Load;

/// `dagrs` 0.9.
pub struct Dagrs;

impl Contestant for Dagrs {
    fn name(&self) -> &'static str {
        "dagrs 0.9"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        let shape = Arc::clone(shape);
        // The names come with the shape, as for our engine (see there);
        // dagrs takes each by value, so a run clones it.
        let names = Arc::new(super::engine::step_names(&shape));
        Ok(Box::new(move |runtime| {
            let (shape, names) = (Arc::clone(&shape), Arc::clone(&names));
            timed(runtime, move || run(shape, names))
        }))
    }
}

/// A step: read every input, do the work, broadcast `1 + sum`.
struct Step {
    step: usize,
    load: Load,
}

#[dagrs::async_trait::async_trait]
impl Action for Step {
    async fn run(
        &self,
        input: &mut InChannels,
        output: &mut OutChannels,
        _env: Arc<EnvVar>,
    ) -> Output {
        let values = input
            .map(|content| {
                *content
                    .expect("a parent sends its value")
                    .into_inner::<u64>()
                    .expect("a u64")
            })
            .await;
        self.load.perform(self.step).await;
        let value = crate::dag::step_value(values);
        output.broadcast(Content::new(value)).await;
        Output::Out(Some(Content::new(value)))
    }
}

async fn run(shape: Arc<Shape>, names: Arc<Vec<String>>) -> u64 {
    let dag = &shape.dag;
    let mut table = NodeTable::new();
    let mut graph = Graph::new();
    let mut ids: Vec<NodeId> = Vec::with_capacity(dag.len());
    for step in 0..dag.len() {
        let node = DefaultNode::with_action(
            names[step].clone(),
            Step {
                step,
                load: shape.load.clone(),
            },
            &mut table,
        );
        ids.push(node.id());
        graph.add_node(node).expect("a new node");
    }
    for (step, children) in dag.children().into_iter().enumerate() {
        if !children.is_empty() {
            graph
                .add_edge(ids[step], children.iter().map(|&c| ids[c as usize]))
                .expect("known nodes");
        }
    }
    graph.set_env(EnvVar::new(table));
    graph.async_start().await.expect("dagrs runs the DAG");
    let results = graph.get_results::<u64>();
    checksum(
        shape
            .sinks
            .iter()
            .map(|&s| **results[&ids[s as usize]].as_ref().expect("a sink's output")),
    )
}
