"""`aleph-embed serve` / `python -m aleph_embed.server`: cheap to import, clear when the extra is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aleph_embed.server.launcher import LocalServer, ServerStartError

HEAVY = ("torch", "transformers", "fastapi", "uvicorn", "qdrant_client")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_cli_and_launcher_import_no_heavy_modules() -> None:
    result = run_python(
        "import sys, aleph_embed.cli, aleph_embed.server.cli, aleph_embed.server.launcher\n"
        "aleph_embed.cli.build_parser().parse_args(['serve', '--model', 'a=/tmp/a', '--port', '1'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_server_extra_names_the_install_command() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "from aleph_embed.cli import main\n"
        "sys.exit(main(['serve', '--port', '1']))"
    )
    assert result.returncode == 1
    assert "pip install 'aleph-embed[server]'" in result.stderr


def test_module_entry_point_rejects_a_bad_model_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aleph_embed.server", "--model", "no-path"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "NAME=PATH" in result.stderr


def test_launcher_reports_why_the_server_did_not_start(tmp_path: Path) -> None:
    server = LocalServer(models={"broken": tmp_path}, startup_timeout=60)
    with pytest.raises(ServerStartError, match="not a Hugging Face model directory") as raised:
        server.start()
    assert str(tmp_path) in str(raised.value) and server.pid is None
