//! Plain graph algorithms over step indices.
//!
//! Nothing here knows about handlers, async or `syn`: a graph is a number of
//! nodes and, for each node, the list of nodes it depends on (its
//! predecessors). The same functions validate runtime workflows, workflow
//! files and the DSL's graphs, so they are tested once, with plain data.
//!
//! Every algorithm is iterative, so a chain of a million steps cannot
//! overflow the stack.

/// Returns a topological order of the nodes (dependencies first), or `None`
/// when the graph has a cycle.
///
/// `preds[i]` lists the nodes node `i` depends on. Indices out of range are
/// ignored. Runs in `O(nodes + edges)`; among ready nodes the lower index
/// comes first, so the order is deterministic.
///
/// ```
/// use orchestrator_core::graph::topological_order;
/// let preds = vec![vec![], vec![0], vec![0, 1]];
/// assert_eq!(topological_order(&preds), Some(vec![0, 1, 2]));
/// assert_eq!(topological_order(&[vec![1], vec![0]]), None);
/// ```
pub fn topological_order(preds: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = preds.len();
    let succs = successors(preds);
    let mut remaining: Vec<usize> = preds
        .iter()
        .map(|p| p.iter().filter(|&&d| d < n).count())
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut ready: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| remaining[i] == 0).collect();
    while let Some(node) = ready.pop_front() {
        order.push(node);
        for &s in &succs[node] {
            remaining[s] -= 1;
            if remaining[s] == 0 {
                ready.push_back(s);
            }
        }
    }
    (order.len() == n).then_some(order)
}

/// Inverts a predecessor list into a successor list (`succs[i]` lists the
/// nodes that depend on `i`), ignoring indices out of range.
pub fn successors(preds: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = preds.len();
    let mut succs = vec![Vec::new(); n];
    for (node, ps) in preds.iter().enumerate() {
        for &p in ps {
            if p < n {
                succs[p].push(node);
            }
        }
    }
    succs
}

/// A topological order and each node's level: 0 without dependencies,
/// otherwise one more than its highest dependency (the steps of one level
/// can run at the same time).
///
/// The order is [`topological_order`]'s (Kahn's algorithm, among ready
/// nodes the lower index first), except that on a cyclic graph it is
/// shorter than the graph instead of `None`: the nodes in or behind a cycle
/// are left out (and their levels are meaningless). Indices out of range
/// are ignored. `O(nodes + edges)`, with the successors in two flat
/// arrays rather than a vector per node, so it is also the cheapest test
/// for a cycle.
///
/// ```
/// use orchestrator_core::graph::order_and_levels;
/// let preds = vec![vec![], vec![0], vec![0], vec![1, 2]];
/// assert_eq!(order_and_levels(&preds), (vec![0, 1, 2, 3], vec![0, 1, 1, 2]));
/// assert_eq!(order_and_levels(&[vec![1], vec![0]]).0, Vec::<usize>::new());
/// ```
pub fn order_and_levels(preds: &[Vec<usize>]) -> (Vec<usize>, Vec<usize>) {
    // Successors as 32-bit ids when they fit: half the memory, so that a
    // million-node graph's arrays stay in the processor's cache.
    if u32::try_from(preds.len()).is_ok() {
        order_and_levels_with::<u32>(preds)
    } else {
        order_and_levels_with::<usize>(preds)
    }
}

/// A node id as stored in [`order_and_levels`]'s successor array.
trait NodeId: Copy {
    /// `index` as an id; only called with indices below the graph's size,
    /// which the caller checked fits.
    fn from_index(index: usize) -> Self;
    fn index(self) -> usize;
}

