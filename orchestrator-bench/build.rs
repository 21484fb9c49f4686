//! Generates the hand-written async code for the suite's fixed DAGs, so the
//! "hand-written" contestant is straight-line code with no scheduler, as a
//! person would write it for those exact DAGs.

use std::path::PathBuf;

#[path = "src/dag.rs"]
#[allow(dead_code)]
mod dag;

#[path = "src/codegen.rs"]
#[allow(dead_code)]
mod codegen;

fn main() {
    println!("cargo::rerun-if-changed=src/dag.rs");
    println!("cargo::rerun-if-changed=src/codegen.rs");
    let shapes = [
        ("chain", dag::fixed::chain()),
        ("fan_out", dag::fixed::fan_out()),
        ("layered", dag::fixed::layered()),
        ("cpu", dag::fixed::cpu()),
    ];
    let mut src = String::new();
    for (name, dag) in &shapes {
        src.push_str(&codegen::hand_written_fn(
            dag,
            name,
            "crate::work::Load",
            "crate::work::join_layer",
        ));
        src.push('\n');
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("hand_written.rs"), src).expect("OUT_DIR is writable");
    // The DSL versions of the shapes small enough to compile as source.
    let mut dsl = String::new();
    dsl.push_str(&codegen::dsl_module(&dag::fixed::chain(), "chain", "Chain"));
    dsl.push_str(&codegen::dsl_module(
        &dag::fixed::fan_out(),
        "fan_out",
        "FanOut",
    ));
    std::fs::write(out.join("dsl.rs"), dsl).expect("OUT_DIR is writable");
}
