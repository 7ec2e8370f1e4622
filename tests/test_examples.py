"""Every example script (but the demo, which `make demo` runs) works against the session's local /embed server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aleph_embed.server.launcher import LocalServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(path for path in EXAMPLES.glob("*.py") if path.name != "demo.py")
EXPECTED_OUTPUT = {
    "langchain_rag.py": "context: The Eiffel Tower",
    "llamaindex_rag.py": "-> Photosynthesis",
    "qdrant_ingest.py": "The Eiffel Tower",
}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_example_runs(script: Path, embed_server: LocalServer) -> None:
    env = {**os.environ, "AA_HOST": embed_server.host, "AA_MODEL": embed_server.default_model, "HF_HUB_OFFLINE": "1"}
    env.pop("AA_TOKEN", None)
    if embed_server.token:
        env["AA_TOKEN"] = embed_server.token
    result = subprocess.run(
        [sys.executable, str(script)], cwd=EXAMPLES.parent, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout}\n{result.stderr}"
    assert EXPECTED_OUTPUT.get(script.name, "") in result.stdout
