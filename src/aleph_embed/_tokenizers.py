"""The hosts' tokenizers, kept in memory and on disk (`$XDG_CACHE_HOME/aleph-embed/tokenizers`, else
`~/.cache/aleph-embed/tokenizers`), keyed by host and model; files are written whole (temporary file + rename).
A loopback host (the local server, on a new port each time the CLI starts it) is kept in memory only."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

from tokenizers import Tokenizer

from . import config
from .errors import InvalidResponseError

logger = logging.getLogger("aleph_embed")
_memory: dict[tuple[str, str], Tokenizer] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """Where tokenizers are kept on disk."""
    return config.cache_dir() / "tokenizers"


def cache_path(host: str, model: str) -> Path:
    """The file of `model`'s tokenizer from `host`: readable name, hashed key."""
    key = hashlib.sha256(f"{host}\n{model}".encode()).hexdigest()[:16]
    return cache_dir() / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', model)[:64]}-{key}.json"


def remembered(host: str, model: str) -> Tokenizer | None:
    """The tokenizer this process already has."""
    with _lock:
        return _memory.get((host, model))


def from_disk(host: str, model: str) -> Tokenizer | None:
    """The tokenizer cached on disk (None when missing or unreadable), now also in memory."""
    if _loopback(host):
        return None
    try:
        tokenizer = _counting(Tokenizer.from_str(cache_path(host, model).read_text(encoding="utf-8")))
    except Exception:  # a missing or foreign file is fetched again (tokenizers raises plain Exception)
        return None
    return _remember(host, model, tokenizer)


def store(host: str, model: str, body: bytes) -> Tokenizer:
    """Parse a `tokenizer.json` the host answered, keep it in memory and on disk."""
    try:
        tokenizer = _counting(Tokenizer.from_str(body.decode("utf-8")))
    except Exception as error:  # tokenizers raises plain Exception on malformed JSON
        raise InvalidResponseError(f"the tokenizer answer is not a Hugging Face tokenizer.json: {error}") from None
    if _loopback(host):
        return _remember(host, model, tokenizer)
    path = cache_path(host, model)
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=".tmp-", delete=False) as handle:
            temporary = handle.name
            handle.write(body)
        os.replace(temporary, path)  # atomic: concurrent writers each put a whole file in place
    except OSError as error:
        logger.warning("cannot cache the tokenizer of %s in %s: %s", model, path.parent, error)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return _remember(host, model, tokenizer)


def _loopback(host: str) -> bool:
    name = urlsplit(host).hostname or ""
    return name == "localhost" or name == "::1" or name.startswith("127.")


def _counting(tokenizer: Tokenizer) -> Tokenizer:
    """Count every token: no truncation, no padding (as `/embed` counts)."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _remember(host: str, model: str, tokenizer: Tokenizer) -> Tokenizer:
    with _lock:
        return _memory.setdefault((host, model), tokenizer)
