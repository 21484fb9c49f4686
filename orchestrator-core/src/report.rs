//! The run report: what every step did, for the verify phase.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::step_name::StepName;

use crate::error::{BoxError, RunFailed};

/// Declares [`Output`] with one inline variant per small type listed.
macro_rules! outputs {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// How an [`Output`] holds its value.
        #[derive(Clone)]
        enum Repr {
            /// A value of any other type.
            Shared(Arc<dyn Any + Send + Sync>),
            /// A value of one of the small types, inline: one `Copy` value,
            /// so a clone copies its 16 bytes whole (a variant per type,
            /// each cloned on its own, copied a few bytes at a time and
            /// read them back wider, which stalls the processor).
            Inline(Small),
        }

        impl Output {
            /// `value`, erased: inline when its type is one of the small
            /// ones (the check folds to a constant for each `T`).
            pub(crate) fn new<T: Any + Send + Sync>(value: T) -> Self {
                let any: &dyn Any = &value;
                $(
                    if let Some(&small) = any.downcast_ref::<$ty>() {
                        return Self(Repr::Inline(Small::$variant(small)));
                    }
                )*
                Self(Repr::Shared(Arc::new(value)))
            }

            /// `value`, typed, as a step's slot holds it: inline when its
            /// type is one of the small ones (the checks fold to constants
            /// for each `T`), otherwise behind a shared pointer that a
            /// report made later shares ([`Output::from_typed`]).
            pub(crate) fn typed_only<T: Any + Send + Sync>(value: T) -> StepOutput<T> {
                let any: &dyn Any = &value;
                $(
                    if let Some(&small) = any.downcast_ref::<$ty>() {
                        return StepOutput(Held::Inline(Small::$variant(small)));
                    }
                )*
                StepOutput(Held::Shared(Arc::new(value)))
            }

            /// `typed`'s value, erased: a copy of an inline value, or the
            /// shared pointer it holds.
            pub(crate) fn from_typed<T: Any + Send + Sync>(typed: &StepOutput<T>) -> Self {
                match &typed.0 {
                    Held::Shared(value) => Self(Repr::Shared(Arc::clone(value) as _)),
                    Held::Inline(small) => Self(Repr::Inline(*small)),
                }
            }

            /// The value as a [`StepOutput<T>`], if it is a `T`: the stored
            /// pointer, or a copy of an inline value.
            pub(crate) fn typed<T: Any + Send + Sync>(&self) -> Option<StepOutput<T>> {
                match &self.0 {
                    Repr::Shared(value) => Arc::clone(value)
                        .downcast::<T>()
                        .ok()
                        .map(|value| StepOutput(Held::Shared(value))),
                    Repr::Inline(small) => small
                        .get::<T>()
                        .map(|_| StepOutput(Held::Inline(*small))),
                }
            }
        }

        /// A value of one of the small types, as a [`StepOutput`] holds it
        /// inline: at most 8 bytes and a tag, whatever its step's type.
        #[derive(Clone, Copy)]
        enum Small {
            $($variant($ty),)*
        }

        impl fmt::Debug for Output {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match &self.0 {
                    Repr::Shared(value) => value.fmt(f),
                    $(Repr::Inline(Small::$variant(value)) => value.fmt(f),)*
                }
            }
        }

        impl Small {
            /// The value as a `T`, if it is one (the check folds to a
            /// constant in each arm).
            fn get<T: Any>(&self) -> Option<&T> {
                match self {
                    $(Self::$variant(value) => (value as &dyn Any).downcast_ref::<T>(),)*
                }
            }

            /// The value moved out as a `T`, if it is one.
            fn take<T: Any>(self) -> Option<T> {
                match self {
                    $(Self::$variant(value) => cast::<$ty, T>(value),)*
                }
            }
        }
    };
}

/// A step's output, type-erased as the engine stores it. Read it typed
/// with [`RunReport::output`] or [`StepReport::output`].
///
/// A value of a small primitive type (`()`, `bool`, `char`, the integers
/// and floats up to 64 bits) is kept inline; anything else behind one
/// shared pointer. Steps that return a count, a flag or nothing at all
/// (the side-effect steps of a pipeline) then cost no allocation for
/// their output.
#[derive(Clone)]
pub struct Output(Repr);

outputs!(
    Unit(()),
    Bool(bool),
    Char(char),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Usize(usize),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Isize(isize),
    F32(f32),
    F64(f64),
);

