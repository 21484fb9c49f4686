//! What a `workflow!` type's static run keeps of its steps, and the report
//! made from it.
//!
//! A run whose every step succeeded keeps only when each step started and
//! how long it ran ([`Span`]s): its typed outputs already hold what a
//! caller reads most, and the report (a [`StepReport`] per step, each
//! output erased) is made from both the first time it is asked for
//! ([`LazyReport`]). Making it as the steps ended cost a trivial step about
//! twice as much as running it (81 against 27 ns a step on a 1,000-step
//! chain). From the first step that does not succeed, a run makes every
//! step's report as it goes, for the skip reasons and for
//! [`RunError`](crate::dsl::RunError).

use std::sync::{Arc, OnceLock};

use crate::report::{Output, RunReport, StepOutput, StepReport, StepStatus};
use crate::workflow::WorkflowInner;

/// When a step started, in nanoseconds since its run started, and how long
/// it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) started: u64,
    pub(crate) duration: u64,
}

impl Span {
    /// The span of a step that never started.
    pub(crate) const NEVER: Span = Span {
        started: u64::MAX,
        duration: 0,
    };
}

/// What a static run measured of its steps: their spans, from its start.
pub(crate) struct Ran {
    pub(crate) workflow: Arc<WorkflowInner>,
    /// When the run started, in nanoseconds since the Unix epoch.
    pub(crate) epoch_nanos: u64,
    /// Each step's span, by position.
    pub(crate) spans: Vec<Span>,
}

impl Ran {
    /// A report of each step: succeeded, with its one attempt and timing,
    /// if it started; pending otherwise. No outputs.
    pub(crate) fn records(&self) -> Vec<StepReport> {
        let mut records = self.workflow.pending_records();
        for (record, span) in records.iter_mut().zip(&self.spans) {
            if *span == Span::NEVER {
                continue;
            }
            record.attempts = 1;
            record.set_timing_nanos(self.epoch_nanos.saturating_add(span.started), span.duration);
            record.status = Some(StepStatus::Succeeded);
        }
        records
    }
}

/// How a static run of a `workflow!` type ended, from which its report is
/// made: by `FusedRun::finish` or `StaticRun::drive`.
pub struct RunRecord {
    /// The report; with no steps' reports yet while `ran` holds them.
    report: RunReport,
    /// The spans of a run whose every step succeeded, until its report
    /// is made.
    ran: Option<Ran>,
}

impl RunRecord {
    /// A run whose every step succeeded: the steps' reports are made from
    /// `ran` when asked for.
    pub(crate) fn succeeded(report: RunReport, ran: Ran) -> Self {
        Self {
            report,
            ran: Some(ran),
        }
    }

    /// A run whose report is made, but for the outputs of its steps that
    /// succeeded (see [`RunRecord::into_report`]).
    pub(crate) fn made(report: RunReport) -> Self {
        Self { report, ran: None }
    }

    /// Whether every step succeeded (or was skipped by its trigger rule):
    /// the run's outputs are then the caller's, and its report is made only
    /// if asked for.
    pub fn is_success(&self) -> bool {
        self.ran.is_some() || self.report.is_success()
    }

    /// The report, with `outputs` (each step's output erased, by
    /// position: see [`erased`]) for the steps that succeeded and have
    /// none yet.
    pub fn into_report(self, outputs: Vec<Option<Output>>) -> RunReport {
        with_outputs(self.report, self.ran.as_ref(), outputs)
    }
}

impl std::fmt::Debug for RunRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRecord")
            .field("report", &self.report)
            .field("steps_pending", &self.ran.is_some())
            .finish()
    }
}

/// `report`, its steps' reports made from `ran` if it is given, with
/// each step that succeeded with no output given its output from
/// `outputs`, by position.
fn with_outputs(
    mut report: RunReport,
    ran: Option<&Ran>,
    outputs: Vec<Option<Output>>,
) -> RunReport {
    if let Some(ran) = ran {
        report.steps = ran.records();
    }
    for (record, output) in report.steps.iter_mut().zip(outputs) {
        if record.status == Some(StepStatus::Succeeded) && record.output.is_none() {
            record.output = output;
        }
    }
    report
}

/// A typed output (or an empty slot) erased, for a report made from a
/// [`RunRecord`]: the same value, or the same shared pointer.
pub fn erased<T: Send + Sync + 'static>(output: Option<&StepOutput<T>>) -> Option<Output> {
    output.map(Output::from_typed)
}

/// The report of a `workflow!` type's outputs: made when the run ended, or
/// when first asked for ([`LazyReport::get`]).
pub struct LazyReport {
    record: RunRecord,
    made: OnceLock<RunReport>,
}

impl LazyReport {
    /// The report, made on the first call from the run's record and
    /// `outputs` (each step's output erased, by position: see [`erased`]),
    /// which is not called again.
    pub fn get(&self, outputs: impl FnOnce() -> Vec<Option<Output>>) -> &RunReport {
        let Some(ran) = &self.record.ran else {
            return &self.record.report;
        };
        self.made
            .get_or_init(|| with_outputs(self.record.report.clone(), Some(ran), outputs()))
    }
}

impl std::fmt::Debug for LazyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyReport")
            .field("record", &self.record)
            .field("made", &self.made.get())
            .finish()
    }
}

impl From<RunRecord> for LazyReport {
    fn from(record: RunRecord) -> Self {
        Self {
            record,
            made: OnceLock::new(),
        }
    }
}

impl From<RunReport> for LazyReport {
    fn from(report: RunReport) -> Self {
        RunRecord::made(report).into()
    }
}
