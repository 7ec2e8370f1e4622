"""The local `/embed` server shared by CLI commands: the first command with no host starts it detached, later ones
reuse it while it answers, and it stops itself after `idle_timeout` seconds without a request.

Who it is: it listens on 127.0.0.1 only, on a socket the starting command bound and handed to it (no port on a
command line, nothing to take over while it loads), requires a random token, and a command uses it (at the start and
on every reuse) only once it proves, for a fresh nonce, that it holds the token and is the recorded process
(`identity`), before the token is sent. Its state file (pid, port, token) is readable by its owner only (`0600`, in a
folder that is the user's and writable by nobody else: `$XDG_RUNTIME_DIR/aleph-embed`, else the user cache folder);
a state file that is not a regular file of the user's, readable by others, or whose fields have the wrong types or
ranges is treated as absent. A lock file serialises the start, so concurrent commands start one server. No torch
imported here.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .._config import runtime_dir
from .._version import __version__
from ..errors import ConfigurationError
from .config import LOOPBACK, ServerConfig
from .identity import proves
from .launcher import LocalServer, stop_process

STATE_FILE = "server.json"
MAX_STATE_BYTES = 64 * 1024
MAX_PID = 2**22  # Linux's PID_MAX_LIMIT
_HOST = re.compile(rf"http://{re.escape(LOOPBACK)}:([0-9]{{1,5}})")


@dataclass(frozen=True)
class SharedServer:
    """A running shared server, as its state file records it."""

    host: str
    token: str
    model: str
    pid: int
    version: str
    python: str

    @classmethod
    def parse(cls, data: object) -> SharedServer | None:
        """The record `data` (a state file's JSON) holds, None unless every field is there with its type and range."""
        names = [spec.name for spec in fields(cls)]
        if not isinstance(data, dict) or sorted(data) != sorted(names):
            return None
        strings = [data[name] for name in names if name != "pid"]
        if not all(isinstance(value, str) and 0 < len(value) <= 4096 for value in strings) or not _pid(data["pid"]):
            return None
        port = _HOST.fullmatch(data["host"])
        return cls(**data) if port is not None and 0 < int(port[1]) < 65536 else None

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether it is alive, of this version and interpreter, and proves that it holds the token and is the
        recorded process (the token is not sent)."""
        if (self.version, self.python) != (__version__, sys.executable) or not _alive(self.pid):
            return False
        return proves(self.host, self.token, self.pid, timeout)


def shared_server(
    idle_timeout: float, *, on_start: Callable[[], None] = lambda: None, startup_timeout: float = 120.0,
    folder: Path | None = None,
) -> SharedServer:
    """The shared server: the recorded one when it answers, else a new one started detached (and recorded), after
    calling `on_start`."""
    folder = _private_folder(folder or runtime_dir())
    with _locked(folder / "server.lock"):
        recorded = read_state(folder)
        if recorded is not None and recorded.answers():
            return recorded
        on_start()
        server = _start(folder, idle_timeout, startup_timeout)
        _write_state(folder, server)
        return server


def read_state(folder: Path | None = None) -> SharedServer | None:
    """The recorded shared server (running or not), None when there is no valid record: the file must be a regular
    file of this user's, unreadable by others, and hold every field with its type."""
    try:
        descriptor = os.open((folder or runtime_dir()) / STATE_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        try:
            return SharedServer.parse(json.loads(stream.read(MAX_STATE_BYTES + 1)[:MAX_STATE_BYTES]))
        except (OSError, ValueError, RecursionError):
            return None


def _private_folder(folder: Path) -> Path:
    """`folder`, created `0700` if missing; `ConfigurationError` when it is not this user's or others may write in
    it (they could replace the state file)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise ConfigurationError(
            f"{folder} (the shared local server's state) is not yours or others may write in it: make it yours and "
            "not group/world-writable, set XDG_RUNTIME_DIR, or set AA_SERVER_IDLE=0 (no shared server)"
        )
    return folder


def _start(folder: Path, idle_timeout: float, startup_timeout: float) -> SharedServer:
    token = secrets.token_urlsafe(32)
    launcher = LocalServer(token=token, config=ServerConfig(idle_timeout=idle_timeout), startup_timeout=startup_timeout)
    log = folder / "server.log"
    with log.open("wb") as output:
        process = launcher.launch(output, detached=True)  # a Ctrl-C in the terminal ends the command, not the server
    try:
        launcher.wait_ready(process, lambda: log.read_text(errors="replace"))
    except BaseException:
        stop_process(process)
        raise
    return SharedServer(launcher.host, token, launcher.default_model, process.pid, __version__, sys.executable)


def _write_state(folder: Path, server: SharedServer) -> None:
    temporary = folder / f"{STATE_FILE}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(asdict(server), stream)
    os.replace(temporary, folder / STATE_FILE)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _pid(value: object) -> bool:
    """Whether `value` can be a process id (an int, not a bool, in 1 .. `MAX_PID`)."""
    return type(value) is int and 0 < value <= MAX_PID


def _alive(pid: object) -> bool:
    """Whether `pid` is a process id of a running process of this user's."""
    if not _pid(pid):
        return False
    try:
        os.kill(pid, 0)  # type: ignore[arg-type]  # an int: `_pid` checked it
    except (ProcessLookupError, PermissionError):  # PermissionError: someone else's process now holds that pid
        return False
    return True


def stop_shared_server(folder: Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the recorded shared server if it runs (and is ours: it proves the recorded token and pid); whether it
    did."""
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