impl NodeId for u32 {
    fn from_index(index: usize) -> Self {
        index as u32
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl NodeId for usize {
    fn from_index(index: usize) -> Self {
        index
    }
    fn index(self) -> usize {
        self
    }
}

fn order_and_levels_with<Id: NodeId>(preds: &[Vec<usize>]) -> (Vec<usize>, Vec<usize>) {
    let n = preds.len();
    fn in_range(ps: &[usize], n: usize) -> impl Iterator<Item = usize> + '_ {
        ps.iter().copied().filter(move |&p| p < n)
    }
    // Successors in compressed form: those of `i` are
    // `targets[start[i]..start[i + 1]]`, in increasing order.
    let mut start = vec![0usize; n + 1];
    for p in preds.iter().flat_map(|ps| in_range(ps, n)) {
        start[p + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut targets = vec![Id::from_index(0); start[n]];
    for (node, ps) in preds.iter().enumerate() {
        for p in in_range(ps, n) {
            targets[fill[p]] = Id::from_index(node);
            fill[p] += 1;
        }
    }
    drop(fill);

    let mut remaining: Vec<usize> = preds.iter().map(|ps| in_range(ps, n).count()).collect();
    let mut level = vec![0usize; n];
    let mut order: Vec<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
    order.reserve(n - order.len());
    // `order` doubles as the queue: the nodes before `head` are done.
    let mut head = 0;
    while let Some(&node) = order.get(head) {
        head += 1;
        for s in targets[start[node]..start[node + 1]]
            .iter()
            .map(|s| s.index())
        {
            level[s] = level[s].max(level[node] + 1);
            remaining[s] -= 1;
            if remaining[s] == 0 {
                order.push(s);
            }
        }
    }
    (order, level)
}

/// Finds one cycle in every strongly connected component that has one.
///
/// Each cycle is returned as the path of nodes in the direction data flows,
/// starting at the component's smallest index and ending with it again:
/// `[a, b, c, a]` means `b` depends on `a`, `c` on `b` and `a` on `c`, and
/// reads `a -> b -> c -> a`. A node that depends on itself gives `[a, a]`.
/// Cycles come sorted by their first node.
///
/// ```
/// use orchestrator_core::graph::cycles;
/// // 1 depends on 0, 2 on 1, 0 on 2; 3 depends on itself.
/// let preds = vec![vec![2], vec![0], vec![1], vec![3]];
/// assert_eq!(cycles(&preds), vec![vec![0, 1, 2, 0], vec![3, 3]]);
/// ```
pub fn cycles(preds: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let components = strongly_connected_components(preds);
    let n = preds.len();
    let mut component_of = vec![usize::MAX; n];
    for (c, members) in components.iter().enumerate() {
        for &m in members {
            component_of[m] = c;
        }
    }
    let mut found = Vec::new();
    for (c, members) in components.iter().enumerate() {
        let Some(&start) = members.iter().min() else {
            continue;
        };
        if members.len() == 1 {
            if preds[start].contains(&start) {
                found.push(vec![start, start]);
            }
            continue;
        }
        // Breadth-first search from `start` along dependency edges, staying
        // inside the component, until an edge leads back to `start`: the
        // shortest cycle through `start`.
        let mut parent = std::collections::HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(node) = queue.pop_front() {
            for &p in &preds[node] {
                if p >= n || component_of[p] != c {
                    continue;
                }
                if p == start {
                    last = Some(node);
                    break 'search;
                }
                if p != node && !parent.contains_key(&p) {
                    parent.insert(p, node);
                    queue.push_back(p);
                }
            }
        }
        let Some(mut node) = last else { continue };
        let mut back = vec![start, node];
        while node != start {
            node = parent[&node];
            back.push(node);
        }
        found.push(back);
    }
    found.sort_by_key(|cycle| cycle[0]);
    found
}

/// Tarjan's strongly connected components, iteratively.
///
/// Returns the components dependencies first: a component comes after every
/// component it depends on. The order inside a component is unspecified.
pub fn strongly_connected_components(preds: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = preds.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    // (node, position of the next edge to look at)
    let mut call: Vec<(usize, usize)> = Vec::new();

    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        call.push((root, 0));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;

        while let Some(&mut (node, ref mut edge)) = call.last_mut() {
            if let Some(&next) = preds[node].get(*edge) {
                *edge += 1;
                if next >= n {
                    continue;
                }
                if index[next] == UNVISITED {
                    index[next] = next_index;
                    low[next] = next_index;
                    next_index += 1;
                    stack.push(next);
                    on_stack[next] = true;
                    call.push((next, 0));
                } else if on_stack[next] {
                    low[node] = low[node].min(index[next]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// The candidate closest to `name`, if one is close enough to be a likely
/// typo (used for "did you mean `scan`?").
///
/// ```
/// use orchestrator_core::graph::closest_name;
/// let names = ["scan", "review", "fix"];
/// assert_eq!(closest_name("sacn", names), Some("scan"));
/// assert_eq!(closest_name("deploy", names), None);
/// ```
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, candidate);
        let distance = strsim::damerau_levenshtein(name, candidate);
        let close = score >= 0.8 || distance <= 1.max(name.len() / 3);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topological_order_puts_dependencies_first() {
        let preds = vec![vec![2], vec![], vec![1], vec![0, 1]];
        let order = topological_order(&preds).unwrap_or_default();
        let pos = |x| order.iter().position(|&o| o == x).unwrap_or(usize::MAX);
        assert_eq!(order.len(), 4);
        assert!(pos(1) < pos(2) && pos(2) < pos(0) && pos(0) < pos(3));
    }

    #[test]
    fn a_cycle_has_no_topological_order() {
        assert_eq!(topological_order(&[vec![1], vec![2], vec![0]]), None);
    }

    #[test]
    fn cycles_spell_the_whole_path_in_data_flow_direction() {
        // scan(0); review(1) depends on scan and verify(3); fix(2) on review;
        // verify on fix: review -> fix -> verify -> review
        let preds = vec![vec![], vec![0, 3], vec![1], vec![2]];
        assert_eq!(cycles(&preds), vec![vec![1, 2, 3, 1]]);
    }

    #[test]
    fn every_independent_cycle_is_found() {
        let preds = vec![vec![1], vec![0], vec![3], vec![4], vec![2], vec![5]];
        assert_eq!(
            cycles(&preds),
            vec![vec![0, 1, 0], vec![2, 4, 3, 2], vec![5, 5]]
        );
    }

    #[test]
    fn acyclic_graphs_have_no_cycles() {
        let preds = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert!(cycles(&preds).is_empty());
    }

    #[test]
    fn a_million_step_chain_does_not_overflow_the_stack() {
        let n = 1_000_000;
        let preds: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        assert!(cycles(&preds).is_empty());
        assert_eq!(topological_order(&preds).map(|o| o.len()), Some(n));
        let mut looped = preds;
        looped[0] = vec![n - 1];
        assert_eq!(cycles(&looped).first().map(Vec::len), Some(n + 1));
    }

    #[test]
    fn order_and_levels_agree_with_the_plain_topological_sort() {
        let preds = vec![vec![2], vec![], vec![1], vec![0, 1], vec![]];
        let (order, level) = order_and_levels(&preds);
        assert_eq!(Some(order), topological_order(&preds));
        assert_eq!(level, [2, 0, 1, 3, 0]);
    }

    #[test]
    fn order_and_levels_ignore_indices_out_of_range() {
        let preds = vec![vec![7], vec![0, 9]];
        assert_eq!(order_and_levels(&preds), (vec![0, 1], vec![0, 1]));
        assert_eq!(
            order_and_levels_with::<usize>(&preds),
            order_and_levels(&preds)
        );
    }

    #[test]
    fn a_cycle_leaves_its_steps_out_of_the_order() {
        // 0 -> 1 -> 2 -> 1, and 3 alone.
        let preds = vec![vec![], vec![0, 2], vec![1], vec![]];
        assert_eq!(order_and_levels(&preds).0, [0, 3]);
    }

    #[test]
    fn closest_name_suggests_typos_only() {
        assert_eq!(closest_name("reveiw", ["scan", "review"]), Some("review"));
        assert_eq!(closest_name("x", ["scan", "review"]), None);
    }
}
