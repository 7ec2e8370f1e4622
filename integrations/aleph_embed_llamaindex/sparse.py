"""`AlephAlphaBM25`: the BM25 sparse vectors of an `aleph-embed ingest --sparse bm25` collection, as the sparse
functions of LlamaIndex's `QdrantVectorStore(enable_hybrid=True)` (needs `llama-index-vector-stores-qdrant`)."""

from __future__ import annotations

from aleph_embed_qdrant import CollectionBM25

BatchSparseEncoding = tuple[list[list[int]], list[list[float]]]


class AlephAlphaBM25(CollectionBM25):
    """BM25 vectors as the ingest makes them (the same tokens, stop words, stemmer and indices as Qdrant's
    `qdrant/bm25`): `sparse_doc_fn` gives BM25's term weights, `sparse_query_fn` 1 per token (the collection's `idf`
    modifier weighs them). `from_collection` reads the settings recorded on an ingested collection:

    ```python
    bm25 = AlephAlphaBM25.from_collection(client, "docs")
    store = QdrantVectorStore(client=client, collection_name="docs", enable_hybrid=True, sparse_vector_name="bm25",
                              sparse_doc_fn=bm25.sparse_doc_fn, sparse_query_fn=bm25.sparse_query_fn)
    ```
    """

    def sparse_doc_fn(self, texts: list[str]) -> BatchSparseEncoding:
        vectors = [self.bm25.document(text) for text in texts]
        return [v.indices for v in vectors], [v.values for v in vectors]

    def sparse_query_fn(self, texts: list[str]) -> BatchSparseEncoding:
        vectors = [self.bm25.query(text) for text in texts]
        return [v.indices for v in vectors], [v.values for v in vectors]
