"""Shared fixtures: where the `orchestrator` binary is.

`.ci/python-tests` builds it and sets ORCHESTRATOR_BIN; run by hand, the
tests use `target/debug/orchestrator` of this repository.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def orchestrator_bin() -> str:
    path = Path(os.environ.get("ORCHESTRATOR_BIN", ROOT / "target" / "debug" / "orchestrator"))
    if not path.is_file():
        pytest.fail(f"{path} does not exist: build it with `cargo build -p orchestrator-cli`")
    return str(path)
