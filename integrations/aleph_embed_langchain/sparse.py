"""`AlephAlphaBM25`: the BM25 sparse vectors of an `aleph-embed ingest --sparse bm25` collection, for
`langchain_qdrant.QdrantVectorStore(retrieval_mode=RetrievalMode.HYBRID | SPARSE)` (needs `langchain-qdrant`)."""

from __future__ import annotations

from langchain_qdrant import SparseEmbeddings, SparseVector

from aleph_embed_qdrant import CollectionBM25


class AlephAlphaBM25(CollectionBM25, SparseEmbeddings):
    """BM25 vectors as the ingest makes them (the same tokens, stop words, stemmer and indices as Qdrant's
    `qdrant/bm25`): documents get BM25's term weights, queries 1 per token (the collection's `idf` modifier weighs
    them). `from_collection` reads the settings recorded on an ingested collection:

    ```python
    store = QdrantVectorStore(client=client, collection_name="docs", embedding=embeddings, vector_name="",
                              sparse_embedding=AlephAlphaBM25.from_collection(client, "docs"),
                              sparse_vector_name="bm25", retrieval_mode=RetrievalMode.HYBRID)
    ```
    """

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [SparseVector(indices=v.indices, values=v.values) for v in map(self.bm25.document, texts)]

    def embed_query(self, text: str) -> SparseVector:
        vector = self.bm25.query(text)
        return SparseVector(indices=vector.indices, values=vector.values)
