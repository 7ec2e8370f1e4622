"""The ingest helper's pure parts: inputs, payload layouts, collection checks, CLI options, progress line."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from qdrant_client import models

from aleph_embed import ConfigurationError, EmbeddingSettings, Usage
from aleph_embed_qdrant import CollectionMismatchError, CollectionOptions, IngestReport, SourceDocument, VectorSpec
from aleph_embed_qdrant import chunk_point_id, point_id, read_paths
from aleph_embed_qdrant.cli import _vector_spec
from aleph_embed_qdrant.collection import VectorPlan
from aleph_embed.ingest.documents import WRITTEN_BY, WRITTEN_BY_FIELD, to_source_document
from aleph_embed_qdrant.layout import build_payload, payload_text
from aleph_embed.ingest.progress import Progress

SETTINGS = EmbeddingSettings(model="m")


@pytest.mark.parametrize(
    "item, expected",
    [
        ("just text", SourceDocument("just text")),
        ({"id": 7, "text": "t", "metadata": {"a": 1}}, SourceDocument("t", 7, {"a": 1})),
        (Document(page_content="lc", metadata={"b": 2}, id="d1"), SourceDocument("lc", "d1", {"b": 2})),
        (TextNode(id_="n1", text="li", metadata={"c": 3}), SourceDocument("li", "n1", {"c": 3})),
    ],
)
def test_every_kind_of_input_becomes_a_source_document(item: object, expected: SourceDocument) -> None:
    assert to_source_document(item) == expected


def test_unusable_inputs_say_what_to_pass() -> None:
    with pytest.raises(ConfigurationError, match="pass text_field"):
        to_source_document({"id": 1, "body": "x"})
    with pytest.raises(ConfigurationError, match="cannot ingest a int"):
        to_source_document(3)


def test_point_ids_are_deterministic_uuids_of_the_typed_id_or_else_the_text_and_metadata() -> None:
    assert point_id(SourceDocument("a", "x")) == point_id(SourceDocument("changed", "x"))
    assert point_id(SourceDocument("a")) == point_id(SourceDocument("a")) != point_id(SourceDocument("b"))
    assert point_id(SourceDocument("a", "a")) != point_id(SourceDocument("a"))
    assert point_id(SourceDocument("a", 1)) != point_id(SourceDocument("a", "1"))
    assert point_id(SourceDocument("a", None, {"k": 1})) != point_id(SourceDocument("a", None, {"k": 2}))
    assert point_id(SourceDocument("a", None, {"k": 1, "j": 2})) == point_id(SourceDocument("a", None, {"j": 2, "k": 1}))
    assert chunk_point_id(point_id(SourceDocument("a", 1)), 0) == point_id(SourceDocument("a", 1))
    assert len({chunk_point_id("d", index) for index in range(5)}) == 5


def test_read_paths_streams_directories_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.md").write_text("alpha")
    (tmp_path / "d" / "skip.bin").write_text("x")
    (tmp_path / "c.jsonl").write_text('{"id": "1", "text": "one"}\n\n{"id": "2", "text": "two", "metadata": {"k": 1}}\n')
    documents = list(read_paths([tmp_path / "d", tmp_path / "c.jsonl"], root=tmp_path))
    jsonl = str(tmp_path / "c.jsonl")
    assert documents == [
        SourceDocument("alpha", "d/a.md", {"source": "d/a.md"}, "d/a.md", str(tmp_path / "d" / "a.md")),  # its origin
        SourceDocument("one", "1", source=f"{jsonl}:1"),
        SourceDocument("two", "2", {"k": 1}, f"{jsonl}:3"),
    ]


def test_llamaindex_payload_is_read_back_by_llamaindex() -> None:
    document = SourceDocument("node text", "source-doc", {"topic": "t"})
    payload = build_payload("llamaindex", "6f1c1f0e-0000-5000-8000-000000000000", document, "h")
    node = metadata_dict_to_node(payload)
    assert (node.node_id, node.get_content(), node.metadata, node.ref_doc_id) == (
        "6f1c1f0e-0000-5000-8000-000000000000", "node text", {"topic": "t"}, "source-doc",
    )
    assert payload["doc_id"] == "source-doc" and payload_text(payload) == "node text"
    assert payload_text(build_payload("langchain", "id", document, "h")) == "node text"


def collection_info(vectors: models.VectorParams | dict[str, models.VectorParams]) -> models.CollectionInfo:
    return models.CollectionInfo.model_validate({
        "status": "green", "optimizer_status": "ok", "segments_count": 1, "payload_schema": {},
        "config": {
            "params": {"vectors": vectors if isinstance(vectors, models.VectorParams) else dict(vectors)},
            "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
            "optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                                 "default_segment_number": 0, "flush_interval_sec": 5},
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
        },
    })


def test_collection_checks_name_what_to_change() -> None:
    unnamed = VectorPlan(SETTINGS, None, CollectionOptions())
    cosine = models.VectorParams(size=4, distance=models.Distance.COSINE)
    unnamed.check("c", collection_info(cosine), 4)  # Cosine ranks unit vectors like Dot
    with pytest.raises(CollectionMismatchError, match="Euclid distance"):
        unnamed.check("c", collection_info(models.VectorParams(size=4, distance=models.Distance.EUCLID)), 4)
    with pytest.raises(CollectionMismatchError, match="has named vectors"):
        unnamed.check("c", collection_info({"x": cosine}), 4)
    named = VectorPlan(SETTINGS, {"x": VectorSpec(-1, "mean"), "y": VectorSpec(3, "max")}, CollectionOptions())
    with pytest.raises(CollectionMismatchError, match=r"no vectors named \['y'\]"):
        named.check("c", collection_info({"x": cosine}), 4)
    strict = VectorPlan(SETTINGS, None, CollectionOptions(distance=models.Distance.DOT))
    with pytest.raises(CollectionMismatchError, match="expected Dot"):
        strict.check("c", collection_info(cosine), 4)


def test_vector_option_parses_and_explains_its_format() -> None:
    assert _vector_spec("early=3:max") == ("early", VectorSpec(3, "max"))
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=LAYER:POOLING"):
        _vector_spec("early=3:median")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal_and_writes_a_line_every_few_seconds_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    usage = Usage(requests=41, retries=3)  # one call more than the run's: the tokenizer's
    report = IngestReport(documents=50, ingested=40, skipped=5, embed_calls=40)
    terminal = Terminal()
    monkeypatch.setenv("COLUMNS", "120")
    progress = Progress(terminal, usage, total=100, interval=0)
    progress.update(report)
    progress.close()
    line = terminal.getvalue().split("\r")[-1]
    assert line.startswith("[#############.................] 45/100 docs | 5 unchanged, 0 failed | 40 calls, 3 retries")
    assert line.endswith("/s\x1b[K\n")
    for columns in (80, 40):  # the 80-column terminal: the bar shrinks; narrower: the line is cut, never wraps
        monkeypatch.setenv("COLUMNS", str(columns))
        drawn = progress.line(report, 1.0)
        assert len(drawn) < columns and drawn.startswith("[" if columns == 80 else "45/100 docs")
    now = [0.0]
    log = io.StringIO()
    progress = Progress(log, usage, total=None, log_interval=5, clock=lambda: now[0])
    for now[0] in (0.0, 6.0, 8.0):  # a line at 6 s, none at 8 s
        progress.update(report)
    now[0] = 9.0
    progress.close()  # the final state
    assert [line[:40] for line in log.getvalue().splitlines()] == ["aleph-embed: 45 docs | 5 unchanged, 0 fa"] * 2
    short = io.StringIO()  # a run shorter than the interval: only its summary
    progress = Progress(short, usage, total=None)
    progress.update(report)
    progress.close()
    assert short.getvalue() == ""


def test_the_failures_file_accumulates_until_a_completed_run_stores_the_document(tmp_path: Path) -> None:
    from aleph_embed.ingest.failures import FailuresFile
    from aleph_embed_qdrant.ingest import FailedDocument

    path = tmp_path / "f" / "c.jsonl"
    text = SourceDocument("", 1, {"k": "v"}, "in.jsonl:1")
    file = SourceDocument("", "docs/a.md", {"source": "docs/a.md"}, "docs/a.md", str(tmp_path / "docs/a.md"))
    first = FailuresFile(path)
    assert first.write([FailedDocument(None, None, "not JSON", "in.jsonl:2"),  # an unreadable line
                        FailedDocument(1, "p", "empty", "in.jsonl:1", text)], completed=True) == 2
    second = FailuresFile(path)
    list(second.watch([SourceDocument("one", 1)]))  # stored this time
    assert second.write([FailedDocument("docs/a.md", "q", "empty", "docs/a.md", file, file.path)], completed=False) == 3
    records = [json.loads(line) for line in path.read_text().splitlines()]  # a stopped run drops nothing
    assert records[1] == {"id": 1, "source": "in.jsonl:1", "reason": "empty", "text": "", "metadata": {"k": "v"}}
    assert records[2] == {"id": "docs/a.md", "source": "docs/a.md", "reason": "empty", "path": str(tmp_path / "docs/a.md"),
                          WRITTEN_BY_FIELD: WRITTEN_BY}
    third = FailuresFile(path)
    list(third.watch([SourceDocument("one", 1), SourceDocument("a", "docs/a.md", {"source": "docs/a.md"}, "docs/a.md"),
                      SourceDocument("fixed line", None, {}, "in.jsonl:2")]))
    assert third.write([], completed=True) == 0 and not path.exists()


def test_an_unreachable_qdrant_server_is_a_clear_cli_error(capsys: pytest.CaptureFixture[str]) -> None:
    from aleph_embed.cli import main
    from aleph_embed.server.launcher import free_port

    url = f"http://127.0.0.1:{free_port()}"
    arguments = ["--collection", "c", "--qdrant-url", url, "--host", "http://127.0.0.1:9", "--model", "m"]
    assert main(["search", "question", *arguments]) == 2
    assert f"cannot use Qdrant at {url}" in capsys.readouterr().err


def test_grpc_failures_are_classified_like_http_ones() -> None:
    import grpc

    from aleph_embed_qdrant.ingest import classify_qdrant

    class Failure(grpc.RpcError):
        def __init__(self, code: grpc.StatusCode) -> None:
            self._code = code

        def code(self) -> grpc.StatusCode:
            return self._code

    assert classify_qdrant(Failure(grpc.StatusCode.UNAVAILABLE)) is not None
    assert classify_qdrant(Failure(grpc.StatusCode.DEADLINE_EXCEEDED)) is not None
    assert classify_qdrant(Failure(grpc.StatusCode.INVALID_ARGUMENT)) is None


def test_a_library_warning_is_one_prefixed_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23, finding 6: pypdf's "EOF marker not found" was printed raw on every run."""
    import logging
    import warnings

    from aleph_embed.cli_support import one_line_warnings

    root = logging.getLogger()
    before = list(root.handlers)
    with warnings.catch_warnings(record=True):  # what earlier code in the process may have left behind:
        logging.captureWarnings(True)  # a capture under another `showwarning` (a test's recorder), stale after this
    logging.getLogger("py.warnings").disabled = True  # and a library's logging set-up disabling existing loggers
    one_line_warnings()
    try:
        logging.getLogger("pypdf._reader").warning("EOF marker not found\nsecond line")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(True)
            warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = before
    assert capsys.readouterr().err.splitlines() == [
        "aleph-embed: pypdf: EOF marker not found\\nsecond line",
        "aleph-embed: warning: DeprecationWarning: a library's deprecation",
    ]
