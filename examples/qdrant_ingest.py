"""Documents into Qdrant through Aleph Alpha's /embed, then a search. Needs AA_HOST, AA_TOKEN and AA_MODEL
(or a local server: `aleph-embed serve`, then AA_HOST=http://127.0.0.1:8000 AA_MODEL=all-minilm-l6-v2)."""

import os

from qdrant_client import QdrantClient

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed_qdrant import QdrantIngestor

documents = [
    {"id": "eiffel", "text": "The Eiffel Tower was finished in 1889 for the World's Fair in Paris.", "metadata": {"topic": "paris"}},
    {"id": "louvre", "text": "The Louvre is the world's most visited art museum.", "metadata": {"topic": "paris"}},
    {"id": "photosynthesis", "text": "Plants turn light, water and CO2 into sugar by photosynthesis.", "metadata": {"topic": "biology"}},
]

settings = EmbeddingSettings(model=os.environ["AA_MODEL"])  # layer=-1, pooling="mean", normalize=True
qdrant = QdrantClient(url=os.environ["QDRANT_URL"]) if "QDRANT_URL" in os.environ else QdrantClient(":memory:")

with EmbedClient() as client:  # host and token from AA_HOST / AA_TOKEN
    ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection="landmarks")
    print(ingestor.ingest(documents).summary())
    print(ingestor.ingest(documents).summary())  # unchanged documents: skipped, no /embed calls

    (query,) = client.embed_texts(["When was the Eiffel Tower built?"], settings)
    for hit in qdrant.query_points("landmarks", query=query, limit=2).points:
        print(f"{hit.score:.3f} {hit.payload['page_content']}")
