"""`AlephAlphaDocumentEmbedder`: a Haystack component that embeds documents (an indexing pipeline's embedder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from haystack import Document, component
from haystack.utils import Secret
from tqdm import tqdm

from aleph_embed import metered
from aleph_embed.config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES
from haystack_integrations.common.aleph_alpha import DEFAULT_TOKEN, AlephAlphaEmbedderComponent, document_text


@component
class AlephAlphaDocumentEmbedder(AlephAlphaEmbedderComponent):
    """Embeds documents with Aleph Alpha's embedding endpoints: each document comes back with its `embedding`.

    ```python
    from haystack import Document
    from haystack_integrations.components.embedders.aleph_alpha import AlephAlphaDocumentEmbedder

    embedder = AlephAlphaDocumentEmbedder(model="luminous-base", host="https://api.aleph-alpha.com")  # token: AA_TOKEN
    documents = embedder.run([Document(content="I love pizza!")])["documents"]
    ```

    The text embedded is the `meta_fields_to_embed` values present, then the content, joined by
    `embedding_separator`, with `prefix` / `suffix` around it. `batch_size` documents go at a time (each batch with
    up to `concurrency` calls in flight; `progress_bar` shows the batches). A failure raises (e.g.
    `aleph_embed.TextEmbedError` naming the text's index in its batch). Options as `AlephAlphaTextEmbedder`'s, whose
    model and options the query side must share.
    """

    side = "document"

    def __init__(  # noqa: PLR0913
        self,
        model: str | None = None,
        host: str | None = None,
        token: Secret = DEFAULT_TOKEN,
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        **options: Any,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        AlephAlphaEmbedderComponent.__init__(  # the decorator rebuilds the class: no zero-argument super()
            self,
            model=model, host=host, token=token, prefix=prefix, suffix=suffix, concurrency=concurrency,
            max_retries=max_retries, timeout=timeout, options=options,
        )
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def init_parameters(self) -> dict[str, Any]:
        return {
            **AlephAlphaEmbedderComponent.init_parameters(self), "batch_size": self.batch_size,
            "progress_bar": self.progress_bar, "meta_fields_to_embed": self.meta_fields_to_embed,
            "embedding_separator": self.embedding_separator,
        }

    def _batches(self, documents: list[Document]) -> Iterator[list[str]]:
        if not isinstance(documents, list) or not all(isinstance(document, Document) for document in documents):
            raise TypeError(
                "AlephAlphaDocumentEmbedder embeds a list of Documents; embed a string with AlephAlphaTextEmbedder"
            )
        texts = [document_text(doc, self.meta_fields_to_embed, self.embedding_separator) for doc in documents]
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, disable=not self.progress_bar, desc="Calculating embeddings"):
            yield texts[start : start + self.batch_size]

    @staticmethod
    def _embedded(documents: list[Document], vectors: list[list[float]]) -> list[Document]:
        return [replace(document, embedding=vector) for document, vector in zip(documents, vectors, strict=True)]

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed `documents`: `documents` (copies with their `embedding`, in order) and `meta` (model, usage)."""
        with metered() as usage:
            vectors = [vector for batch in self._batches(documents) for vector in self.embed(batch)]
        return {"documents": self._embedded(documents, vectors), "meta": self.meta(usage)}

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """Like `run`, natively async."""
        with metered() as usage:
            vectors = [vector for batch in self._batches(documents) for vector in await self.aembed(batch)]
        return {"documents": self._embedded(documents, vectors), "meta": self.meta(usage)}
