"""The local `/embed` server shared by CLI commands: the first command with no host starts it detached, later ones
reuse it while it answers, and it stops itself after `idle_timeout` seconds without a request.

Safe by construction: it listens on 127.0.0.1 only, requires a random token, and its state file (pid, port, token)
is readable by its owner only (`0600`, in a `0700` folder: `$XDG_RUNTIME_DIR/aleph-embed`, else the user cache
folder). A lock file serialises the start, so concurrent commands start one server. No torch imported here.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from .._config import ENV_SERVE_TOKEN, runtime_dir
from .._version import __version__
from .config import ServerConfig
from .launcher import LocalServer, wait_until_ready

STATE_FILE = "server.json"


@dataclass(frozen=True)
class SharedServer:
    """A running shared server, as its state file records it."""

    host: str
    token: str
    model: str
    pid: int
    version: str
    python: str

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether it is alive, ours (it accepts the token) and of this version and interpreter."""
        if (self.version, self.python) != (__version__, sys.executable) or not _alive(self.pid):
            return False
        try:
            response = httpx.get(f"{self.host}/models_available", headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def shared_server(
    idle_timeout: float, *, on_start: Callable[[], None] = lambda: None, startup_timeout: float = 120.0,
    folder: Path | None = None,
) -> SharedServer:
    """The shared server: the recorded one when it answers, else a new one started detached (and recorded), after
    calling `on_start`."""
    folder = folder or runtime_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(folder / "server.lock"):
        recorded = read_state(folder)
        if recorded is not None and recorded.answers():
            return recorded
        on_start()
        server = _start(folder, idle_timeout, startup_timeout)
        _write_state(folder, server)
        return server


def read_state(folder: Path | None = None) -> SharedServer | None:
    """The recorded shared server (running or not), None when there is no readable record."""
    try:
        return SharedServer(**json.loads(((folder or runtime_dir()) / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _start(folder: Path, idle_timeout: float, startup_timeout: float) -> SharedServer:
    token = secrets.token_urlsafe(32)
    launcher = LocalServer(token=token, config=ServerConfig(idle_timeout=idle_timeout), startup_timeout=startup_timeout)
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            launcher.command(), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=launcher.environment(),
            start_new_session=True,  # a Ctrl-C in the terminal ends the command, not the shared server
        )
    wait_until_ready(process, f"{launcher.host}/health", startup_timeout, "the local /embed server",
                     lambda: log.read_text(errors="replace"))
    return SharedServer(launcher.host, token, launcher.default_model, process.pid, __version__, sys.executable)


def _write_state(folder: Path, server: SharedServer) -> None:
    temporary = folder / f"{STATE_FILE}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(asdict(server), stream)
    os.replace(temporary, folder / STATE_FILE)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process now holds that pid
    return True


def stop_shared_server(folder: Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the recorded shared server if it runs (and is ours: it accepts the recorded token); whether it did."""
    folder = folder or runtime_dir()
    recorded = read_state(folder)
    (folder / STATE_FILE).unlink(missing_ok=True)
    if recorded is None or not recorded.answers():
        return False
    os.kill(recorded.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(recorded.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
