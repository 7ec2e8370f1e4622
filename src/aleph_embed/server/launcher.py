"""Start and stop the local `/embed` server as a subprocess (no torch imported here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from .._config import ENV_SERVE_TOKEN
from ..errors import ServerStartError
from .config import LOOPBACK, ServerConfig
from .identity import IDENTITY_PATH, proves

DEFAULT_MODEL_NAME = "all-minilm-l6-v2"
BACKLOG = 2048  # uvicorn's default


def wait_until_ready(
    process: subprocess.Popen[bytes], url: str, timeout: float, name: str, output: Callable[[], str],
    ready: Callable[[], bool] | None = None,
) -> None:
    """Poll until `ready()` (default: `url` answers 200); raise `ServerStartError` with the process's output if it
    exits or times out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerStartError(f"{name} exited with code {process.returncode}:\n{output()}")
            try:
                if ready() if ready is not None else http.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise ServerStartError(f"{name} did not answer GET {url} within {timeout:.0f} s:\n{output()}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child process by its pid: terminate, wait, then kill."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now (for tests; a server that others must
    not take over gets `listening_socket` instead)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def listening_socket(port: int = 0) -> socket.socket:
    """A TCP socket listening on 127.0.0.1:`port` (0: a free one), bound before the server starts and handed to it
    (`--fd`): no other process can take the port in between."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise ServerStartError(f"cannot listen on {LOOPBACK}:{port}: {error.strerror}") from None
    return sock


class LocalServer:
    """The local `/embed` server in a child process, on 127.0.0.1.

    `config` holds every server setting (default: `ServerConfig()`); `models`, `token` and `max_queue`, when given,
    replace its values. The server always listens on 127.0.0.1, on `port` (default: a free one, known once
    started). The socket is bound here and inherited by the server, so no other process can take the port while
    it loads; with a token, it is ready once it proves it holds the token (`identity`), which the token itself is
    never sent for. `models` maps served names to Hugging Face model directories (default: all-MiniLM-L6-v2 as
    `DEFAULT_MODEL_NAME`); the first one is `default_model`. `extra_args` go to the server's command line as they
    are. Use as a context manager or call `start()` / `stop()`.
    """

    def __init__(
        self,
        port: int | None = None,
        models: Mapping[str, str | os.PathLike[str]] | None = None,
        token: str | None = None,
        extra_args: Sequence[str] = (),
        max_queue: int | None = None,
        startup_timeout: float = 120.0,
        config: ServerConfig | None = None,
    ) -> None:
        config = replace(config or ServerConfig(), bind=LOOPBACK, port=port or 0, fd=None)
        if models is not None:
            config = replace(config, models={name: os.fspath(path) for name, path in models.items()})
        if token is not None:
            config = replace(config, token=token)
        if max_queue is not None:
            config = replace(config, max_queue=max_queue)
        self.config = config
        self.port: int | None = port or None
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.default_model = next(iter(self.config.models), DEFAULT_MODEL_NAME)
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._log: IO[bytes] | None = None

    @property
    def host(self) -> str:
        """The server's URL (its port is known once started, unless given)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def models(self) -> dict[str, str]:
        """Served names and their model directories (empty: the default model)."""
        return self.config.models

    @property
    def token(self) -> str | None:
        """The bearer token the server requires, if any."""
        return self.config.token

    @property
    def max_queue(self) -> int:
        return self.config.max_queue

    @property
    def pid(self) -> int | None:
        """The server process id while it runs."""
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        """The command line that starts the server (on its inherited socket once `launch` bound it)."""
        config = self.config if self._socket is None else replace(self.config, fd=self._socket.fileno())
        return [sys.executable, "-m", "aleph_embed.server", *config.to_args(), *self.extra_args]

    def environment(self) -> dict[str, str]:
        """The server process's environment: offline, and this config's token (never on the command line)."""
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        env.pop(ENV_SERVE_TOKEN, None)
        if self.config.token is not None:
            env[ENV_SERVE_TOKEN] = self.config.token
        return env

    def start(self) -> LocalServer:
        """Start the server and wait until it is ready (`wait_ready`)."""
        if self._process is not None:
            return self
        self._log = tempfile.NamedTemporaryFile(prefix="aleph-embed-server-", suffix=".log")
        try:
            self._process = self.launch(self._log)
            self.wait_ready(self._process, self.output)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self, output: IO[bytes], *, detached: bool = False) -> subprocess.Popen[bytes]:
        """Bind the listening socket (`port` is then set) and start the server process on it, its output to
        `output`; `detached`: in a session of its own (a Ctrl-C in the terminal does not reach it)."""
        self._socket = listening_socket(self.config.port)
        self.port = int(self._socket.getsockname()[1])
        return subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=self.environment(),
            pass_fds=(self._socket.fileno(),), start_new_session=detached,
        )

    def wait_ready(self, process: subprocess.Popen[bytes], output: Callable[[], str]) -> None:
        """Wait until `process` serves: it proves it holds the token (`identity.proves`, its pid included), or,
        without a token, `GET /health` answers 200 (only it can accept on the socket). Then this side's copy of
        the socket is closed."""
        token = self.config.token
        ready = None if token is None else lambda: proves(self.host, token, process.pid)
        url = f"{self.host}{'/health' if token is None else IDENTITY_PATH}"
        try:
            wait_until_ready(process, url, self.startup_timeout, "the local /embed server", output, ready)
        finally:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def output(self) -> str:
        """What the server has printed so far (stdout and stderr)."""
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its pid: terminate, wait, then kill."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, timeout)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer(host={self.host!r}, default_model={self.default_model!r}, pid={self.pid})"