/// `value` as a `T`, when `S` is `T` (a safe identity cast: the check
/// folds to a constant for each pair of types).
fn cast<S: Any, T: Any>(value: S) -> Option<T> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

/// What a [`StepOutput<T>`] holds inline: it is made so only from a `T`.
fn inline<V>(value: Option<V>) -> V {
    match value {
        Some(value) => value,
        None => unreachable!("a `StepOutput<T>` holds inline only a `T`"),
    }
}

/// A step's output as its own type `T`, read through [`Deref`]: how a
/// `workflow!` type's outputs hold each step's value (`out.fix` derefs to
/// the `Patch` step `fix` returned).
///
/// As in the run's report, a value of a small primitive type (`()`,
/// `bool`, `char`, the integers and floats up to 64 bits) is held inline,
/// any other behind one shared pointer, the same one the report holds:
/// the value is never cloned, and `T` need not be `Clone`.
///
/// [`Deref`]: std::ops::Deref
pub struct StepOutput<T>(Held<T>);

/// How a [`StepOutput`] holds its value.
enum Held<T> {
    /// A value of a small primitive type (a `T`).
    Inline(Small),
    /// Any other value, shared with the report.
    Shared(Arc<T>),
}

impl<T: Any + Send + Sync> StepOutput<T> {
    /// The value behind a shared pointer: the report's own for a value
    /// held shared, a new one for a small value held inline.
    pub fn into_arc(self) -> Arc<T> {
        match self.0 {
            Held::Inline(small) => Arc::new(inline(small.take())),
            Held::Shared(value) => value,
        }
    }
}

impl<T: Any> std::ops::Deref for StepOutput<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.0 {
            Held::Inline(small) => inline(small.get()),
            Held::Shared(value) => value,
        }
    }
}

impl<T: Any> AsRef<T> for StepOutput<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: Any> std::borrow::Borrow<T> for StepOutput<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T> Clone for StepOutput<T> {
    fn clone(&self) -> Self {
        match &self.0 {
            Held::Shared(value) => Self(Held::Shared(Arc::clone(value))),
            Held::Inline(small) => Self(Held::Inline(*small)),
        }
    }
}

impl<T: Any + fmt::Debug> fmt::Debug for StepOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Any + fmt::Display> fmt::Display for StepOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Any + PartialEq> PartialEq for StepOutput<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Any + Eq> Eq for StepOutput<T> {}

impl<T: Any + PartialOrd> PartialOrd for StepOutput<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Any + Ord> Ord for StepOutput<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: Any + std::hash::Hash> std::hash::Hash for StepOutput<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl Output {
    /// The value as a shared `T`: the stored pointer, or a new one for an
    /// inline value.
    pub(crate) fn to_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.typed::<T>().map(StepOutput::into_arc)
    }

    /// The value as a `T`, if it is one.
    ///
    /// Inline, the check folds to a constant in each arm ([`Small::get`]),
    /// so reading a step's `u64` input is a tag compare rather than a
    /// call through `dyn Any` to ask the value its type.
    #[inline]
    pub(crate) fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match &self.0 {
            Repr::Shared(value) => value.downcast_ref::<T>(),
            Repr::Inline(small) => small.get::<T>(),
        }
    }
}

/// `time` in nanoseconds since the Unix epoch, as a report stores it (0
/// before the epoch, saturating far after it).
pub(crate) fn epoch_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// The final state of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepStatus {
    /// The step returned `Ok`.
    Succeeded,
    /// The step returned `Err` or panicked on its last attempt.
    Failed,
    /// The step did not run: its trigger rule did not hold (by default, an
    /// upstream step did not succeed).
    Skipped,
    /// The run was cancelled (by a handle, a run timeout or fail-fast)
    /// before the step finished.
    Cancelled,
    /// The step's last attempt exceeded its timeout.
    TimedOut,
}

impl StepStatus {
    /// `Failed` or `TimedOut`: the step ran and did not succeed.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }

    /// The lowercase name used in tables and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed out",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attempt of a step failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StepFailure {
    /// The handler returned an error.
    Error(Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// The handler panicked; the panic's message.
    Panic(String),
    /// The attempt ran longer than the step's timeout.
    TimedOut(Duration),
}

impl StepFailure {
    /// Wraps an error (anything a handler may return).
    pub fn from_error(error: impl Into<BoxError>) -> Self {
        Self::Error(Arc::from(error.into()))
    }

    /// Whether the handler panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, Self::Panic(_))
    }

