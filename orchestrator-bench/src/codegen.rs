//! Writes the hand-written async code for a DAG: the code a person would
//! write for it with `.await` and `join!`, one `let` per step, no
//! allocation and no scheduler. The build script uses it for the
//! benchmark's fixed shapes; the compile-time comparison uses it for a
//! standalone 200-step program.
//!
//! Each layer of the DAG becomes one join of its steps (a layer of one step
//! is a plain `.await`); the function returns the checksum of the sinks.
//! Steps call `load.step(id, [inputs])`, an async method the caller
//! provides.

use std::fmt::Write as _;

use crate::dag::Dag;

/// The source of `pub async fn {name}(load: &{load_type}) -> u64` running
/// `dag` layer by layer. `join` is the path of a function joining one
/// layer: `join(load, [(step, [inputs]); N]) -> impl Future<Output = [u64; N]>`.
///
/// Each layer is its own `async fn` over a slice of the outputs so far, so
/// the compiler never sees one function with thousands of locals (one such
/// function for the 10,000-step DAG took rustc over 10 GB and 15 minutes).
pub fn hand_written_fn(dag: &Dag, name: &str, load_type: &str, join: &str) -> String {
    let mut src = String::new();
    let _ = writeln!(
        src,
        "/// The hand-written code for the `{name}` DAG ({} steps, {} edges).",
        dag.len(),
        dag.edges()
    );
    let _ = writeln!(src, "pub async fn {name}(load: &{load_type}) -> u64 {{");
    let _ = writeln!(src, "    let mut s = vec![0u64; {}];", dag.len());
    let mut functions = String::new();
    for (count, segment) in segments(dag).into_iter().enumerate() {
        let function = format!("{name}_{count}");
        let _ = writeln!(src, "    {function}(load, &mut s).await;");
        let _ = writeln!(
            functions,
            "#[allow(clippy::all)]\nasync fn {function}(load: &{load_type}, s: &mut [u64]) {{"
        );
        match segment {
            Segment::Chain(steps) => {
                for step in steps {
                    let _ = writeln!(functions, "    s[{step}] = {}.await;", step_call(dag, step));
                }
            }
            Segment::Layer(layer) => {
                // A layer: its steps joined. Inputs are padded with zeros to the
                // layer's widest step (adding 0 changes no sum), so that every
                // step of the layer has the same future type and the layer is
                // an array, joined without allocating. (A literal `join!` of
                // 100 futures, 100 times, took rustc minutes to compile.)
                let width = layer
                    .clone()
                    .map(|s| dag.parents(s).len())
                    .max()
                    .unwrap_or(0);
                let steps: Vec<String> = layer
                    .clone()
                    .map(|step| {
                        let mut inputs: Vec<String> = dag
                            .parents(step)
                            .iter()
                            .map(|p| format!("s[{p}]"))
                            .collect();
                        inputs.resize(width, "0".into());
                        format!("({step}, [{}])", inputs.join(", "))
                    })
                    .collect();
                let _ = writeln!(
                    functions,
                    "    let v = {join}(load, [\n        {}\n    ]).await;\n    \
                 s[{}..{}].copy_from_slice(&v);",
                    steps.join(",\n        "),
                    layer.start,
                    layer.end
                );
            }
        }
        let _ = writeln!(functions, "}}\n");
    }
    let sinks: Vec<String> = dag.sinks().iter().map(|s| s.to_string()).collect();
    let _ = writeln!(
        src,
        "    const SINKS: [usize; {}] = [{}];\n    \
         SINKS.iter().fold(0u64, |acc, &i| acc.wrapping_add(s[i]))\n}}\n",
        sinks.len(),
        sinks.join(", ")
    );
    src.push_str(&functions);
    src
}

/// Runs of one-step layers (a chain's stretch) go into one generated
/// function each, up to this many steps, as a person would write a
/// sequence of awaits.
const CHUNK: usize = 100;

