//! `workflow!`s whose steps' futures are large run within a small stack.
//!
//! The static path holds its steps' futures in the run's own future (every
//! step's, or a layer's at a time when the steps form complete layers),
//! made on the stack before they move into their box; in a debug build the
//! generated code makes a wide tree or layer of futures in boxed chunks of
//! 16, each in its own function, whose stack frames keep every temporary.
//! So a
//! workflow whose steps' futures add up to more than a limit
//! (`orchestrator::__private::fits_static`: 512 KiB optimized, 64 KiB in a
//! debug build) runs on the executor, which boxes each step's future on its
//! own. Before that limit, a workflow of 40 steps of 64 KiB overflowed a
//! tokio worker's 2 MiB stack and aborted the process.
#![recursion_limit = "512"]

use orchestrator::{WorkflowEngine, step, workflow};

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("broken")
    }
}
impl std::error::Error for Broken {}

/// A chain: `$first`, then each `$name` after `$dep`. Every step but the
/// first keeps a buffer of `$size` bytes across an `.await`, so its future
/// is over `$size` bytes, and adds its last byte (1) to its dependency's
/// output.
macro_rules! chain {
    ($size:expr; $first:ident, $($name:ident <- $dep:ident $dep_name:literal),* $(,)?) => {
        #[step]
        async fn $first() -> Result<u64, Broken> {
            Ok(1)
        }
        $(
            #[step(depends_on = $dep_name)]
            async fn $name($dep: &u64) -> Result<u64, Broken> {
                let buffer = [1u8; $size];
                tokio::task::yield_now().await;
                Ok($dep + u64::from(std::hint::black_box(&buffer)[$size - 1]))
            }
        )*
    };
}

chain!(
    4096;
    c0,
    c1 <- c0 "c0",
    c2 <- c1 "c1",
    c3 <- c2 "c2",
    c4 <- c3 "c3",
    c5 <- c4 "c4",
    c6 <- c5 "c5",
    c7 <- c6 "c6",
    c8 <- c7 "c7",
    c9 <- c8 "c8",
    c10 <- c9 "c9",
    c11 <- c10 "c10",
    c12 <- c11 "c11",
    c13 <- c12 "c12",
    c14 <- c13 "c13",
    c15 <- c14 "c14",
    c16 <- c15 "c15",
    c17 <- c16 "c16",
    c18 <- c17 "c17",
    c19 <- c18 "c18",
    c20 <- c19 "c19",
    c21 <- c20 "c20",
    c22 <- c21 "c21",
    c23 <- c22 "c22",
    c24 <- c23 "c23",
    c25 <- c24 "c24",
    c26 <- c25 "c25",
    c27 <- c26 "c26",
    c28 <- c27 "c27",
    c29 <- c28 "c28",
    c30 <- c29 "c29",
    c31 <- c30 "c30",
    c32 <- c31 "c31",
    c33 <- c32 "c32",
    c34 <- c33 "c33",
    c35 <- c34 "c34",
    c36 <- c35 "c35",
    c37 <- c36 "c36",
    c38 <- c37 "c37",
    c39 <- c38 "c38",
    c40 <- c39 "c39",
    c41 <- c40 "c40",
    c42 <- c41 "c41",
    c43 <- c42 "c42",
    c44 <- c43 "c43",
    c45 <- c44 "c44",
    c46 <- c45 "c45",
    c47 <- c46 "c46",
    c48 <- c47 "c47",
    c49 <- c48 "c48",
    c50 <- c49 "c49",
    c51 <- c50 "c50",
    c52 <- c51 "c51",
    c53 <- c52 "c52",
    c54 <- c53 "c53",
    c55 <- c54 "c54",
    c56 <- c55 "c55",
    c57 <- c56 "c56",
    c58 <- c57 "c57",
    c59 <- c58 "c58",
    c60 <- c59 "c59",
    c61 <- c60 "c60",
    c62 <- c61 "c61",
    c63 <- c62 "c62",
    c64 <- c63 "c63",
    c65 <- c64 "c64",
    c66 <- c65 "c65",
    c67 <- c66 "c66",
    c68 <- c67 "c67",
    c69 <- c68 "c68",
    c70 <- c69 "c69",
    c71 <- c70 "c70",
    c72 <- c71 "c71",
    c73 <- c72 "c72",
    c74 <- c73 "c73",
    c75 <- c74 "c74",
    c76 <- c75 "c75",
    c77 <- c76 "c76",
    c78 <- c77 "c77",
    c79 <- c78 "c78",
    c80 <- c79 "c79",
    c81 <- c80 "c80",
    c82 <- c81 "c81",
    c83 <- c82 "c82",
    c84 <- c83 "c83",
    c85 <- c84 "c84",
    c86 <- c85 "c85",
    c87 <- c86 "c86",
    c88 <- c87 "c87",
    c89 <- c88 "c88",
    c90 <- c89 "c89",
    c91 <- c90 "c90",
    c92 <- c91 "c91",
    c93 <- c92 "c92",
    c94 <- c93 "c93",
    c95 <- c94 "c94",
);

