"""The analysis of `orchestrator analyze --format json` compared with
networkx, an independent implementation, on random graphs (fixed seeds):
order validity, levels, critical path length, redundant edges, roots and
leaves, and cycles."""

import json
import random
import subprocess

import networkx as nx
import pytest


def random_dag(seed, max_steps=60, min_steps=1):
    """A random DAG as a workflow definition and a networkx graph. Step
    names are shuffled so that definition order is not topological order."""
    rng = random.Random(seed)
    n = rng.randint(min_steps, max_steps)
    density = rng.choice([0.02, 0.08, 0.2, 0.5])
    rank = list(range(n))
    rng.shuffle(rank)  # rank[i] is step i's position in a hidden order
    graph = nx.DiGraph()
    names = [f"step_{i}" for i in range(n)]
    graph.add_nodes_from(names)
    for i in range(n):
        for j in range(n):
            if rank[j] < rank[i] and rng.random() < density:
                graph.add_edge(names[j], names[i])
    with_durations = rng.random() < 0.5
    steps = []
    for i, name in enumerate(names):
        step = {"name": name, "depends_on": sorted(graph.predecessors(name), key=lambda d: rng.random())}
        if with_durations:
            step["duration"] = round(rng.uniform(0, 10), 3)
            graph.nodes[name]["duration"] = step["duration"]
        steps.append(step)
    return {"name": f"random_{seed}", "steps": steps}, graph


def analyze(orchestrator_bin, tmp_path, workflow, expect_valid=True):
    path = tmp_path / f"{workflow['name']}.json"
    path.write_text(json.dumps(workflow))
    done = subprocess.run(
        [orchestrator_bin, "analyze", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == (0 if expect_valid else 1), done.stderr
    return json.loads(done.stdout), done.stderr


def node_weighted_longest_path(graph):
    """The critical path length with networkx: each step becomes an edge
    (in -> out) weighted by its duration (1 when unknown)."""
    split = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        split.add_edge(("in", node), ("out", node), weight=data.get("duration", 1))
    for u, v in graph.edges:
        split.add_edge(("out", u), ("in", v), weight=0)
    return nx.dag_longest_path_length(split, weight="weight")


@pytest.mark.parametrize("seed", range(120))
def test_the_analysis_agrees_with_networkx(orchestrator_bin, tmp_path, seed):
    workflow, graph = random_dag(seed)
    report, _ = analyze(orchestrator_bin, tmp_path, workflow)
    assert report["valid"] is True and report["errors"] == []
    assert report["step_count"] == graph.number_of_nodes()
    assert report["edge_count"] == graph.number_of_edges()

    # The order is a permutation in which every dependency comes first.
    order = report["order"]
    assert sorted(order) == sorted(graph.nodes)
    position = {name: i for i, name in enumerate(order)}
    assert all(position[u] < position[v] for u, v in graph.edges)

    # Levels are networkx's topological generations.
    expected_levels = [sorted(g) for g in nx.topological_generations(graph)]
    assert [sorted(level) for level in report["levels"]] == expected_levels
    widest = max(len(g) for g in expected_levels)
    assert report["widest_level"]["width"] == widest
    assert len(report["levels"][report["widest_level"]["index"]]) == widest

    assert sorted(report["roots"]) == sorted(n for n in graph if graph.in_degree(n) == 0)
    assert sorted(report["leaves"]) == sorted(n for n in graph if graph.out_degree(n) == 0)

    # The critical path: its length matches networkx, and it is a real path
    # whose weights add up to that length.
    expected_length = node_weighted_longest_path(graph)
    assert report["critical_path_length"] == pytest.approx(expected_length)
    path = report["critical_path"]
    assert all(graph.has_edge(u, v) for u, v in zip(path, path[1:]))
    weight = sum(graph.nodes[n].get("duration", 1) for n in path)
    assert weight == pytest.approx(expected_length)

    # Redundant edges are exactly those a transitive reduction removes,
    # each with a longer path that implies it.
    reduced = nx.transitive_reduction(graph)
    expected_redundant = sorted(set(graph.edges) - set(reduced.edges))
    assert report["redundant_edges_complete"] is True
    found = sorted((e["from"], e["to"]) for e in report["redundant_edges"])
    assert found == expected_redundant
    for edge in report["redundant_edges"]:
        via = edge["via"]
        assert via[0] == edge["from"] and via[-1] == edge["to"] and len(via) >= 3
        assert all(graph.has_edge(u, v) for u, v in zip(via, via[1:]))


@pytest.mark.parametrize("seed", range(40))
def test_every_knot_of_cycles_is_reported_with_a_real_cycle(orchestrator_bin, tmp_path, seed):
    workflow, graph = random_dag(1000 + seed, max_steps=30, min_steps=2)
    rng = random.Random(seed)
    names = list(graph.nodes)
    # Add back edges until the graph has a cycle (a self-loop excluded:
    # that is a different error).
    while nx.is_directed_acyclic_graph(graph):
        u, v = rng.sample(names, 2)
        graph.add_edge(u, v)
    for step in workflow["steps"]:
        step["depends_on"] = sorted(graph.predecessors(step["name"]))
    report, stderr = analyze(orchestrator_bin, tmp_path, workflow, expect_valid=False)
    assert report["valid"] is False
    knots = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert len(report["cycles"]) == len(knots)
    for cycle in report["cycles"]:
        assert cycle[0] == cycle[-1]
        assert all(graph.has_edge(u, v) for u, v in zip(cycle, cycle[1:]))
        assert " -> ".join(cycle) in stderr
    assert [e["path"] for e in report["errors"] if e["kind"] == "cycle"] == report["cycles"]
    assert report["order"] == [] and report["levels"] == []
