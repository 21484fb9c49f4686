"""The MCP server (`orchestrator mcp`) driven over stdio by the official MCP
Python SDK's client, which no one here wrote."""

import asyncio
import json

from mcp import Client, StdioServerParameters

CODE_REVIEW = {
    "name": "code_review_pipeline",
    "steps": [
        {"name": "scan", "duration": 1},
        {"name": "review_style", "depends_on": ["scan"], "duration": 2},
        {"name": "review_security", "depends_on": ["scan"], "duration": 5},
        {"name": "review_tests", "depends_on": ["scan"], "duration": 1},
        {"name": "aggregate", "depends_on": ["review_style", "review_security", "review_tests"], "duration": 0.5},
        {"name": "fix", "depends_on": ["aggregate"], "duration": 3},
        {"name": "verify", "depends_on": ["fix", "aggregate"], "duration": 1},
    ],
}


def session(orchestrator_bin, body, *args):
    """Runs `body(client)` against a fresh server and returns its result."""

    async def run():
        server = StdioServerParameters(command=orchestrator_bin, args=["mcp", *args])
        async with Client(server, read_timeout_seconds=60) as client:
            return await body(client)

    return asyncio.run(run())


def text_of(result):
    return "\n".join(block.text for block in result.content if block.type == "text")


def test_the_server_lists_three_tools_each_with_an_input_schema(orchestrator_bin):
    async def body(client):
        return await client.list_tools()

    tools = {tool.name: tool for tool in session(orchestrator_bin, body).tools}
    assert sorted(tools) == ["analyze_workflow", "render_workflow", "validate_workflow"]
    for tool in tools.values():
        assert tool.description
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert "workflow" in schema["properties"]
        assert "workflow" in schema.get("required", [])
        text = json.dumps(schema)
        assert "depends_on" in text and "duration" in text
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
    assert "format" in tools["render_workflow"].input_schema["properties"]


def test_analyze_workflow_returns_the_whole_analysis_as_structured_content(orchestrator_bin):
    async def body(client):
        return await client.call_tool("analyze_workflow", {"workflow": CODE_REVIEW})

    result = session(orchestrator_bin, body)
    assert not result.is_error
    report = result.structured_content
    assert report["valid"] is True and report["errors"] == []
    assert report["step_count"] == 7 and report["edge_count"] == 9
    assert report["order"][0] == "scan" and report["order"][-1] == "verify"
    assert report["levels"] == [
        ["scan"],
        ["review_style", "review_security", "review_tests"],
        ["aggregate"],
        ["fix"],
        ["verify"],
    ]
    assert report["roots"] == ["scan"] and report["leaves"] == ["verify"]
    assert report["widest_level"] == {"index": 1, "width": 3}
    assert report["critical_path"] == ["scan", "review_security", "aggregate", "fix", "verify"]
    assert report["critical_path_length"] == 10.5
    assert report["redundant_edges"] == [
        {"from": "aggregate", "to": "verify", "via": ["aggregate", "fix", "verify"]}
    ]
    assert report["redundant_edges_complete"] is True
    assert report["mermaid"].startswith("flowchart TD\n")
    assert 's2["review_security<br/>5s"]' in report["mermaid"]


def test_a_cycle_and_a_typo_are_reported_with_the_path_and_the_closest_name(orchestrator_bin):
    workflow = {
        "name": "loop",
        "steps": [
            {"name": "scan"},
            {"name": "review", "depends_on": ["sacn", "fix"]},
            {"name": "fix", "depends_on": ["review"]},
        ],
    }

    async def body(client):
        analysis = await client.call_tool("analyze_workflow", {"workflow": workflow})
        validation = await client.call_tool("validate_workflow", {"workflow": workflow})
        return analysis, validation

    analysis, validation = session(orchestrator_bin, body)
    for result in (analysis, validation):
        assert not result.is_error
        report = result.structured_content
        assert report["valid"] is False
        unknown, cycle = report["errors"]
        assert unknown["kind"] == "unknown_dependency"
        assert unknown["step"] == "review" and unknown["dependency"] == "sacn"
        assert unknown["suggestion"] == "scan"
        assert "did you mean `scan`?" in unknown["message"]
        assert cycle["kind"] == "cycle" and cycle["path"] == ["review", "fix", "review"]
        assert "review -> fix -> review" in cycle["message"]
    assert analysis.structured_content["cycles"] == [["review", "fix", "review"]]
    assert set(validation.structured_content) == {"workflow", "valid", "errors"}


