"""Every kind of bad input gets its status and code in the API's error shape, and the server keeps serving."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from aleph_embed.server.launcher import LocalServer

from .conftest import post_embed

MODEL = "all-minilm-l6-v2"
GOOD = {"model": MODEL, "prompt": "still serving"}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()

BAD_BODIES: dict[str, Any] = {
    "invalid JSON": b'{"model": "all-minilm-l6-v2", "prompt": ',
    "not an object": [GOOD],
    "no model": {"prompt": "x"},
    "no prompt": {"model": MODEL},
    "prompt of a wrong type": {**GOOD, "prompt": 5},
    "layers of a wrong type": {**GOOD, "layers": "x"},
    "pooling not a list": {**GOOD, "pooling": "mean"},
    "null normalize": {**GOOD, "normalize": None},
    "null control_log_additive": {**GOOD, "control_log_additive": None},
    "unknown pooling": {**GOOD, "pooling": ["median"]},
    "unknown field": {**GOOD, "temperature": 0.5},
    "unknown hosting": {**GOOD, "hosting": "elsewhere"},
    "layer past the last": {**GOOD, "layers": [7]},
    "layer before the first": {**GOOD, "layers": [-8]},
    "empty layers": {**GOOD, "layers": []},
    "empty prompt": {**GOOD, "prompt": ""},
    "empty item list": {**GOOD, "prompt": []},
    "whitespace only": {**GOOD, "prompt": "   "},
    "token id past the vocabulary": {**GOOD, "prompt": [{"type": "token_ids", "data": [30522]}]},
    "negative token id": {**GOOD, "prompt": [{"type": "token_ids", "data": [-1]}]},
    "empty token ids": {**GOOD, "prompt": [{"type": "token_ids", "data": []}]},
    "control outside the text": {
        **GOOD, "prompt": [{"type": "text", "data": "abc", "controls": [{"start": 2, "length": 5, "factor": 2}]}],
    },
    "control past the token ids": {
        **GOOD, "prompt": [{"type": "token_ids", "data": [7592], "controls": [{"index": 1, "factor": 2}]}],
    },
    "negative factor": {
        **GOOD, "prompt": [{"type": "text", "data": "abc", "controls": [{"start": 0, "length": 1, "factor": -1}]}],
    },
    "threshold above 1": {**GOOD, "contextual_control_threshold": 1.5},
    "unknown item type": {**GOOD, "prompt": [{"type": "audio", "data": "x"}]},
    "image on a text model": {**GOOD, "prompt": [{"type": "image", "data": PNG}]},
    # strict types, as the real API's serde reads them (issue 11, finding 6)
    "a string for a boolean": {**GOOD, "normalize": "yes"},
    "a number for a boolean": {**GOOD, "tokens": 1},
    "a boolean for a layer": {**GOOD, "layers": [True]},
    "a float for a layer": {**GOOD, "layers": [1.0]},
    "a string for a token id": {**GOOD, "prompt": [{"type": "token_ids", "data": ["7592"]}]},
    "a string for a factor": {
        **GOOD, "prompt": [{"type": "text", "data": "abc", "controls": [{"start": 0, "length": 1, "factor": "2"}]}],
    },
    "a number for token ids": {**GOOD, "prompt": [{"type": "token_ids", "data": 1}]},
    "a duplicate key": b'{"model": "all-minilm-l6-v2", "prompt": "a", "prompt": "b"}',
    "a nested duplicate key": b'{"model": "all-minilm-l6-v2", "prompt": [{"type": "text", "type": "text", "data": "a"}]}',
    "NaN": b'{"model": "all-minilm-l6-v2", "prompt": "a", "contextual_control_threshold": NaN}',
    "a number out of range": b'{"model": "all-minilm-l6-v2", "prompt": [{"type": "text", "data": "abc", '
    b'"controls": [{"start": 0, "length": 1, "factor": 1e400}]}]}',
    "not UTF-8": b'{"model": "all-minilm-l6-v2", "prompt": "\xff"}',
    # UTF-16 and a byte-order mark: the real API reads UTF-8 only, and the size limits are checked on UTF-8
    "UTF-16, more layers than allowed": json.dumps({**GOOD, "layers": [-1] * 101}).encode("utf-16"),
    "UTF-16": json.dumps(GOOD).encode("utf-16-le"),
    "a byte-order mark": b"\xef\xbb\xbf" + json.dumps(GOOD).encode(),
    "an empty body": b"",
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "too many items": {**GOOD, "prompt": [{"type": "text", "data": "a"}] * 1001},
    "too many layers": {**GOOD, "layers": [-1] * 101},
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_input_is_a_payload_error(embed_server: LocalServer, case: str) -> None:
    response = post_embed(embed_server, BAD_BODIES[case])
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == "PAYLOAD_ERROR" and body["error"]
    assert post_embed(embed_server, GOOD).status_code == 200


def test_infinite_factor_is_a_payload_error(embed_server: LocalServer) -> None:
    body = b'{"model": "all-minilm-l6-v2", "prompt": [{"type": "text", "data": "abc", ' \
        b'"controls": [{"start": 0, "length": 1, "factor": Infinity}]}]}'
    response = post_embed(embed_server, body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (400, "PAYLOAD_ERROR")


def test_prompt_longer_than_the_context_says_both_sizes(embed_server: LocalServer) -> None:
    response = post_embed(embed_server, {**GOOD, "prompt": "word " * 600})
    assert response.status_code == 400
    assert response.json() == {
        "error": "prompt has 602 tokens, more than the model's context of 512", "code": "PAYLOAD_ERROR",
    }
    assert post_embed(embed_server, {**GOOD, "prompt": "word " * 510}).status_code == 200


def test_invalid_nice_parameter(embed_server: LocalServer) -> None:
    response = post_embed(embed_server, GOOD, params={"nice": "maybe"})
    assert (response.status_code, response.json()["code"]) == (400, "PAYLOAD_ERROR")


def test_unknown_model_is_404(embed_server: LocalServer) -> None:
    response = post_embed(embed_server, {**GOOD, "model": "luminous-base"})
    assert response.status_code == 404
    assert response.json()["code"] == "UNKNOWN_MODEL" and MODEL in response.json()["error"]


def test_unknown_path_and_method_answer_in_the_error_shape(embed_server: LocalServer) -> None:
    missing = httpx.get(f"{embed_server.host}/complete")
    wrong_method = httpx.get(f"{embed_server.host}/embed")
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_openapi_documents_embed(embed_server: LocalServer) -> None:
    schema = httpx.get(f"{embed_server.host}/openapi.json").json()
    assert {"/embed", "/models_available", "/health"} <= set(schema["paths"])
    assert "nice" in {parameter["name"] for parameter in schema["paths"]["/embed"]["post"]["parameters"]}


FLOOD = [{"type": "text", "data": "word " * 100, "controls": [{"start": 0, "length": 4, "factor": 2.0}] * 5000}]
SEMANTIC_BAD_BODIES: dict[str, tuple[str, Any]] = {
    "lax boolean": ("/semantic_embed", {"model": MODEL, "prompt": "a", "normalize": "yes"}),
    "duplicate key": ("/semantic_embed", b'{"model": "all-minilm-l6-v2", "prompt": "a", "prompt": "b"}'),
    "lone surrogate": ("/instructable_embed", b'{"model": "all-minilm-l6-v2", "input": "\\ud800", "instruction": "x"}'),
    "control flood": ("/instructable_embed", {"model": MODEL, "input": FLOOD, "instruction": "x"}),
    "too many prompts": ("/batch_semantic_embed", {"model": MODEL, "prompts": ["a"] * 101}),
    "a flood in one prompt": ("/batch_semantic_embed", {"model": MODEL, "prompts": ["a", FLOOD]}),
    "too many inputs": ("/embeddings", {"model": MODEL, "input": ["a"] * 2049}),
    "a string for a token id": ("/embeddings", {"model": MODEL, "input": [["7592"]]}),
}


@pytest.mark.parametrize("case", list(SEMANTIC_BAD_BODIES))
def test_the_semantic_endpoints_read_bodies_as_strictly_as_embed(embed_server: LocalServer, case: str) -> None:
    path, body = SEMANTIC_BAD_BODIES[case]
    content = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.post(f"{embed_server.host}{path}", headers={"Content-Type": "application/json"}, timeout=60,
                          **content)
    assert (response.status_code, response.json()["code"]) == (400, "PAYLOAD_ERROR"), response.text
    good = httpx.post(f"{embed_server.host}/embeddings", json={"model": MODEL, "input": ["a", "b"]}, timeout=60)
    assert good.status_code == 200 and len(good.json()["data"]) == 2
