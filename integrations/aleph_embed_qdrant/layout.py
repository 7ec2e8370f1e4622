"""Point payloads that the frameworks' own Qdrant stores read back, with no extra constructor arguments.

`both` (default): what both stores read. `langchain_qdrant.QdrantVectorStore` reads `page_content` and `metadata`;
LlamaIndex's `QdrantVectorStore` reads the node JSON in `_node_content` (`_node_type`, `doc_id`, `ref_doc_id`,
flat metadata keys for its filters), as its own `node_to_metadata_dict` writes it. The text is stored twice
(LlamaIndex's own layout does the same).
`langchain` / `llamaindex`: only one framework's keys.
All add `document_id` (the source document's id, its type kept), `HASH_KEY` (what the document's points were made
from) and `CHUNKS_KEY` (how many points the document has). A chunk's metadata adds `CHUNK_FIELDS`: the document id,
the chunk's index, its span in the document's text (`chunk_start`, `chunk_end`), its heading path and the title,
and, for a paged document (a PDF), `page` (the first page, 1-based) and `pages` (every page it spans), which take the
place of the document's page starts (see `aleph_embed.ingest.paged`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, get_args

from aleph_embed.ingest.documents import SourceDocument
from aleph_embed.ingest.paged import describe_pages, stored_metadata

if TYPE_CHECKING:
    from aleph_embed.chunking import Chunk

Layout = Literal["both", "langchain", "llamaindex"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)
HASH_KEY = "aleph_embed_hash"
CHUNKS_KEY = "aleph_embed_chunks"
ID_KEY = "document_id"
CHUNK_FIELDS = ("document_id", "chunk_index", "chunk_start", "chunk_end", "headings", "title")
_LANGCHAIN_KEYS = ("page_content", "metadata")
_LLAMAINDEX_KEYS = ("_node_content", "_node_type", "doc_id", "ref_doc_id")
_RESERVED = frozenset({*_LANGCHAIN_KEYS, *_LLAMAINDEX_KEYS, ID_KEY, HASH_KEY, CHUNKS_KEY})


def build_payload(
    layout: Layout, point_id: str, document: SourceDocument, content_hash: str, chunk: Chunk | None = None,
    chunks: int = 1,
) -> dict[str, Any]:
    """The payload of one point: the whole document, or one of its `chunks` chunks."""
    metadata = stored_metadata(document.metadata, *((chunk.start, chunk.end) if chunk is not None else (None, None)))
    text = document.text
    if chunk is not None:
        text = chunk.text
        metadata.update(zip(CHUNK_FIELDS[:5], (document.id, chunk.index, chunk.start, chunk.end, list(chunk.headings))))
        if chunk.headings:
            metadata["title"] = chunk.headings[0]
    payload: dict[str, Any] = {}
    if layout != "langchain":
        payload.update({key: value for key, value in metadata.items() if key not in _RESERVED})
        payload.update(_llamaindex_keys(point_id, document, text, metadata, chunk))
    if layout != "llamaindex":
        payload.update({"page_content": text, "metadata": metadata})
    payload.update({ID_KEY: document.id, HASH_KEY: content_hash, CHUNKS_KEY: chunks})
    return payload


def payload_text(payload: dict[str, Any]) -> str:
    """The text of a stored point (the document, or the chunk), whichever layout wrote it."""
    if "page_content" in payload:
        return str(payload["page_content"])
    if "_node_content" in payload:
        return str(json.loads(payload["_node_content"]).get("text", ""))
    return str(payload.get("text", ""))


def metadata_fields(key: str) -> tuple[str, str]:
    """Where a metadata key of a stored point is, whichever layout wrote it: flat (LlamaIndex's) and under `metadata`
    (LangChain's); for filters and payload selections."""
    return key, f"metadata.{key}"


def payload_metadata(payload: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a stored point (the document's, with a chunk's fields), whichever layout wrote it."""
    if isinstance(payload.get("metadata"), dict):
        return dict(payload["metadata"])
    return {key: value for key, value in payload.items() if key not in _RESERVED}


def describe_point(payload: dict[str, Any], fallback: object, width: int = 1000) -> str:
    """A stored point for a reader: where it comes from (its `source`, else the document id, else `fallback`) and
    its pages (`nettle.pdf p. 14`), the heading path of its chunk, and its text (the chunk's; whitespace collapsed,
    cut at `width` characters)."""
    metadata = payload_metadata(payload)
    source = metadata.get("source") or payload.get(ID_KEY)
    where = str(fallback if source is None else source) + describe_pages(metadata)
    if headings := metadata.get("headings"):
        where += f"  ({' > '.join(map(str, headings))})"
    text = " ".join(payload_text(payload).split())
    return f"{where}  {text if len(text) <= width else text[: width - 3] + '...'}"


def _llamaindex_keys(
    point_id: str, document: SourceDocument, text: str, metadata: dict[str, Any], chunk: Chunk | None
) -> dict[str, Any]:
    ref_doc_id = "None" if document.id is None else str(document.id)
    node = {
        "id_": point_id,
        "embedding": None,
        "metadata": metadata,
        "relationships": {"1": {"node_id": ref_doc_id}} if document.id is not None else {},
        "text": text,
        "start_char_idx": chunk.start if chunk is not None else None,
        "end_char_idx": chunk.end if chunk is not None else None,
        "class_name": "TextNode",
    }
    return {
        "_node_content": json.dumps(node, ensure_ascii=False),
        "_node_type": "TextNode",
        "doc_id": ref_doc_id,
        "ref_doc_id": ref_doc_id,
    }
