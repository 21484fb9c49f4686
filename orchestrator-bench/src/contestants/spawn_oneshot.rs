//! Hand-written `tokio::spawn` per step with a oneshot channel per edge:
//! what a person writes for a DAG known only at run time, without a
//! library.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Contestant, Run, Shape, timed};
use crate::dag::{checksum, step_value};

/// One task per step, one oneshot per edge.
pub struct SpawnOneshot;

impl Contestant for SpawnOneshot {
    fn name(&self) -> &'static str {
        "tokio::spawn + oneshot"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        let shape = Arc::clone(shape);
        Ok(Box::new(move |runtime| {
            let shape = Arc::clone(&shape);
            timed(runtime, move || run(shape))
        }))
    }
}

async fn run(shape: Arc<Shape>) -> u64 {
    let dag = &shape.dag;
    let n = dag.len();
    let mut senders: Vec<Vec<oneshot::Sender<u64>>> = (0..n).map(|_| Vec::new()).collect();
    let mut receivers: Vec<Vec<oneshot::Receiver<u64>>> = Vec::with_capacity(n);
    for step in 0..n {
        let parents = dag.parents(step);
        let mut inputs = Vec::with_capacity(parents.len());
        for &p in parents {
            let (tx, rx) = oneshot::channel();
            senders[p as usize].push(tx);
            inputs.push(rx);
        }
        receivers.push(inputs);
    }
    let mut is_sink = vec![false; n];
    for &s in &shape.sinks {
        is_sink[s as usize] = true;
    }
    let mut sinks = Vec::with_capacity(shape.sinks.len());
    for (step, (inputs, outputs)) in receivers.into_iter().zip(senders).enumerate() {
        let shape = Arc::clone(&shape);
        let task = tokio::spawn(async move {
            let mut sum = 0u64;
            for input in inputs {
                sum = sum.wrapping_add(input.await.expect("a parent sends before it ends"));
            }
            shape.load.perform(step).await;
            let value = step_value([sum]);
            for output in outputs {
                let _ = output.send(value);
            }
            value
        });
        if is_sink[step] {
            sinks.push(task);
        }
    }
    let mut values = Vec::with_capacity(sinks.len());
    for sink in sinks {
        values.push(sink.await.expect("a step panicked"));
    }
    checksum(values)
}
