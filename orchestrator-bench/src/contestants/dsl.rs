//! Our DSL: each fixed shape written as one `#[step]` function per step and
//! one `workflow!`, generated at build time (see `codegen::dsl_module`).
//! Only the chain and the fan-out are generated: the 10,000-step and
//! 1,000,000-step shapes would take minutes to compile as source.

use std::sync::Arc;

use orchestrator::WorkflowEngine;

use super::{Contestant, Run, Shape, ShapeId, timed};

/// The shape, handed to the generated steps as a resource (its load).
pub struct ShapeRef(pub Arc<Shape>);

#[allow(clippy::all, missing_docs)]
mod generated {
    use super::ShapeRef;
    use orchestrator::{step, workflow};

    type Never = std::convert::Infallible;

    include!(concat!(env!("OUT_DIR"), "/dsl.rs"));
}

/// `#[step]` functions and `workflow!`.
pub struct Dsl;

impl Contestant for Dsl {
    fn name(&self) -> &'static str {
        "DSL: #[step] + workflow!"
    }

    fn prepare(&self, shape: &Arc<Shape>) -> Result<Run, String> {
        if !matches!(shape.id, ShapeId::Chain | ShapeId::FanOut) {
            return Err(String::from(
                "not generated: too large to compile as DSL source",
            ));
        }
        let shape = Arc::clone(shape);
        let engine = WorkflowEngine::builder()
            .resource(ShapeRef(Arc::clone(&shape)))
            .build();
        Ok(Box::new(move |runtime| {
            let (shape, engine) = (Arc::clone(&shape), engine.clone());
            timed(runtime, move || async move {
                let result = match shape.id {
                    ShapeId::Chain => generated::Chain::run(&engine, ())
                        .await
                        .map(|out| generated::chain_checksum(&out)),
                    _ => generated::FanOut::run(&engine, ())
                        .await
                        .map(|out| generated::fan_out_checksum(&out)),
                };
                // A failed run reports 0, which the suite flags as a wrong result.
                result.unwrap_or(0)
            })
        }))
    }
}
