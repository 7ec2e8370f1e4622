"""The Ray ingest on a two-node cluster (simulated on this machine): one actor per node, every document once."""

from __future__ import annotations

import pytest
import ray
import ray.data
from qdrant_client import QdrantClient
from ray.cluster_utils import Cluster

from aleph_embed import EmbeddingSettings
from aleph_embed.ingest.documents import to_source_document
from aleph_embed.server.launcher import LocalServer
from aleph_embed_ray import QdrantTarget, document_rows, ingest

from ..support.corpora import stdlib_paragraphs
from ..support.qdrant_server import QdrantServer, assert_documents_once
from .conftest import local_client, start_local

MEMORY = 100 * 1024**2


@pytest.mark.slow
def test_two_nodes_one_actor_each_store_every_document_once(
    ray_local: None, embed_server: LocalServer, qdrant_server: QdrantServer, collection: str,
    settings: EmbeddingSettings,
) -> None:
    documents = stdlib_paragraphs(40, modules=("heapq", "bisect"))
    ray.shutdown()  # the session's instance: this module runs last, and starts it again after
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": MEMORY,
                                                            "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=MEMORY)
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([node for node in ray.nodes() if node["Alive"]]) == 2
        dataset = ray.data.from_arrow(document_rows(to_source_document(document) for document in documents))
        # 0.75 CPU per actor on nodes of 1 CPU: the second actor can only run on the second node
        report, *_ = ingest(dataset, client=local_client(embed_server), sink=QdrantTarget(qdrant_server.url, collection),
                              settings=settings, actors=2, actor_cpus=0.75, documents_per_block=10)
    finally:
        ray.shutdown()
        cluster.shutdown()
        start_local()
    assert (report.documents, report.ingested, report.failed) == (len(documents), len(documents), [])
    assert_documents_once(QdrantClient(url=qdrant_server.url, check_compatibility=False), collection,
                          [document["id"] for document in documents])
