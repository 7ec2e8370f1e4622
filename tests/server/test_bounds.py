"""The server's work bounded per call (issue 25 #4, #5, #12), against the real server: a batch call's prompts run in
passes of at most `--max-batch-tokens`, the tokenizer endpoints are capped by `--max-tokenizer-length` before any
work, no page answers without the token but `/health`, `/openapi.json` and `/docs`, and SECURITY.md's endpoint table
lists every route the app has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aleph_embed.server.config import ServerConfig
from aleph_embed.server.launcher import LocalServer

from .conftest import minilm_path

TOKEN = "bounds-token"
BATCH_TOKENS = 1000
TOKENIZER_LENGTH = 5000


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    config = ServerConfig(
        models={"minilm": str(minilm_path())}, token=TOKEN, max_batch_tokens=BATCH_TOKENS,
        max_tokenizer_length=TOKENIZER_LENGTH,
    )
    with LocalServer(config=config) as running:
        yield running


def post(server: LocalServer, path: str, body: Any) -> httpx.Response:  # noqa: ANN401 - any JSON
    return httpx.post(f"{server.host}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)


def counters(server: LocalServer) -> dict[str, Any]:
    return httpx.get(f"{server.host}/health").json()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/batch_semantic_embed", {"prompts": [[{"type": "token_ids", "data": [1000 + i] * 198}] for i in range(20)]}),
        ("/embeddings", {"input": [[1000 + i] * 198 for i in range(20)]}),
    ],
)
def test_a_batch_calls_prompts_run_in_passes_of_at_most_max_batch_tokens(
    server: LocalServer, path: str, body: dict[str, Any]
) -> None:
    """20 prompts of 200 tokens (4,000 padded tokens) ran as one pass before; now in passes of <= 1,000 tokens."""
    before = counters(server)
    answer = post(server, path, {"model": "minilm", **body})
    assert answer.status_code == 200, answer.text
    after = counters(server)
    passes = after["forward_passes"] - before["forward_passes"]
    slots = after["token_slots"] - before["token_slots"]
    assert passes >= 20 * 200 // BATCH_TOKENS and slots <= passes * BATCH_TOKENS
    assert after["tokens"] - before["tokens"] == 20 * 200


def test_detokenize_refuses_more_token_ids_than_the_cap_before_decoding(server: LocalServer) -> None:
    """The finding: a 16 MB body of ids made a 50 MB answer on the event loop; now a 400 naming the flag."""
    many = post(server, "/detokenize", {"model": "minilm", "token_ids": [1000] * 2_000_000})
    assert many.status_code == 400
    assert f"more than {TOKENIZER_LENGTH} (--max-tokenizer-length)" in many.json()["error"]
    at_cap = post(server, "/detokenize", {"model": "minilm", "token_ids": [7592] * TOKENIZER_LENGTH})
    assert at_cap.status_code == 200 and at_cap.json()["result"].count("hello") == TOKENIZER_LENGTH


def test_tokenize_refuses_more_characters_than_the_cap(server: LocalServer) -> None:
    long = post(server, "/tokenize", {"model": "minilm", "prompt": "a" * (TOKENIZER_LENGTH + 1), "token_ids": True})
    assert long.status_code == 400 and "--max-tokenizer-length" in long.json()["error"]
    fits = post(server, "/tokenize", {"model": "minilm", "prompt": "hello " * 100, "token_ids": True})
    assert fits.status_code == 200 and fits.json()["token_ids"] == [7592] * 100


@pytest.mark.parametrize("path", ["/redoc", "/docs/oauth2-redirect"])
def test_no_documentation_page_but_docs_answers_without_the_token(server: LocalServer, path: str) -> None:
    assert httpx.get(f"{server.host}{path}").status_code == 404
    assert httpx.get(f"{server.host}/docs").status_code == 200


def test_security_md_lists_every_route_the_app_has() -> None:
    from aleph_embed.server.app import create_app
    from aleph_embed.server.identity import IDENTITY_PATH

    app = create_app({}, ServerConfig())
    routes = {(method, route.path) for route in app.routes for method in getattr(route, "methods", ()) - {"HEAD"}}
    routes.add(("GET", IDENTITY_PATH))  # answered by the middleware in front of the app
    security = (Path(__file__).resolve().parents[2] / "SECURITY.md").read_text()
    listed = set(re.findall(r"^\| `(GET|POST) (/[^`]*)` \|", security, re.MULTILINE))
    assert routes == listed
