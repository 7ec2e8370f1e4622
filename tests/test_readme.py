"""Every Python snippet in the README runs as written from a fresh clone after `make demo`: no AA_HOST, AA_MODEL or
AA_TOKEN (the CLI's shared local server serves them), in a folder holding the clone's `examples/docs`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.slow
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet-{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(snippet: str, tmp_path: Path, data_home: Path) -> None:
    shutil.copytree(REPO / "examples" / "docs", tmp_path / "examples" / "docs")  # the sample folder the clone ships
    env = {name: value for name, value in os.environ.items() if name not in ("AA_HOST", "AA_MODEL", "AA_TOKEN")}
    env["HF_HUB_OFFLINE"] = "1"
    result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"snippet failed:\n{snippet}\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"snippet printed nothing:\n{snippet}\n{result.stderr}"
