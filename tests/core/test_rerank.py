"""`rerank` on both clients: any number of documents split into calls, merged best first with the caller's indexes."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from aleph_embed import MAX_RERANK_DOCUMENTS, InvalidResponseError, RerankRequest, UnknownModelError

from .conftest import async_client, sync_client

DOCUMENTS = [f"document {number}" for number in range(250)]


def score(document: str) -> float:
    """A relevance that is not the documents' order: number 137 is the best, then its neighbours."""
    return 1.0 / (1 + abs(int(document.split()[1]) - 137))


def reranker(calls: list[dict]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body)
        if body["model"] == "missing":
            return httpx.Response(404, json={"error": "unknown model", "code": "UNKNOWN_MODEL"})
        ranked = sorted(range(len(body["documents"])), key=lambda i: -score(body["documents"][i]))
        ranked = ranked[: body.get("top_n") or len(ranked)]
        results = [{"index": i, "relevance_score": score(body["documents"][i])} for i in ranked]
        if body["query"] == "duplicate":
            results[1] = results[0]
        return httpx.Response(200, json={"results": results, "usage": {"total_tokens": 3 * len(body["documents"])}})

    return handler


@pytest.mark.parametrize("top_n", [None, 5])
def test_many_documents_split_and_merged_best_first(top_n: int | None) -> None:
    calls: list[dict] = []
    with sync_client(reranker(calls)) as client:
        answer = client.rerank(RerankRequest(model="r", query="q", documents=DOCUMENTS, top_n=top_n))
    assert [len(call["documents"]) for call in calls] == [MAX_RERANK_DOCUMENTS, MAX_RERANK_DOCUMENTS, 50]
    expected = sorted(range(len(DOCUMENTS)), key=lambda i: (-score(DOCUMENTS[i]), i))[: top_n or len(DOCUMENTS)]
    assert [result.index for result in answer.results] == expected
    assert answer.results[0].index == 137 and answer.results[0].relevance_score == 1.0
    assert answer.usage.total_tokens == 3 * len(DOCUMENTS) == client.usage.prompt_tokens
    assert client.usage.requests == 3


async def test_async_merges_the_same_way() -> None:
    calls: list[dict] = []
    request = {"model": "r", "query": "q", "documents": DOCUMENTS, "top_n": 3}
    async with async_client(reranker(calls)) as client:
        answer = await client.rerank(request)
    with sync_client(reranker([])) as sync:
        assert answer == sync.rerank(request)
    assert [result.index for result in answer.results] == [137, 136, 138]


def test_a_wrong_answer_and_a_failed_call_are_typed_errors() -> None:
    with sync_client(reranker([])) as client:
        with pytest.raises(InvalidResponseError, match="indexes"):
            client.rerank({"model": "r", "query": "duplicate", "documents": DOCUMENTS[:3]})
        with pytest.raises(UnknownModelError):
            client.rerank({"model": "missing", "query": "q", "documents": DOCUMENTS})
        assert client.usage.failures >= 2


def test_the_request_is_checked() -> None:
    for bad in ({"documents": []}, {"query": ""}, {"top_n": 0}):
        with pytest.raises(ValueError):
            RerankRequest.model_validate({"model": "r", "query": "q", "documents": ["d"], **bad})