/// A part of a DAG that generated hand-written code runs in one `async fn`.
enum Segment {
    /// Up to [`CHUNK`] one-step layers in a row, awaited in turn.
    Chain(Vec<usize>),
    /// One wider layer, its steps joined.
    Layer(std::ops::Range<usize>),
}

/// `dag`'s layers, in order, as [`Segment`]s.
fn segments(dag: &Dag) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut chain = Vec::new();
    for layer in dag.layers() {
        if layer.len() == 1 {
            chain.push(layer.start);
            if chain.len() == CHUNK {
                segments.push(Segment::Chain(std::mem::take(&mut chain)));
            }
            continue;
        }
        if !chain.is_empty() {
            segments.push(Segment::Chain(std::mem::take(&mut chain)));
        }
        segments.push(Segment::Layer(layer));
    }
    if !chain.is_empty() {
        segments.push(Segment::Chain(chain));
    }
    segments
}

fn step_call(dag: &Dag, step: usize) -> String {
    let inputs: Vec<String> = dag
        .parents(step)
        .iter()
        .map(|p| format!("s[{p}]"))
        .collect();
    format!("load.step({step}, [{}])", inputs.join(", "))
}

fn wrapping_sum(terms: &[String]) -> String {
    let mut expr = String::from("0u64");
    for term in terms {
        let _ = write!(expr, ".wrapping_add({term})");
    }
    expr
}

/// A standalone `main.rs` for the compile-time comparison: `dag` written by
/// hand as async functions, one per step, and a `main` that runs it on a
/// current-thread tokio runtime and prints the checksum.
///
/// Unlike [`hand_written_fn`], each step is its own `async fn` (as a person
/// writing a 200-step workflow by hand would), so the compiler has as many
/// functions to check as the DSL version has steps.
pub fn hand_written_program(dag: &Dag) -> String {
    let mut src = String::new();
    let _ = writeln!(
        src,
        "//! {} steps and {} edges, written by hand with `.await` and `join!`.\n\
         //! Generated by `orchestrator-bench gen-hand-written`; expected checksum {}.\n",
        dag.len(),
        dag.edges(),
        dag.expected_checksum()
    );
    for step in 0..dag.len() {
        let params: Vec<String> = dag
            .parents(step)
            .iter()
            .map(|p| format!("s{p}: u64"))
            .collect();
        let body = wrapping_sum(
            &dag.parents(step)
                .iter()
                .map(|p| format!("s{p}"))
                .collect::<Vec<_>>(),
        );
        let _ = writeln!(
            src,
            "async fn step{step}({}) -> u64 {{\n    1u64.wrapping_add({body})\n}}\n",
            params.join(", ")
        );
    }
    let _ = writeln!(src, "async fn run() -> u64 {{");
    for layer in dag.layers() {
        let calls: Vec<String> = layer
            .clone()
            .map(|step| {
                let args: Vec<String> = dag.parents(step).iter().map(|p| format!("s{p}")).collect();
                format!("step{step}({})", args.join(", "))
            })
            .collect();
        if calls.len() == 1 {
            let _ = writeln!(src, "    let s{} = {}.await;", layer.start, calls[0]);
        } else {
            let names: Vec<String> = layer.clone().map(|s| format!("s{s}")).collect();
            let _ = writeln!(
                src,
                "    let ({}) = tokio::join!(\n        {}\n    );",
                names.join(", "),
                calls.join(",\n        ")
            );
        }
    }
    let sinks: Vec<String> = dag.sinks().iter().map(|s| format!("s{s}")).collect();
    let _ = writeln!(src, "    {}\n}}\n", wrapping_sum(&sinks));
    let _ = writeln!(
        src,
        "fn main() {{\n    \
         let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();\n    \
         println!(\"{{}}\", runtime.block_on(run()));\n}}"
    );
    src
}

