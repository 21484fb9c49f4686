//! The suite: options, shapes, the interleaved measuring loop and the
//! tables.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alloc;
use crate::contestants::{self, Run, Shape, ShapeId};
use crate::dag::{self, Dag};
use crate::stats::{Summary, human, per_step};
use crate::work::{self, Load, Span};

/// Command-line options of a run of the suite.
#[derive(Debug, Clone)]
pub struct Options {
    quick: bool,
    shapes: Vec<String>,
    only: Vec<String>,
    runs: Option<usize>,
    big_steps: u32,
    budget: Duration,
}

const SHAPES: [&str; 6] = ["chain", "fan-out", "layered", "sleep", "cpu", "big"];

impl Options {
    /// Parses the command line (without the program name).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            quick: false,
            shapes: SHAPES.iter().map(|s| s.to_string()).collect(),
            only: Vec::new(),
            runs: None,
            big_steps: 1_000_000,
            budget: Duration::from_secs(20),
        };
        let mut big_steps = None;
        let mut budget = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--shapes" => {
                    options.shapes = list(&value("--shapes")?);
                    if let Some(bad) = options
                        .shapes
                        .iter()
                        .find(|s| !SHAPES.contains(&s.as_str()))
                    {
                        return Err(format!(
                            "unknown shape `{bad}`; shapes are {}",
                            SHAPES.join(", ")
                        ));
                    }
                }
                "--only" => options.only = list(&value("--only")?),
                "--runs" => options.runs = Some(number(&value("--runs")?)?.max(1)),
                "--big-steps" => big_steps = Some(number(&value("--big-steps")?)?.max(1000) as u32),
                "--budget" => {
                    budget = Some(Duration::from_secs(number(&value("--budget")?)? as u64))
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if options.quick {
            options.big_steps = 100_000;
            options.budget = Duration::from_secs(5);
        }
        options.big_steps = big_steps.unwrap_or(options.big_steps);
        options.budget = budget.unwrap_or(options.budget);
        Ok(options)
    }

    fn runs(&self, shape: ShapeId) -> usize {
        self.runs.unwrap_or(match (self.quick, shape) {
            (true, _) => 3,
            (false, ShapeId::Sleep | ShapeId::Big) => 5,
            (false, _) => 15,
        })
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn number(value: &str) -> Result<usize, String> {
    value
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))
}

/// How one contestant fared on one shape.
struct Entry {
    name: &'static str,
    run: Option<Run>,
    /// Why it has no (or only partial) results.
    note: Option<String>,
    samples: Vec<Duration>,
    makespans: Vec<Duration>,
    /// Sleeping steps: each run's critical path as its steps slept.
    slept_paths: Vec<Duration>,
    /// Sleeping steps: each run's makespan ÷ its critical path as slept.
    slept_ratios: Vec<f64>,
    parallelism: Vec<f64>,
    memory: Option<alloc::Measurement>,
    spent: Duration,
}

/// What the table needs to know of a shape's measurements.
struct ShapeResult {
    shape: Arc<Shape>,
    /// The ideal makespan: the critical path (sleep) or the work spread over
    /// every core (CPU-bound).
    ideal: Option<Duration>,
    rows: Vec<Row>,
}

struct Row {
    name: &'static str,
    note: Option<String>,
    time: Option<Summary>,
    makespan: Option<Summary>,
    /// Sleeping steps: the median of each run's makespan ÷ the critical
    /// path of the sleeps as its steps had them (see `Load::slept`).
    slept_ratio: Option<f64>,
    /// Sleeping steps: that critical path, every run's.
    slept_paths: Option<Summary>,
    /// The median of [`Span::parallelism`] over the runs.
    parallelism: Option<f64>,
    memory: Option<alloc::Measurement>,
}

