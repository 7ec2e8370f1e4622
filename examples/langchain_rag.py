"""Tiny RAG retrieval with LangChain and Aleph Alpha embeddings.

Embeds a few documents, then for each question retrieves the best one and builds the prompt for a chat model.
Uses AA_HOST / AA_MODEL / AA_TOKEN when AA_HOST is set, else starts the local /embed server.
Run: python examples/langchain_rag.py
"""

from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from aleph_embed.local import embedding_endpoint
from aleph_embed_langchain import AlephAlphaEmbeddings

DOCUMENTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
]
QUESTIONS = ["Which landmark made of iron stands in Paris?", "What is the tallest peak on Earth?"]


def main() -> None:
    with embedding_endpoint(host=None, token=None, model=None) as (host, _, model):
        embeddings = AlephAlphaEmbeddings(model=model, host=host)  # token: AA_TOKEN
        store = InMemoryVectorStore.from_texts(DOCUMENTS, embeddings)
        retriever = store.as_retriever(search_kwargs={"k": 1})
        prompt = ChatPromptTemplate.from_template("Answer from this context: {context}\nQuestion: {question}")
        chain = {"context": retriever | (lambda docs: docs[0].page_content), "question": RunnablePassthrough()} | prompt
        for question in QUESTIONS:  # pipe `chain` into a chat model to get answers
            print(chain.invoke(question).to_string(), end="\n\n")


if __name__ == "__main__":
    main()
