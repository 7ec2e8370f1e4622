"""The main job: the Python standard library's documentation into Qdrant through /embed, then questions answered
through the CLI, LangChain and LlamaIndex on the same collection.

    python examples/demo.py                                   # local /embed server, embedded Qdrant store
    AA_HOST=https://api.aleph-alpha.com AA_TOKEN=... AA_MODEL=luminous-base python examples/demo.py
    QDRANT_URL=http://127.0.0.1:6333 python examples/demo.py  # a Qdrant server instead of the embedded store

The corpus is every docstring paragraph of the interpreter's own standard library (a few thousand). Run it twice:
the second ingest skips every unchanged paragraph without calling /embed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

from aleph_embed.cli import main as aleph_embed
from aleph_embed.local import embedding_endpoint

WORKDIR = Path(".aleph-embed") / "demo"
NOT_IMPORTED = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "ensurepip", "venv", "lib2to3"}
ANSWERS = {  # each question, and the objects whose docstrings answer it (the qrels of the closing eval)
    "Deserialize a JSON document from a string": {"json.loads"},
    "Remove the common leading whitespace from every line of a text": {"textwrap.dedent"},
    "Run a command with arguments and return its output": {"subprocess.check_output", "subprocess.run",
                                                            "subprocess.getoutput"},
    "Create a temporary directory": {"tempfile.mkdtemp", "tempfile.TemporaryDirectory"},
    "Decode a base64 encoded string": {"base64.b64decode", "base64.standard_b64decode", "base64.urlsafe_b64decode"},
    "Compare two sequences and show their differences": {"difflib.ndiff", "difflib.unified_diff",
                                                         "difflib.context_diff", "difflib.Differ"},
}
QUESTIONS = tuple(ANSWERS)


def stdlib_paragraphs() -> Iterator[dict[str, Any]]:
    """Distinct prose paragraphs (not doctest examples) of the docstrings of the standard library's public modules,
    classes, functions and methods."""
    seen: set[str] = set()
    for module_name in sorted(sys.stdlib_module_names):
        if module_name.startswith("_") or module_name in NOT_IMPORTED:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(module_name)
        except Exception:  # platform-specific modules
            continue
        for name, member in _documented(module_name, module):
            for index, paragraph in enumerate((inspect.getdoc(member) or "").split("\n\n")):
                text = " ".join(paragraph.split())
                if 60 <= len(text) <= 800 and not text.startswith(">>>") and text not in seen:
                    seen.add(text)
                    yield {"id": f"{name}#{index}", "text": text, "metadata": {"module": module_name, "object": name}}


def _documented(module_name: str, module: Any) -> Iterator[tuple[str, Any]]:
    yield module_name, module
    for name, member in sorted(vars(module).items()):
        if name.startswith("_") or getattr(member, "__module__", None) != module_name:
            continue
        if inspect.isclass(member):
            yield f"{module_name}.{name}", member
            for method_name, method in sorted(vars(member).items()):
                if not method_name.startswith("_") and inspect.isroutine(method):
                    yield f"{module_name}.{name}.{method_name}", method
        elif inspect.isroutine(member):
            yield f"{module_name}.{name}", member


def write_corpus(path: Path, limit: int | None) -> int:
    """The corpus as JSONL; with a `limit`, the paragraphs of the answering objects come first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    answering = set().union(*ANSWERS.values())
    documents = sorted(stdlib_paragraphs(), key=lambda document: document["metadata"]["object"] not in answering)
    with path.open("w", encoding="utf-8") as stream:
        stream.writelines(json.dumps(document, ensure_ascii=False) + "\n" for document in documents[:limit])
    return len(documents[:limit])


def write_judgements(corpus: Path, queries: Path, qrels: Path) -> int:
    """The questions as BEIR queries, and every paragraph of an answering object as relevant; how many judged."""
    queries.write_text("".join(json.dumps({"_id": f"q{i}", "text": q}) + "\n" for i, q in enumerate(QUESTIONS)))
    judged = []
    with corpus.open(encoding="utf-8") as stream:
        for line in stream:
            document = json.loads(line)
            judged += [f"q{i}\t{document['id']}\t1\n" for i, objects in enumerate(ANSWERS.values())
                       if document["metadata"]["object"] in objects]
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(judged))
    return len(judged)


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def ask_langchain(qdrant: QdrantClient, collection: str, host: str, model: str) -> dict[str, str]:
    try:
        from langchain_qdrant import QdrantVectorStore

        from aleph_embed_langchain import AlephAlphaEmbeddings
    except ImportError as error:
        print(f"(skipped: {error}; pip install 'aleph-embed[langchain]' langchain-qdrant)")
        return {}
    store = QdrantVectorStore(
        client=qdrant, collection_name=collection, embedding=AlephAlphaEmbeddings(model=model, host=host),
        distance=qdrant.get_collection(collection).config.params.vectors.distance,
    )
    answers = {}
    for question in QUESTIONS:
        document, score = store.similarity_search_with_score(question, k=1)[0]
        answers[question] = document.metadata["object"]
        print(f"{question}\n   -> {score:.3f} {document.metadata['object']}: {document.page_content[:100]}")
    return answers


