"""Tiny RAG retrieval with LlamaIndex and Aleph Alpha embeddings.

Indexes a few documents, then retrieves the best one for each question.
Uses AA_HOST / AA_MODEL / AA_TOKEN when AA_HOST is set, else starts the local /embed server.
Run: python examples/llamaindex_rag.py
"""

from llama_index.core import Document, VectorStoreIndex

from aleph_embed.local import embedding_endpoint
from aleph_embed_llamaindex import AlephAlphaEmbedding

DOCUMENTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
]
QUESTIONS = ["How do plants make food from light?", "What is the tallest peak on Earth?"]


def main() -> None:
    with embedding_endpoint(host=None, token=None, model=None) as (host, _, model):
        embed_model = AlephAlphaEmbedding(model_name=model, host=host)  # token: AA_TOKEN
        index = VectorStoreIndex.from_documents([Document(text=text) for text in DOCUMENTS], embed_model=embed_model)
        retriever = index.as_retriever(similarity_top_k=1)
        for question in QUESTIONS:
            [best] = retriever.retrieve(question)
            print(f"{question}\n  -> {best.get_content()} (score {best.score:.3f})")


if __name__ == "__main__":
    main()