def test_render_workflow_draws_mermaid_by_default_and_dot_on_request(orchestrator_bin):
    workflow = {"name": 'say "hi"', "steps": [{"name": "a b"}, {"name": "ü", "depends_on": ["a b"]}]}

    async def body(client):
        mermaid = await client.call_tool("render_workflow", {"workflow": workflow})
        dot = await client.call_tool("render_workflow", {"workflow": workflow, "format": "dot"})
        return mermaid, dot

    mermaid, dot = session(orchestrator_bin, body)
    assert mermaid.structured_content["format"] == "mermaid"
    assert mermaid.structured_content["diagram"].startswith("flowchart TD\n")
    assert "s0 --> s1" in mermaid.structured_content["diagram"]
    assert dot.structured_content["format"] == "dot"
    assert dot.structured_content["diagram"].startswith('digraph "say \\"hi\\"" {')
    assert 's1 [label="ü"];' in dot.structured_content["diagram"]


def test_bad_arguments_get_a_tool_error_and_the_server_keeps_serving(orchestrator_bin):
    good = {"workflow": {"name": "ok", "steps": [{"name": "a"}]}}
    bad = [
        ({"workflow": {"name": "x", "steps": [{"name": "a", "dependson": ["b"]}]}}, "unknown field `dependson`"),
        ({"workflow": {"steps": []}}, "missing field `name`"),
        ({"workflow": {"name": "x", "steps": "scan"}}, "invalid type"),
        ({}, "missing field `workflow`"),
        ({"workflow": {"name": "x", "steps": []}, "colour": "red"}, "unknown field `colour`"),
    ]

    async def body(client):
        outcomes = []
        for arguments, _ in bad:
            outcomes.append(await client.call_tool("analyze_workflow", arguments))
            outcomes.append(await client.call_tool("validate_workflow", good))
        outcomes.append(await client.call_tool("render_workflow", {**good, "format": "png"}))
        outcomes.append(await client.call_tool("render_workflow", good))
        return outcomes

    outcomes = session(orchestrator_bin, body)
    for (arguments, expected), error, after in zip(bad, outcomes[0:10:2], outcomes[1:10:2]):
        assert error.is_error, arguments
        assert expected in text_of(error), (arguments, text_of(error))
        assert not after.is_error and after.structured_content["valid"] is True
    assert outcomes[10].is_error and "unknown variant `png`" in text_of(outcomes[10])
    assert not outcomes[11].is_error


def test_an_unknown_tool_is_an_error_and_the_server_keeps_serving(orchestrator_bin):
    async def body(client):
        try:
            result = await client.call_tool("run_workflow", {})
            failed = result.is_error
        except Exception:  # the SDK raises on a protocol-level error
            failed = True
        after = await client.call_tool("validate_workflow", {"workflow": {"name": "x", "steps": []}})
        return failed, after

    failed, after = session(orchestrator_bin, body)
    assert failed
    assert not after.is_error and after.structured_content["valid"] is True


def test_a_graph_over_the_limits_gets_a_clear_error_not_an_exhaustion(orchestrator_bin):
    steps = [{"name": f"s{i}", "depends_on": [f"s{i - 1}"] if i else []} for i in range(10_001)]
    huge = {"workflow": {"name": "huge", "steps": steps}}
    dense = {
        "workflow": {
            "name": "dense",
            "steps": [{"name": f"s{i}", "depends_on": [f"s{j}" for j in range(i)]} for i in range(60)],
        }
    }

    async def body(client):
        too_many_steps = await client.call_tool("analyze_workflow", huge)
        too_many_edges = await client.call_tool("render_workflow", dense)
        after = await client.call_tool("analyze_workflow", {"workflow": {"name": "x", "steps": steps[:50]}})
        return too_many_steps, too_many_edges, after

    too_many_steps, too_many_edges, after = session(orchestrator_bin, body, "--max-dependencies", "1000")
    assert too_many_steps.is_error
    assert "it has 10001 steps and the limit is 10000" in text_of(too_many_steps)
    assert "orchestrator analyze" in text_of(too_many_steps)
    assert too_many_edges.is_error
    assert "it has 1770 dependencies and the limit is 1000" in text_of(too_many_edges)
    assert not after.is_error and after.structured_content["critical_path_length"] == 50
