"""`/model-settings` and `endpoint="auto"`: each model embedded through the endpoint it is meant for."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from aleph_embed import ConfigurationError, EmbeddingSettings, UnknownModelError
from aleph_embed.ingest import Ingestor, MemorySink, VectorSpec
from aleph_embed.models import ModelSettings

from .conftest import async_client, embed_answer, sync_client

LISTED = [
    {"name": "raw-model", "status": "available", "max_context_size": 512, "embedding_type": "raw", "worker_type": "x"},
    {"name": "semantic-model", "status": "available", "max_context_size": 2048, "embedding_type": "semantic"},
    {"name": "pharia-1-embedding-4608-control", "max_context_size": 2048, "embedding_type": "instructable"},
    {"name": "qwen3-embedding-0.6b", "status": "available", "max_context_size": 2048, "embedding_type": "none"},
]
EXPECTED = {
    "raw-model": "/v1/embed",
    "semantic-model": "/v1/batch_semantic_embed",
    "pharia-1-embedding-4608-control": "/v1/instructable_embed",
    "qwen3-embedding-0.6b": "/v1/embeddings",
}
CHOSEN = {"raw-model": "embed", "semantic-model": "semantic", "pharia-1-embedding-4608-control": "instructable",
          "qwen3-embedding-0.6b": "openai"}
ONE = {"model_version": "m", "embedding": [0.6, 0.8], "num_tokens_prompt_total": 1}


def host(paths: list[str], *, settings: bool = True, models: bool = True) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        paths.append(request.url.path)
        if path == "/model-settings" and settings:
            return httpx.Response(200, json=LISTED)
        if path == "/models_available" and models:
            return httpx.Response(200, json=[{"name": "raw-model", "max_context_size": 512}])
        if request.method == "GET":
            return httpx.Response(404, json={"error": "not found", "code": "NOT_FOUND"})
        body = json.loads(request.content)
        if path == "/embed":
            return embed_answer(request, dimension=2)
        if path == "/batch_semantic_embed":
            vectors = [[0.6, 0.8]] * len(body["prompts"])
            return httpx.Response(200, json={"model_version": "m", "embeddings": vectors, "num_tokens_prompt_total": 1})
        if path in ("/semantic_embed", "/instructable_embed"):
            return httpx.Response(200, json=ONE)
        data = [{"object": "embedding", "embedding": [0.6, 0.8], "index": i} for i in range(len(body["input"]))]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"], "usage": usage})

    return handler


def test_model_settings_parsed_with_their_extras() -> None:
    with sync_client(host([])) as client:
        listed = client.model_settings()
    assert [model.embedding_type for model in listed] == ["raw", "semantic", "instructable", "none"]
    assert listed[0].model_extra == {"worker_type": "x"} and listed[2].status == "available"


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_auto_goes_to_the_models_endpoint_read_once(model: str) -> None:
    paths: list[str] = []
    settings = EmbeddingSettings(model=model, endpoint="auto")
    with sync_client(host(paths)) as client:
        for _ in range(3):
            assert len(client.embed_texts(["a", "b"], settings)) == 2
        assert client.resolve_endpoint(settings).endpoint == CHOSEN[model]
    assert paths.count("/v1/model-settings") == 1
    assert {path for path in paths if path != "/v1/model-settings"} == {EXPECTED[model]}


async def test_async_auto_alike() -> None:
    paths: list[str] = []
    async with async_client(host(paths)) as client:
        for model, path in EXPECTED.items():
            await client.embed_texts(["q"], EmbeddingSettings(model=model, endpoint="auto"), side="query")
            assert paths[-1] == path.replace("batch_semantic_embed", "semantic_embed")  # a query: one prompt
    assert paths.count("/v1/model-settings") == 4  # once per model


def test_a_host_without_model_settings() -> None:
    paths: list[str] = []
    with sync_client(host(paths, settings=False)) as client:
        assert client.model_settings() == [ModelSettings(name="raw-model", max_context_size=512, embedding_type="raw")]
        client.embed_texts(["a"], EmbeddingSettings(model="raw-model", endpoint="auto"))
    assert paths[-1] == "/v1/embed"
    paths.clear()
    with sync_client(host(paths, settings=False, models=False)) as client:  # neither listing: /embed
        client.embed_texts(["a"], EmbeddingSettings(model="any", endpoint="auto"))
    assert paths == ["/v1/model-settings", "/v1/models_available", "/v1/embed"]


def test_an_explicit_endpoint_wins_and_reads_nothing() -> None:
    paths: list[str] = []
    with sync_client(host(paths)) as client:
        client.embed_texts(["a"], EmbeddingSettings(model="qwen3-embedding-0.6b", endpoint="embed"))
    assert paths == ["/v1/embed"]


def test_an_option_of_another_endpoint_names_the_chosen_one() -> None:
    with sync_client(host([])) as client:
        with pytest.raises(ConfigurationError, match=r"'raw-model' embeds through endpoint 'embed'.*dimensions"):
            client.embed_texts(["a"], EmbeddingSettings(model="raw-model", endpoint="auto", dimensions=64))
        with pytest.raises(ConfigurationError, match="long_text"):
            client.embed_texts(["a"], EmbeddingSettings(model="semantic-model", endpoint="auto", long_text="average"))
        with pytest.raises(UnknownModelError, match="not served here"):
            client.embed_texts(["a"], EmbeddingSettings(model="nope", endpoint="auto"))
    with pytest.raises(ConfigurationError, match="resolve_endpoint"):
        EmbeddingSettings(model="m", endpoint="auto").calls(["a"])


def test_an_ingest_embeds_through_the_chosen_endpoint() -> None:
    paths: list[str] = []
    settings = EmbeddingSettings(model="semantic-model", endpoint="auto")
    with sync_client(host(paths)) as client:
        sink = MemorySink()
        ingestor = Ingestor(embedder=client, settings=settings, sink=sink, chunking=False)
        report = ingestor.ingest(["first document", "second document"])
    assert report.failed == [] and len(sink.points) == 2
    assert ingestor.settings.endpoint == "semantic"
    assert paths == ["/v1/model-settings", "/v1/batch_semantic_embed"]
    with sync_client(host([])) as client, pytest.raises(ConfigurationError, match="named vectors"):
        Ingestor(embedder=client, settings=settings, sink=MemorySink(), chunking=False,
                 vectors={"v": VectorSpec(-1, "mean")}).ingest(["a"])  # semantic gives one vector per text
