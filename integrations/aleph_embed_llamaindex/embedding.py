"""`AlephAlphaEmbedding`: a thin LlamaIndex `BaseEmbedding` over the aleph_embed core clients."""

from __future__ import annotations

from typing import ClassVar

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import ConfigDict, Field

from aleph_embed.adapter import EmbeddingAdapter

DEFAULT_EMBED_BATCH_SIZE = 256


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
    256). A text longer than the model's context raises `aleph_embed.TextEmbedError` naming the text's index within
    its batch (LlamaIndex hands over `embed_batch_size` texts at a time).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())
    model_field: ClassVar[str] = "model_name"

    model_name: str = Field(description="Model name as the host serves it (default: AA_MODEL).")
    embed_batch_size: int = Field(default=DEFAULT_EMBED_BATCH_SIZE, gt=0, le=2048)

    @classmethod
    def class_name(cls) -> str:
        return "AlephAlphaEmbedding"

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed_texts([query], self.query_prefix)[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self.aembed_texts([query], self.query_prefix))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed_texts([text], self.document_prefix)[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self.aembed_texts([text], self.document_prefix))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.embed_texts(texts, self.document_prefix)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self.aembed_texts(texts, self.document_prefix)
