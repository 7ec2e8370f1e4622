"""Corpora of the tests and benches.

- `DOCUMENTS` / `QUESTIONS`: a few documents and questions with one right answer each (end-to-end retrieval);
- `stdlib_paragraphs`: paragraphs of the standard library's own docstrings (nobody here wrote them).
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Any

DOCUMENTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Python is a programming language that emphasises readable code and has a large standard library.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
    "The Great Barrier Reef off Queensland, Australia, is the largest coral reef system in the world.",
]

QUESTIONS = {
    "Which landmark made of iron stands in Paris?": 0,
    "How do plants make food from light?": 1,
    "What is the tallest peak on Earth?": 3,
    "Where can I dive among corals?": 4,
}

MODULES = (
    "json", "pathlib", "itertools", "functools", "collections", "textwrap", "heapq", "bisect",
    "statistics", "random", "string", "shlex", "argparse", "subprocess", "inspect", "typing",
)
# More modules for the benches (about 3,500 paragraphs).
BENCH_MODULES = MODULES + (
    "asyncio", "base64", "calendar", "codecs", "configparser", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "email.message", "enum", "fractions", "gzip", "hashlib", "hmac",
    "html.parser", "http.client", "io", "ipaddress", "logging", "math", "mimetypes", "operator", "os", "pickle",
    "pprint", "queue", "re", "sched", "secrets", "selectors", "shutil", "socket", "sqlite3", "struct", "tarfile",
    "tempfile", "threading", "timeit", "tokenize", "unittest", "urllib.parse", "uuid", "warnings", "weakref",
    "xml.etree.ElementTree", "zipfile", "doctest", "optparse", "pydoc", "smtplib", "imaplib", "ftplib", "mailbox",
    "locale", "gettext", "pdb", "cmd", "ast", "dis", "pickletools", "shelve", "zlib", "bz2", "lzma",
    "multiprocessing", "ssl", "signal", "mmap", "socketserver", "traceback", "builtins", "sys", "trace",
    "tracemalloc", "fnmatch", "glob", "netrc", "plistlib", "contextvars", "copyreg", "zipimport", "pkgutil", "runpy",
    "unicodedata", "array", "types", "abc", "numbers", "cmath", "time", "zoneinfo", "graphlib", "reprlib",
)


def stdlib_paragraphs(limit: int | None, modules: tuple[str, ...] = MODULES) -> list[dict[str, Any]]:
    """Up to `limit` documents {id, text, metadata}: distinct docstring paragraphs of `modules` and their public
    members."""
    documents: list[dict[str, Any]] = []
    seen: set[str] = set()
    for module_name in modules:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(module_name)
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


DOCS_FOLDER = Path(__file__).parent.parent / "data" / "docs"
"""Real long documentation (Markdown, reST, plain text; not written by us): see tests/data/docs-source/SOURCE.md."""


def doc_files() -> list[Path]:
    """The files of `DOCS_FOLDER`, sorted."""
    return sorted(path for path in DOCS_FOLDER.rglob("*") if path.is_file())


SMALL_DOCS = ("flask/testing.rst", "npm/scope.md", "npm/npm-access.md", "idle/README.txt")
"""A few real long files (reST, Markdown with front matter, plain text) for quick end-to-end tests."""
DOC_QUESTIONS = {
    "How do I make the Flask test client follow redirects?": "testing.rst",
    "How do I publish a scoped package so that everyone can install it?": "scope.md",
    "Which IDLE file debugs code run in a remote process?": "README.txt",
    "Where do I give a one-time password from a two-factor authenticator?": "npm-access.md",
}
"""Questions whose answers sit inside `SMALL_DOCS`, and the file holding each."""


def copy_docs(destination: Path, names: tuple[str, ...] = SMALL_DOCS) -> Path:
    """`names` of `DOCS_FOLDER` copied into `destination` (created), keeping their subfolders."""
    for name in names:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((DOCS_FOLDER / name).read_bytes())
    return destination

DEEP_QUESTIONS = {
    "How do I make npm refuse to install packages that say they do not support my Node.js version?": "config.md",
    "How do I declare which operating systems my package runs on?": "package-json.md",
    "How do I load Flask configuration from environment variables that start with a prefix?": "config.rst",
    "How do I measure the code coverage of the tutorial's tests?": "tutorial-tests.rst",
    "Does pasting over selected text in IDLE replace the selection on X11?": "News3.txt",
    "Which selector matches dependencies that have newer versions available?": "dependency-selectors.md",
    "How do I handle 404 errors inside a blueprint?": "blueprints.rst",
    "How do I add my own command to the flask command line tool?": "cli.rst",
}
"""Questions about the whole `DOCS_FOLDER` whose answers sit deep inside long files (past their first 512 tokens),
and the file holding each."""
