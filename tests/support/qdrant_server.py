"""The real Qdrant server binary as a child process on 127.0.0.1 (single node, or a peer of a cluster)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from aleph_embed.server.launcher import LOOPBACK, ServerStartError, free_port, stop_process, wait_until_ready

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO / ".cache" / "qdrant-1.16.3" / "package" / "bin" / "qdrant"


def qdrant_binary() -> Path:
    """QDRANT_BIN_PATH, else the binary `make setup` downloads."""
    return Path(os.environ.get("QDRANT_BIN_PATH") or DEFAULT_BINARY)


class QdrantServer:
    """One Qdrant process with its storage under `directory`. `clustered=True` starts the first peer of a
    cluster; `bootstrap` (an earlier peer's p2p URI) joins that peer's cluster."""

    def __init__(self, directory: Path, *, clustered: bool = False, bootstrap: str | None = None) -> None:
        self.directory = directory
        self.http_port, self.grpc_port, self.p2p_port = free_port(), free_port(), free_port()
        self.url = f"http://{LOOPBACK}:{self.http_port}"
        self.p2p_uri = f"http://{LOOPBACK}:{self.p2p_port}"
        self.clustered = clustered or bootstrap is not None
        self.bootstrap = bootstrap
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> QdrantServer:
        binary = qdrant_binary()
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"no Qdrant binary at {binary}: run `make setup` or set QDRANT_BIN_PATH")
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "QDRANT__SERVICE__HOST": LOOPBACK,
            "QDRANT__SERVICE__HTTP_PORT": str(self.http_port),
            "QDRANT__SERVICE__GRPC_PORT": str(self.grpc_port),
            "QDRANT__STORAGE__STORAGE_PATH": str(self.directory / "storage"),
            "QDRANT__STORAGE__SNAPSHOTS_PATH": str(self.directory / "snapshots"),
            "QDRANT__TELEMETRY_DISABLED": "true",
            "QDRANT__LOG_LEVEL": "WARN",
        }
        command = [str(binary)]
        if self.clustered:
            env.update({"QDRANT__CLUSTER__ENABLED": "true", "QDRANT__CLUSTER__P2P__PORT": str(self.p2p_port)})
            command += ["--uri", self.p2p_uri]
            if self.bootstrap:
                command += ["--bootstrap", self.bootstrap]
        log = (self.directory / "qdrant.log").open("wb")
        self._process = subprocess.Popen(
            command, cwd=self.directory, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        try:
            wait_until_ready(self._process, f"{self.url}/readyz", timeout, "qdrant", self.output)
        except ServerStartError:
            self.stop()
            raise

    def output(self) -> str:
        path = self.directory / "qdrant.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections are accepted by the kernel but nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process go on (SIGCONT)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process by its pid: terminate, wait, then kill."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, timeout)


def start_cluster(directory: Path, timeout: float = 60.0) -> list[QdrantServer]:
    """Two peers that form one cluster; returns once both see each other."""
    first = QdrantServer(directory / "peer-1", clustered=True).start(timeout)
    peers = [first]
    try:
        peers.append(QdrantServer(directory / "peer-2", bootstrap=first.p2p_uri).start(timeout))
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as http:
            while len(http.get(f"{first.url}/cluster").json()["result"]["peers"]) < 2:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the second peer did not join:\n{peers[1].output()}")
                time.sleep(0.1)
    except BaseException:
        for peer in peers:
            peer.stop()
        raise
    return peers


def stored_chunks(client: Any, collection: str) -> dict[Any, list[int]]:
    """{document id: the chunk indices of its points, sorted} of a collection (a whole document is chunk 0)."""
    records, _ = client.scroll(collection, limit=100_000, with_payload=["document_id", "chunk_index"])
    chunks: dict[Any, list[int]] = {}
    for record in records:
        chunks.setdefault(record.payload["document_id"], []).append(record.payload.get("chunk_index", 0))
    return {document: sorted(indices) for document, indices in chunks.items()}


def assert_documents_once(client: Any, collection: str, ids: Iterable[Any]) -> dict[Any, list[int]]:
    """Every document of `ids` stored, nothing else, each as chunks 0..n-1 exactly once; returns `stored_chunks`."""
    chunks = stored_chunks(client, collection)
    assert sorted(chunks, key=repr) == sorted(ids, key=repr)
    doubled = {document: indices for document, indices in chunks.items() if indices != list(range(len(indices)))}
    assert not doubled, f"chunks missing or doubled: {doubled}"
    return chunks
