//! The limit: hand-written async code for the same DAG, with sequential
//! `.await`s and one join per layer, generated at build time for each fixed
//! shape (see `codegen.rs`). No scheduler, no task, one allocation (the
//! array of outputs).
//!
//! The big shape is too large to generate: there it is a plain loop over
//! the steps in order, awaiting each. For steps that never wait (the big
//! shape's are trivial), that is exactly what one `join!` per layer does.

use std::sync::Arc;

use super::{Contestant, Run, Shape, ShapeId, timed};
use crate::dag::{checksum, step_value};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/hand_written.rs"));
}

/// Hand-written `.await`s and `join!`s.
pub struct HandWritten;

impl Contestant for HandWritten {
    fn name(&self) -> &'static str {
        "hand-written async (limit)"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        let shape = Arc::clone(shape);
        Ok(Box::new(move |runtime| {
            let shape = Arc::clone(&shape);
            timed(runtime, move || async move {
                let load = &shape.load;
                // Each shape's future is boxed, so the task holds only the
                // one it runs (not the largest of them all).
                match shape.id {
                    ShapeId::Chain => Box::pin(generated::chain(load)).await,
                    ShapeId::FanOut => Box::pin(generated::fan_out(load)).await,
                    ShapeId::Layered | ShapeId::Sleep => Box::pin(generated::layered(load)).await,
                    ShapeId::Cpu => Box::pin(generated::cpu(load)).await,
                    ShapeId::Big => {
                        let dag = &shape.dag;
                        let mut out = vec![0u64; dag.len()];
                        for step in 0..dag.len() {
                            load.perform(step).await;
                            out[step] =
                                step_value(dag.parents(step).iter().map(|&p| out[p as usize]));
                        }
                        checksum(shape.sinks.iter().map(|&s| out[s as usize]))
                    }
                }
            })
        }))
    }
}
