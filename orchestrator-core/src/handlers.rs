//! A workflow's step handlers, stored by type.
//!
//! Steps added one after another with the same handler type (a loop over
//! an agent's plan or a workflow file adds every step with one closure)
//! share one block: their handlers sit side by side in one vector, rather
//! than each in an allocation of its own. Building a workflow then costs
//! no allocation per step for its handler, and dropping it no reference
//! count per step. A workflow whose every step has a type of its own (what
//! `workflow!` generates) has one block per step, as each step had one
//! allocation before.
//!
//! A step's future is boxed (its type is erased), in a box the next step
//! with the same handler type takes over once this one has finished
//! ([`StepSlot::refill`]): a run of such steps allocates no box per step.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::context::StepContext;
use crate::error::BoxError;
use crate::report::Output;
use crate::workflow::{ErasedHandler, StepFuture};

/// A step's future in its box, which the future of a later step with the
/// same handler type can take over once this one has finished: a chain
/// of steps added with one closure runs with no allocation per step for
/// its futures.
pub(crate) trait StepSlot: Future<Output = Result<Output, BoxError>> + Send {
    /// Puts the future of the handler at `slot` of `block` for `ctx` in
    /// place of this one (which is dropped), when `block` holds handlers of
    /// this future's type; else gives `ctx` back.
    fn refill(
        self: Pin<&mut Self>,
        block: &dyn Any,
        slot: u32,
        ctx: StepContext,
    ) -> Result<(), StepContext>;
}

pin_project_lite::pin_project! {
    /// The future of a handler of type `H`.
    struct Slot<H: ErasedHandler> {
        #[pin]
        fut: H::Fut,
    }
}

impl<H: ErasedHandler> Future for Slot<H> {
    type Output = Result<Output, BoxError>;

    #[inline]
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.project().fut.poll(cx)
    }
}

impl<H: ErasedHandler> StepSlot for Slot<H> {
    fn refill(
        self: Pin<&mut Self>,
        block: &dyn Any,
        slot: u32,
        ctx: StepContext,
    ) -> Result<(), StepContext> {
        match block.downcast_ref::<Run<H>>() {
            Some(run) => {
                self.project().fut.set(run.get(slot).call(ctx));
                Ok(())
            }
            None => Err(ctx),
        }
    }
}

/// Where a step's handler is: a block of [`Handlers`] and its place in it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HandlerRef {
    block: u32,
    slot: u32,
}

/// Handlers of one type, in the order their steps were added.
trait Block: Any + Send + Sync {
    fn call(&self, slot: u32, ctx: StepContext) -> StepFuture;
    fn output_type(&self) -> fn() -> &'static str;
    fn is_branch(&self) -> bool;
    /// How many handlers after the first the block has room for.
    #[cfg(test)]
    fn room(&self) -> usize;
}

/// The first handler of a block is held inline: a block of one (a type
/// used by one step) costs one allocation, as a handler of its own would.
struct Run<H> {
    first: H,
    rest: Vec<H>,
}

impl<H> Run<H> {
    fn get(&self, slot: u32) -> &H {
        match (slot as usize).checked_sub(1) {
            None => &self.first,
            Some(i) => &self.rest[i],
        }
    }
}

impl<H: ErasedHandler> Block for Run<H> {
    fn call(&self, slot: u32, ctx: StepContext) -> StepFuture {
        Box::pin(Slot::<H> {
            fut: self.get(slot).call(ctx),
        })
    }

    fn output_type(&self) -> fn() -> &'static str {
        self.first.output_type()
    }

    fn is_branch(&self) -> bool {
        self.first.is_branch()
    }

    #[cfg(test)]
    fn room(&self) -> usize {
        self.rest.capacity()
    }
}

/// Every handler of a workflow. Cloning it shares the blocks; a block
/// shared with a clone is never added to, so each clone keeps the
/// handlers it had.
#[derive(Clone, Default)]
pub(crate) struct Handlers {
    blocks: Vec<Arc<dyn Block>>,
    /// How many more handlers [`Workflow::reserve`](crate::Workflow::reserve)
    /// said to expect: a block's vector, when it first grows, makes room
    /// for all of them rather than doubling its way there.
    expected: usize,
}

impl Handlers {
    /// Stores `handler`: in the last block when that holds handlers of the
    /// same type and is not shared, else in a new block.
    #[inline]
    pub(crate) fn push<H: ErasedHandler>(&mut self, handler: H) -> HandlerRef {
        let expected = self.expected.saturating_sub(1);
        self.expected = expected;
        let last_block = saturate(self.blocks.len().saturating_sub(1));
        if let Some(last) = self.blocks.last_mut() {
            // The type first: a reference count is looked at only when it
            // matches.
            let any: &dyn Any = &**last;
            if any.is::<Run<H>>() {
                let run = Arc::get_mut(last).and_then(|block| {
                    let any: &mut dyn Any = block;
                    any.downcast_mut::<Run<H>>()
                });
                if let Some(run) = run {
                    if run.rest.len() == run.rest.capacity() {
                        // This handler and every one still expected.
                        run.rest.reserve(expected + 1);
                    }
                    run.rest.push(handler);
                    return HandlerRef {
                        block: last_block,
                        slot: saturate(run.rest.len()),
                    };
                }
            }
        }
        self.push_block(Arc::new(Run {
            first: handler,
            rest: Vec::new(),
        }))
    }