    /// Whether the attempt timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut(_))
    }

    /// The handler's error as its own type, if it returned one of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Self::Error(error) => error.downcast_ref::<E>(),
            _ => None,
        }
    }

    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            String::from("a panic payload that is not a string")
        };
        Self::Panic(message)
    }
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error(error) => write!(f, "{error}"),
            Self::Panic(message) => write!(f, "panicked: {message}"),
            Self::TimedOut(limit) => write!(f, "timed out after {limit:?}"),
        }
    }
}

/// Why a step was skipped or cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// An upstream step did not succeed; `step` is the step where the
    /// trouble started (for a chain of skips, the original failed step).
    Upstream {
        /// The upstream step that did not succeed.
        step: String,
        /// What happened to it.
        status: StepStatus,
    },
    /// The step's condition was false.
    Condition,
    /// A branch step chose other dependents.
    NotChosen {
        /// The branch step.
        branch: String,
    },
    /// The step's trigger rule did not hold for its dependencies' states.
    TriggerRule {
        /// The rule, as written (`one_failed`, …).
        rule: &'static str,
    },
    /// The run was cancelled through its handle.
    RunCancelled,
    /// The run exceeded its timeout.
    RunTimedOut(Duration),
    /// Fail-fast stopped the run after this step failed.
    FailFast {
        /// The step whose failure stopped the run.
        step: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upstream { step, status } => write!(f, "upstream step `{step}` {status}"),
            Self::Condition => f.write_str("condition"),
            Self::NotChosen { branch } => write!(f, "not chosen by branch `{branch}`"),
            Self::TriggerRule { rule } => write!(f, "trigger rule `{rule}` did not hold"),
            Self::RunCancelled => f.write_str("the run was cancelled"),
            Self::RunTimedOut(limit) => write!(f, "the run timed out after {limit:?}"),
            Self::FailFast { step } => write!(f, "fail-fast: step `{step}` failed"),
        }
    }
}

/// What one step did in a run.
///
/// Compact (88 bytes) because a run of a million steps keeps a million of
/// them: what only some steps have (a failure, a skip reason, nested runs)
/// lives behind one pointer, and a name of up to 23 bytes is inline.
#[derive(Clone)]
pub struct StepReport {
    pub(crate) name: StepName,
    pub(crate) output: Option<Output>,
    pub(crate) output_type: fn() -> &'static str,
    /// When the first attempt started, in nanoseconds since the Unix epoch;
    /// 0 when it never started.
    pub(crate) started_nanos: u64,
    /// The step's duration in nanoseconds; `u64::MAX` when it never ran.
    pub(crate) duration_nanos: u64,
    pub(crate) attempts: u32,
    /// `None` while the run has not settled the step.
    pub(crate) status: Option<StepStatus>,
    pub(crate) detail: Option<Box<StepDetail>>,
}

/// The parts of a step's report that only some steps have.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepDetail {
    pub(crate) failure: Option<StepFailure>,
    pub(crate) reason: Option<SkipReason>,
    pub(crate) nested: Vec<RunReport>,
}

impl StepReport {
    /// The report of a step that has not started.
    pub(crate) fn pending(name: StepName, output_type: fn() -> &'static str) -> Self {
        Self {
            name,
            output: None,
            output_type,
            started_nanos: 0,
            duration_nanos: u64::MAX,
            attempts: 0,
            status: None,
            detail: None,
        }
    }

    pub(crate) fn detail_mut(&mut self) -> &mut StepDetail {
        self.detail.get_or_insert_default()
    }

    /// Records when the step started, in nanoseconds since the Unix epoch
    /// (see [`epoch_nanos`]), and how many nanoseconds it took.
    pub(crate) fn set_timing_nanos(&mut self, started_nanos: u64, duration_nanos: u64) {
        self.started_nanos = started_nanos.max(1);
        self.duration_nanos = duration_nanos.min(u64::MAX - 1);
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The step's output as a shared `T`, to keep beyond the report.
    ///
    /// An output of a small primitive type (`()`, `bool`, `char`, an
    /// integer or float of up to 64 bits) is stored inline, not behind a
    /// pointer: each call makes a new `Arc` of a copy of it.
    pub fn output_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.output.as_ref()?.to_arc::<T>()
    }

    /// The step's final status (`Cancelled` for a step the run never
    /// reached).
    pub fn status(&self) -> StepStatus {
        self.status.unwrap_or(StepStatus::Cancelled)
    }

    /// The step's output as `T`, if it succeeded and produced a `T`.
    pub fn output<T: Any>(&self) -> Option<&T> {
        self.output.as_ref()?.downcast_ref::<T>()
    }