/// Runs the suite and prints the tables. Fails when a contestant reported
/// a wrong result, so a smoke run in CI catches a broken contestant (slow
/// ones only show in the tables).
pub fn run(options: Options) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let started = Instant::now();
    println!(
        "# orchestrator-bench{}\n\nmachine: {cores} cores; load average at start: {}\n\
         runtime: tokio multi-thread, {cores} workers; every contestant's run is a task on it\n",
        if options.quick { " --quick" } else { "" },
        load_average()
    );

    let spin_iterations = if options.shapes.iter().any(|s| s == "cpu") {
        work::calibrate_spin(Duration::from_micros(50))
    } else {
        0
    };
    let mut results: Vec<ShapeResult> = Vec::new();
    for name in &options.shapes {
        let shape = Arc::new(make_shape(name, &options, spin_iterations));
        eprintln!(
            "shape {}: {} steps, {} edges",
            shape.name,
            shape.dag.len(),
            shape.dag.edges()
        );
        // The big shape: contestants whose time per step on the layered
        // shape says one run would blow the budget are not started (a run
        // cannot be interrupted).
        let layered = results.iter().find(|r| r.shape.id == ShapeId::Layered);
        let predicted = |contestant: &str| {
            let row = layered?.rows.iter().find(|r| r.name == contestant)?;
            let per_step = row.time?.median.as_secs_f64() / layered?.shape.dag.len() as f64;
            Some(Duration::from_secs_f64(per_step * shape.dag.len() as f64))
        };
        let skip = |contestant: &str| {
            let time = predicted(contestant).filter(|_| shape.id == ShapeId::Big)?;
            // A memory run and at least one timed run must fit.
            (time * 2 > options.budget).then(|| {
                format!(
                    "not run: at its time per step on the layered shape, one run would take ~{} \
                     (and more, as it grows worse than linearly), over half the {} s budget",
                    human(time),
                    options.budget.as_secs()
                )
            })
        };
        let result = measure(&shape, &options, &runtime, cores, &skip);
        print!("{}", table(&result, cores));
        results.push(result);
    }
    print!("{}", headline(&results, cores));
    println!(
        "\nload average at end: {}; the suite took {}",
        load_average(),
        human(started.elapsed())
    );
    let wrong: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.rows
                .iter()
                .filter(|row| {
                    row.note
                        .as_deref()
                        .is_some_and(|n| n.starts_with("WRONG RESULT"))
                })
                .map(move |row| format!("{} on {}", row.name, r.shape.name))
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("wrong results from {}", wrong.join(", ")))
    }
}

fn make_shape(name: &str, options: &Options, spin_iterations: u32) -> Shape {
    match name {
        "chain" => Shape::new(ShapeId::Chain, "chain", dag::fixed::chain(), Load::Trivial),
        "fan-out" => Shape::new(
            ShapeId::FanOut,
            "fan-out",
            dag::fixed::fan_out(),
            Load::Trivial,
        ),
        "layered" => Shape::new(
            ShapeId::Layered,
            "layered",
            dag::fixed::layered(),
            Load::Trivial,
        ),
        "sleep" => {
            let dag = dag::fixed::layered();
            let mut rng = dag::SplitMix64::new(dag::fixed::SEED ^ 0x51EE_9000);
            let nanos: Arc<[u32]> = (0..dag.len())
                .map(|_| 1_000 + rng.below(1_999_001) as u32)
                .collect();
            Shape::new(ShapeId::Sleep, "sleep", dag, Load::sleep(nanos))
        }
        "cpu" => {
            let load = Load::Spin {
                iterations: spin_iterations,
                span: Arc::new(Span::default()),
            };
            Shape::new(ShapeId::Cpu, "cpu", dag::fixed::cpu(), load)
        }
        "big" => Shape::new(
            ShapeId::Big,
            "big",
            dag::fixed::big(options.big_steps),
            Load::Trivial,
        ),
        other => unreachable!("shape names are checked when parsed: {other}"),
    }
}