workflow!(LongChain: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c25, c26, c27, c28, c29, c30, c31, c32, c33, c34, c35, c36, c37, c38, c39, c40, c41, c42, c43, c44, c45, c46, c47, c48, c49, c50, c51, c52, c53, c54, c55, c56, c57, c58, c59, c60, c61, c62, c63, c64, c65, c66, c67, c68, c69, c70, c71, c72, c73, c74, c75, c76, c77, c78, c79, c80, c81, c82, c83, c84, c85, c86, c87, c88, c89, c90, c91, c92, c93, c94, c95);

/// Runs `run` on a new current-thread runtime on a thread with a 1 MiB
/// stack; its result, or why it could not run.
fn on_a_small_stack<F>(run: impl FnOnce() -> F + Send + 'static) -> Result<u64, String>
where
    F: std::future::Future<Output = Result<u64, String>>,
{
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(run())
        })
        .map_err(|e| e.to_string())
        .and_then(|thread| thread.join().map_err(|_| String::from("the run panicked")))
        .and_then(|result| result)
}

#[test]
fn a_long_workflow_of_large_steps_runs_on_a_small_stack() {
    // 96 steps of over 4 KiB each: about 400 KiB of futures. The static
    // path in an optimized build (they fit its limit), the executor in a
    // debug one (they do not).
    let fits = __orchestrator_workflow_LongChain::__orchestrator_static_fits();
    assert_eq!(fits, !cfg!(debug_assertions));
    let run = on_a_small_stack(|| async {
        let out = LongChain::run(&WorkflowEngine::new(), ())
            .await
            .map_err(|e| e.to_string())?;
        Ok(*out.c95)
    });
    assert_eq!(run, Ok(96));
}

chain!(
    1;
    m0,
    m1 <- m0 "m0",
    m2 <- m1 "m1",
    m3 <- m2 "m2",
    m4 <- m3 "m3",
    m5 <- m4 "m4",
    m6 <- m5 "m5",
    m7 <- m6 "m6",
    m8 <- m7 "m7",
    m9 <- m8 "m8",
    m10 <- m9 "m9",
    m11 <- m10 "m10",
    m12 <- m11 "m11",
    m13 <- m12 "m12",
    m14 <- m13 "m13",
    m15 <- m14 "m14",
    m16 <- m15 "m15",
    m17 <- m16 "m16",
    m18 <- m17 "m17",
    m19 <- m18 "m18",
    m20 <- m19 "m19",
    m21 <- m20 "m20",
    m22 <- m21 "m21",
    m23 <- m22 "m22",
    m24 <- m23 "m23",
    m25 <- m24 "m24",
    m26 <- m25 "m25",
    m27 <- m26 "m26",
    m28 <- m27 "m27",
    m29 <- m28 "m28",
    m30 <- m29 "m29",
    m31 <- m30 "m30",
    m32 <- m31 "m31",
    m33 <- m32 "m32",
    m34 <- m33 "m33",
    m35 <- m34 "m34",
    m36 <- m35 "m35",
    m37 <- m36 "m36",
    m38 <- m37 "m37",
    m39 <- m38 "m38",
);

workflow!(SmallChain: m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, m16, m17, m18, m19, m20, m21, m22, m23, m24, m25, m26, m27, m28, m29, m30, m31, m32, m33, m34, m35, m36, m37, m38, m39);

#[test]
fn a_long_chain_of_small_steps_runs_on_the_static_path_within_a_small_stack() {
    // 40 small steps fit the static path in any build; a chain is complete
    // layers, so each step's future is made when the one before ended.
    const { assert!(__orchestrator_workflow_SmallChain::__ORCHESTRATOR_FUSED) };
    assert!(__orchestrator_workflow_SmallChain::__orchestrator_static_fits());
    let run = on_a_small_stack(|| async {
        let engine = WorkflowEngine::new();
        if orchestrator::__private::StaticRun::begin(&engine, SmallChain::workflow()).is_none() {
            return Err(String::from("the run would not take the static path"));
        }
        let out = SmallChain::run(&engine, ())
            .await
            .map_err(|e| e.to_string())?;
        Ok(*out.m39)
    });
    assert_eq!(run, Ok(40));
}

chain!(
    128 * 1024;
    h0,
    h1 <- h0 "h0",
    h2 <- h1 "h1",
    h3 <- h2 "h2",
    h4 <- h3 "h3",
    h5 <- h4 "h4",
    h6 <- h5 "h5",
    h7 <- h6 "h6",
    h8 <- h7 "h7",
    h9 <- h8 "h8",
    h10 <- h9 "h9",
    h11 <- h10 "h10",
    h12 <- h11 "h11",
    h13 <- h12 "h12",
    h14 <- h13 "h13",
    h15 <- h14 "h14",
    h16 <- h15 "h15",
);

