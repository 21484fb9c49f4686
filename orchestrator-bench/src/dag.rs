//! The benchmark shapes: DAGs of numbered steps, their reference results
//! and critical paths.
//!
//! Steps are numbered in topological order (every parent has a smaller
//! number than its child). Every step computes `1 + the sum of its inputs`
//! with wrapping arithmetic; a run's checksum is the wrapping sum of the
//! outputs of the sinks (the steps nobody depends on), so a contestant that
//! skips, repeats or mis-wires a step reports a wrong checksum.
//!
//! This file has no dependencies: the build script includes it too, to
//! generate the hand-written code for the same DAGs.

/// SplitMix64: a small, fast, fixed-seed generator, so every run and every
/// build sees the same random DAG.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), without modulo bias worth noticing.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A DAG of steps `0..len()`, stored compactly (parents in one flat array).
#[derive(Debug, Clone)]
pub struct Dag {
    /// `offsets[i]..offsets[i + 1]` indexes the parents of step `i`.
    offsets: Vec<u32>,
    parents: Vec<u32>,
    /// The first step of each layer, then `len()`: steps of one layer
    /// depend only on earlier layers.
    layer_starts: Vec<u32>,
}

impl Dag {
    /// Builds a DAG from its layers; `parents_of` gives each step's parents,
    /// which must all be in earlier layers.
    fn from_layers(
        layer_sizes: &[u32],
        mut parents_of: impl FnMut(u32, usize) -> Vec<u32>,
    ) -> Self {
        let mut dag = Dag {
            offsets: vec![0],
            parents: Vec::new(),
            layer_starts: vec![0],
        };
        let mut step = 0u32;
        for (layer, &size) in layer_sizes.iter().enumerate() {
            for _ in 0..size {
                let parents = parents_of(step, layer);
                debug_assert!(parents.iter().all(|&p| p < dag.layer_starts[layer]));
                dag.parents.extend_from_slice(&parents);
                dag.offsets.push(dag.parents.len() as u32);
                step += 1;
            }
            dag.layer_starts.push(step);
        }
        dag
    }

    /// A chain of `n` steps: each depends on the one before.
    pub fn chain(n: u32) -> Self {
        let sizes = vec![1; n as usize];
        Self::from_layers(
            &sizes,
            |step, _| if step == 0 { vec![] } else { vec![step - 1] },
        )
    }

    /// A fan-out 1 → `width` → 1: one root, `width` steps that each read
    /// it, and one sink that reads them all.
    pub fn fan_out(width: u32) -> Self {
        Self::from_layers(&[1, width, 1], |_, layer| match layer {
            0 => vec![],
            1 => vec![0],
            _ => (1..=width).collect(),
        })
    }

