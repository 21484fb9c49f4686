//! Procedural macros of the [`orchestrator`](https://docs.rs/orchestrator)
//! crate. Use them through `orchestrator`, which re-exports them: the code
//! they generate names items of its hidden `__private` module.