def ask_llamaindex(qdrant: QdrantClient, collection: str, host: str, model: str) -> dict[str, str]:
    try:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.qdrant import QdrantVectorStore

        from aleph_embed_llamaindex import AlephAlphaEmbedding
    except ImportError as error:
        print(f"(skipped: {error}; pip install 'aleph-embed[llamaindex]' llama-index-vector-stores-qdrant)")
        return {}
    store = QdrantVectorStore(client=qdrant, collection_name=collection)  # the ingest's layout fits both stores
    index = VectorStoreIndex.from_vector_store(store, embed_model=AlephAlphaEmbedding(model_name=model, host=host))
    retriever = index.as_retriever(similarity_top_k=1)
    answers = {}
    for question in QUESTIONS:
        (hit,) = retriever.retrieve(question)
        answers[question] = hit.node.metadata["object"]
        print(f"{question}\n   -> {hit.score:.3f} {answers[question]}: {hit.node.get_content()[:100]}")
    return answers


def run(limit: int | None) -> int:
    corpus = WORKDIR / "stdlib.jsonl"
    started = time.monotonic()
    count = write_corpus(corpus, limit)
    print(f"corpus: {count} docstring paragraphs of the standard library -> {corpus} ({time.monotonic() - started:.1f}s)")
    qdrant_url = os.environ.get("QDRANT_URL")
    where = ["--qdrant-url", qdrant_url] if qdrant_url else ["--qdrant-path", str(WORKDIR / "qdrant")]

    with embedding_endpoint(None, None, None) as (host, token, model):
        if token is not None:
            os.environ["AA_TOKEN"] = token  # the CLI and the adapters read it from there, never from argv
        endpoint = ["--host", host, "--model", model]
        collection = f"python-stdlib-{model}"

        heading(f"aleph-embed ingest {corpus} --collection {collection}")
        code = aleph_embed(["ingest", str(corpus), "--collection", collection, *where, *endpoint])
        heading("again: unchanged paragraphs are skipped without calling /embed")
        code = aleph_embed(["ingest", str(corpus), "--collection", collection, *where, *endpoint]) or code

        heading("aleph-embed search")
        for question in QUESTIONS:
            print(f"$ aleph-embed search {question!r} --top-k 1")
            aleph_embed(["search", question, "--collection", collection, "--top-k", "1", *where, *endpoint])

        qdrant = QdrantClient(url=qdrant_url, check_compatibility=False) if qdrant_url else QdrantClient(path=where[1])
        try:
            heading("LangChain: langchain_qdrant.QdrantVectorStore + AlephAlphaEmbeddings")
            langchain = ask_langchain(qdrant, collection, host, model)
            heading("LlamaIndex: llama_index QdrantVectorStore + AlephAlphaEmbedding")
            llamaindex = ask_llamaindex(qdrant, collection, host, model)
        finally:
            qdrant.close()
        if langchain and llamaindex:
            agree = sum(langchain[q] == llamaindex[q] for q in QUESTIONS)
            print(f"\nLangChain and LlamaIndex agree on the top hit for {agree} of {len(QUESTIONS)} questions")

        queries, qrels = WORKDIR / "questions.jsonl", WORKDIR / "qrels.tsv"
        if write_judgements(corpus, queries, qrels):
            heading(f"aleph-embed eval: retrieval quality on the {len(QUESTIONS)} questions, the answering "
                    "objects' paragraphs judged relevant")
            code = aleph_embed(["eval", "--collection", collection, "--queries", str(queries), "--qrels", str(qrels),
                                *where, *endpoint]) or code
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="most paragraphs to ingest (default: all; the answers' first)")
    sys.exit(run(parser.parse_args().limit))
