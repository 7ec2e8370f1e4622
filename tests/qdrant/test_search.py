"""The library's `search`: hits with source, headings, score and text, embedded as the collection records."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient

from aleph_embed import ConfigurationError, EmbedClient, EmbeddingSettings
from aleph_embed_qdrant import QdrantIngestor, VectorSpec, search
from aleph_embed_qdrant.retrieval import metadata_filter

DOCUMENTS = [
    {"id": "eiffel.md", "text": "# Paris\n\nThe Eiffel Tower was finished in 1889.", "metadata": {"source": "paris.md"}},
    {"id": "leaf", "text": "# Biology\n\nPlants turn light into sugar by photosynthesis.", "metadata": {"year": 2020}},
]


def test_search_finds_the_nearest_chunk_with_its_source_and_headings(
    embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    qdrant = QdrantClient(":memory:")
    QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection="c").ingest(DOCUMENTS)
    hits = search(qdrant, "c", "When was the Eiffel Tower built?", embedder=embedder, top_k=2)
    assert [hit.document_id for hit in hits] == ["eiffel.md", "leaf"] and hits[0].score > hits[1].score
    assert (hits[0].source, hits[0].headings, hits[1].source) == ("paris.md", ("Paris",), "leaf")
    assert "1889" in hits[0].text and hits[0].metadata["chunk_index"] == 0
    only = search(qdrant, "c", "When was the Eiffel Tower built?", embedder=embedder,
                  query_filter=metadata_filter([("year", "2020")]))
    assert [hit.document_id for hit in only] == ["leaf"]  # "2020" also matches the number


def test_search_names_what_is_missing(embedder: EmbedClient, settings: EmbeddingSettings) -> None:
    qdrant = QdrantClient(":memory:")
    QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection="named",
                   vectors={"last": VectorSpec(-1, "mean")}).ingest(DOCUMENTS)
    with pytest.raises(ConfigurationError, match="named vectors"):
        search(qdrant, "named", "tower", embedder=embedder)
    assert search(qdrant, "named", "tower", embedder=embedder, using="last", top_k=1)[0].document_id == "eiffel.md"
    with pytest.raises(ConfigurationError, match="needs embedder"):
        search(qdrant, "named", "tower", using="last")
    with pytest.raises(ConfigurationError, match="no collection"):
        search(qdrant, "missing", [0.0], using="last")
