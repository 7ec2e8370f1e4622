"""The tokenizer endpoints of the local server, through both clients: the host's tokenizer counts exactly as /embed
counts, /tokenize and /detokenize agree with it, chunks of the real docs fit the context by the server's own count."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbedRequest, UnknownModelError, _tokenizers
from aleph_embed.server.launcher import DEFAULT_MODEL_NAME, LocalServer
from tests.support.corpora import doc_files

MODEL = DEFAULT_MODEL_NAME


def varied_texts(count: int, fits: Callable[[str], bool]) -> list[str]:
    """Slices of the real docs (code, tables, front matter, prose) of 1 to 1,800 characters (mostly short: the
    forward passes cost the test's time) that `fit`, and odd texts."""
    rng = random.Random(9)
    corpus = [path.read_text() for path in doc_files()]
    odd = [
        "a", " leading and trailing spaces ", "naïve café — déjà vu", "日本語のテキストと English mixed",
        "emoji 🚀🔥 and symbols ∑∫√", "tabs\tand\nnewlines\r\n", "UPPER lower MiXeD", "0123456789" * 20,
        "https://example.com/path?query=1&x=y#frag", "{'json': [1, 2, 3], \"k\": null}", "[CLS] [SEP] [MASK]",
    ]
    texts = list(odd)
    while len(texts) < count:
        source = rng.choice(corpus)
        start = rng.randrange(len(source))
        piece = source[start : start + rng.choice([1, 5, 10, 30, 80, 200, 400] * 4 + [1000, 1800])]
        if piece.strip() and fits(piece):
            texts.append(piece)
    return texts


@pytest.mark.slow
def test_client_counts_as_the_server_counts(embed_client: EmbedClient) -> None:
    tokenizer = embed_client.tokenizer(MODEL)
    texts = varied_texts(200, lambda text: len(tokenizer.encode(text).ids) <= 512)
    texts.sort(key=len)  # similar lengths arrive together: the server's batches carry less padding
    counts = [len(tokenizer.encode(text).ids) for text in texts]
    assert len(texts) == 200 and max(counts) > 400  # well beyond the 128 the model's own file truncates to
    responses = embed_client.embed_many([EmbedRequest(model=MODEL, prompt=text) for text in texts])
    assert [response.num_tokens_prompt_total for response in responses] == counts


def test_tokenize_detokenize_and_the_tokenizer_agree(embed_client: EmbedClient) -> None:
    tokenizer = embed_client.tokenizer(MODEL)
    text = "Install a package: npm install lodash --save-dev"
    answer = embed_client.tokenize({"model": MODEL, "prompt": text, "tokens": True})
    assert answer.token_ids == tokenizer.encode(text, add_special_tokens=False).ids
    assert answer.tokens == tokenizer.encode(text, add_special_tokens=False).tokens
    assert embed_client.tokenize({"model": MODEL, "prompt": text, "token_ids": False}).token_ids is None
    assert embed_client.detokenize({"model": MODEL, "token_ids": answer.token_ids or []}).result == tokenizer.decode(answer.token_ids or [])
    with pytest.raises(UnknownModelError):
        embed_client.tokenizer("no-such-model")
    with pytest.raises(Exception, match="outside the vocabulary"):
        embed_client.detokenize({"model": MODEL, "token_ids": [10**9]})
    assert embed_client.context_size(MODEL) == 512
    assert not _tokenizers.cache_path(embed_client.host, MODEL).exists()  # a loopback host: memory only


async def test_async_client_and_token_auth(embed_server: LocalServer) -> None:
    async with AsyncEmbedClient(embed_server.host, embed_server.token) as client:
        tokenizer = await client.tokenizer(MODEL)
        ids = (await client.tokenize({"model": MODEL, "prompt": "hello world"})).token_ids
        assert ids == tokenizer.encode("hello world", add_special_tokens=False).ids
        assert (await client.detokenize({"model": MODEL, "token_ids": ids or []})).result == tokenizer.decode(ids or [])
        chunker = await client.chunker(MODEL)
        assert chunker.max_tokens == 256 and chunker.context == 512
    response = httpx.get(f"{embed_server.host}/models/{MODEL}/tokenizer", timeout=30)
    assert response.status_code == 200 and response.json()["truncation"] is None


@pytest.mark.slow
def test_chunks_of_the_real_docs_fit_by_the_servers_count(embed_client: EmbedClient) -> None:
    chunker = embed_client.chunker(MODEL, max_tokens=512)
    path = next(path for path in doc_files() if path.name == "npm-audit.md")  # code, tables, front matter
    text = path.read_text()
    chunks = chunker.split(text, kind=chunker.kind_of(path))
    responses = embed_client.embed_many([EmbedRequest(model=MODEL, prompt=chunk.text) for chunk in chunks])
    assert [r.num_tokens_prompt_total for r in responses] == [chunk.tokens for chunk in chunks]
    assert max(chunk.tokens for chunk in chunks) > 400
