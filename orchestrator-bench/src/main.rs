//! Benchmarks the orchestrator engine against hand-written async code and
//! the peer crates `dagrs`, `dagx` and `async_dag`, interleaved in one run.
//!
//! ```text
//! cargo run --release --manifest-path orchestrator-bench/Cargo.toml            # the full suite
//! cargo run --release --manifest-path orchestrator-bench/Cargo.toml -- --quick # a smoke run
//! cargo run --release --manifest-path orchestrator-bench/Cargo.toml -- --help
//! ```
//!
//! See `BENCHMARKS.md` at the repository root for what is measured and how.

// The generated DSL workflows chain one macro call per step.
#![recursion_limit = "4096"]

mod alloc;
// Also compiled into the build script, which uses what the binary does not.
#[allow(dead_code)]
mod codegen;
mod contestants;
mod dag;
mod stats;
mod suite;
mod work;

#[global_allocator]
static ALLOCATOR: alloc::CountingAlloc = alloc::CountingAlloc;

const HELP: &str = "\
orchestrator-bench: the engine against hand-written code and its peers.

USAGE:
    orchestrator-bench [OPTIONS]
    orchestrator-bench gen-hand-written DIR [--steps N]
    orchestrator-bench gen-dsl DIR [--steps N] [--chain] [--dsl-only]
    orchestrator-bench engine-breakdown [--steps N]
    orchestrator-bench events [--runs N]

OPTIONS:
    --quick               a smoke run: 3 timed runs per contestant, a 100,000-step
                          big shape, shorter time budgets
    --shapes LIST         comma-separated shapes to run (default: all):
                          chain, fan-out, layered, sleep, cpu, big
    --only LIST           comma-separated contestants to run: a part of each name
                          (for example engine,dagx)
    --runs N              timed runs per contestant and shape (default 15; 5 for
                          sleep and big)
    --big-steps N         steps of the big shape (default 1000000)
    --budget SECS         time budget of one contestant on one shape (default 20)
    -h, --help            this text

engine-breakdown times the engine's phases (build, validate, execute, drop)
on a layered DAG of N steps (default 1000000) and counts their heap per step.

events runs a prebuilt 1,000-step chain on the engine with no subscriber
and with one taking every event, alternating (default 200 runs each), and
prints the time per step of each.

gen-hand-written DIR writes a standalone cargo project with a layered DAG of
N steps (default 200) written by hand with .await and join!, for comparing
compile times against the same DAG in the DSL.

gen-dsl DIR writes a standalone cargo project with the same DAG (or, with
--chain, a chain) written with #[step] and workflow!, next to it written by
hand; running it prints both times per step and their ratio. With
--dsl-only it holds the DSL version alone, for timing its compile.
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return;
    }
    let result = match args.first().map(String::as_str) {
        Some("gen-hand-written") => suite::gen_hand_written(&args[1..]),
        Some("gen-dsl") => suite::gen_dsl(&args[1..]),
        Some("engine-breakdown") => suite::engine_breakdown(&args[1..]),
        Some("events") => suite::events(&args[1..]),
        _ => match suite::Options::parse(&args) {
            Ok(options) => {
                if let Err(message) = suite::run(options) {
                    eprintln!("error: {message}");
                    std::process::exit(1);
                }
                Ok(())
            }
            Err(message) => Err(message),
        },
    };
    if let Err(message) = result {
        eprintln!("error: {message}\n\n{HELP}");
        std::process::exit(2);
    }
}