/// Runs every contestant on `shape`: one warm-up run, one untimed run that
/// counts memory, then timed runs, the contestants interleaved (each round
/// starts with a different one), each within the time budget.
fn measure(
    shape: &Arc<Shape>,
    options: &Options,
    runtime: &tokio::runtime::Runtime,
    cores: usize,
    skip: &dyn Fn(&str) -> Option<String>,
) -> ShapeResult {
    let mut entries: Vec<Entry> = contestants::all()
        .into_iter()
        .filter(|c| {
            options.only.is_empty()
                || options
                    .only
                    .iter()
                    .any(|o| c.name().to_lowercase().contains(o.as_str()))
        })
        .map(|c| {
            let (run, note) = match skip(c.name()).map_or_else(|| c.prepare(shape), Err) {
                Ok(run) => (Some(run), None),
                Err(why) => (None, Some(why)),
            };
            Entry {
                name: c.name(),
                run,
                note,
                samples: Vec::new(),
                makespans: Vec::new(),
                slept_paths: Vec::new(),
                slept_ratios: Vec::new(),
                parallelism: Vec::new(),
                memory: None,
                spent: Duration::ZERO,
            }
        })
        .collect();

    let warm_up = shape.dag.len() <= 100_000;
    for entry in &mut entries {
        if warm_up {
            once(entry, shape, runtime, false);
        }
        once(entry, shape, runtime, true);
        // The first runs count towards the budget: a contestant too slow
        // for it gets no timed runs.
        if entry.run.is_some() && entry.spent > options.budget {
            entry.note = Some(format!(
                "too slow: one run took {}, over the {} s budget; no timed runs",
                human(entry.spent / (1 + u32::from(warm_up))),
                options.budget.as_secs()
            ));
            entry.run = None;
        }
        entry.spent = Duration::ZERO;
        entry.forget_runs();
    }

    let runs = options.runs(shape.id);
    for round in 0..runs {
        let n = entries.len();
        for i in 0..n {
            let entry = &mut entries[(i + round) % n];
            if entry.run.is_none() {
                continue;
            }
            if entry.samples.len() >= 3 && entry.spent > options.budget {
                if entry.note.is_none() {
                    entry.note = Some(format!(
                        "{} of {runs} runs: the {} s budget ran out",
                        entry.samples.len(),
                        options.budget.as_secs()
                    ));
                }
                continue;
            }
            once(entry, shape, runtime, false);
        }
    }

    let ideal = match &shape.load {
        Load::Trivial => None,
        Load::Sleep { nanos, .. } => {
            let durations: Vec<u64> = nanos.iter().map(|&n| u64::from(n)).collect();
            Some(Duration::from_nanos(shape.dag.critical_path(&durations)))
        }
        Load::Spin { iterations, .. } => {
            // The work of one step, measured now, times the steps, spread
            // over every core (or the critical path, if longer).
            let one = (0..20)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(work::spin(*iterations));
                    start.elapsed()
                })
                .min()
                .unwrap_or_default();
            let total = one * shape.dag.len() as u32;
            let path = one * shape.dag.layers().count() as u32;
            Some((total / cores as u32).max(path))
        }
    };
    ShapeResult {
        shape: Arc::clone(shape),
        ideal,
        rows: entries
            .into_iter()
            .map(|e| Row {
                name: e.name,
                time: Summary::of(&e.samples),
                makespan: Summary::of(&e.makespans),
                slept_ratio: median(e.slept_ratios),
                slept_paths: Summary::of(&e.slept_paths),
                parallelism: median(e.parallelism),
                memory: e.memory,
                note: e.note,
            })
            .collect(),
    }
}

