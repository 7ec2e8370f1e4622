"""Every example script works against the session's local /embed server (the demo on a part of its corpus)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aleph_embed.server.launcher import LocalServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
ARGUMENTS = {"demo.py": ["--limit", "120"]}  # `make demo` runs it on the whole corpus
EXPECTED_OUTPUT = {
    "langchain_rag.py": "context: The Eiffel Tower",
    "llamaindex_rag.py": "-> Photosynthesis",
    "pydantic_ai_agent.py": 'stands in Paris? -> {"retrieve":"The Eiffel Tower',
    "qdrant_ingest.py": "The Eiffel Tower",
    "demo.py": "nDCG@10",  # it ends with an eval
}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_example_runs(script: Path, embed_server: LocalServer, tmp_path: Path) -> None:
    env = {**os.environ, "AA_HOST": embed_server.host, "AA_MODEL": embed_server.default_model, "HF_HUB_OFFLINE": "1"}
    env.pop("AA_TOKEN", None)
    if embed_server.token:
        env["AA_TOKEN"] = embed_server.token
    result = subprocess.run(
        [sys.executable, str(script), *ARGUMENTS.get(script.name, [])], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=240,
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout}\n{result.stderr}"
    assert EXPECTED_OUTPUT.get(script.name, "") in result.stdout
