"""Configuration in one place: the environment variables, how settings are resolved, and every named default.

A setting given as an argument wins; otherwise its environment variable is read; otherwise the default below
applies (or, for the host and model, there is none and the caller says so).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .errors import ConfigurationError

ENV_HOST = "AA_HOST"
"""Base URL of the API (may carry a path prefix such as `https://inference.example/v1`)."""
ENV_TOKEN = "AA_TOKEN"
"""API token for the clients."""
ENV_MODEL = "AA_MODEL"
"""Model name for the CLI and the framework adapters."""
ENV_COLLECTION = "AA_COLLECTION"
"""Default Qdrant collection of the CLI."""
ENV_SERVE_TOKEN = "AA_SERVE_TOKEN"
"""Token the local server requires (`aleph-embed serve`), so that it never needs the command line."""
ALEPH_ALPHA_API = "https://api.aleph-alpha.com"
"""Aleph Alpha's API: the host the drop-in replacements of the community classes default to, as the originals do."""



def __getattr__(name: str) -> Any:
    """`DEFAULT_TIMEOUT` (an `httpx.Timeout`: per read/write/pool wait of one attempt 305 s, connecting 10 s), made on
    first use: the CLI's start-up reads this module without importing httpx."""
    if name != "DEFAULT_TIMEOUT":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import httpx

    value = globals()[name] = httpx.Timeout(305.0, connect=10.0)
    return value

