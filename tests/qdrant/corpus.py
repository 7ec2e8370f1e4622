"""Small corpora for the ingest tests: paragraphs of the standard library's own docstrings (nobody here wrote them)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

MODULES = (
    "json", "pathlib", "itertools", "functools", "collections", "textwrap", "heapq", "bisect",
    "statistics", "random", "string", "shlex", "argparse", "subprocess", "inspect", "typing",
)


def stdlib_paragraphs(limit: int, modules: tuple[str, ...] = MODULES) -> list[dict[str, Any]]:
    """Up to `limit` documents {id, text, metadata}: distinct docstring paragraphs of a few stdlib modules."""
    documents: list[dict[str, Any]] = []
    seen: set[str] = set()
    for module_name in modules:
        module = __import__(module_name)
        for name, member in [(module_name, module), *sorted(vars(module).items())]:
            own = member is module or getattr(member, "__module__", None) in (module_name, f"_{module_name}")
            doc = inspect.getdoc(member) if own and not name.startswith("_") or member is module else None
            for index, paragraph in enumerate((doc or "").split("\n\n")):
                text = " ".join(paragraph.split())
                if len(text) < 40 or text in seen:
                    continue
                seen.add(text)
                qualified = name if member is module else f"{module_name}.{name}"
                documents.append({"id": f"{qualified}#{index}", "text": text, "metadata": {"module": module_name}})
                if len(documents) == limit:
                    return documents
    return documents


def write_jsonl(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(document) + "\n" for document in documents), encoding="utf-8")
    return path
