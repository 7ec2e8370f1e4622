"""Point payloads that the frameworks' own Qdrant stores read back.

`langchain`: `{"page_content", "metadata"}` as `langchain_qdrant.QdrantVectorStore` writes it.
`llamaindex`: the node JSON in `_node_content` plus flat metadata and `doc_id`, as
`llama_index.vector_stores.qdrant.QdrantVectorStore` writes it (`node_to_metadata_dict`).
Both add `document_id` (the source id) and `HASH_KEY` (what the vectors were made from).
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from .documents import SourceDocument

Layout = Literal["langchain", "llamaindex"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)
HASH_KEY = "aleph_embed_hash"
ID_KEY = "document_id"


def build_payload(layout: Layout, point_id: str, document: SourceDocument, content_hash: str) -> dict[str, Any]:
    """The payload of one point."""
    if layout == "langchain":
        payload: dict[str, Any] = {"page_content": document.text, "metadata": dict(document.metadata)}
    else:
        payload = _llamaindex_payload(point_id, document)
    payload[ID_KEY] = document.id
    payload[HASH_KEY] = content_hash
    return payload


def payload_text(payload: dict[str, Any]) -> str:
    """The document text of a stored point, whichever layout wrote it."""
    if "page_content" in payload:
        return str(payload["page_content"])
    if "_node_content" in payload:
        return str(json.loads(payload["_node_content"]).get("text", ""))
    return str(payload.get("text", ""))


def _llamaindex_payload(point_id: str, document: SourceDocument) -> dict[str, Any]:
    ref_doc_id = document.id or "None"
    node = {
        "id_": point_id,
        "embedding": None,
        "metadata": dict(document.metadata),
        "relationships": {"1": {"node_id": document.id}} if document.id else {},
        "text": document.text,
        "class_name": "TextNode",
    }
    return {
        **document.metadata,
        "_node_content": json.dumps(node, ensure_ascii=False),
        "_node_type": "TextNode",
        "doc_id": ref_doc_id,
        "ref_doc_id": ref_doc_id,
    }