    /// A layered random DAG of `steps` steps in layers of `width` (the
    /// last may be smaller). Each step past the first layer has 1 to 3
    /// distinct parents (2 on average): each one from the layer just
    /// before with probability 3/4, else from a random earlier layer.
    pub fn layered(steps: u32, width: u32, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut sizes = vec![width; (steps / width) as usize];
        if steps % width != 0 {
            sizes.push(steps % width);
        }
        let starts: Vec<u32> = std::iter::once(0)
            .chain(sizes.iter().scan(0, |acc, &s| {
                *acc += s;
                Some(*acc)
            }))
            .collect();
        Self::from_layers(&sizes, |_, layer| {
            if layer == 0 {
                return vec![];
            }
            let count = 1 + rng.below(3) as usize;
            let mut parents = Vec::with_capacity(count);
            while parents.len() < count {
                let from = if rng.below(4) < 3 {
                    layer - 1
                } else {
                    rng.below(layer as u64) as usize
                };
                let (lo, hi) = (starts[from], starts[from + 1]);
                let parent = lo + rng.below(u64::from(hi - lo)) as u32;
                if !parents.contains(&parent) {
                    parents.push(parent);
                }
            }
            parents.sort_unstable();
            parents
        })
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The number of edges.
    pub fn edges(&self) -> usize {
        self.parents.len()
    }

    /// The parents (dependencies) of `step`, in increasing order.
    pub fn parents(&self, step: usize) -> &[u32] {
        &self.parents[self.offsets[step] as usize..self.offsets[step + 1] as usize]
    }

    /// The steps of each layer, as ranges.
    pub fn layers(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.layer_starts
            .windows(2)
            .map(|w| w[0] as usize..w[1] as usize)
    }

    /// For each step, the steps that depend on it.
    pub fn children(&self) -> Vec<Vec<u32>> {
        let mut children = vec![Vec::new(); self.len()];
        for step in 0..self.len() {
            for &p in self.parents(step) {
                children[p as usize].push(step as u32);
            }
        }
        children
    }

    /// The steps nobody depends on, in increasing order.
    pub fn sinks(&self) -> Vec<u32> {
        let mut has_child = vec![false; self.len()];
        for &p in &self.parents {
            has_child[p as usize] = true;
        }
        (0..self.len() as u32)
            .filter(|&s| !has_child[s as usize])
            .collect()
    }

    /// Every step's output, computed the plain way.
    pub fn reference_outputs(&self) -> Vec<u64> {
        let mut out = vec![0u64; self.len()];
        for step in 0..self.len() {
            out[step] = self
                .parents(step)
                .iter()
                .fold(1u64, |acc, &p| acc.wrapping_add(out[p as usize]));
        }
        out
    }

    /// The expected checksum: the wrapping sum of the sinks' outputs.
    pub fn expected_checksum(&self) -> u64 {
        let out = self.reference_outputs();
        checksum(self.sinks().iter().map(|&s| out[s as usize]))
    }

    /// The length of the longest path, where step `i` takes `duration[i]`.
    pub fn critical_path(&self, duration: &[u64]) -> u64 {
        let mut finish = vec![0u64; self.len()];
        for step in 0..self.len() {
            let start = self
                .parents(step)
                .iter()
                .map(|&p| finish[p as usize])
                .max()
                .unwrap_or(0);
            finish[step] = start + duration[step];
        }
        finish.into_iter().max().unwrap_or(0)
    }
}

/// The wrapping sum of `values`: how sinks' outputs are combined.
pub fn checksum(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(0u64, u64::wrapping_add)
}

/// What every step computes: 1 plus the wrapping sum of its inputs.
#[inline]
pub fn step_value(inputs: impl IntoIterator<Item = u64>) -> u64 {
    inputs.into_iter().fold(1u64, u64::wrapping_add)
}

/// The DAGs of the suite, fixed so that the build script generates the
/// hand-written code for exactly the DAGs the benchmark runs.
pub mod fixed {
    use super::Dag;

    /// The seed of every random DAG of the suite.
    pub const SEED: u64 = 0x0DA6_5EED;

    /// A chain of 1,000 steps.
    pub fn chain() -> Dag {
        Dag::chain(1_000)
    }

    /// A fan-out 1 → 1,000 → 1.
    pub fn fan_out() -> Dag {
        Dag::fan_out(1_000)
    }

    /// The layered random DAG: 10,000 steps in 100 layers of 100, about
    /// 20,000 edges.
    pub fn layered() -> Dag {
        Dag::layered(10_000, 100, SEED)
    }

    /// The DAG of the CPU-bound shape: 1,000 steps in 50 layers of 20.
    pub fn cpu() -> Dag {
        Dag::layered(1_000, 20, SEED)
    }

    /// The big layered DAG of `steps` steps in layers of 1,000.
    pub fn big(steps: u32) -> Dag {
        Dag::layered(steps, 1_000, SEED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_outputs_count_up() {
        let dag = Dag::chain(5);
        assert_eq!(dag.reference_outputs(), [1, 2, 3, 4, 5]);
        assert_eq!(dag.sinks(), [4]);
        assert_eq!(dag.expected_checksum(), 5);
    }

    #[test]
    fn fan_out_sink_reads_every_middle_step() {
        let dag = Dag::fan_out(1000);
        assert_eq!(dag.len(), 1002);
        assert_eq!(dag.edges(), 2000);
        assert_eq!(dag.sinks(), [1001]);
        assert_eq!(dag.expected_checksum(), 1 + 1000 * 2);
    }

    #[test]
    fn layered_dag_has_about_two_edges_per_step_and_is_fixed_by_its_seed() {
        let dag = Dag::layered(10_000, 100, 7);
        assert_eq!(dag.len(), 10_000);
        assert!((19_000..21_000).contains(&dag.edges()), "{}", dag.edges());
        assert!((0..dag.len()).all(|s| (1..=3).contains(&dag.parents(s).len()) || s < 100));
        assert_eq!(dag.layers().count(), 100);
        for step in 0..dag.len() {
            assert!(dag.parents(step).iter().all(|&p| (p as usize) < step));
        }
        let again = Dag::layered(10_000, 100, 7);
        assert_eq!(dag.parents, again.parents);
        assert_ne!(dag.parents, Dag::layered(10_000, 100, 8).parents);
    }

    #[test]
    fn critical_path_is_the_longest_chain_of_durations() {
        let dag = Dag::fan_out(3); // 0 -> {1, 2, 3} -> 4
        assert_eq!(dag.critical_path(&[1, 5, 2, 3, 10]), 16);
    }
}
