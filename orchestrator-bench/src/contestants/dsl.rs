//! Our DSL: each fixed shape written as one `#[step]` function per step and
//! one `workflow!`, generated at build time (see `codegen::dsl_module`).
//! Only the chain and the fan-out are generated: the 10,000-step and
//! 1,000,000-step shapes would take minutes to compile as source.

use std::sync::Arc;

use orchestrator::WorkflowEngine;

use super::{Contestant, Run, Shape, ShapeId, timed};

/// The shape, handed to the generated steps as the run's input (its load),
/// as the hand-written code gets the load as an argument.
pub struct ShapeRef(pub Arc<Shape>);

#[allow(clippy::all, missing_docs)]
mod generated {
    use super::ShapeRef;
    use orchestrator::{step, workflow};

    type Never = std::convert::Infallible;

    include!(concat!(env!("OUT_DIR"), "/dsl.rs"));

    /// Whether `Chain`'s and `FanOut`'s steps' futures fit the static path.
    pub fn fits_static() -> (bool, bool) {
        (
            __orchestrator_workflow_Chain::__orchestrator_static_fits(),
            __orchestrator_workflow_FanOut::__orchestrator_static_fits(),
        )
    }
}

/// The generated step functions of `shape`, whether they fit the static
/// path, or why it has none.
fn generated_for(shape: &Shape) -> Result<bool, String> {
    let (chain, fan_out) = generated::fits_static();
    match shape.id {
        ShapeId::Chain => Ok(chain),
        ShapeId::FanOut => Ok(fan_out),
        _ => Err(String::from(
            "not generated: too large to compile as DSL source",
        )),
    }
}

/// `#[step]` functions and `workflow!`.
pub struct Dsl;

/// The same `#[step]` functions awaited by hand, with no workflow
/// (`codegen::by_hand_fn`): sequential `.await`s along the chain, one
/// `futures::join!` across the fan-out's wide layer. Beside the limit,
/// which awaits one shared step function, it tells what `workflow!` adds
/// from what having a function per step costs.
pub struct ByHand;

impl Contestant for ByHand {
    fn name(&self) -> &'static str {
        "hand-written: the DSL's step fns"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        generated_for(shape)?;
        let shape = Arc::clone(shape);
        Ok(Box::new(move |runtime| {
            let shape = Arc::clone(&shape);
            timed(runtime, move || async move {
                let input = ShapeRef(Arc::clone(&shape));
                // Boxed, as the limit's are, so the task holds only the
                // future it runs.
                match shape.id {
                    ShapeId::Chain => Box::pin(generated::chain_by_hand(&input)).await,
                    _ => Box::pin(generated::fan_out_by_hand(&input)).await,
                }
            })
        }))
    }
}

impl Contestant for Dsl {
    fn name(&self) -> &'static str {
        "DSL: #[step] + workflow!"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        // Measured on the static path, or not at all: a workflow whose
        // steps' futures add up to more than its limit runs on the executor.
        if !generated_for(shape)? {
            return Err(String::from(
                "its steps' futures exceed the static path's limit: it would run on the executor",
            ));
        }
        let shape = Arc::clone(shape);
        let engine = WorkflowEngine::new();
        Ok(Box::new(move |runtime| {
            let (shape, engine) = (Arc::clone(&shape), engine.clone());
            timed(runtime, move || async move {
                let input = ShapeRef(Arc::clone(&shape));
                let result = match shape.id {
                    ShapeId::Chain => generated::Chain::run(&engine, input)
                        .await
                        .map(|out| generated::chain_checksum(&out)),
                    _ => generated::FanOut::run(&engine, input)
                        .await
                        .map(|out| generated::fan_out_checksum(&out)),
                };
                // A failed run reports 0, which the suite flags as a wrong result.
                result.unwrap_or(0)
            })
        }))
    }
}
