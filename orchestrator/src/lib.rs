//! Define and run DAG workflows of async steps.
//!
//! See the [README](https://example.invalid/orchestrator) for a tour. Everything
//! of [`orchestrator_core`] is re-exported here.

pub use orchestrator_core::*;

#[doc(hidden)]
pub mod __private {
    //! Items used by the code the macros generate. Not public API.
}
