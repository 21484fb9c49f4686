//! The analysis benchmark: a 1,000,000-step workflow with 5,000,000
//! dependencies, analysed from its definition (names resolved, validated,
//! ordered, levelled, critical path, redundant dependencies).
//!
//! ```sh
//! cargo run --release -p orchestrator-core --example analyze_large
//! cargo run --release -p orchestrator-core --example analyze_large -- random
//! # also write the graph as a workflow file, for `orchestrator analyze`:
//! cargo run --release -p orchestrator-core --example analyze_large -- layered large.json
//! ```
//!
//! The default graph is layered like a real pipeline: 1,000 levels of 1,000
//! steps; a step depends on 4 steps of the level before it and 1 of the
//! level before that (level 1 depends on 10 roots each). `random` instead
//! lets every step depend on 5 steps picked uniformly among all earlier
//! ones, the worst case for the redundant-dependency search, which then
//! stops at its budget and says so.

use std::time::Instant;

use orchestrator_core::{StepDefinition, WorkflowDefinition, analyze};

const STEPS: usize = 1_000_000;
const WIDTH: usize = 1_000;

fn name(i: usize) -> String {
    format!("step_{i}")
}

/// `count` distinct numbers in `range`, from `rng`.
fn pick(rng: &mut fastrand::Rng, range: std::ops::Range<usize>, count: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::with_capacity(count);
    while picked.len() < count.min(range.len()) {
        let x = rng.usize(range.clone());
        if !picked.contains(&x) {
            picked.push(x);
        }
    }
    picked
}

fn layered(rng: &mut fastrand::Rng) -> WorkflowDefinition {
    let steps = (0..STEPS)
        .map(|i| {
            let level = i / WIDTH;
            let deps = match level {
                0 => Vec::new(),
                1 => pick(rng, 0..WIDTH, 10),
                _ => {
                    let previous = (level - 1) * WIDTH..level * WIDTH;
                    let mut deps = pick(rng, previous, 4);
                    deps.extend(pick(rng, (level - 2) * WIDTH..(level - 1) * WIDTH, 1));
                    deps
                }
            };
            StepDefinition {
                name: name(i),
                depends_on: deps.into_iter().map(name).collect(),
                duration: Some(rng.f64() * 10.0),
            }
        })
        .collect();
    WorkflowDefinition {
        name: String::from("layered"),
        steps,
    }
}

fn random(rng: &mut fastrand::Rng) -> WorkflowDefinition {
    let steps = (0..STEPS)
        .map(|i| StepDefinition {
            name: name(i),
            depends_on: pick(rng, 0..i, 5).into_iter().map(name).collect(),
            duration: None,
        })
        .collect();
    WorkflowDefinition {
        name: String::from("random"),
        steps,
    }
}

/// The workflow as a JSON workflow file (its names need no escaping).
fn write_json(wf: &WorkflowDefinition, path: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    write!(out, "{{\"name\": \"{}\", \"steps\": [", wf.name)?;
    for (i, step) in wf.steps.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let deps: Vec<String> = step.depends_on.iter().map(|d| format!("\"{d}\"")).collect();
        write!(
            out,
            "{comma}\n{{\"name\": \"{}\", \"depends_on\": [{}]",
            step.name,
            deps.join(", ")
        )?;
        if let Some(duration) = step.duration {
            write!(out, ", \"duration\": {duration}")?;
        }
        write!(out, "}}")?;
    }
    writeln!(out, "]}}")?;
    out.flush()
}

fn main() {
    let shape = std::env::args().nth(1).unwrap_or_else(|| "layered".into());
    let mut rng = fastrand::Rng::with_seed(2024);
    let start = Instant::now();
    let wf = match shape.as_str() {
        "random" => random(&mut rng),
        _ => layered(&mut rng),
    };
    println!(
        "built `{}`: {} steps, {} dependencies in {:.2?}",
        wf.name,
        wf.steps.len(),
        wf.edge_count(),
        start.elapsed()
    );
    let start = Instant::now();
    let valid = wf.validate().is_ok();
    println!(
        "validation alone (names resolved, cycles looked for): {:.2?}, valid {valid}",
        start.elapsed()
    );
    if let Some(path) = std::env::args().nth(2) {
        match write_json(&wf, &path) {
            Ok(()) => println!("wrote {path}"),
            Err(e) => eprintln!("cannot write {path}: {e}"),
        }
    }
    let mut best = None;
    for round in 1..=3 {
        let start = Instant::now();
        let analysis = analyze(&wf);
        let took = start.elapsed();
        println!(
            "round {round}: analysed in {took:.2?}: valid {}, {} levels, widest {} steps, critical path {} steps (length {:.1}), {} redundant dependencies{}",
            analysis.is_valid(),
            analysis.levels.len(),
            analysis.widest_level_steps().len(),
            analysis.critical_path.len(),
            analysis.critical_path_length,
            analysis.redundant_edges.len(),
            if analysis.redundant_edges_complete {
                ""
            } else {
                " (search stopped at its budget)"
            },
        );
        best = Some(best.map_or(took, |b: std::time::Duration| b.min(took)));
    }
    if let Some(best) = best {
        println!("best of 3: {best:.2?}");
    }
}
