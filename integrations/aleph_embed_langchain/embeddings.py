"""`AlephAlphaEmbeddings`: a thin LangChain `Embeddings` over the aleph_embed core clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from pydantic import ConfigDict, Field

from aleph_embed.config import DEFAULT_CHUNK_TOKENS
from aleph_embed.adapter import EmbeddingAdapter

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter


class AlephAlphaEmbeddings(EmbeddingAdapter, Embeddings):
    """Aleph Alpha `/embed` embeddings for LangChain, with native async and many calls in flight.

    ```python
    from aleph_embed_langchain import AlephAlphaEmbeddings

    embeddings = AlephAlphaEmbeddings(model="luminous-base", host="https://api.aleph-alpha.com")  # token: AA_TOKEN
    vectors = embeddings.embed_documents(["first text", "second text"])
    query = await embeddings.aembed_query("which text?")
    ```

    `model`, `host` and `token` default to `AA_MODEL`, `AA_HOST` and `AA_TOKEN`; a missing model or host is an error
    at construction, which makes no network call. Unknown arguments are an error.
    Options: `layer` (-1: last), `pooling` ("mean", "weighted_mean", "max", "last_token", "abs_max"), `normalize`,
    `hosting`, `nice`, `control_log_additive`, `contextual_control_threshold`; `query_prefix` / `document_prefix`
    (put in front of queries / documents); `empty_text`: "error" (default, the API rejects empty prompts),
    "placeholder" (embeds `placeholder` instead) or "skip" (zero vector, no call); `concurrency` (calls in flight),
    `max_retries`, `timeout`; `http_client` / `http_async_client`. `long_text`: a text longer than the model's
    context raises `aleph_embed.TextEmbedError` naming the text's index and start ("error", default; a vector store
    that embeds in batches hands over its batch, whose index the error names), or is embedded from its start
    ("truncate") or as the token-weighted mean of its chunks ("average"). `text_splitter()` sizes LangChain's splitter
    by the model's own tokenizer.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    model: str = Field(description="Model name as the host serves it (default: AA_MODEL).")

    def text_splitter(
        self, chunk_tokens: int = DEFAULT_CHUNK_TOKENS, chunk_overlap: int | None = None, **kwargs: Any
    ) -> RecursiveCharacterTextSplitter:
        """A `RecursiveCharacterTextSplitter` whose sizes are the model's tokens (its tokenizer from the host, special
        tokens counted): chunks of at most `chunk_tokens` (capped at the context), `chunk_overlap` tokens of overlap
        (default: an eighth). `kwargs` go to the splitter (e.g. `separators`)."""
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        chunker = self.chunker(chunk_tokens, chunk_overlap)
        return RecursiveCharacterTextSplitter(
            chunk_size=chunker.max_tokens, chunk_overlap=chunker.overlap, length_function=self.count_tokens, **kwargs
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (with `document_prefix`), many calls in flight, in input order."""
        return self.embed_texts(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed a query (with `query_prefix`)."""
        return self.embed_texts([text], side="query")[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents natively async (with `document_prefix`), many calls in flight, in input order."""
        return await self.aembed_texts(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a query natively async (with `query_prefix`)."""
        return (await self.aembed_texts([text], side="query"))[0]