/// One run of `entry`; checks the checksum and records the time (or, when
/// `count_memory`, the memory instead).
fn once(entry: &mut Entry, shape: &Shape, runtime: &tokio::runtime::Runtime, count_memory: bool) {
    let Some(run) = entry.run.as_mut() else {
        return;
    };
    shape.load.reset();
    if count_memory {
        alloc::start();
    }
    let outcome = run(runtime);
    if count_memory {
        entry.memory = Some(alloc::stop());
    }
    entry.spent += outcome.elapsed;
    if outcome.checksum != shape.expected {
        entry.note = Some(format!(
            "WRONG RESULT: checksum {} instead of {}; results dropped",
            outcome.checksum, shape.expected
        ));
        entry.run = None;
        entry.forget_runs();
        return;
    }
    if !count_memory {
        entry.samples.push(outcome.elapsed);
        if let Some(span) = shape.load.span() {
            let makespan = span.makespan();
            entry.makespans.extend(makespan);
            entry.parallelism.extend(span.parallelism());
            if let (Some(makespan), Some(slept)) = (makespan, shape.load.slept()) {
                let path = Duration::from_nanos(shape.dag.critical_path(&slept));
                entry.slept_paths.push(path);
                if !path.is_zero() {
                    entry
                        .slept_ratios
                        .push(makespan.as_secs_f64() / path.as_secs_f64());
                }
            }
        }
    }
}

