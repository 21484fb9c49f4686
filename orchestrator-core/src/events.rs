//! Events: a live stream of what runs are doing.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::report::{SkipReason, StepStatus};

/// Something that happened in a run. Every event names its run and workflow.
#[derive(Debug, Clone)]
pub struct Event {
    /// The run's id, as in [`RunReport::run_id`](crate::RunReport::run_id).
    pub run_id: u64,
    /// The workflow's name.
    pub workflow: Arc<str>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened, in an [`Event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind {
    /// The run started, with this many steps.
    RunStarted {
        /// The number of steps.
        steps: usize,
    },
    /// The run ended.
    RunFinished {
        /// Whether every step succeeded (or was skipped by its rules).
        success: bool,
        /// How long it took.
        elapsed: Duration,
    },
    /// An attempt of a step started.
    StepStarted {
        /// The step.
        step: Arc<str>,
        /// The attempt, from 1.
        attempt: u32,
    },
    /// A step succeeded.
    StepSucceeded {
        /// The step.
        step: Arc<str>,
        /// How long it took, retries included.
        duration: Duration,
        /// How many attempts it took.
        attempts: u32,
    },
    /// A step failed on its last attempt.
    StepFailed {
        /// The step.
        step: Arc<str>,
        /// The failure, as text.
        error: String,
        /// How many attempts ran.
        attempts: u32,
    },
    /// An attempt failed and the step will be retried after `delay`.
    StepRetrying {
        /// The step.
        step: Arc<str>,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// The failure, as text.
        error: String,
    },
    /// A step was skipped.
    StepSkipped {
        /// The step.
        step: Arc<str>,
        /// Why.
        reason: SkipReason,
    },
    /// A step was cancelled (running or not yet started).
    StepCancelled {
        /// The step.
        step: Arc<str>,
        /// Why.
        reason: SkipReason,
    },
    /// A step's last attempt timed out.
    StepTimedOut {
        /// The step.
        step: Arc<str>,
        /// The step's timeout.
        timeout: Duration,
        /// How many attempts ran.
        attempts: u32,
    },
}

impl EventKind {
    /// The step this event is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Self::RunStarted { .. } | Self::RunFinished { .. } => None,
            Self::StepStarted { step, .. }
            | Self::StepSucceeded { step, .. }
            | Self::StepFailed { step, .. }
            | Self::StepRetrying { step, .. }
            | Self::StepSkipped { step, .. }
            | Self::StepCancelled { step, .. }
            | Self::StepTimedOut { step, .. } => Some(step),
        }
    }

    /// The final status this event announces, for step-ending events.
    pub fn final_status(&self) -> Option<StepStatus> {
        match self {
            Self::StepSucceeded { .. } => Some(StepStatus::Succeeded),
            Self::StepFailed { .. } => Some(StepStatus::Failed),
            Self::StepSkipped { .. } => Some(StepStatus::Skipped),
            Self::StepCancelled { .. } => Some(StepStatus::Cancelled),
            Self::StepTimedOut { .. } => Some(StepStatus::TimedOut),
            _ => None,
        }
    }
}

/// A subscription to an engine's events, from
/// [`WorkflowEngine::subscribe`](crate::WorkflowEngine::subscribe).
///
/// It is a [`Stream`] of [`Event`]s; [`recv`](Self::recv) reads one without
/// `StreamExt`. A subscriber that falls more than the engine's event
/// capacity behind loses the oldest events; [`missed`](Self::missed) counts
/// them. The stream ends when the engine and every run are gone.
pub struct EventStream {
    inner: BroadcastStream<Event>,
    missed: u64,
}

impl EventStream {
    pub(crate) fn new(receiver: broadcast::Receiver<Event>) -> Self {
        Self {
            inner: BroadcastStream::new(receiver),
            missed: 0,
        }
    }

    /// The next event, or `None` once no more can come.
    pub async fn recv(&mut self) -> Option<Event> {
        futures::StreamExt::next(self).await
    }

    /// How many events this subscriber lost by falling behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                    self.missed += n;
                }
                Poll::Ready(Some(Ok(event))) => return Poll::Ready(Some(event)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("missed", &self.missed)
            .finish_non_exhaustive()
    }
}
