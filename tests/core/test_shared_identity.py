"""The shared server and `LocalServer` prove who they are: a squatter on a port gets no token and no texts, and no
command succeeds through it; bad state files are treated as absent (issue 25, findings 1 and 11)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from aleph_embed import __version__
from aleph_embed.errors import ConfigurationError, ServerStartError
from aleph_embed.server.identity import proves
from aleph_embed.server.launcher import LocalServer, stop_process
from aleph_embed.server.shared import (
    STATE_FILE, SharedServer, _alive, read_state, shared_server, stop_shared_server,
)

TOKEN = "the-real-token-" + "x" * 30


class Squatter:
    """An HTTP server on 127.0.0.1 that answers 200 to everything (a made-up proof to /identity, or, with `relay`,
    the proof the server at `relay` gives) and records every request it gets."""

    def __init__(self, port: int = 0, relay: str | None = None) -> None:
        self.seen: list[bytes] = []
        squatter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                squatter.seen.append(self.requestline.encode() + bytes(self.headers) + self.rfile.read(length))
                answer: Any = {"status": "ok", "embeddings": [[0.0] * 384]}
                if self.path.startswith("/identity"):
                    nonce = parse_qs(urlsplit(self.path).query).get("nonce", [""])[0]
                    answer = (httpx.get(f"{relay}/identity", params={"nonce": nonce}).json() if relay
                              else {"pid": os.getpid(), "proof": "0" * 64})
                elif self.path.startswith("/models_available"):
                    answer = [{"name": "all-minilm-l6-v2", "max_context_size": 512}]
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.http.server_address[1])
        self.host = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def received(self) -> bytes:
        return b"\n".join(self.seen)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def squatter() -> Iterator[Squatter]:
    running = Squatter()
    yield running
    running.close()


def test_readiness_needs_proof_of_the_token_not_any_200(squatter: Squatter) -> None:
    """The old readiness check took any 200 from /health: a squatter on the port was the server."""
    assert not proves(squatter.host, TOKEN)
    server = LocalServer(token=TOKEN, startup_timeout=3)
    server.port = squatter.port  # as if the squatter had the port the server was to use
    waiting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(ServerStartError, match="/identity"):
            server.wait_ready(waiting, lambda: "")
    finally:
        stop_process(waiting)
    assert squatter.seen and TOKEN.encode() not in squatter.received()


def test_a_relayed_proof_is_for_another_port() -> None:
    """A squatter that passes the nonce to a real server holding the token gets a proof that names that port."""
    with LocalServer(token=TOKEN) as real:
        assert proves(real.host, TOKEN, real.pid)
        assert not proves(real.host, TOKEN, (real.pid or 0) + 1)  # another pid than the process it is
        assert not proves(real.host, "another-token")
        relay = Squatter(relay=real.host)
        try:
            assert not proves(relay.host, TOKEN) and TOKEN.encode() not in relay.received()
        finally:
            relay.close()


def test_nobody_can_take_the_port_while_the_server_loads() -> None:
    """The port is bound (and listening) before the server process exists; it is not on its command line."""
    server = LocalServer(token=TOKEN, startup_timeout=120)
    with open(os.devnull, "wb") as output:
        process = server.launch(output)
    try:
        assert server.port is not None and "--port" not in process.args and str(server.port) not in process.args
        for reuse in (False, True):
            with socket.socket() as rival:
                if reuse:
                    rival.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    rival.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                with pytest.raises(OSError):
                    rival.bind(("127.0.0.1", server.port))
        server.wait_ready(process, lambda: "")
        assert proves(server.host, TOKEN, process.pid)
    finally:
        stop_process(process)
        server.stop()


def record(folder: Path, **fields: object) -> Path:
    folder.mkdir(mode=0o700, exist_ok=True)
    state = {"host": "http://127.0.0.1:9", "token": TOKEN, "model": "all-minilm-l6-v2", "pid": os.getpid(),
             "version": __version__, "python": sys.executable, **fields}
    path = folder / STATE_FILE
    path.write_text(json.dumps(state))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("pid", ["abc", 1.5, 2**70, 0, -1, True, None, [1]])
def test_a_state_file_with_a_bad_pid_is_absent(tmp_path: Path, pid: object) -> None:
    record(tmp_path, pid=pid)
    assert read_state(tmp_path) is None
    assert not _alive(pid)


@pytest.mark.parametrize("change", [
    {"host": "http://example.com:80"}, {"host": "http://127.0.0.1:0"}, {"host": "http://127.0.0.1:99999"},
    {"host": 5}, {"token": ""}, {"token": None}, {"model": 3}, {"extra": 1},
])
def test_a_state_file_with_bad_fields_is_absent(tmp_path: Path, change: dict[str, object]) -> None:
    record(tmp_path, **change)
    assert read_state(tmp_path) is None


def test_a_state_file_others_could_read_or_that_is_no_regular_file_is_absent(tmp_path: Path) -> None:
    path = record(tmp_path)
    assert read_state(tmp_path) is not None
    path.chmod(0o644)
    assert read_state(tmp_path) is None
    path.chmod(0o600)
    (tmp_path / "elsewhere.json").write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere.json")
    assert read_state(tmp_path) is None
    path.unlink()
    path.write_text("[" * 100_000)
    path.chmod(0o600)
    assert read_state(tmp_path) is None
    assert not _alive(0) and not _alive(-1) and _alive(os.getpid())


def test_a_recorded_live_pid_on_a_squatted_port_is_not_reused(tmp_path: Path, squatter: Squatter) -> None:
    """The recorded pid is alive (this test's own) and the squatter holds the recorded port: `embed` starts its own
    server; the squatter sees neither the token nor the text, and stopping does not signal the recorded pid."""
    folder = tmp_path / "aleph-embed"
    record(folder, host=squatter.host)
    recorded = read_state(folder)
    assert isinstance(recorded, SharedServer) and not recorded.answers()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AA_")}
    result = subprocess.run(
        [sys.executable, "-m", "aleph_embed.cli", "embed", "a secret text", "--json"],
        env={**environment, "XDG_RUNTIME_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=180,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert "starting the local /embed server" in result.stderr
        assert any(value != 0.0 for value in json.loads(result.stdout))  # real vectors, not the squatter's zeros
        received = squatter.received()
        assert TOKEN.encode() not in received and b"secret" not in received
        started = read_state(folder)
        assert started is not None and started.host != squatter.host and started.token != TOKEN
    finally:
        assert stop_shared_server(folder)
    record(folder, host=squatter.host)
    assert not stop_shared_server(folder)  # the squatter proves nothing: this process is not signalled


def test_a_state_folder_others_may_write_in_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "aleph-embed"
    folder.mkdir(mode=0o700)
    folder.chmod(0o777)
    with pytest.raises(ConfigurationError, match="others may write"):
        shared_server(60, folder=folder, on_start=lambda: pytest.fail("nothing may start here"))
