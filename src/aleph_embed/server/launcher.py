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

DEFAULT_MODEL_NAME = "all-minilm-l6-v2"


def wait_until_ready(
    process: subprocess.Popen[bytes], url: str, timeout: float, name: str, output: Callable[[], str]
) -> None:
    """Poll `url` until it answers 200; raise `ServerStartError` with the process's output if it exits or times out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerStartError(f"{name} exited with code {process.returncode}:\n{output()}")
            try:
                if http.get(url).status_code == 200:
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
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """The local `/embed` server in a child process, on 127.0.0.1.

    `config` holds every server setting (default: `ServerConfig()`); `models`, `token` and `max_queue`, when given,
    replace its values. The server always binds 127.0.0.1, on `port` (default: a free one). `models` maps served
    names to Hugging Face model directories (default: all-MiniLM-L6-v2 as `DEFAULT_MODEL_NAME`); the first one is
    `default_model`. `extra_args` go to the server's command line as they are. Use as a context manager or call
    `start()` / `stop()`.
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
        config = replace(config or ServerConfig(), bind=LOOPBACK, port=port or free_port())
        if models is not None:
            config = replace(config, models={name: os.fspath(path) for name, path in models.items()})
        if token is not None:
            config = replace(config, token=token)
        if max_queue is not None:
            config = replace(config, max_queue=max_queue)
        self.config = config
        self.port = self.config.port
        self.host = f"http://{LOOPBACK}:{self.port}"
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.default_model = next(iter(self.config.models), DEFAULT_MODEL_NAME)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

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
        """The command line that starts the server."""
        return [sys.executable, "-m", "aleph_embed.server", *self.config.to_args(), *self.extra_args]

    def environment(self) -> dict[str, str]:
        """The server process's environment: offline, and this config's token (never on the command line)."""
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        env.pop(ENV_SERVE_TOKEN, None)
        if self.config.token is not None:
            env[ENV_SERVE_TOKEN] = self.config.token
        return env

    def start(self) -> LocalServer:
        """Start the server and wait until `GET /health` answers."""
        if self._process is not None:
            return self
        self._log = tempfile.NamedTemporaryFile(prefix="aleph-embed-server-", suffix=".log")
        self._process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=self.environment()
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self._process is not None
        wait_until_ready(self._process, f"{self.host}/health", self.startup_timeout, "the local /embed server", self.output)

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
