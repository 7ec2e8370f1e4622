"""`AlephAlphaRerank`: a LlamaIndex node postprocessor that reranks through Aleph Alpha's `/rerank`."""

from __future__ import annotations

from llama_index.core.bridge.pydantic import ConfigDict
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from aleph_embed.rerank_adapter import RerankAdapter


class AlephAlphaRerank(RerankAdapter, BaseNodePostprocessor):
    """Aleph Alpha `/rerank` for LlamaIndex: the best `top_n` nodes for the query, best first, each scored by its
    relevance; natively async. Use it in a query engine or after a retriever:

    ```python
    from aleph_embed_llamaindex import AlephAlphaRerank

    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[AlephAlphaRerank(model="bge-reranker-v2-m3")])
    ```

    Options as `aleph_embed.rerank_adapter.RerankAdapter`: `model`, `host` / `token` (default `AA_HOST` /
    `AA_TOKEN`), `top_n` (default 3; None: all), `concurrency`, `max_retries`, `timeout`, `http_client` /
    `http_async_client`. Nodes are scored by their content as embedded (`MetadataMode.EMBED`).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    @classmethod
    def class_name(cls) -> str:
        return "AlephAlphaRerank"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = _inputs(nodes, query_bundle)
        return _ranked(nodes, self.rank(query, texts))

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = _inputs(nodes, query_bundle)
        return _ranked(nodes, await self.arank(query, texts))


def _inputs(nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> tuple[str, list[str]]:
    if query_bundle is None:
        raise ValueError("AlephAlphaRerank needs the query: pass query_bundle (or query_str)")
    return query_bundle.query_str, [node.node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]


def _ranked(nodes: list[NodeWithScore], ranking: list[tuple[int, float]]) -> list[NodeWithScore]:
    return [NodeWithScore(node=nodes[index].node, score=score) for index, score in ranking]
