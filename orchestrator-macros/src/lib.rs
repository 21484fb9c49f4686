//! Procedural macros of the [`orchestrator`](https://docs.rs/orchestrator)
//! crate: `#[step]` and `workflow!`.
//!
//! Use them through `orchestrator`, which re-exports them; the code they
//! generate names items of its hidden `__private` module. This crate is
//! only entry points: parsing (`attr.rs`), checks (`check.rs`) and
//! generation (`expand.rs`) each have their own file, and the graph
//! algorithms are
//! `orchestrator_core::graph`'s.

mod attr;
mod check;
mod duration;
mod errors;
mod expand;
mod krate;
mod step;
mod workflow;

use proc_macro::TokenStream;

/// Declares an async function as a workflow step. See `orchestrator::step`
/// for the documentation.
#[proc_macro_attribute]
pub fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    step::expand(args.into(), item.into()).into()
}

/// The start of `workflow!` (called by the facade's `macro_rules!` wrapper
/// with `$crate`). Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn workflow_entry(input: TokenStream) -> TokenStream {
    workflow::entry(input.into()).into()
}

/// The end of `workflow!`, called by the last step's macro with every
/// step's metadata. Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn workflow_finish(input: TokenStream) -> TokenStream {
    workflow::finish(input.into()).into()
}
