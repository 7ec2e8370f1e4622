"""The local server's semantic endpoints on the real model: /semantic_embed, /batch_semantic_embed,
/instructable_embed and /embeddings, checked against sentence-transformers run directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from aleph_embed import BadRequestError, BatchSemanticEmbedRequest, EmbedClient
from aleph_embed.server.launcher import LocalServer

from .conftest import minilm_path

TEXTS = ["The Eiffel Tower is in Paris.", "Photosynthesis turns light into sugar.", "Qdrant stores vectors."]
MODEL = "all-minilm-l6-v2"


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def reference() -> object:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device="cpu")


@pytest.fixture(scope="module")
def projection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    matrix = torch.randn(384, 128, generator=torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("projection") / "p128.pt"
    torch.save(matrix, path)
    return path, matrix


@pytest.fixture(scope="module")
def server(projection: tuple[Path, torch.Tensor]) -> Iterator[LocalServer]:
    """The default model, and the same model as 'e5-like' with prefixes, a projection, shortenable vectors and a
    template."""
    spec = (
        f"{minilm_path()};query_prefix=query: ;document_prefix=passage: ;projection={projection[0]};matryoshka=true;"
        "instruction_template=Instruct: {instruction}\\nQuery: {input}"
    )
    with LocalServer(models={MODEL: str(minilm_path()), "e5-like": spec}) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LocalServer) -> Iterator[EmbedClient]:
    with EmbedClient(server.host) as embed_client:
        yield embed_client


@pytest.mark.slow
def test_semantic_is_the_models_sentence_embedding(client: EmbedClient, reference: object) -> None:
    expected = reference.encode(TEXTS, normalize_embeddings=True)  # type: ignore[attr-defined]
    for text, want in zip(TEXTS, expected):
        answer = client.semantic_embed({"model": MODEL, "prompt": text, "representation": "document"})
        assert cosine(answer.embedding, list(want)) >= 0.99999
    batch = client.batch_semantic_embed({"model": MODEL, "prompts": TEXTS, "normalize": True})
    for got, want in zip(batch.embeddings, expected):
        assert cosine(got, list(want)) >= 0.99999 and abs(np.linalg.norm(got) - 1) < 1e-5
    assert batch.num_tokens_prompt_total == sum(len(reference.tokenize([t])["input_ids"][0]) for t in TEXTS)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_batch_calls_prompts_run_in_the_batchers_batches(server: LocalServer, client: EmbedClient) -> None:
    """Each prompt is a job of the batcher, as /embed's are: 100 prompts in batches of --max-batch-size (32)."""
    before = httpx.get(f"{server.host}/health").json()
    answer = client.batch_semantic_embed({"model": MODEL, "prompts": [f"text number {i}" for i in range(100)]})
    assert len(answer.embeddings) == 100
    after = httpx.get(f"{server.host}/health").json()
    assert after["batches"] - before["batches"] == 4 and after["batched_requests"] - before["batched_requests"] == 100


@pytest.mark.slow
def test_prefixes_projection_and_template_come_from_the_model_spec(
    client: EmbedClient, reference: object, projection: tuple[Path, torch.Tensor]
) -> None:
    def plain(text: str) -> list[float]:
        return list(reference.encode([text], normalize_embeddings=True)[0])  # type: ignore[attr-defined]

    query = client.semantic_embed({"model": "e5-like", "prompt": "where?", "representation": "query"})
    document = client.batch_semantic_embed({"model": "e5-like", "prompts": ["here."], "representation": "document"})
    symmetric = client.semantic_embed({"model": "e5-like", "prompt": "here."})
    assert cosine(query.embedding, plain("query: where?")) >= 0.99999
    assert cosine(document.embeddings[0], plain("passage: here.")) >= 0.99999
    assert cosine(symmetric.embedding, plain("here.")) >= 0.99999
    compressed = client.semantic_embed({"model": "e5-like", "prompt": "here.", "compress_to_size": 128})
    assert len(compressed.embedding) == 128
    assert cosine(compressed.embedding, (torch.tensor(plain("here.")) @ projection[1]).tolist()) >= 0.99999
    instructed = client.instructable_embed({"model": "e5-like", "input": "hello", "instruction": "Find greetings"})
    assert cosine(instructed.embedding, plain("Instruct: Find greetings\nQuery: hello")) >= 0.99999
    default = client.instructable_embed({"model": MODEL, "input": "hello", "instruction": "Find greetings"})
    assert cosine(default.embedding, plain("Find greetings\nhello")) >= 0.99999


@pytest.mark.slow
def test_embeddings_float_base64_token_ids_and_dimensions(client: EmbedClient, reference: object) -> None:
    floats = client.embeddings({"model": MODEL, "input": TEXTS, "encoding_format": "float"})
    packed = client.embeddings({"model": MODEL, "input": TEXTS, "encoding_format": "base64"})
    expected = reference.encode(TEXTS, normalize_embeddings=True)  # type: ignore[attr-defined]
    for got, again, want in zip(floats.vectors(), packed.vectors(), expected):
        assert cosine(got, list(want)) >= 0.99999 and np.allclose(got, again, atol=1e-6)
    ids = reference.tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]  # type: ignore[attr-defined]
    by_ids = client.embeddings({"model": MODEL, "input": ids})
    assert cosine(by_ids.vectors()[0], list(expected[0])) >= 0.99999
    assert floats.usage.prompt_tokens == client.batch_semantic_embed({"model": MODEL, "prompts": TEXTS}).num_tokens_prompt_total
    short = client.embeddings({"model": "e5-like", "input": "here.", "dimensions": 64})
    full = client.embeddings({"model": "e5-like", "input": "here."}).vectors()[0]
    assert len(short.vectors()[0]) == 64 and cosine(short.vectors()[0], full[:64]) >= 0.99999


@pytest.mark.slow
def test_what_a_model_cannot_do_is_a_clear_400(client: EmbedClient) -> None:
    with pytest.raises(BadRequestError, match="no such projection.*leave compress_to_size out"):
        client.semantic_embed({"model": MODEL, "prompt": "x", "compress_to_size": 128})
    with pytest.raises(BadRequestError, match="does not support shortened vectors"):
        client.embeddings({"model": MODEL, "input": "x", "dimensions": 64})
    with pytest.raises(BadRequestError, match="at most 100"):
        client.call(BatchSemanticEmbedRequest(model=MODEL, prompts=["x"] * 101))  # one call, not split