DEFAULT_ATTEMPT_TIMEOUT = 330.0
"""Seconds one attempt may take in all, connecting to last byte, when no `timeout` is given (a given `timeout`'s read
value bounds the attempt instead): the real API gives up on a request after 300 s; 30 s more carry the answer."""
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Largest answer body accepted, counted after decompression while it streams. The largest real answers: `/embed`
of a 5120-dim model with every layer (41) and pooling (5) is 1.05 M floats, 25 MB at 24 bytes per JSON float (about
10 MB at the API's usual ~10); `/batch_semantic_embed` of 100 prompts 12 MB; a large-vocabulary tokenizer.json up to
~35 MB. 64 MiB leaves 2.5x margin over the largest `/embed` answer."""
MAX_ERROR_BODY_BYTES = 64 * 1024
"""Bytes of an error answer's body read (the rest is dropped with the connection)."""
DEFAULT_MAX_RETRIES = 5
"""Retries of one request after its first attempt."""
DEFAULT_RETRY_DEADLINE = 600.0
"""Seconds from the first attempt after which a request is not retried again."""
DEFAULT_CONCURRENCY = 32
"""Calls in flight of one client (`embed_many`, `embed_texts`, the framework adapters)."""
DEFAULT_CLI_CONCURRENCY = 16
"""Calls in flight of the CLI's commands: fewer than a library client, since the CLI's default peer is the local
server on this machine, which gains nothing from more."""
DEFAULT_SWEEP_LAYERS = "0,2,4,-1"
"""Layers `aleph-embed sweep` tries unless told: the embeddings, two early ones, the last."""
DEFAULT_RERANK_CANDIDATES = 50
"""How many first-stage hits `search --rerank` / `eval --rerank` give the reranking model."""
DEFAULT_CHUNK_TOKENS = 256
"""Chunk size in the model's tokens (capped at its context): one topic per vector, a paragraph or a code sample
with its explanation, the passage length retrieval embedders are trained on. The overlap defaults to an eighth."""
ENV_CACHE_HOME = "XDG_CACHE_HOME"
"""Base of the user cache directory (default `~/.cache`); aleph-embed keeps its files in `aleph-embed/` there:
tokenizers fetched from hosts (`tokenizers/`), the local server's ONNX exports (`onnx/`)."""
DEFAULT_QDRANT_DEADLINE = 120.0
"""Seconds an ingest's Qdrant call (upsert, look-up) keeps retrying while Qdrant is away (a restart, a pause)."""
DEFAULT_UPSERT_BATCH_BYTES = 8 * 1024 * 1024  # an upsert's estimated size; Qdrant refuses requests over 32 MiB
DEFAULT_PROGRESS_INTERVAL = 5.0
DEFAULT_MAX_DOCUMENT_CHARS = 10_000_000
"""An ingested document's most characters (a file's read stops past it): an ingest's memory grows with its longest
document, ~60 bytes a character of prose (its chunks' vectors are held until it is stored; a 10 MB text file peaked
at 723 MB against a fast host, see bench/bench_document_memory.py), so the cap keeps a run under 1 GB."""
MAX_PDF_PAGE_CHARS = 200_000
"""A PDF page's most characters of text (a dense printed page holds ~5,000): pages sharing one huge content stream
make a small file expand to gigabytes of text (issue 25 #3)."""
"""Seconds between the ingest's progress lines when stderr is not a terminal (a log, a pipe)."""
ENV_DATA_HOME = "XDG_DATA_HOME"
"""Base of the user data directory (default `~/.local/share`); the CLI's embedded Qdrant store and failures files go
to `aleph-embed/`."""
ENV_RUNTIME_DIR = "XDG_RUNTIME_DIR"
"""The user's runtime directory; the shared local server's state file goes to `aleph-embed/` (else the cache dir)."""
ENV_SERVER_IDLE = "AA_SERVER_IDLE"
"""Seconds the CLI's shared local server stays up after its last request; 0 starts one per command instead."""
DEFAULT_SERVER_IDLE = 900.0
"""The shared local server's idle time: long enough for a session of commands, short enough not to hold the model's
memory all day."""

_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")

NO_HOST_MESSAGE = (
    f"No host for /embed: pass host=... or set {ENV_HOST}. Without one, the shared local server (the CLI's) is "
    f"used, which needs `pip install 'aleph-embed[server]'` and {ENV_SERVER_IDLE} not 0; or start "
    "`aleph-embed serve` and use host='http://127.0.0.1:8000'."
)
NO_MODEL_MESSAGE = f"no model: pass {{argument}} or set {ENV_MODEL} (see GET /models_available)"


def _from_environment(value: str | None, variable: str) -> str | None:
    return value if value is not None else (os.environ.get(variable) or None)


def resolve_host(host: str | None) -> str | None:
    """The host argument, else `AA_HOST`, else None."""
    return _from_environment(host or None, ENV_HOST)


def resolve_token(token: str | None) -> str | None:
    """The token argument, else `AA_TOKEN`, else None."""
    return _from_environment(token, ENV_TOKEN)


def resolve_model(model: str | None) -> str | None:
    """The model argument, else `AA_MODEL`, else None."""
    return _from_environment(model or None, ENV_MODEL)


def resolve_collection(collection: str | None) -> str | None:
    """The collection argument, else `AA_COLLECTION`, else None."""
    return _from_environment(collection or None, ENV_COLLECTION)


def data_dir() -> Path:
    """`$XDG_DATA_HOME/aleph-embed`, else `~/.local/share/aleph-embed`: the same whatever the current directory."""
    base = os.environ.get(ENV_DATA_HOME) or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "aleph-embed"


def runtime_dir() -> Path:
    """`$XDG_RUNTIME_DIR/aleph-embed`, else `cache_dir()`."""
    runtime = os.environ.get(ENV_RUNTIME_DIR)
    return Path(runtime) / "aleph-embed" if runtime else cache_dir()


def server_idle_timeout() -> float:
    """`AA_SERVER_IDLE` seconds, else `DEFAULT_SERVER_IDLE`."""
    value = os.environ.get(ENV_SERVER_IDLE) or str(DEFAULT_SERVER_IDLE)
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigurationError(f"{ENV_SERVER_IDLE}={value!r}: give seconds, e.g. 900 (0: no shared server)") from None
    if seconds < 0:
        raise ConfigurationError(f"{ENV_SERVER_IDLE}={value!r}: give seconds >= 0")
    return seconds


def resolve_serve_token(token: str | None, token_file: str | None = None) -> str | None:
    """The local server's token: the argument, else the first line of `token_file`, else `AA_SERVE_TOKEN`, else None
    (no token required). An empty token from any of them is a `ConfigurationError`: it would let anyone in."""
    source = "--token"
    if token is None and token_file is not None:
        source = f"--token-file {token_file}"
        try:
            token = Path(token_file).read_text().strip()
        except OSError as error:
            raise ConfigurationError(f"cannot read the token file {token_file}: {error.strerror}") from None
    if token is None and ENV_SERVE_TOKEN in os.environ:
        source, token = ENV_SERVE_TOKEN, os.environ[ENV_SERVE_TOKEN]
    if token is not None and not token.strip():
        raise ConfigurationError(f"the server token from {source} is empty; give a token or none at all")
    return token


def check_host(host: str) -> str:
    """A host usable as a base URL (scheme checked, trailing slash removed); raises `ConfigurationError` otherwise."""
    if not host.startswith(("http://", "https://")):
        raise ConfigurationError(f"host {redact_url(host)!r} must start with http:// or https://")
    return host.rstrip("/")


def cache_dir() -> Path:
    """aleph-embed's cache directory: `$XDG_CACHE_HOME/aleph-embed` (default `~/.cache/aleph-embed`)."""
    base = os.environ.get(ENV_CACHE_HOME) or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aleph-embed"


def redact_url(url: str) -> str:
    """`url` with credentials (`user:password@`) replaced by `***@`, for messages, logs and `repr`."""
    return _CREDENTIALS.sub(r"\1***@", url)


def split_credentials(url: str) -> tuple[str, str | None]:
    """`url` without its credentials, and the `Authorization` value they stand for (Basic), if it has any."""
    found = _CREDENTIALS.match(url)
    if found is None:
        return url, None
    user, _, password = found.group(2).partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return found.group(1) + url[found.end():], "Basic " + base64.b64encode(pair).decode("ascii")
