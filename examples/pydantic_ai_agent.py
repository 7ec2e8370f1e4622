"""A Pydantic AI agent with a retrieval tool over Aleph Alpha embeddings.

Embeds a few documents with `Embedder(AlephAlphaEmbeddingModel(...))`; the agent's `retrieve` tool embeds the query
(by default the user's question) and returns the closest document. Runs offline with Pydantic AI's `TestModel`, which
calls every tool and answers with their results: put a real model (e.g. "anthropic:claude-sonnet-4-5") in its place
for written answers.
Uses AA_HOST / AA_MODEL / AA_TOKEN when AA_HOST is set, else starts the local /embed server.
Run: python examples/pydantic_ai_agent.py
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai import Agent, Embedder, RunContext
from pydantic_ai.models.test import TestModel

from aleph_embed.local import embedding_endpoint
from aleph_embed_pydantic_ai import AlephAlphaEmbeddingModel

DOCUMENTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
]
QUESTIONS = ["Which landmark made of iron stands in Paris?", "What is the tallest peak on Earth?"]


@dataclass
class Library:
    """Documents and their vectors; `search` finds the closest one to a query (vectors are normalised: dot product)."""

    embedder: Embedder
    texts: list[str]
    vectors: Sequence[Sequence[float]]

    async def search(self, query: str) -> str:
        [vector] = (await self.embedder.embed_query(query)).embeddings
        scores = [sum(a * b for a, b in zip(vector, document)) for document in self.vectors]
        return self.texts[scores.index(max(scores))]


agent = Agent(TestModel(), deps_type=Library, instructions="Answer only from what the retrieve tool returns.")


@agent.tool
async def retrieve(ctx: RunContext[Library], query: str | None = None) -> str:
    """The passage of the library closest to `query` (default: the user's question)."""
    return await ctx.deps.search(query or str(ctx.prompt))


async def main() -> None:
    with embedding_endpoint(host=None, token=None, model=None) as (host, _, model):
        embedder = Embedder(AlephAlphaEmbeddingModel(model, host=host))  # token: AA_TOKEN
        indexed = await embedder.embed_documents(DOCUMENTS)
        print(f"indexed {len(DOCUMENTS)} documents ({indexed.usage.input_tokens} tokens)")
        library = Library(embedder, DOCUMENTS, indexed.embeddings)
        for question in QUESTIONS:
            result = await agent.run(question, deps=library)
            print(f"{question} -> {result.output}")


if __name__ == "__main__":
    asyncio.run(main())