workflow!(HugeChain: h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16);

#[test]
fn a_workflow_of_steps_with_huge_futures_runs_on_the_executor_within_a_small_stack() {
    // 16 steps of over 128 KiB: 2 MiB of futures, more than the whole
    // stack; the static path would have made them all on it at once.
    assert!(!__orchestrator_workflow_HugeChain::__orchestrator_static_fits());
    let run = on_a_small_stack(|| async {
        let out = HugeChain::run(&WorkflowEngine::new(), ())
            .await
            .map_err(|e| e.to_string())?;
        Ok(*out.h16)
    });
    assert_eq!(run, Ok(17));
}

/// A fan-out and its fan-in: `$root`, then each `$name` after it (adding 1
/// to its output after a yield), then `$sink` after each `$input` it
/// lists, summing their outputs.
macro_rules! fan {
    ($root:ident $root_name:literal -> [$($name:ident),*] -> $sink:ident [$($input:ident $input_name:literal),*]) => {
        #[step]
        async fn $root() -> Result<u64, Broken> {
            Ok(1)
        }
        $(
            #[step(depends_on = $root_name)]
            async fn $name($root: &u64) -> Result<u64, Broken> {
                tokio::task::yield_now().await;
                Ok($root + 1)
            }
        )*
        #[step(depends_on = [$($input_name),*])]
        #[allow(clippy::too_many_arguments)]
        async fn $sink($($input: &u64),*) -> Result<u64, Broken> {
            Ok(0 $(+ $input)*)
        }
    };
}

// The fan-in reads every branch: complete layers, run in order; the
// 40-step layer's futures are made in boxed chunks in a debug build.
fan!(f0 "f0" -> [f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31, f32, f33, f34, f35, f36, f37, f38, f39, f40] -> fsink [f1 "f1", f2 "f2", f3 "f3", f4 "f4", f5 "f5", f6 "f6", f7 "f7", f8 "f8", f9 "f9", f10 "f10", f11 "f11", f12 "f12", f13 "f13", f14 "f14", f15 "f15", f16 "f16", f17 "f17", f18 "f18", f19 "f19", f20 "f20", f21 "f21", f22 "f22", f23 "f23", f24 "f24", f25 "f25", f26 "f26", f27 "f27", f28 "f28", f29 "f29", f30 "f30", f31 "f31", f32 "f32", f33 "f33", f34 "f34", f35 "f35", f36 "f36", f37 "f37", f38 "f38", f39 "f39", f40 "f40"]);

workflow!(WideLayers: f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31, f32, f33, f34, f35, f36, f37, f38, f39, f40, fsink);

// The fan-in reads half the branches: not complete layers, so every
// step's future is in one tree, made in boxed chunks in a debug build.
fan!(g0 "g0" -> [g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11, g12, g13, g14, g15, g16, g17, g18, g19, g20, g21, g22, g23, g24, g25, g26, g27, g28, g29, g30, g31, g32, g33, g34, g35, g36, g37, g38, g39, g40] -> gsink [g1 "g1", g2 "g2", g3 "g3", g4 "g4", g5 "g5", g6 "g6", g7 "g7", g8 "g8", g9 "g9", g10 "g10", g11 "g11", g12 "g12", g13 "g13", g14 "g14", g15 "g15", g16 "g16", g17 "g17", g18 "g18", g19 "g19", g20 "g20"]);

workflow!(WideTree: g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11, g12, g13, g14, g15, g16, g17, g18, g19, g20, g21, g22, g23, g24, g25, g26, g27, g28, g29, g30, g31, g32, g33, g34, g35, g36, g37, g38, g39, g40, gsink);

#[test]
fn wide_layers_run_on_the_static_path_in_chunks_within_a_small_stack() {
    const { assert!(__orchestrator_workflow_WideLayers::__ORCHESTRATOR_FUSED) };
    const { assert!(!__orchestrator_workflow_WideTree::__ORCHESTRATOR_FUSED) };
    assert!(__orchestrator_workflow_WideLayers::__orchestrator_static_fits());
    assert!(__orchestrator_workflow_WideTree::__orchestrator_static_fits());
    let run = on_a_small_stack(|| async {
        let engine = WorkflowEngine::new();
        if orchestrator::__private::StaticRun::begin(&engine, WideLayers::workflow()).is_none() {
            return Err(String::from("the run would not take the static path"));
        }
        let layers = WideLayers::run(&engine, ())
            .await
            .map_err(|e| e.to_string())?;
        let tree = WideTree::run(&engine, ())
            .await
            .map_err(|e| e.to_string())?;
        Ok(*layers.fsink * 1000 + *tree.gsink)
    });
    // Each branch returns 2: 40 of them summed, and 20.
    assert_eq!(run, Ok(80 * 1000 + 40));
}