/// The DSL version of `dag` for the suite: one `#[step]` per step, named
/// `{name}_s{i}`, doing the shape's load through the run's input (a
/// `ShapeRef`, as the hand-written code gets the load as an argument),
/// the `workflow!` type `{Name}`, and `{name}_checksum` over its sinks.
pub fn dsl_module(dag: &Dag, name: &str, type_name: &str) -> String {
    let mut src = String::new();
    for step in 0..dag.len() {
        let parents = dag.parents(step);
        let deps: Vec<String> = parents.iter().map(|p| format!("\"{name}_s{p}\"")).collect();
        let mut params: Vec<String> = parents
            .iter()
            .map(|p| format!("{name}_s{p}: &u64"))
            .collect();
        params.push(String::from("#[input] shape: &ShapeRef"));
        let inputs: Vec<String> = parents.iter().map(|p| format!("*{name}_s{p}")).collect();
        let attr = if parents.is_empty() {
            String::from("#[step]")
        } else {
            format!("#[step(depends_on = [{}])]", deps.join(", "))
        };
        let _ = writeln!(
            src,
            "{attr}\nasync fn {name}_s{step}({}) -> Result<u64, Never> {{\n    Ok(shape.0.load.step({step}, [{}]).await)\n}}",
            params.join(", "),
            inputs.join(", ")
        );
    }
    let all: Vec<String> = (0..dag.len()).map(|s| format!("{name}_s{s}")).collect();
    let _ = writeln!(src, "workflow!(pub {type_name}: {});", all.join(", "));
    let sinks: Vec<String> = dag
        .sinks()
        .iter()
        .map(|s| format!("*out.{name}_s{s}"))
        .collect();
    let _ = writeln!(
        src,
        "pub fn {name}_checksum(out: &{type_name}Output) -> u64 {{\n    crate::dag::checksum([{}])\n}}",
        sinks.join(", ")
    );
    src.push_str(&by_hand_fn(dag, name));
    src
}

/// The source of `pub async fn {name}_by_hand(shape: &ShapeRef) -> u64`:
/// the DAG of [`dsl_module`]'s `#[step]` functions awaited by hand, with
/// no workflow. It is what a person writes for those very functions:
/// sequential `.await`s along a chain and a `futures::join!` across a
/// layer, each layer (a run of up to 100 one-step layers) its own
/// `async fn` over a slice of the outputs so far, as in
/// [`hand_written_fn`]. It measures what `workflow!` adds to the step
/// functions themselves; [`hand_written_fn`] awaits one shared step
/// function, which no DSL (each step its own function) can.
pub fn by_hand_fn(dag: &Dag, name: &str) -> String {
    let call = |step: usize| {
        let mut args: Vec<String> = dag
            .parents(step)
            .iter()
            .map(|p| format!("&s[{p}]"))
            .collect();
        args.push(String::from("shape"));
        format!("{name}_s{step}({})", args.join(", "))
    };
    let mut src = String::new();
    let mut functions = String::new();
    let _ = writeln!(
        src,
        "/// `{name}`'s step functions awaited by hand, with no workflow.\n\
         pub async fn {name}_by_hand(shape: &ShapeRef) -> u64 {{\n    \
         let mut s = vec![0u64; {}];",
        dag.len()
    );
    for (count, segment) in segments(dag).into_iter().enumerate() {
        let function = format!("{name}_by_hand_{count}");
        let _ = writeln!(src, "    {function}(shape, &mut s).await;");
        let _ = writeln!(
            functions,
            "#[allow(clippy::all)]\nasync fn {function}(shape: &ShapeRef, s: &mut [u64]) {{"
        );
        match segment {
            Segment::Chain(steps) => {
                for step in steps {
                    let _ = writeln!(
                        functions,
                        "    let Ok(v) = {}.await;\n    s[{step}] = v;",
                        call(step)
                    );
                }
            }
            Segment::Layer(layer) => {
                let patterns: Vec<String> =
                    layer.clone().map(|step| format!("Ok(v{step})")).collect();
                let calls: Vec<String> = layer.clone().map(call).collect();
                let _ = writeln!(
                    functions,
                    "    let ({},) = futures::join!(\n        {}\n    );",
                    patterns.join(", "),
                    calls.join(",\n        ")
                );
                for step in layer {
                    let _ = writeln!(functions, "    s[{step}] = v{step};");
                }
            }
        }
        let _ = writeln!(functions, "}}\n");
    }
    let sinks: Vec<String> = dag.sinks().iter().map(|s| format!("s[{s}]")).collect();
    let _ = writeln!(
        src,
        "    crate::dag::checksum([{}])\n}}\n",
        sinks.join(", ")
    );
    src.push_str(&functions);
    src
}

