"""`POST /rerank` on a cross-encoder served with `task=rerank`, and `GET /model-settings`, against the real server.

The cross-encoder is the packaged MiniLM with a seeded one-logit head (`tests.support.cross_encoder`): no
cross-encoder weights are packaged on the registries here. Its scores are compared with
`sentence_transformers.CrossEncoder(PATH).predict`, an implementation independent of the server's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aleph_embed.server.launcher import LocalServer
from tests.support.cross_encoder import predict

from .conftest import minilm_path

RECORDINGS = sorted((Path(__file__).parent.parent / "data" / "real-api").glob("test_can_rerank_*.json"))
TOKEN = "rerank-token"


@pytest.fixture(scope="module")
def server(cross_encoder: Path) -> Iterator[LocalServer]:
    models = {
        "minilm": str(minilm_path()),
        "semantic-minilm": f"{minilm_path()};embedding_type=semantic",
        "reranker": f"{cross_encoder};task=rerank",
    }
    with LocalServer(models=models, token=TOKEN, extra_args=["--backend", "torch", "--max-batch-tokens", "200"]) as s:
        yield s


def post(server: LocalServer, path: str, body: Any) -> httpx.Response:  # noqa: ANN401 - any JSON
    return httpx.post(f"{server.host}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda path: path.stem)
def test_rerank_answers_the_recorded_request_as_the_real_api_shapes_it(
    server: LocalServer, cross_encoder: Path, recording: Path
) -> None:
    recorded = json.loads(recording.read_text())
    request = {**recorded["request"], "model": "reranker"}
    answer = post(server, "/rerank", request)
    assert answer.status_code == recorded["status"] == 200, answer.text
    body, expected = answer.json(), recorded["response"]
    assert body.keys() == expected.keys()
    assert body["usage"].keys() == expected["usage"].keys()
    assert [result.keys() for result in body["results"]] == [result.keys() for result in expected["results"]]
    scores = predict(cross_encoder, request["query"], request["documents"])
    order = sorted(range(len(scores)), key=lambda index: -scores[index])[: request.get("top_n")]
    assert [result["index"] for result in body["results"]] == order
    for result in body["results"]:
        assert result["relevance_score"] == pytest.approx(scores[result["index"]], abs=1e-5)
    tokens = [len(server_pair) for server_pair in _pairs(cross_encoder, request["query"], request["documents"])]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": sum(tokens)}


def _pairs(cross_encoder: Path, query: str, documents: list[str]) -> list[list[int]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cross_encoder)
    return [tokenizer(query, document)["input_ids"] for document in documents]


def test_many_documents_of_mixed_lengths_equal_cross_encoder_predict(server: LocalServer, cross_encoder: Path) -> None:
    """More pairs than one pass takes (--max-batch-tokens 200), lengths from 1 word to past the context (truncated
    as CrossEncoder truncates), and the text returned when asked."""
    query = "Which report describes the revenue of the second quarter?"
    documents = [" ".join(["revenue grew in the second quarter"] * (1 + (index * 7) % 120)) for index in range(40)]
    documents += ["quarter", "a" * 5000]
    body = post(server, "/rerank", {"model": "reranker", "query": query, "documents": documents,
                                    "return_text": True}).json()
    scores = predict(cross_encoder, query, documents)
    assert len(body["results"]) == len(documents)
    assert max(scores) - min(scores) > 1e-3  # the comparison can tell documents apart
    for result in body["results"]:
        assert result["relevance_score"] == pytest.approx(scores[result["index"]], abs=1e-5)
        assert result["document"] == {"text": documents[result["index"]]}
    ranked = [result["relevance_score"] for result in body["results"]]
    assert ranked == sorted(ranked, reverse=True)


def test_model_settings_lists_every_model_with_its_type(server: LocalServer, cross_encoder: Path) -> None:
    answer = httpx.get(f"{server.host}/model-settings", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.json() == [
        {"name": "minilm", "status": "available", "max_context_size": 512, "embedding_type": "raw"},
        {"name": "semantic-minilm", "status": "available", "max_context_size": 512, "embedding_type": "semantic"},
        {"name": "reranker", "status": "available", "max_context_size": 512, "embedding_type": "none"},
    ]
    assert httpx.get(f"{server.host}/model-settings").status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/rerank", {"model": "minilm", "query": "q", "documents": ["d"]}, 400, "cannot rerank"),
        ("/rerank", {"model": "nobody", "query": "q", "documents": ["d"]}, 404, "not served here"),
        ("/embed", {"model": "reranker", "prompt": "hi"}, 400, "is a rerank model"),
        ("/semantic_embed", {"model": "reranker", "prompt": "hi"}, 400, "is a rerank model"),
        ("/rerank", {"model": "reranker", "query": "q", "documents": []}, 400, "documents"),
        ("/rerank", {"model": "reranker", "query": "", "documents": ["d"]}, 400, "query"),
        ("/rerank", {"model": "reranker", "query": "q", "documents": ["d"], "top_n": 0}, 400, "top_n"),
        ("/rerank", {"model": "reranker", "query": "q", "documents": ["d"], "extra": 1}, 400, "extra"),
        ("/rerank", {"model": "reranker", "query": "q", "documents": ["d"], "top_n": "2"}, 400, "top_n"),
        ("/rerank", {"model": "reranker", "query": "q", "documents": ["d"] * 1001}, 400, "at most 1000"),
        ("/rerank", {"model": "reranker", "query": "q" * 40_000, "documents": ["d"]}, 400, "characters"),
    ],
)
def test_bad_rerank_requests_are_clear_4xx(
    server: LocalServer, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    answer = post(server, path, body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def test_top_n_beyond_the_documents_returns_them_all(server: LocalServer) -> None:
    body = post(server, "/rerank", {"model": "reranker", "query": "q", "documents": ["a", "b"], "top_n": 5}).json()
    assert sorted(result["index"] for result in body["results"]) == [0, 1]
    assert all("document" not in result for result in body["results"])


def test_model_options_say_the_task_and_the_embedding_type() -> None:
    from aleph_embed.server.config import ModelSpec

    assert ModelSpec.parse("/m").embedding_type == "raw" and ModelSpec.parse("/m").task == "embed"
    assert ModelSpec.parse("/m;embedding_type=instructable").embedding_type == "instructable"
    assert ModelSpec.parse("/m;task=rerank").embedding_type == "none"
    for bad, message in [
        ("/m;task=generate", "task: one of embed, rerank"),
        ("/m;embedding_type=dense", "embedding_type: one of raw, semantic, instructable, none"),
        ("/m;task=rerank;embedding_type=raw", "a rerank model embeds nothing"),
    ]:
        with pytest.raises(ValueError, match=message):
            ModelSpec.parse(bad)
