"""The pictures stay valid whatever the names: the DOT output of
`orchestrator analyze --format dot` is parsed by pydot, an independent DOT
parser, and its labels read back as the step names; the Mermaid output
keeps every label inside its quotes."""

import json
import re
import subprocess

import pydot

NASTY = [
    'a "quoted" name',
    "back\\slash",
    "two\nlines",
    "ünïcödé ✓ 検証",
    "braces {} [] () ; -> --",
    "#hash <b>html</b> & `ticks`",
    "  spaces  ",
]


def workflow():
    steps = [{"name": NASTY[0]}]
    for before, name in zip(NASTY, NASTY[1:]):
        steps.append({"name": name, "depends_on": [before]})
    steps.append({"name": "last", "depends_on": ['missing "one"']})
    return {"name": 'pictures "of" \\ {names}', "steps": steps}


def render(orchestrator_bin, tmp_path, fmt):
    path = tmp_path / "nasty.json"
    path.write_text(json.dumps(workflow()))
    done = subprocess.run(
        [orchestrator_bin, "analyze", str(path), "--format", fmt],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr  # the missing dependency
    return done.stdout


def unquote_dot(text):
    assert text.startswith('"') and text.endswith('"'), text
    out, chars = [], iter(text[1:-1])
    for c in chars:
        if c == "\\":
            c = next(chars)
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(c, "\\" + c))
        else:
            out.append(c)
    return "".join(out)


def test_dot_output_parses_and_its_labels_read_back_as_the_names(orchestrator_bin, tmp_path):
    text = render(orchestrator_bin, tmp_path, "dot")
    graphs = pydot.graph_from_dot_data(text)
    assert graphs and len(graphs) == 1
    graph = graphs[0]
    assert unquote_dot(graph.get_name()) == workflow()["name"]
    labels = {n.get_name(): unquote_dot(n.get("label")) for n in graph.get_nodes() if n.get("label")}
    names = [s["name"] for s in workflow()["steps"]] + ['missing "one" (missing)']
    assert sorted(labels.values()) == sorted(names)
    edges = {(labels[e.get_source()], labels[e.get_destination()]) for e in graph.get_edges()}
    assert (NASTY[0], NASTY[1]) in edges
    assert ('missing "one" (missing)', "last") in edges
    assert len(edges) == len(NASTY)


def test_mermaid_labels_never_leave_their_quotes(orchestrator_bin, tmp_path):
    text = render(orchestrator_bin, tmp_path, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    node = re.compile(r'^    s\d+\["[^"\n]*"\](:::\w+)?$')
    edge = re.compile(r"^    s\d+ -(-|\.-)> s\d+$")
    for line in lines[1:]:
        assert line.startswith("    %% ") or line.startswith("    classDef ") or node.match(line) or edge.match(line), line
    assert sum(1 for line in lines if node.match(line)) == len(workflow()["steps"]) + 1
    assert "#quot;quoted#quot;" in text and "#35;hash #60;b#62;html#60;/b#62; #38; #96;ticks#96;" in text
