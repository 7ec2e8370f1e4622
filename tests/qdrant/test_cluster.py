"""A collection sharded and replicated over a real two-node Qdrant cluster."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed_qdrant import CollectionOptions, QdrantIngestor

from ..support.corpora import stdlib_paragraphs
from ..support.qdrant_server import QdrantServer, assert_documents_once

DOCUMENTS = stdlib_paragraphs(60)


@pytest.mark.slow
def test_two_shards_replicated_on_both_nodes_hold_every_document_once(
    qdrant_cluster: list[QdrantServer], collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    first, second = (QdrantClient(url=peer.url, check_compatibility=False) for peer in qdrant_cluster)
    options = CollectionOptions(
        shard_number=2, replication_factor=2, write_consistency_factor=2, on_disk=True,
        hnsw_config=models.HnswConfigDiff(m=8),
        quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8)),
        payload_indexes={"metadata.module": models.PayloadSchemaType.KEYWORD},
    )
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=first, collection=collection, options=options)

    report = ingestor.ingest(DOCUMENTS)

    assert (report.ingested, report.failed) == (len(DOCUMENTS), [])
    info = first.get_collection(collection)
    params = info.config.params
    assert (params.shard_number, params.replication_factor, params.write_consistency_factor) == (2, 2, 2)
    assert params.vectors.on_disk and info.config.hnsw_config.m == 8 and info.config.quantization_config is not None
    assert info.payload_schema["metadata.module"].data_type == models.PayloadSchemaType.KEYWORD
    for client in (first, second):
        info = client.collection_cluster_info(collection)
        assert sorted(shard.shard_id for shard in info.local_shards) == [0, 1]  # every shard on every node
        assert all(shard.state == "Active" for shard in [*info.local_shards, *info.remote_shards])
        assert client.count(collection, exact=True).count == report.points
        assert_documents_once(client, collection, [d["id"] for d in DOCUMENTS])

    rerun = QdrantIngestor(embedder=embedder, settings=settings, qdrant=second, collection=collection).ingest(DOCUMENTS)
    assert (rerun.ingested, rerun.skipped, rerun.embed_calls) == (0, len(DOCUMENTS), 0)
