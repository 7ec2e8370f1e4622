"""BEIR-format data for the evaluation tests: the shared business-reports set when it is beside the repository
(its license does not let us copy it in), else a known-item set made of standard-library docstrings."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .corpora import stdlib_paragraphs, write_jsonl

REPO = Path(__file__).resolve().parents[2]
SHARED = Path("shared") / "data" / "beir-business-reports"


@dataclass(frozen=True)
class BeirSet:
    corpus: Path
    queries: Path
    qrels: Path


def shared_beir() -> BeirSet | None:
    """The directory ALEPH_EMBED_BEIR_DIR names, else shared/data/beir-business-reports in the repository's folder
    or one above it; None when there is none."""
    named = os.environ.get("ALEPH_EMBED_BEIR_DIR")
    candidates = [Path(named)] if named else [parent / SHARED for parent in (REPO, *REPO.parents)]
    for directory in candidates:
        if (directory / "corpus.jsonl").is_file():
            return BeirSet(directory / "corpus.jsonl", directory / "queries.jsonl", directory / "qrels" / "test.tsv")
    return None


def small_beir(directory: Path, queries: int = 2, distractors: int = 20) -> BeirSet:
    """A few queries with their judged documents and some distractors, written in BEIR format under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    shared = shared_beir()
    if shared is None:
        return _known_items(directory, queries, distractors)
    lines = shared.qrels.read_text(encoding="utf-8").splitlines()[1:]
    chosen = sorted({line.split("\t")[0] for line in lines})[:queries]
    qrels = [line for line in lines if line.split("\t")[0] in chosen]
    judged = {line.split("\t")[1] for line in qrels}
    corpus, others = [], 0
    for line in shared.corpus.read_text(encoding="utf-8").splitlines():
        document = json.loads(line)
        if document["_id"] in judged or others < distractors:
            others += document["_id"] not in judged
            corpus.append(document)
    texts = {json.loads(line)["_id"]: line for line in shared.queries.read_text(encoding="utf-8").splitlines()}
    return write_beir(directory, corpus, [json.loads(texts[query]) for query in chosen], qrels)


def _known_items(directory: Path, queries: int, distractors: int) -> BeirSet:
    documents = stdlib_paragraphs(queries + distractors)
    corpus = [{"_id": d["id"], "title": "", "text": d["text"]} for d in documents]
    asked = [{"_id": f"q{i}", "text": " ".join(d["text"].split()[:8])} for i, d in enumerate(documents[:queries])]
    qrels = [f"q{i}\t{d['id']}\t1" for i, d in enumerate(documents[:queries])]
    return write_beir(directory, corpus, asked, qrels)


def write_beir(directory: Path, corpus: list[dict[str, str]], queries: list[dict[str, str]], qrels: list[str]) -> BeirSet:
    beir = BeirSet(directory / "corpus.jsonl", directory / "queries.jsonl", directory / "qrels.tsv")
    write_jsonl(beir.corpus, corpus)  # type: ignore[arg-type]
    write_jsonl(beir.queries, queries)  # type: ignore[arg-type]
    beir.qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(line + "\n" for line in qrels), encoding="utf-8")
    return beir
