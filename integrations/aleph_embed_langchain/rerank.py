"""`AlephAlphaRerank`: a LangChain document compressor that reranks through Aleph Alpha's `/rerank`."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict

from aleph_embed.rerank_adapter import RerankAdapter


class AlephAlphaRerank(RerankAdapter, BaseDocumentCompressor):
    """Aleph Alpha `/rerank` for LangChain: the best `top_n` documents for the query, best first, each with its
    `relevance_score` in `metadata`; natively async. Use it in a `ContextualCompressionRetriever`:

    ```python
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from aleph_embed_langchain import AlephAlphaRerank

    retriever = ContextualCompressionRetriever(
        base_compressor=AlephAlphaRerank(model="bge-reranker-v2-m3", top_n=3), base_retriever=store.as_retriever(k=20)
    )
    ```

    Options as `aleph_embed.rerank_adapter.RerankAdapter`: `model`, `host` / `token` (default `AA_HOST` /
    `AA_TOKEN`), `top_n` (default 3; None: all), `concurrency`, `max_retries`, `timeout`, `http_client` /
    `http_async_client`. Any number of documents: the client splits them into calls and merges the scores.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The best `top_n` of `documents` for `query`, best first, with `metadata["relevance_score"]`."""
        return _ranked(documents, self.rank(query, [document.page_content for document in documents]))

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """`compress_documents`, natively async."""
        return _ranked(documents, await self.arank(query, [document.page_content for document in documents]))


def _ranked(documents: Sequence[Document], ranking: list[tuple[int, float]]) -> list[Document]:
    return [
        documents[index].model_copy(update={"metadata": {**documents[index].metadata, "relevance_score": score}})
        for index, score in ranking
    ]
