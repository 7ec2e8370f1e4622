"""Chunked ingest (the default): a point per chunk with a deterministic id and its place in the document; a changed
document replaces all its chunks, an unchanged one costs no /embed call; the real documentation folder through the
CLI with default options. Real local /embed server, real Qdrant (embedded and the server binary)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed import Chunker, EmbedClient, EmbeddingSettings
from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import QdrantIngestor, chunk_point_id, point_id
from aleph_embed.ingest.documents import SourceDocument

from ..support.corpora import DEEP_QUESTIONS, DOCS_FOLDER, doc_files
from ..support.qdrant_server import assert_documents_once, stored_chunks

ACCESS, SCOPE = "npm/npm-access.md", "npm/scope.md"


def documents(texts: dict[str, str]) -> list[SourceDocument]:
    """Files as the CLI reads them: the path is the id and the source."""
    return [SourceDocument(text, name, {"source": name}, name) for name, text in texts.items()]


def test_a_point_per_chunk_with_its_place_in_the_document_and_a_changed_one_replaces_all_its_chunks(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    texts = {name: (DOCS_FOLDER / name).read_text() for name in (ACCESS, SCOPE)}
    chunker = embedder.chunker(settings.model)
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection)

    report = ingestor.ingest(documents(texts))

    expected = {name: chunker.split(text, kind=Chunker.kind_of(name)) for name, text in texts.items()}
    assert all(len(chunks) > 1 for chunks in expected.values())
    assert report.embed_calls == report.points == sum(map(len, expected.values()))
    records, _ = qdrant.scroll(collection, limit=1_000, with_payload=True)
    stored = {str(record.id): record.payload or {} for record in records}
    assert len(stored) == report.points
    for name, chunks in expected.items():
        first = point_id(SourceDocument(texts[name], name))
        for chunk in chunks:
            payload = stored[chunk_point_id(first, chunk.index)]
            metadata = payload["metadata"]
            assert payload["document_id"] == metadata["document_id"] == metadata["source"] == name
            assert (metadata["chunk_index"], metadata["chunk_start"], metadata["chunk_end"]) == (
                chunk.index, chunk.start, chunk.end
            )
            assert payload["page_content"] == texts[name][chunk.start : chunk.end]
            assert metadata["headings"] == list(chunk.headings)
            assert chunker.count(payload["page_content"]) <= chunker.max_tokens
    assert stored[point_id(SourceDocument("", SCOPE))]["metadata"]["title"] == "Scope"  # the front matter's

    again = ingestor.ingest(documents(texts))
    assert (again.skipped, again.ingested, again.embed_calls) == (2, 0, 0)

    edited = {**texts, ACCESS: texts[ACCESS] + "\n\n## Added by an edit\n\nOne more paragraph at the end.\n"}
    report = ingestor.ingest(documents(edited))
    access = chunker.split(edited[ACCESS], kind="markdown")
    assert (report.ingested, report.skipped) == (1, 1)
    assert report.embed_calls == report.points == len(access)  # only the edited file's chunks

    shorter = {**edited, SCOPE: texts[SCOPE][: len(texts[SCOPE]) // 3]}
    report = ingestor.ingest(documents(shorter))
    scope = chunker.split(shorter[SCOPE], kind="markdown")
    assert 0 < len(scope) < len(expected[SCOPE]) and report.embed_calls == len(scope)
    assert stored_chunks(qdrant, collection) == {ACCESS: list(range(len(access))), SCOPE: list(range(len(scope)))}
    assert qdrant.count(collection).count == len(access) + len(scope)  # the surplus chunks are gone


@pytest.mark.slow
def test_the_documentation_folder_with_default_options(
    embed_server: LocalServer, embedder: EmbedClient, settings: EmbeddingSettings, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = ["--collection", "docs", "--qdrant-path", str(tmp_path / "store"), "--host", embed_server.host,
             "--model", embed_server.default_model]
    ingest = ["ingest", str(DOCS_FOLDER), "--root", str(DOCS_FOLDER), *store]
    names = [path.relative_to(DOCS_FOLDER).as_posix() for path in doc_files()]

    assert main(ingest) == 0
    assert f"{len(names)} ingested, 0 skipped unchanged, 0 failed of {len(names)} documents" in capsys.readouterr().out

    chunker = embedder.chunker(settings.model)
    context = embedder.context_size(settings.model)
    with closing(QdrantClient(path=str(tmp_path / "store"))) as qdrant:
        chunks = assert_documents_once(qdrant, "docs", names)  # every file, each chunk once
        records, _ = qdrant.scroll("docs", limit=10_000, with_payload=["page_content"])
        assert len(records) == sum(map(len, chunks.values())) > 2 * len(names)
        assert max(chunker.count(record.payload["page_content"]) for record in records) <= min(256, context)
        for question, name in DEEP_QUESTIONS.items():  # answers past the first 512 tokens of long files
            (vector,) = embedder.embed_texts([question], settings)
            groups = qdrant.query_points_groups("docs", "document_id", query=vector, limit=5, group_size=1).groups
            assert name in [Path(str(group.id)).name for group in groups], question

    question = next(iter(DEEP_QUESTIONS))  # npm's engine-strict, deep inside config.md
    assert main(["search", question, "--top-k", "1", *store]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("1. 0.") and "npm/config.md  (" in line and "engine-strict" in line

    assert main(ingest) == 0
    out = capsys.readouterr().out
    assert f"0 ingested, {len(names)} skipped unchanged" in out and "(0 embed calls" in out


def test_the_chunking_flags_of_the_cli(
    embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scope.md").write_text((DOCS_FOLDER / SCOPE).read_text())  # over the 512-token context whole
    (folder / "short.txt").write_text("A short note that fits the context whole.")
    endpoint = ["--host", embed_server.host, "--model", embed_server.default_model, "--root", str(folder)]

    def ingest(collection: str, *flags: str) -> int:
        store = ["--collection", collection, "--qdrant-path", str(tmp_path / "store")]
        return main(["ingest", str(folder), *store, "--failures", str(tmp_path / f"{collection}.jsonl"), *endpoint,
                     *flags])

    assert ingest("tiny", "--chunk-tokens", "4") == 2  # a configuration error, one line, before anything is read
    (line,) = capsys.readouterr().err.splitlines()[-1:]
    assert "max_tokens must be at least 8" in line and "--chunk-tokens" in line
    assert ingest("whole", "--no-chunking") == 1  # the long file fails, as the model says, and the short one is stored
    assert "1 ingested, 0 skipped unchanged, 1 failed of 2 documents" in capsys.readouterr().out
    assert "scope.md" in (tmp_path / "whole.jsonl").read_text()
    assert ingest("whole") == 2  # chunked into a collection of whole documents: refused, saying which flags
    assert "chunking: None -> " in (error := capsys.readouterr().err) and "--no-chunking" in error
    assert ingest("small", "--chunk-tokens", "64", "--chunk-overlap", "0") == 0
    assert ingest("default") == 0
    with closing(QdrantClient(path=str(tmp_path / "store"))) as qdrant:
        small, default = (stored_chunks(qdrant, name)["scope.md"] for name in ("small", "default"))
    assert len(small) > 2 * len(default) > 2