/// A standalone `main.rs` for the DSL's per-step cost and compile time:
/// `dag` written with one `#[step]` per step and a `workflow!`, next to the
/// same DAG written by hand (as in [`hand_written_program`]); `main` runs
/// both, interleaved, checks that they agree with the expected checksum,
/// and prints the best time per step of each and their ratio. With
/// `hand_written: false` only the DSL version is written (for timing the
/// DSL's compile alone).
pub fn dsl_program(dag: &Dag, hand_written: bool) -> String {
    let mut src = String::new();
    let _ = writeln!(
        src,
        "//! {} steps and {} edges as `#[step]` functions and one `workflow!`.\n\
         //! Generated by `orchestrator-bench gen-dsl`; expected checksum {}.\n\
         #![recursion_limit = \"{}\"]\n\
         use orchestrator::{{step, workflow}};\n\
         type Never = std::convert::Infallible;\n",
        dag.len(),
        dag.edges(),
        dag.expected_checksum(),
        (dag.len() * 2 + 256).next_power_of_two()
    );
    for step in 0..dag.len() {
        let parents = dag.parents(step);
        let names: Vec<String> = parents.iter().map(|p| format!("\"s{p}\"")).collect();
        let params: Vec<String> = parents.iter().map(|p| format!("s{p}: &u64")).collect();
        let body = wrapping_sum(&parents.iter().map(|p| format!("*s{p}")).collect::<Vec<_>>());
        let attr = if parents.is_empty() {
            String::from("#[step]")
        } else {
            format!("#[step(depends_on = [{}])]", names.join(", "))
        };
        let _ = writeln!(
            src,
            "{attr}\nasync fn s{step}({}) -> Result<u64, Never> {{\n    Ok(1u64.wrapping_add({body}))\n}}\n",
            params.join(", ")
        );
    }
    let all: Vec<String> = (0..dag.len()).map(|s| format!("s{s}")).collect();
    let _ = writeln!(src, "workflow!(Generated: {});\n", all.join(", "));
    let sinks: Vec<String> = dag.sinks().iter().map(|s| format!("*out.s{s}")).collect();
    let _ = writeln!(
        src,
        "async fn dsl(engine: &orchestrator::WorkflowEngine) -> u64 {{\n    \
         let out = Generated::run(engine, ()).await.expect(\"the generated workflow succeeds\");\n    \
         {}\n}}\n",
        wrapping_sum(&sinks)
    );
    if !hand_written {
        let _ = writeln!(
            src,
            "fn main() {{\n    \
             let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();\n    \
             let engine = orchestrator::WorkflowEngine::new();\n    \
             println!(\"{{}}\", runtime.block_on(dsl(&engine)));\n}}"
        );
        return src;
    }
    let hand = hand_written_program(dag);
    let hand = hand
        .split("fn main()")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("async fn step", "async fn hand_step")
        .replace(" step", " hand_step")
        .replace("async fn run()", "async fn hand()");
    src.push_str(&hand);
    let _ = writeln!(
        src,
        "\nfn main() {{\n    \
         let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();\n    \
         let engine = orchestrator::WorkflowEngine::new();\n    \
         let (mut best_dsl, mut best_hand) = (u128::MAX, u128::MAX);\n    \
         for _ in 0..100 {{\n        \
             let start = std::time::Instant::now();\n        \
             let d = runtime.block_on(dsl(&engine));\n        \
             best_dsl = best_dsl.min(start.elapsed().as_nanos());\n        \
             let start = std::time::Instant::now();\n        \
             let h = runtime.block_on(hand());\n        \
             best_hand = best_hand.min(start.elapsed().as_nanos());\n        \
             assert_eq!((d, h), ({0}, {0}), \"both compute the expected checksum\");\n    \
         }}\n    \
         let n = {1} as f64;\n    \
         println!(\"dsl {{:.1}} ns/step, hand-written {{:.1}} ns/step, ratio {{:.1}}x\", best_dsl as f64 / n, best_hand as f64 / n, best_dsl as f64 / best_hand as f64);\n}}",
        dag.expected_checksum(),
        dag.len()
    );
    src
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_is_a_sequence_of_awaits() {
        let src = hand_written_fn(&Dag::chain(3), "chain", "Load", "join_layer");
        assert!(src.contains("s[0] = load.step(0, []).await;"), "{src}");
        assert!(src.contains("s[2] = load.step(2, [s[1]]).await;"), "{src}");
        assert_eq!(src.matches("async fn chain_").count(), 1, "{src}");
        assert!(src.contains("const SINKS: [usize; 1] = [2];"), "{src}");
    }

    #[test]
    fn a_wide_layer_is_one_join() {
        let src = hand_written_fn(&Dag::fan_out(2), "fan", "Load", "join_layer");
        assert!(src.contains("let v = join_layer(load, [\n        (1, [s[0]]),\n        (2, [s[0]])\n    ]).await;"), "{src}");
        assert!(src.contains("s[1..3].copy_from_slice(&v);"), "{src}");
        assert!(
            src.contains("s[3] = load.step(3, [s[1], s[2]]).await"),
            "{src}"
        );
    }

    #[test]
    fn by_hand_the_dsl_steps_are_awaited_along_a_chain_and_joined_across_a_layer() {
        let chain = by_hand_fn(&Dag::chain(3), "chain");
        assert!(
            chain.contains("let Ok(v) = chain_s0(shape).await;\n    s[0] = v;"),
            "{chain}"
        );
        assert!(
            chain.contains("let Ok(v) = chain_s2(&s[1], shape).await;"),
            "{chain}"
        );
        assert!(chain.contains("crate::dag::checksum([s[2]])"), "{chain}");
        let fan = by_hand_fn(&Dag::fan_out(2), "fan");
        assert!(
            fan.contains("let (Ok(v1), Ok(v2),) = futures::join!(\n        fan_s1(&s[0], shape),\n        fan_s2(&s[0], shape)\n    );"),
            "{fan}"
        );
        assert!(fan.contains("fan_s3(&s[1], &s[2], shape)"), "{fan}");
    }

    #[test]
    fn the_dsl_program_has_one_step_per_step_and_one_workflow() {
        let dag = Dag::layered(50, 5, 1);
        let src = dsl_program(&dag, true);
        assert_eq!(src.lines().filter(|l| l.starts_with("#[step")).count(), 50);
        assert_eq!(src.matches("workflow!(Generated:").count(), 1);
        assert_eq!(src.matches("async fn hand_step").count(), 50);
        assert!(src.contains(&format!("({0}, {0})", dag.expected_checksum())));
    }

    #[test]
    fn the_program_has_one_function_per_step() {
        let dag = Dag::layered(200, 10, 1);
        let src = hand_written_program(&dag);
        assert_eq!(src.matches("async fn step").count(), 200);
        assert!(src.contains("fn main()"));
    }
}
