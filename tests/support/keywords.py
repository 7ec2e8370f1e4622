"""The keyword query set (tests/data/keyword-queries: identifiers, error codes, flags) over passages of
tests/data/docs, in BEIR format: each file cut at blank lines into passages of up to `PASSAGE_CHARS` characters, the
passages holding a query's string first, then the file's others in order, `PER_FILE` per file; a passage is relevant
to a query when it holds the query's string."""

from __future__ import annotations

import json
from pathlib import Path

from .beir import BeirSet, write_beir

DATA = Path(__file__).resolve().parents[1] / "data"
PASSAGE_CHARS = 700
PER_FILE = 12


def keyword_beir(directory: Path) -> BeirSet:
    queries = [json.loads(line) for line in (DATA / "keyword-queries" / "queries.jsonl").read_text().splitlines()]
    corpus: list[dict[str, str]] = []
    for path in sorted((DATA / "docs").rglob("*.*")):
        passages = _passages(path.read_text(encoding="utf-8"))
        holding = [i for i, text in enumerate(passages) if any(q["text"] in text for q in queries)]
        chosen = sorted([*holding, *[i for i in range(len(passages)) if i not in holding]][:PER_FILE])
        name = path.relative_to(DATA / "docs").as_posix()
        corpus += [{"_id": f"{name}#{i}", "title": "", "text": passages[i]} for i in chosen]
    qrels = [f"{q['_id']}\t{d['_id']}\t1" for q in queries for d in corpus if q["text"] in d["text"]]
    directory.mkdir(parents=True, exist_ok=True)
    return write_beir(directory, corpus, queries, qrels)


def _passages(text: str) -> list[str]:
    passages, current = [], ""
    for block in (block.strip() for block in text.split("\n\n")):
        if current and len(current) + len(block) > PASSAGE_CHARS:
            passages.append(current)
            current = ""
        current = f"{current}\n\n{block}".strip() if block else current
    return [*passages, current] if current else passages