    /// The name of the type the step's handler produces.
    pub fn output_type(&self) -> &'static str {
        (self.output_type)()
    }

    /// Why the last attempt failed (for `Failed` and `TimedOut` steps).
    pub fn failure(&self) -> Option<&StepFailure> {
        self.detail.as_ref()?.failure.as_ref()
    }

    /// Why the step was skipped or cancelled.
    pub fn reason(&self) -> Option<&SkipReason> {
        self.detail.as_ref()?.reason.as_ref()
    }

    /// A one-line explanation of a step that did not succeed.
    pub fn error_message(&self) -> Option<String> {
        match (self.failure(), self.reason()) {
            (Some(failure), _) => Some(failure.to_string()),
            (None, Some(reason)) => Some(reason.to_string()),
            (None, None) if self.status() != StepStatus::Succeeded => {
                Some(self.status().to_string())
            }
            (None, None) => None,
        }
    }

    /// How many attempts ran (0 for a step that never started).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the first attempt started.
    ///
    /// Runs read the clock once per step, so a step that starts right
    /// after another finished (or began waiting) in the same wake-up of
    /// the run starts when that one did: its time includes the run's
    /// bookkeeping in between, well under a microsecond.
    pub fn started_at(&self) -> Option<SystemTime> {
        (self.started_nanos != 0)
            .then(|| SystemTime::UNIX_EPOCH + Duration::from_nanos(self.started_nanos))
    }

    /// From the first attempt's start to the step's end, retries and
    /// backoff included.
    pub fn duration(&self) -> Option<Duration> {
        (self.duration_nanos != u64::MAX).then(|| Duration::from_nanos(self.duration_nanos))
    }

    /// The reports of the runs this step made: one per iteration of a loop,
    /// per attempt of a gate, or the one run of a sub-workflow.
    pub fn nested(&self) -> &[RunReport] {
        self.detail.as_ref().map_or(&[], |d| &d.nested)
    }
}

impl fmt::Debug for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepReport")
            .field("name", &self.name)
            .field("status", &self.status())
            .field("output", &self.output)
            .field("output_type", &self.output_type())
            .field("failure", &self.failure())
            .field("reason", &self.reason())
            .field("attempts", &self.attempts)
            .field("started_at", &self.started_at())
            .field("duration", &self.duration())
            .field("nested", &self.nested())
            .finish()
    }
}

/// How a run as a whole ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// Every step reached a final state on its own.
    Completed,
    /// The run was cancelled through its handle.
    Cancelled,
    /// The run exceeded its timeout.
    TimedOut,
    /// A step failed and the run was set to fail fast.
    FailedFast,
}

/// How many steps ended in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Steps that succeeded.
    pub succeeded: usize,
    /// Steps that failed.
    pub failed: usize,
    /// Steps that were skipped.
    pub skipped: usize,
    /// Steps that were cancelled.
    pub cancelled: usize,
    /// Steps that timed out.
    pub timed_out: usize,
}

/// The report of one run: every step's status, output and timing.
///
/// `Display` prints a table:
///
/// ```text
/// workflow `code_review` run 1: succeeded in 1.20s (4 succeeded)
///   step     status     attempts  duration  detail
///   scan     succeeded  1         300.1ms
///   ...
/// ```
#[derive(Debug, Clone)]
pub struct RunReport {
    pub(crate) workflow: Arc<str>,
    pub(crate) run_id: u64,
    pub(crate) outcome: RunOutcome,
    pub(crate) started_at: SystemTime,
    pub(crate) elapsed: Duration,
    pub(crate) steps: Vec<StepReport>,
    /// Step name to position, shared with the workflow's plan.
    pub(crate) index: Option<Arc<crate::names::NameIndex>>,
}

