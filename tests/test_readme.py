"""Every Python snippet in the README runs as written against the session's local /embed server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aleph_embed.server.launcher import LocalServer
from tests.support.corpora import copy_docs

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.slow
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet-{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(snippet: str, embed_server: LocalServer, tmp_path: Path) -> None:
    copy_docs(tmp_path / "docs")  # the folder of long files the quickstarts read
    env = {**os.environ, "AA_HOST": embed_server.host, "AA_MODEL": embed_server.default_model, "HF_HUB_OFFLINE": "1"}
    env.pop("AA_TOKEN", None)
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"snippet failed:\n{snippet}\n{result.stdout}\n{result.stderr}"
