"""`AlephAlphaRanker`: a Haystack component that reorders documents by a reranking model (`POST /rerank`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from aleph_embed import RerankRequest, RerankResponse
from aleph_embed.config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES
from aleph_embed.embedder import Clients
from haystack_integrations.common.aleph_alpha import DEFAULT_TOKEN, AlephAlphaComponent, document_text


@component
class AlephAlphaRanker(AlephAlphaComponent):
    """Ranks documents by their relevance to a query with a reranking model (e.g. `bge-reranker-v2-m3`): the best
    `top_k` come back best first, each with its `score` (the model's `relevance_score`).

    ```python
    from haystack import Document
    from haystack_integrations.components.rankers.aleph_alpha import AlephAlphaRanker

    ranker = AlephAlphaRanker("bge-reranker-v2-m3", host="https://api.aleph-alpha.com")  # token: AA_TOKEN
    best = ranker.run("Where is the Eiffel Tower?", [Document(content="Paris"), Document(content="Rome")])
    ```

    The text scored is the `meta_fields_to_embed` values present, then the content, joined by `meta_data_separator`.
    Any number of documents: the client splits them into calls the host accepts (many in flight) and merges the
    scores. `score_threshold` drops documents scored below it. `host` / `token` as the embedders'.
    """

    def __init__(  # noqa: PLR0913
        self,
        model: str,
        host: str | None = None,
        token: Secret = DEFAULT_TOKEN,
        top_k: int = 10,
        meta_fields_to_embed: list[str] | None = None,
        meta_data_separator: str = "\n",
        score_threshold: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
    ) -> None:
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        AlephAlphaComponent.__init__(  # the decorator rebuilds the class: no zero-argument super()
            self, model=model, host=host, token=token, concurrency=concurrency, max_retries=max_retries,
            timeout=timeout,
        )
        self.clients = Clients.create(**self.connection())
        self.top_k = top_k
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.meta_data_separator = meta_data_separator
        self.score_threshold = score_threshold

    def init_parameters(self) -> dict[str, Any]:
        return {
            **AlephAlphaComponent.init_parameters(self), "top_k": self.top_k,
            "meta_fields_to_embed": self.meta_fields_to_embed, "meta_data_separator": self.meta_data_separator,
            "score_threshold": self.score_threshold,
        }

    def _request(self, query: str, documents: list[Document], top_k: int | None) -> RerankRequest:
        if not isinstance(documents, list) or not all(isinstance(document, Document) for document in documents):
            raise TypeError("AlephAlphaRanker ranks a list of Documents")
        texts = [document_text(doc, self.meta_fields_to_embed, self.meta_data_separator) for doc in documents]
        return RerankRequest(model=self.model, query=query, documents=texts, top_n=top_k or self.top_k)

    def _ranked(
        self, documents: list[Document], answer: RerankResponse, score_threshold: float | None
    ) -> dict[str, list[Document]]:
        threshold = self.score_threshold if score_threshold is None else score_threshold
        kept = [r for r in answer.results if threshold is None or r.relevance_score >= threshold]
        return {"documents": [replace(documents[r.index], score=r.relevance_score) for r in kept]}

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, list[Document]]:
        """The best `top_k` (default: the component's) of `documents` for `query`, best first, with their `score`."""
        if not documents:
            return {"documents": []}
        answer = self.clients.client().rerank(self._request(query, documents, top_k))
        return self._ranked(documents, answer, score_threshold)

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, list[Document]]:
        """Like `run`, natively async."""
        if not documents:
            return {"documents": []}
        answer = await self.clients.async_client().rerank(self._request(query, documents, top_k))
        return self._ranked(documents, answer, score_threshold)
