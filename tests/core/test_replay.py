"""Every recorded exchange with the real API, replayed through both clients."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from aleph_embed import (
    BatchSemanticEmbedRequest,
    EmbedRequest,
    InstructableEmbedRequest,
    ModelInfo,
    RerankRequest,
    SemanticEmbedRequest,
)

from .conftest import HOST, RECORDED, TOKEN, async_client, recorded, recorded_embed_exchanges, sync_client
from .test_models import without_nulls


def replaying(exchange: dict, seen: list[httpx.Request], compress: bool = False):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.method == exchange["method"]
        assert request.url.path == "/v1" + exchange["path"]
        assert request.url.query.decode() == exchange["query"]
        if exchange["request"] is not None:
            assert without_nulls(json.loads(request.content)) == without_nulls(exchange["request"])
        content = json.dumps(exchange["response"]).encode()
        if compress:
            return httpx.Response(exchange["status"], content=gzip.compress(content), headers={"content-encoding": "gzip"})
        return httpx.Response(exchange["status"], content=content)

    return handler


def assert_matches_recording(response, exchange: dict, request: EmbedRequest) -> None:
    recorded_response = exchange["response"]
    assert response.model_version == recorded_response["model_version"]
    assert response.tokens == recorded_response["tokens"]
    assert response.num_tokens_prompt_total == recorded_response["num_tokens_prompt_total"]
    assert response.embeddings == recorded_response["embeddings"]
    for layer in request.layers:
        for pooling in request.pooling:
            vector = response.vector(layer, pooling)
            assert len(vector) == 5120 and all(isinstance(v, float) for v in vector)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", recorded_embed_exchanges())
def test_sync_client_replays_recorded_embed(name: str, compress: bool) -> None:
    exchange, seen = recorded(name), []
    request = EmbedRequest.model_validate(exchange["request"])
    with sync_client(replaying(exchange, seen, compress)) as client:
        response = client.embed(request)
    assert_matches_recording(response, exchange, request)
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["user-agent"].startswith("aleph-embed/")
    assert seen[0].headers["content-type"] == "application/json"
    assert client.usage.requests == 1 and client.usage.prompt_tokens == exchange["response"]["num_tokens_prompt_total"]


@pytest.mark.parametrize("name", recorded_embed_exchanges())
async def test_async_client_replays_recorded_embed(name: str) -> None:
    exchange, seen = recorded(name), []
    request = EmbedRequest.model_validate(exchange["request"])
    async with async_client(replaying(exchange, seen)) as client:
        response = await client.embed(request)
    assert_matches_recording(response, exchange, request)


def test_nice_goes_in_the_query_only() -> None:
    exchange = recorded("test_embed.json")
    exchange = {**exchange, "query": "nice=true"}
    request = EmbedRequest.model_validate({**exchange["request"], "nice": True})
    with sync_client(replaying(exchange, [])) as client:
        client.embed(request)


async def test_models_available_replays() -> None:
    exchange = recorded("test_available_models_async_client.json")
    with sync_client(replaying(exchange, [])) as client:
        models = client.models_available()
    async with async_client(replaying(exchange, [])) as aclient:
        assert await aclient.models_available() == models
    assert all(isinstance(m, ModelInfo) for m in models)
    luminous = next(m for m in models if m.name == "luminous-base")
    assert luminous.max_context_size == 2048 and luminous.image_support
    assert len(models) == len(exchange["response"])


def test_host_path_prefix_is_kept() -> None:
    assert HOST.endswith("/v1")
    seen: list[httpx.Request] = []
    with sync_client(replaying(recorded("test_embed.json"), seen)) as client:
        client.embed(recorded("test_embed.json")["request"])
    assert str(seen[0].url) == HOST + "/embed"


ENDPOINTS = {
    "/semantic_embed": ("semantic_embed", SemanticEmbedRequest),
    "/batch_semantic_embed": ("batch_semantic_embed", BatchSemanticEmbedRequest),
    "/instructable_embed": ("instructable_embed", InstructableEmbedRequest),
}


def recorded_endpoint_exchanges() -> list[str]:
    return sorted(p.name for p in RECORDED.glob("*.json") if json.loads(p.read_text())["path"] in ENDPOINTS)


def test_every_recording_is_replayed() -> None:
    paths = {json.loads(p.read_text())["path"] for p in RECORDED.glob("*.json")}
    assert paths == {"/embed", "/models_available", "/rerank", *ENDPOINTS}
    assert len(recorded_endpoint_exchanges()) == 3


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", recorded_endpoint_exchanges())
def test_sync_client_replays_recorded_endpoint(name: str, compress: bool) -> None:
    exchange, seen = recorded(name), []
    method, model = ENDPOINTS[exchange["path"]]
    request = model.model_validate(exchange["request"])
    assert request.body() == without_nulls(exchange["request"])
    with sync_client(replaying(exchange, seen, compress)) as client:
        response = getattr(client, method)(request)
    assert response.model_dump() == exchange["response"]
    assert all(isinstance(v, float) for vector in response.vectors() for v in vector)
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert client.usage.requests == 1 and client.usage.prompt_tokens == exchange["response"]["num_tokens_prompt_total"]


@pytest.mark.parametrize("name", recorded_endpoint_exchanges())
async def test_async_client_replays_recorded_endpoint(name: str) -> None:
    exchange = recorded(name)
    method, model = ENDPOINTS[exchange["path"]]
    async with async_client(replaying(exchange, [])) as client:
        response = await getattr(client, method)(exchange["request"])  # a mapping is validated as the request
    assert response.model_dump() == exchange["response"]
    assert client.usage.prompt_tokens == exchange["response"]["num_tokens_prompt_total"]


RERANKS = sorted(p.name for p in RECORDED.glob("*.json") if json.loads(p.read_text())["path"] == "/rerank")


def test_both_rerank_recordings_are_here() -> None:
    assert RERANKS == ["test_can_rerank_documents_sync_client.json", "test_can_rerank_with_top_n_async_client.json"]


@pytest.mark.parametrize("name", RERANKS)
def test_sync_client_replays_recorded_rerank(name: str) -> None:
    exchange, seen = recorded(name), []
    request = RerankRequest.model_validate(exchange["request"])
    assert request.body() == exchange["request"]
    with sync_client(replaying(exchange, seen)) as client:
        response = client.rerank(request)
    assert response.model_dump() == exchange["response"]
    assert json.loads(seen[0].content) == exchange["request"]
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert client.usage.requests == 1 and client.usage.prompt_tokens == exchange["response"]["usage"]["total_tokens"]


@pytest.mark.parametrize("name", RERANKS)
async def test_async_client_replays_recorded_rerank(name: str) -> None:
    exchange, seen = recorded(name), []
    async with async_client(replaying(exchange, seen)) as client:
        response = await client.rerank(exchange["request"])  # a mapping is validated as the request
    assert response.model_dump() == exchange["response"]
    assert json.loads(seen[0].content) == exchange["request"]
    assert client.usage.requests == 1 and client.usage.prompt_tokens == exchange["response"]["usage"]["total_tokens"]
