"""`aleph-embed embed` end to end, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.server.launcher import LocalServer

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
    missing = run_cli("embed", "hello", env={"AA_HOST": embed_server.host})
    assert missing.returncode == 2 and "--model" in missing.stderr
    unknown = run_cli("embed", "hello", "--model", "nope", env={"AA_HOST": embed_server.host})
    assert unknown.returncode == 1 and "UnknownModelError" in unknown.stderr


def test_embed_without_a_host_starts_the_local_server() -> None:
    result = run_cli("embed", "hello", "--json")
    assert result.returncode == 0, result.stderr
    assert "starting the local /embed server" in result.stderr and len(json.loads(result.stdout)) == 384