impl RunReport {
    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }

    /// The run's id, unique per engine.
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// How the run ended.
    pub fn outcome(&self) -> RunOutcome {
        self.outcome
    }

    /// When the run started.
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// How long the run took.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Every step, in the order they were added to the workflow.
    pub fn steps(&self) -> &[StepReport] {
        &self.steps
    }

    /// The step named `name`.
    pub fn step(&self, name: &str) -> Option<&StepReport> {
        match &self.index {
            Some(index) => index
                .get(name, |i| self.steps.get(i).map_or("", |s| &s.name))
                .and_then(|i| self.steps.get(i)),
            None => self.steps.iter().find(|s| s.name.is(name)),
        }
    }

    /// The status of the step named `name`.
    pub fn status(&self, name: &str) -> Option<StepStatus> {
        self.step(name).map(StepReport::status)
    }

    /// The output of the step named `name` as `T`, if it succeeded with one.
    pub fn output<T: Any>(&self, name: &str) -> Option<&T> {
        self.step(name)?.output::<T>()
    }

    /// The output of the step named `name` as a shared `T`, to keep beyond
    /// the report (see [`StepReport::output_arc`]).
    pub fn output_arc<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.step(name)?.output_arc::<T>()
    }

    /// How many steps ended in each state.
    pub fn counts(&self) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for step in &self.steps {
            match step.status() {
                StepStatus::Succeeded => counts.succeeded += 1,
                StepStatus::Failed => counts.failed += 1,
                StepStatus::Skipped => counts.skipped += 1,
                StepStatus::Cancelled => counts.cancelled += 1,
                StepStatus::TimedOut => counts.timed_out += 1,
            }
        }
        counts
    }

    /// Whether the run completed and no step failed, timed out or was
    /// cancelled. Skipped steps do not count against success on their own:
    /// a step skipped because an upstream step failed comes with that
    /// failure, which does.
    pub fn is_success(&self) -> bool {
        self.outcome == RunOutcome::Completed
            && self
                .steps
                .iter()
                .all(|s| matches!(s.status(), StepStatus::Succeeded | StepStatus::Skipped))
    }

    /// `Ok(self)` when [`is_success`](Self::is_success), otherwise an error
    /// listing every step that did not succeed and why.
    pub fn ensure_success(&self) -> Result<&Self, RunFailed> {
        if self.is_success() {
            return Ok(self);
        }
        let failures = self
            .steps
            .iter()
            .filter(|s| s.status() != StepStatus::Succeeded)
            .map(|s| {
                let why = s.error_message().unwrap_or_default();
                (s.name.to_string(), format!("{}: {why}", s.status()))
            })
            .collect();
        Err(RunFailed {
            workflow: self.workflow.to_string(),
            failures,
        })
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.counts();
        let verdict = match (self.outcome, self.is_success()) {
            (RunOutcome::Cancelled, _) => "cancelled",
            (RunOutcome::TimedOut, _) => "timed out",
            (RunOutcome::FailedFast, _) => "failed fast",
            (_, true) => "succeeded",
            (_, false) => "failed",
        };
        let mut parts = Vec::new();
        for (n, label) in [
            (c.succeeded, "succeeded"),
            (c.failed, "failed"),
            (c.timed_out, "timed out"),
            (c.skipped, "skipped"),
            (c.cancelled, "cancelled"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        writeln!(
            f,
            "workflow `{}` run {}: {verdict} in {:.2?} ({})",
            self.workflow,
            self.run_id,
            self.elapsed,
            parts.join(", ")
        )?;
        let width = self
            .steps
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        write!(
            f,
            "  {:width$}  {:9}  {:8}  {:>9}  detail",
            "step", "status", "attempts", "duration"
        )?;
        for s in &self.steps {
            let duration = s.duration().map(|d| format!("{d:.1?}")).unwrap_or_default();
            let line = format!(
                "  {:width$}  {:9}  {:<8}  {:>9}  {}",
                s.name,
                s.status().as_str(),
                s.attempts,
                duration,
                s.error_message().unwrap_or_default()
            );
            write!(f, "\n{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value` typed, and erased as a report made from it holds it.
    fn with_typed<T: Any + Send + Sync>(value: T) -> (Output, StepOutput<T>) {
        let typed = Output::typed_only(value);
        (Output::from_typed(&typed), typed)
    }

    #[test]
    fn a_small_output_is_kept_inline_and_reads_back_only_as_its_type() {
        let count = Output::new(7u64);
        assert!(matches!(count.0, Repr::Inline(Small::U64(7))));
        assert_eq!(count.downcast_ref::<u64>(), Some(&7));
        assert_eq!(count.downcast_ref::<u32>(), None);
        assert_eq!(count.to_arc::<u64>().as_deref(), Some(&7));
        assert_eq!(count.to_arc::<i64>(), None);
        assert_eq!(format!("{count:?}"), "7");

        let nothing = Output::new(());
        assert!(matches!(nothing.0, Repr::Inline(Small::Unit(()))));
        assert_eq!(nothing.downcast_ref::<()>(), Some(&()));
        let flag = Output::new(true);
        assert_eq!(flag.downcast_ref::<bool>(), Some(&true));
        assert_eq!(Output::new(-1.5f64).downcast_ref::<f64>(), Some(&-1.5));
        // Types of one size are told apart: a `usize` is not a `u64`, an
        // `i64` not a `u64`, a `u32` not a `char`.
        let size = Output::new(7usize);
        assert_eq!(size.downcast_ref::<usize>(), Some(&7));
        assert_eq!(size.downcast_ref::<u64>(), None);
        assert_eq!(Output::new(-7i64).downcast_ref::<u64>(), None);
        assert_eq!(Output::new(65u32).downcast_ref::<char>(), None);
        assert_eq!(Output::new('A').downcast_ref::<u32>(), None);
        assert_eq!(Output::new('A').downcast_ref::<char>(), Some(&'A'));
    }

    #[test]
    fn any_other_output_is_shared_and_keeps_its_pointer() {
        let (shared, typed) = with_typed(String::from("patch"));
        let text = typed.into_arc();
        let read = shared
            .to_arc::<String>()
            .map(|arc| Arc::ptr_eq(&arc, &text));
        assert_eq!(read, Some(true), "the stored pointer, not a copy");
        let owned = Output::new(vec![1u8, 2]);
        assert!(matches!(owned.0, Repr::Shared(_)));
        assert_eq!(owned.downcast_ref::<Vec<u8>>(), Some(&vec![1, 2]));
        assert_eq!(owned.downcast_ref::<u64>(), None);
        assert_eq!(format!("{owned:?}"), "Any { .. }");
    }

    #[test]
    fn an_output_typed_alone_erases_later_to_the_same_value_or_pointer() {
        let count = Output::typed_only(7u64);
        assert!(matches!(count.0, Held::Inline(Small::U64(7))));
        let erased = Output::from_typed(&count);
        assert!(matches!(erased.0, Repr::Inline(Small::U64(7))));
        assert_eq!(erased.downcast_ref::<u64>(), Some(&7));

        let text = Output::typed_only(String::from("patch"));
        let erased = Output::from_typed(&text);
        let shared = erased
            .to_arc::<String>()
            .map(|arc| Arc::ptr_eq(&arc, &text.clone().into_arc()));
        assert_eq!(shared, Some(true), "the typed output's pointer, not a copy");
    }

    #[test]
    fn a_typed_output_holds_a_small_value_inline_and_shares_any_other() {
        let (erased, count) = with_typed(7u64);
        assert!(matches!(erased.0, Repr::Inline(Small::U64(7))));
        assert!(matches!(count.0, Held::Inline(Small::U64(7))));
        // Inline or shared, a typed output is as small as the report's:
        // never as large as its type.
        assert_eq!(size_of::<StepOutput<u64>>(), 16);
        assert_eq!(size_of::<StepOutput<[u8; 256]>>(), 16);
        assert_eq!(
            size_of::<Option<Output>>(),
            24,
            "the report's erased output"
        );
        assert_eq!(*count, 7);
        assert_eq!(*count.clone(), 7);
        assert_eq!(erased.typed::<u64>().map(|c| *c), Some(7));
        assert!(erased.typed::<u32>().is_none(), "only as its own type");
        assert_eq!(count.into_arc().as_ref(), &7);

        let (erased, text) = with_typed(String::from("patch"));
        let again = erased.typed::<String>();
        let same = |a: &StepOutput<String>, b: &StepOutput<String>| std::ptr::eq(&**a, &**b);
        assert!(again.as_ref().is_some_and(|again| same(again, &text)));
        assert!(same(&text.clone(), &text), "a clone shares the value");
        assert_eq!(format!("{text:?} {text}"), "\"patch\" patch");
        assert!(erased.typed::<&str>().is_none());
    }

    #[test]
    fn a_step_report_stays_small_and_keeps_its_times() {
        // A million-step run keeps a million of these.
        assert!(size_of::<StepReport>() <= 88, "{}", size_of::<StepReport>());
        let mut report = StepReport::pending(StepName::new("s"), std::any::type_name::<u64>);
        assert_eq!((report.started_at(), report.duration()), (None, None));
        assert_eq!(report.output_type(), "u64");
        let at = SystemTime::UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789);
        report.set_timing_nanos(epoch_nanos(at), 42);
        assert_eq!(report.started_at(), Some(at));
        assert_eq!(report.duration(), Some(Duration::from_nanos(42)));
        assert_eq!(report.status(), StepStatus::Cancelled, "never settled");
    }
}
