"""`aleph-embed embed` end to end, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import signal
import stat
import sys
from pathlib import Path

import pytest

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.server import ServerConfig
from aleph_embed.server.launcher import LocalServer
from aleph_embed.server.shared import read_state, stop_shared_server

pytestmark = pytest.mark.slow


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AA_")}
    return subprocess.run(
        [sys.executable, "-m", "aleph_embed.cli", *args], env={**environment, **(env or {})},
        capture_output=True, text=True, timeout=180,
    )


def test_embed_prints_the_vector(embed_server: LocalServer, embed_client: EmbedClient) -> None:
    result = run_cli("embed", "hello world", "--json", "--layer", "3", "--pooling", "max", "--no-normalize",
                     "--host", embed_server.host, "--model", embed_server.default_model)
    assert result.returncode == 0, result.stderr
    settings = EmbeddingSettings(model=embed_server.default_model, layer=3, pooling="max", normalize=False)
    assert json.loads(result.stdout) == pytest.approx(embed_client.embed_texts(["hello world"], settings)[0], abs=1e-5)


def test_embed_uses_the_environment_and_reports_errors(embed_server: LocalServer) -> None:
    env = {"AA_HOST": embed_server.host, "AA_MODEL": embed_server.default_model}
    plain = run_cli("embed", "hello", env=env)
    assert plain.returncode == 0 and len(plain.stdout.split()) == 384
    only_model = run_cli("embed", "hello", env={"AA_HOST": embed_server.host})  # the host serves one model
    assert only_model.returncode == 0 and only_model.stdout == plain.stdout
    unknown = run_cli("embed", "hello", "--model", "nope", env={"AA_HOST": embed_server.host})
    assert unknown.returncode == 1 and "UnknownModelError" in unknown.stderr


def test_commands_without_a_host_share_one_local_server_that_stops_when_idle(tmp_path: Path) -> None:
    runtime = {"XDG_RUNTIME_DIR": str(tmp_path)}  # this test's own shared server, whatever other tests started
    folder = tmp_path / "aleph-embed"
    first = run_cli("embed", "hello", "--json", env=runtime)
    assert first.returncode == 0, first.stderr
    assert "starting the local /embed server" in first.stderr and len(json.loads(first.stdout)) == 384
    state = read_state(folder)
    assert state is not None and state.host.startswith("http://127.0.0.1:") and len(state.token) >= 32
    assert stat.S_IMODE((folder / "server.json").stat().st_mode) == 0o600

    second = run_cli("embed", "hello", "--json", env=runtime)  # the same server: no start, the same vector
    assert second.returncode == 0 and second.stdout == first.stdout and "starting" not in second.stderr
    assert read_state(folder) == state
    assert stop_shared_server(folder)

    scoped = run_cli("embed", "hello", "--json", env={**runtime, "AA_SERVER_IDLE": "0"})  # one server for the command
    assert scoped.returncode == 0 and "local server at" in scoped.stderr
    assert read_state(folder) is None


def test_the_server_stops_itself_after_its_idle_timeout() -> None:
    server = LocalServer(config=ServerConfig(idle_timeout=1.0)).start()
    process = server._process
    assert process is not None
    try:
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its shutdown
    finally:
        server.stop()
