"""`long_text` on a mock host whose /embed rejects prompts over a 16-token context, counted by the real tokenizer:
"truncate" and "average", with the host's tokenizer and without it (the server's verdict), sync and async."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import httpx
import pytest
from tokenizers import Tokenizer

from aleph_embed import EmbeddingSettings, TextEmbedError
from tests.core.conftest import async_client, sync_client

MODEL = "m"
CONTEXT = 16
TEXT = " ".join(f"word{i} is here." for i in range(40))


pytestmark = pytest.mark.usefixtures("fresh_tokenizer_cache")


def exact(tokenizer_json: bytes) -> Tokenizer:
    counter = Tokenizer.from_str(tokenizer_json.decode())
    counter.no_truncation()
    counter.no_padding()
    return counter


def host(tokenizer_json: bytes, sent: list[str], *, serves_tokenizer: bool) -> Callable[[httpx.Request], httpx.Response]:
    counter = exact(tokenizer_json)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models_available"):
            return httpx.Response(200, json=[{"name": MODEL, "max_context_size": CONTEXT}])
        if request.url.path.endswith("/tokenizer"):
            return httpx.Response(200, content=tokenizer_json) if serves_tokenizer else httpx.Response(404)
        prompt = json.loads(request.content)["prompt"]
        sent.append(prompt)
        tokens = len(counter.encode(prompt).ids)
        if tokens > CONTEXT:
            message = f"prompt has {tokens} tokens, more than the model's context of {CONTEXT}"
            return httpx.Response(400, json={"error": message, "code": "PAYLOAD_ERROR"})
        embeddings = {"layer_6": {"mean": [float(len(prompt)), 1.0]}}
        return httpx.Response(
            200, json={"model_version": "t", "embeddings": embeddings, "num_tokens_prompt_total": tokens}
        )

    return handler


def weighted_mean(prompts: list[str], counter: Tokenizer) -> list[float]:
    weights = [len(counter.encode(prompt).ids) for prompt in prompts]
    columns = ([float(len(prompt)) for prompt in prompts], [1.0] * len(prompts))
    mean = [sum(w * v for w, v in zip(weights, values)) / sum(weights) for values in columns]
    norm = math.sqrt(sum(v * v for v in mean))
    return [v / norm for v in mean]


@pytest.mark.parametrize("serves_tokenizer", [True, False])
def test_average_embeds_every_piece_and_weights_by_tokens(tokenizer_json: bytes, serves_tokenizer: bool) -> None:
    sent: list[str] = []
    settings = EmbeddingSettings(model=MODEL, layer=6, long_text="average", empty_text="skip")
    with sync_client(host(tokenizer_json, sent, serves_tokenizer=serves_tokenizer)) as client:
        vectors = client.embed_texts(["short text", "", TEXT], settings, prefix="p: ")
    assert vectors[1] == [0.0, 0.0] and vectors[0] == [float(len("p: short text")), 1.0]
    pieces = [prompt.removeprefix("p: ") for prompt in sent if prompt != "p: short text"]
    accepted = sorted((p for p in pieces if p in TEXT), key=TEXT.index)  # calls run concurrently: sent in any order
    counter = exact(tokenizer_json)
    fitting = [p for p in accepted if len(counter.encode("p: " + p).ids) <= CONTEXT]
    assert "".join(fitting).split() == TEXT.split(), "every word embedded once, nothing dropped"
    assert vectors[2] == pytest.approx(weighted_mean(["p: " + p for p in fitting], counter), rel=0.05)
    if serves_tokenizer:
        assert len(fitting) == len(pieces), "with the tokenizer nothing is rejected"


@pytest.mark.parametrize("serves_tokenizer", [True, False])
async def test_truncate_embeds_the_start_that_fits(tokenizer_json: bytes, serves_tokenizer: bool) -> None:
    sent: list[str] = []
    settings = EmbeddingSettings(model=MODEL, layer=6, long_text="truncate")
    async with async_client(host(tokenizer_json, sent, serves_tokenizer=serves_tokenizer)) as client:
        (vector,) = await client.embed_texts([TEXT], settings)
    assert TEXT.startswith(sent[-1]) and len(sent[-1]) > 20
    assert vector == [float(len(sent[-1])), 1.0]
    if serves_tokenizer:
        assert len(sent) == 1


def test_error_names_the_text_and_its_start(tokenizer_json: bytes) -> None:
    with sync_client(host(tokenizer_json, [], serves_tokenizer=True)) as client:
        with pytest.raises(TextEmbedError, match=r"^text 1 \('word0 is here. word1 is here. word2 is h'...\): .*"):
            client.embed_texts(["fine", TEXT], EmbeddingSettings(model=MODEL, layer=6))