    /// Expects `additional` more handlers (see [`Handlers::expected`]).
    pub(crate) fn expect(&mut self, additional: usize) {
        self.expected = additional;
    }

    /// The part of [`push`](Self::push) that does not depend on the
    /// handler's type.
    fn push_block(&mut self, block: Arc<dyn Block>) -> HandlerRef {
        self.blocks.push(block);
        HandlerRef {
            block: saturate(self.blocks.len() - 1),
            slot: 0,
        }
    }

    fn block(&self, at: HandlerRef) -> &dyn Block {
        &*self.blocks[at.block as usize]
    }

    /// Calls the handler at `at`.
    pub(crate) fn call(&self, at: HandlerRef, ctx: StepContext) -> StepFuture {
        self.block(at).call(at.slot, ctx)
    }

    /// Calls the handler at `at`, its future in `spare` when that is a box
    /// of the same handler type's future, else in a new box.
    pub(crate) fn call_reusing(
        &self,
        at: HandlerRef,
        ctx: StepContext,
        spare: Option<StepFuture>,
    ) -> StepFuture {
        let block = self.block(at);
        let ctx = match spare {
            Some(mut fut) => {
                let any: &dyn Any = block;
                match fut.as_mut().refill(any, at.slot, ctx) {
                    Ok(()) => return fut,
                    Err(ctx) => ctx,
                }
            }
            None => ctx,
        };
        block.call(at.slot, ctx)
    }

    /// Whether any handler produces a [`Branch`](crate::Branch).
    pub(crate) fn any_branch(&self) -> bool {
        self.blocks.iter().any(|block| block.is_branch())
    }

    /// The name of the type the handler at `at` produces, as a function.
    pub(crate) fn output_type(&self, at: HandlerRef) -> fn() -> &'static str {
        self.block(at).output_type()
    }

    /// Whether the handler at `at` produces a [`Branch`](crate::Branch).
    pub(crate) fn is_branch(&self, at: HandlerRef) -> bool {
        self.block(at).is_branch()
    }
}

/// A place as 32 bits. A workflow with more steps than that is refused by
/// validation before it runs (see `FORWARD`), so a saturated place is
/// never called.
fn saturate(place: usize) -> u32 {
    u32::try_from(place).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::FnHandler;

    /// A handler producing a `T`: one type per `T`.
    fn handler<T: Default + Send + Sync + 'static>() -> impl ErasedHandler {
        FnHandler::new(|_ctx: StepContext| async { Ok::<_, crate::BoxError>(T::default()) })
    }

    impl Handlers {
        fn blocks(&self) -> usize {
            self.blocks.len()
        }
    }

    #[test]
    fn handlers_of_one_type_added_in_a_row_share_a_block_and_keep_their_places() {
        let mut handlers = Handlers::default();
        let places: Vec<HandlerRef> = (0..5).map(|_| handlers.push(handler::<u64>())).collect();
        assert_eq!(handlers.blocks(), 1);
        let slots: Vec<(u32, u32)> = places.iter().map(|p| (p.block, p.slot)).collect();
        assert_eq!(slots, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]);
        assert_eq!(handlers.output_type(places[3])(), "u64");
    }

    #[test]
    fn a_handler_of_another_type_starts_a_block_and_each_block_keeps_its_type() {
        let mut handlers = Handlers::default();
        let a = handlers.push(handler::<u64>());
        let b = handlers.push(handler::<String>());
        let c = handlers.push(handler::<u64>());
        let branch = handlers.push(handler::<crate::Branch>());
        assert_eq!(handlers.blocks(), 4);
        assert_eq!((a.block, b.block, c.block), (0, 1, 2));
        assert_eq!(handlers.output_type(b)(), "alloc::string::String");
        assert_eq!(handlers.output_type(c)(), "u64");
        assert!(handlers.is_branch(branch));
        assert!(!handlers.is_branch(a));
    }

    #[test]
    fn a_block_makes_room_once_for_every_handler_expected() {
        let mut handlers = Handlers::default();
        handlers.expect(100);
        for i in 0..100u64 {
            // A handler with a capture: a vector of a zero-sized type
            // never allocates.
            handlers.push(FnHandler::new(move |_ctx: StepContext| async move {
                Ok::<_, crate::BoxError>(i)
            }));
        }
        assert_eq!(handlers.blocks(), 1);
        // Without the expectation the vector doubles its way to 128.
        assert_eq!(handlers.blocks[0].room(), 99);
    }

    #[test]
    fn a_block_shared_with_a_clone_is_not_added_to() {
        let mut handlers = Handlers::default();
        handlers.push(handler::<u64>());
        let clone = handlers.clone();
        let next = handlers.push(handler::<u64>());
        assert_eq!((next.block, next.slot), (1, 0), "a new block");
        assert_eq!(clone.blocks(), 1);
        // Once the clone is gone the new last block is this one's alone.
        drop(clone);
        let after = handlers.push(handler::<u64>());
        assert_eq!((after.block, after.slot), (1, 1));
    }
}
