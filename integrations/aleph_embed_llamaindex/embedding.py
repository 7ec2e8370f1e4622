"""`AlephAlphaEmbedding`: a thin LlamaIndex `BaseEmbedding` over the aleph_embed core clients."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import ConfigDict, Field

from aleph_embed import TextEmbedError
from aleph_embed.config import ALEPH_ALPHA_API, resolve_host, resolve_token
from aleph_embed.adapter import EmbeddingAdapter, rename_arguments

DEFAULT_EMBED_BATCH_SIZE = 256
_REPRESENTATIONS = ("symmetric", "document", "query")
_caller_texts: ContextVar[Sequence[str]] = ContextVar("aleph_embed_llamaindex_caller_texts", default=())


class AlephAlphaEmbedding(EmbeddingAdapter, BaseEmbedding):
    """Aleph Alpha `/embed` embedding for LlamaIndex: each batch runs many calls in flight, no `num_workers` needed.

    ```python
    from aleph_embed_llamaindex import AlephAlphaEmbedding

    embed_model = AlephAlphaEmbedding(model_name="luminous-base", host="https://api.aleph-alpha.com")
    vectors = embed_model.get_text_embedding_batch(["first text", "second text"])
    ```

    `model_name`, `host` and `token` default to `AA_MODEL`, `AA_HOST` and `AA_TOKEN`; a missing model or host is an
    error at construction, which makes no network call. Unknown arguments are an error; the token never shows in
    `repr`, `to_dict()` or `to_json()`.
    Options: `layer` (-1: last), `pooling` ("mean", "weighted_mean", "max", "last_token", "abs_max"), `normalize`,
    `hosting`, `nice`, `control_log_additive`, `contextual_control_threshold`; `query_prefix` / `document_prefix`
    (put in front of queries / texts); `empty_text`: "error" (default, the API rejects empty prompts), "placeholder"
    (embeds `placeholder` instead) or "skip" (zero vector, no call); `concurrency` (calls in flight per batch),
    `max_retries`, `timeout`; `http_client` / `http_async_client`; `embed_batch_size` (texts per batch, default
    256). `long_text`: a text longer than the model's context raises `aleph_embed.TextEmbedError` naming its index in
    the list given to `get_text_embedding_batch` and its start ("error", default), or is embedded from its start
    ("truncate") or as the token-weighted mean of its chunks ("average"). `tokenizer` is the model's own tokenizer
    for LlamaIndex's splitters: `SentenceSplitter(chunk_size=256, tokenizer=embed_model.tokenizer)`.

    A drop-in for `llama_index.embeddings.alephalpha.AlephAlphaEmbedding` as well: given its spelling `model=`, it
    works as that class did (`/semantic_embed`: texts as `document` through `/batch_semantic_embed`, queries as
    `query`; `normalize` off, `max_retries` 10, host Aleph Alpha's API unless `base_url`/`host`/AA_HOST say
    otherwise). Its arguments `model`, `base_url`, `representation` ("symmetric" embeds both sides alike; "query",
    "document" or None: each side as itself), `compress_to_size`, `verify_ssl` and `additional_kwargs` (options of
    this class, applied) are taken alongside this class's own.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())
    model_field: ClassVar[str] = "model_name"

    model_name: str = Field(description="Model name as the host serves it (default: AA_MODEL).")
    embed_batch_size: int = Field(default=DEFAULT_EMBED_BATCH_SIZE, gt=0, le=2048)

    @classmethod
    def class_name(cls) -> str:
        return "AlephAlphaEmbedding"

    @classmethod
    def _translate(cls, data: dict[str, Any]) -> dict[str, Any]:
        """`llama-index-embeddings-alephalpha`'s arguments; its defaults where its spelling `model=` is used."""
        if "model" in data:
            defaults = {"endpoint": "semantic", "normalize": False, "max_retries": 10}
            data = {**defaults, **data}
            if data.get("base_url") is None and data.get("host") is None and (data.get("token") or resolve_token(None)):
                data["host"] = resolve_host(None) or ALEPH_ALPHA_API  # the original's default, given a token for it
        data = rename_arguments(data, {"model": "model_name", "base_url": "host"})
        representation = data.pop("representation", None)
        representation = getattr(representation, "value", representation)  # aleph_alpha_client's enum, or a str
        if representation is not None:
            if str(representation).lower() not in _REPRESENTATIONS:
                raise ValueError(f"representation {representation!r}: use one of {', '.join(_REPRESENTATIONS)}")
            if str(representation).lower() == "symmetric":
                data["symmetric"] = True
        if data.pop("verify_ssl", True) is False:
            data.setdefault("http_client", httpx.Client(verify=False))
            data.setdefault("http_async_client", httpx.AsyncClient(verify=False))
        extra = data.pop("additional_kwargs", None) or {}
        return {**data, **extra}

    def tokenizer(self, text: str) -> list[int]:
        """As many items as the model has tokens for `text` (special tokens included; see `count_tokens`): the
        length LlamaIndex's splitters measure."""
        return [0] * self.count_tokens(text)

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        """LlamaIndex's batching; a failure names the text's index in `texts`, not in an internal batch."""
        with _caller(texts):
            return super().get_text_embedding_batch(texts, show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """`get_text_embedding_batch`, natively async."""
        with _caller(texts):
            return await super().aget_text_embedding_batch(texts, show_progress, **kwargs)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed_texts([query], side="query")[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self.aembed_texts([query], side="query"))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed_texts([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self.aembed_texts([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with _in_caller_list(texts):
            return self.embed_texts(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with _in_caller_list(texts):
            return await self.aembed_texts(texts)


@contextmanager
def _caller(texts: Sequence[str]) -> Iterator[None]:
    token = _caller_texts.set(texts)
    try:
        yield
    finally:
        _caller_texts.reset(token)


@contextmanager
def _in_caller_list(batch: Sequence[str]) -> Iterator[None]:
    """Failures of a batch keyed by the texts' places in the caller's list (a repeated text: its first place)."""
    try:
        yield
    except TextEmbedError as error:
        caller = _caller_texts.get()
        if not caller or caller is batch:
            raise
        places = {text: index for index, text in reversed(list(enumerate(caller)))}
        if not all(text in places for text in batch):
            raise
        raise error.placed([places[text] for text in batch], len(caller), caller) from None