impl Entry {
    /// Drops the measurements of the runs so far.
    fn forget_runs(&mut self) {
        self.samples.clear();
        self.makespans.clear();
        self.slept_paths.clear();
        self.slept_ratios.clear();
        self.parallelism.clear();
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn describe(shape: &Shape) -> String {
    let what = match shape.id {
        ShapeId::Chain => "a chain",
        ShapeId::FanOut => "a fan-out 1 → 1,000 → 1",
        ShapeId::Layered => "a layered random DAG, trivial steps",
        ShapeId::Sleep => "the layered DAG, each step sleeping 1 µs–2 ms",
        ShapeId::Cpu => "a layered DAG, each step burning ~50 µs of CPU (own task where offered)",
        ShapeId::Big => "a big layered random DAG, trivial steps",
    };
    format!(
        "{what}: {} steps, {} edges, {} layers",
        thousands(shape.dag.len()),
        thousands(shape.dag.edges()),
        shape.dag.layers().count()
    )
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The median time of the hand-written row, the reference for ratios.
fn reference(result: &ShapeResult) -> Option<Duration> {
    result
        .rows
        .iter()
        .find(|r| r.name == LIMIT)
        .and_then(|r| r.time)
        .map(|t| t.median)
}

fn table(result: &ShapeResult, cores: usize) -> String {
    let shape = &result.shape;
    let steps = shape.dag.len();
    let limit = reference(result);
    let mut out = String::new();
    let _ = writeln!(out, "\n## {} — {}\n", shape.name, describe(shape));
    let timed_by_makespan = result.ideal.is_some();
    let extra = match shape.id {
        ShapeId::Sleep => " makespan | ÷ critical path | ÷ as slept |",
        ShapeId::Cpu => " makespan | ÷ ideal | steps in parallel |",
        _ => "",
    };
    let _ = writeln!(
        out,
        "| contestant | runs | median | min – max | IQR | per step | ÷ hand-written | peak heap / step |{extra} notes |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|{}---|",
        match shape.id {
            ShapeId::Sleep => "---:|---:|---:|",
            ShapeId::Cpu => "---:|---:|---:|",
            _ => "",
        }
    );
    for row in &result.rows {
        let mut cells = vec![row.name.to_string()];
        match row.time {
            Some(t) => {
                cells.push(t.runs.to_string());
                cells.push(human(t.median));
                cells.push(format!("{} – {}", human(t.min), human(t.max)));
                cells.push(human(t.iqr));
                cells.push(per_step(t.median, steps));
                cells.push(match limit {
                    Some(l) => format!("{:.2}×", t.median.as_secs_f64() / l.as_secs_f64()),
                    None => "–".into(),
                });
            }
            None => cells.extend(std::iter::repeat_n("–".to_string(), 6)),
        }
        cells.push(match row.memory {
            Some(m) => format!("{:.0} B", m.peak as f64 / steps as f64),
            None => "–".into(),
        });
        if let (Some(ideal), true) = (result.ideal, timed_by_makespan) {
            match row.makespan {
                Some(m) => {
                    cells.push(human(m.median));
                    cells.push(format!(
                        "{:.3}",
                        m.median.as_secs_f64() / ideal.as_secs_f64()
                    ));
                    match shape.id {
                        ShapeId::Cpu => {
                            cells.push(row.parallelism.map_or("–".into(), |p| format!("{p:.2}")))
                        }
                        ShapeId::Sleep => {
                            cells.push(row.slept_ratio.map_or("–".into(), |r| format!("{r:.3}")))
                        }
                        _ => {}
                    }
                }
                None => cells.extend(std::iter::repeat_n("–".to_string(), 3)),
            }
        }
        cells.push(row.note.clone().unwrap_or_default());
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if let Some(ideal) = result.ideal {
        let _ = match shape.id {
            ShapeId::Cpu => writeln!(
                out,
                "\nmakespan: first step's start to last step's end. Ideal: the steps' CPU work \
                 spread over {cores} cores ({}). Steps in parallel: the steps' summed wall time \
                 ÷ makespan, the number of workers the steps kept busy on average (at most \
                 {cores}); unlike the makespan it does not depend on what else the machine runs.",
                human(ideal)
            ),
            _ => {
                let slept: Vec<Duration> = result
                    .rows
                    .iter()
                    .filter_map(|r| r.slept_paths)
                    .flat_map(|p| [p.min, p.max])
                    .collect();
                let as_slept = match (slept.iter().min(), slept.iter().max()) {
                    (Some(low), Some(high)) => format!("{} – {}", human(*low), human(*high)),
                    _ => "–".into(),
                };
                writeln!(
                    out,
                    "\nmakespan: first step's start to last step's end. Critical path (the ideal): \
                     {} with the sleeps as asked; {as_slept} with each run's sleeps as the timer \
                     ended them (it wakes late by the machine's wake-up latency, before any \
                     contestant can act). ÷ as slept: the median over runs of the makespan ÷ \
                     that run's critical path as slept, what the contestant added itself.",
                    human(ideal)
                )
            }
        };
    }
    out
}

/// The name of the hand-written limit, the reference for ratios.
const LIMIT: &str = "hand-written async (limit)";

/// The name of the contestant awaiting the DSL's step functions by hand.
const DSL_BY_HAND: &str = "hand-written: the DSL's step fns";

/// The headline: each contestant's median per step against the
/// hand-written limit, and the targets, met or missed.
fn headline(results: &[ShapeResult], cores: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Targets\n");
    let _ = writeln!(out, "| target | shape | measured | verdict |");
    let _ = writeln!(out, "|---|---|---:|---|");
    for result in results {
        let engine = row(result, "engine: build + run");
        let prebuilt = row(result, "engine: run prebuilt");
        let peers = ["dagrs", "dagx", "async_dag"];
        let fastest_peer = result
            .rows
            .iter()
            .filter(|r| peers.iter().any(|p| r.name.starts_with(p)))
            .filter_map(|r| r.time.map(|t| (r.name, t.median)))
            .min_by_key(|(_, t)| *t);
        for (label, ours) in [("build + run", engine), ("prebuilt", prebuilt)] {
            let Some(ours) = ours.and_then(|r| r.time) else {
                continue;
            };
            let verdict = match fastest_peer {
                Some((peer, t)) => {
                    let ratio = t.as_secs_f64() / ours.median.as_secs_f64();
                    let met = if ratio >= 2.0 { "met" } else { "MISSED" };
                    format!("speed-up {ratio:.2}× over {peer} | {met}")
                }
                None => "no peer ran | –".into(),
            };
            let _ = writeln!(
                out,
                "| engine ({label}) ≥ 2× faster than the fastest peer | {} | {verdict} |",
                result.shape.name
            );
        }
        let hand = row(result, LIMIT).and_then(|r| r.time);
        let dsl = row(result, "DSL: #[step] + workflow!").and_then(|r| r.time);
        if let (Some(hand), Some(dsl)) = (hand, dsl) {
            // A row of the DSL's median against `base`'s: within 1.5× or not.
            let mut within = |target: &str, base: Summary, verdicts: [&str; 2]| {
                let ratio = dsl.median.as_secs_f64() / base.median.as_secs_f64();
                let verdict = verdicts[usize::from(ratio > 1.5)];
                let _ = writeln!(
                    out,
                    "| {target} | {} | {ratio:.1}× | {verdict} |",
                    result.shape.name
                );
            };
            within(
                "DSL within 1.5× of hand-written per step",
                hand,
                ["met", "MISSED"],
            );
            // The same step functions awaited by hand: what `workflow!`
            // adds to them, beside what their being 1,000 functions costs.
            if let Some(by_hand) = row(result, DSL_BY_HAND).and_then(|r| r.time) {
                within(
                    "(DSL within 1.5× of its own step functions awaited by hand)",
                    by_hand,
                    ["within", "beyond"],
                );
            }
        }
        if result.shape.id == ShapeId::Sleep {
            for (label, row) in [("build + run", engine), ("prebuilt", prebuilt)] {
                let Some(row) = row else { continue };
                if let (Some(ideal), Some(m), Some(slept)) =
                    (result.ideal, row.makespan, row.slept_ratio)
                {
                    let asked = m.median.as_secs_f64() / ideal.as_secs_f64();
                    let verdict = |ratio: f64| if ratio <= 1.03 { "met" } else { "MISSED" };
                    let _ = writeln!(
                        out,
                        "| makespan within 3 % of the critical path ({label}) | sleep | \
                         {slept:.3} as slept; {asked:.3} as asked | {} as slept; {} as asked |",
                        verdict(slept),
                        verdict(asked)
                    );
                }
            }
        }
        if result.shape.id == ShapeId::Cpu {
            if let Some(p) = engine.and_then(|r| r.parallelism) {
                let _ = writeln!(
                    out,
                    "| own-task steps use every core ({cores} workers) | cpu | {p:.2} steps in parallel | {} |",
                    if p >= 0.9 * cores as f64 {
                        "met"
                    } else {
                        "MISSED"
                    }
                );
            }
        }
        if result.shape.id == ShapeId::Big {
            let steps = result.shape.dag.len();
            if let Some(m) = engine.and_then(|r| r.memory) {
                let per = m.peak as f64 / steps as f64;
                let _ = writeln!(
                    out,
                    "| under 300 B of memory per step ({} steps, build + run) | big | {per:.0} B | {} |",
                    thousands(steps),
                    if per < 300.0 { "met" } else { "MISSED" }
                );
            }
        }
    }
    out
}

fn row<'a>(result: &'a ShapeResult, name: &str) -> Option<&'a Row> {
    result.rows.iter().find(|r| r.name == name)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `gen-hand-written DIR [--steps N]`: writes a standalone cargo project
/// running a layered DAG of N steps written by hand.
pub fn gen_hand_written(args: &[String]) -> Result<(), String> {
    let dir = args.first().ok_or("gen-hand-written needs a directory")?;
    let steps = match args.get(1).map(String::as_str) {
        Some("--steps") => number(args.get(2).ok_or("--steps needs a value")?)? as u32,
        Some(other) => return Err(format!("unknown argument `{other}`")),
        None => 200,
    };
    let dag = Dag::layered(steps, 10, dag::fixed::SEED);
    let cargo_toml = "[package]\nname = \"hand-written-dag\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n\n[workspace]\n";
    write_project(
        dir,
        cargo_toml,
        &crate::codegen::hand_written_program(&dag),
        &dag,
    )
}

/// Writes a standalone cargo project (`Cargo.toml` and `src/main.rs`) for
/// `dag` into `dir`, and says what it wrote.
fn write_project(dir: &str, cargo_toml: &str, main_rs: &str, dag: &Dag) -> Result<(), String> {
    let dir = std::path::Path::new(dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("Cargo.toml"), cargo_toml).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/main.rs"), main_rs).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {} steps, {} edges; expected output {}",
        dir.display(),
        dag.len(),
        dag.edges(),
        dag.expected_checksum()
    );
    Ok(())
}

/// `gen-dsl DIR [--steps N] [--chain] [--dsl-only]`: writes a standalone
/// cargo project running a layered DAG of N steps (default 200), or a
/// chain, written with the DSL, beside the same DAG by hand.
pub fn gen_dsl(args: &[String]) -> Result<(), String> {
    let dir = args.first().ok_or("gen-dsl needs a directory")?;
    let (mut steps, mut chain, mut dsl_only) = (200u32, false, false);
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--steps" => steps = number(rest.next().ok_or("--steps needs a value")?)? as u32,
            "--chain" => chain = true,
            "--dsl-only" => dsl_only = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let dag = if chain {
        Dag::chain(steps)
    } else {
        Dag::layered(steps, 10, dag::fixed::SEED)
    };
    let facade = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../orchestrator");
    let facade = facade
        .canonicalize()
        .map_err(|e| format!("{}: {e}", facade.display()))?;
    let cargo_toml = format!(
        "[package]\nname = \"dsl-dag\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\norchestrator = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"rt\", \"macros\", \"time\"] }}\n\n[workspace]\n",
        facade.display().to_string()
    );
    write_project(
        dir,
        &cargo_toml,
        &crate::codegen::dsl_program(&dag, !dsl_only),
        &dag,
    )
}

/// `events [--runs N]`: the cost of events, a prebuilt 1,000-step chain
/// run with no subscriber and with one taking every event, alternating.
pub fn events(args: &[String]) -> Result<(), String> {
    let runs = match args.first().map(String::as_str) {
        Some("--runs") => number(args.get(1).ok_or("--runs needs a value")?)?.max(1),
        Some(other) => return Err(format!("unknown argument `{other}`")),
        None => 200,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let shape = Shape::new(ShapeId::Chain, "chain", dag::fixed::chain(), Load::Trivial);
    let n = shape.dag.len();
    let (without, with, _) = contestants::engine::events(&shape, &runtime, runs);
    println!(
        "engine, prebuilt, on {}, {runs} runs each, alternating\n\n| events | median per step | min per step | IQR |\n|---|---:|---:|---:|",
        describe(&shape)
    );
    for (label, times) in [
        ("no subscriber", &without),
        ("a subscriber taking every event", &with),
    ] {
        let summary = Summary::of(times).ok_or("no runs")?;
        println!(
            "| {label} | {} | {} | {} |",
            per_step(summary.median, n),
            per_step(summary.min, n),
            human(summary.iqr)
        );
    }
    Ok(())
}

/// `engine-breakdown [--steps N]`: the engine's phases on the big shape.
pub fn engine_breakdown(args: &[String]) -> Result<(), String> {
    let steps = match args.first().map(String::as_str) {
        Some("--steps") => number(args.get(1).ok_or("--steps needs a value")?)?.max(1000) as u32,
        Some(other) => return Err(format!("unknown argument `{other}`")),
        None => 1_000_000,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let shape = Shape::new(ShapeId::Big, "big", dag::fixed::big(steps), Load::Trivial);
    println!(
        "engine phases on {}\n\n| phase | time | per step | peak heap / step | left live / step |\n|---|---:|---:|---:|---:|",
        describe(&shape)
    );
    let n = shape.dag.len();
    for (name, took, memory) in contestants::engine::breakdown(&shape, &runtime) {
        println!(
            "| {name} | {} | {} | {:.0} B | {:.0} B |",
            human(took),
            per_step(took, n),
            memory.peak as f64 / n as f64,
            memory.retained as f64 / n as f64
        );
    }
    Ok(())
}
