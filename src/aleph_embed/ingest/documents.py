"""What can be ingested: strings, dicts, LangChain Documents, LlamaIndex nodes, and files on disk (streamed).

Files: `FileReader` walks directories and reads every format of `readers.READERS` (text, Markdown, reST, HTML, PDF,
Word, PowerPoint, Excel, OpenDocument, EPUB), JSONL files (one document per line) and `-` (JSONL on stdin). Parsed
formats are read in worker processes (`aleph_embed.ingest.workers`), each file held to `ReadLimits`; a PDF's page
starts go into its metadata (`PAGE_STARTS_KEY`), from which each chunk gets its pages. A file's document id is its path relative to the
reader's `root` (default: the current directory), so naming `docs/` or `docs/npm/` gives one file the same id.
Hidden folders and files, `.git`, `node_modules`, binary files and other formats are skipped and counted
(`Skipped`); a file or line that cannot be read is yielded as a `ReadFailure`, never raised.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Union

from aleph_embed import ConfigurationError
from aleph_embed.jsonl import parsed_lines

from ..config import DEFAULT_MAX_DOCUMENT_CHARS
from .limits import ReadLimits
from .paged import PAGE_STARTS_KEY, PagedText
from .readers import READERS, UnreadableFile, is_binary, is_parsed, over_the_cap, read_text, reader_of
from .workers import ReadPool, ReadStats, default_workers, read_safely

DocumentId = Union[str, int]
"""A document id keeps its type: `1` and `"1"` are different documents."""

SKIPPED_FOLDERS = (".git", "node_modules")
"""Folders never walked into (besides hidden ones), counted by name in `Skipped`."""
PATH_FIELD = "path"
"""A JSONL line with this field and no text names a file to read (the failures file writes such lines); it is read
only when the line carries `WRITTEN_BY` and the file lies under the reader's `root`."""
WRITTEN_BY_FIELD, WRITTEN_BY = "written_by", "aleph-embed ingest --failures"
"""The mark the failures file puts on a line with `path`: a `.jsonl` file from elsewhere cannot make the ingest read
a local file (it would go into the collection)."""
FAILURE_FIELD = "reason"
"""A JSONL line with this field, no text and no path is a recorded failure that cannot be retried from here (a
malformed line of another file): it is yielded again as a `ReadFailure`. A document of such a line (with a text)
keeps the line's `source`: where it was first read."""


@dataclass(frozen=True)
class SourceDocument:
    """One document as the ingestor sees it. `id` None means: identify it by its text and metadata. `source` says
    where it came from (a file path, `file.jsonl:LINE`), for reports; the ingest uses it as given. `path`: the
    absolute path of the file it was read from (None for others), so that a retry reads the file again."""

    text: str
    id: DocumentId | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class ReadFailure:
    """An input item that could not be read (undecodable file, malformed line): a reader yields it in the
    document's place, and the ingest reports it as a failed document instead of stopping. A file's failure
    carries the document `id` it would have had and its `path`, so that a retry reads it again."""

    source: str
    reason: str
    id: DocumentId | None = None
    path: str | None = None


def to_source_document(item: object, *, id_field: str = "id", text_field: str = "text") -> SourceDocument:
    """Normalise one input item; frameworks' objects are duck-typed, never imported."""
    if isinstance(item, SourceDocument):
        return item
    if isinstance(item, str):
        return SourceDocument(text=item)
    if isinstance(item, Mapping):
        if not isinstance(item.get(text_field), str):
            raise ConfigurationError(
                f"document {_describe(item, id_field)} has no string field {text_field!r}; "
                "pass text_field=... (CLI: --text-field) naming the field that holds the text"
            )
        return SourceDocument(text=item[text_field], id=_id(item.get(id_field)), metadata=item.get("metadata") or {})
    metadata = dict(getattr(item, "metadata", None) or {})
    if hasattr(item, "page_content"):  # langchain_core.documents.Document
        return SourceDocument(text=item.page_content, id=_id(getattr(item, "id", None)), metadata=metadata)
    if hasattr(item, "get_content") and hasattr(item, "node_id"):  # llama_index.core.schema.BaseNode
        return SourceDocument(text=item.get_content(), id=_id(item.node_id), metadata=metadata)
    raise ConfigurationError(
        f"cannot ingest a {type(item).__name__}: pass str, dict (id, text, metadata), "
        "a LangChain Document or a LlamaIndex node"
    )


@dataclass
class Skipped:
    """What a directory walk left out: files by reason (`binary`, `empty`, `excluded`, `hidden`, `link outside`,
    `other format`, `no reader for .SUFFIX`) and folders by name (`.git`, `node_modules`, `hidden`, `excluded`)."""

    files: Counter[str] = field(default_factory=Counter)
    folders: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """E.g. `skipped 12 files: 3 binary, 9 excluded; 2 folders: .git, node_modules`; empty when nothing was."""
        parts = []
        if self.files:
            parts.append(f"skipped {plural(self.files.total(), 'file')}: "
                         + ", ".join(f"{n} {reason}" for reason, n in self.files.most_common()))
        if self.folders:
            folders = ", ".join(reason if n == 1 else f"{n} {reason}" for reason, n in self.folders.most_common())
            parts.append(f"{'' if parts else 'skipped '}{plural(self.folders.total(), 'folder')}: {folders}")
        return "; ".join(parts)


@dataclass
class FileReader:
    """Documents from paths: directories (walked), readable files, `.jsonl` files, and `-` for JSONL on stdin.

    `root`: file ids are paths relative to it (absolute for files outside it). `include`/`exclude`: glob patterns
    matched against a file's path relative to the named directory, its id and its name (`*` spans folders); with
    `include`, only matching files are read. `skipped` counts what walks left out. `max_chars`: a file whose text is
    longer is a `ReadFailure` naming the cap (read no further than needed to know). A walk skips file links whose
    target lies outside the named directory (counted as `link outside`) unless `follow_symlinks`. `limits`: what
    else reading one file may cost. `workers`: processes that read parsed formats (default:
    `workers.default_workers()`; 0: read everything in this process, without the time and memory limits).
    `reading`: the files read and how long it took. Files without text are skipped (counted as `empty`) unless
    `skip_empty` is False (then they are documents: the ingest's `empty_text` decides); `on_skip(path, reason)`
    hears of each file and folder left out.
    """

    root: Path = field(default_factory=Path.cwd)
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    id_field: str = "id"
    text_field: str = "text"
    skipped: Skipped = field(default_factory=Skipped)
    max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS
    follow_symlinks: bool = False
    limits: ReadLimits = field(default_factory=ReadLimits)
    workers: int | None = None
    reading: ReadStats = field(default_factory=ReadStats)
    skip_empty: bool = True
    on_skip: Callable[[Path, str], None] | None = None

    def __post_init__(self) -> None:
        self.root = Path(os.path.abspath(self.root))

    def check(self, paths: Iterable[str | Path], *, missing_ok: bool = False) -> None:
        """Raise `ConfigurationError` for a path that cannot be read at all (before anything is ingested);
        `missing_ok` lets paths that no longer exist pass (a prune of what they held)."""
        for path in map(Path, paths):
            if str(path) == "-" or path.is_dir() or (missing_ok and not path.exists()):
                continue
            if not path.exists():
                raise ConfigurationError(f"{path}: no such file or directory")
            if path.suffix.lower() != ".jsonl" and reader_of(path) is None:
                raise ConfigurationError(
                    f"{path}: cannot read this format; give a directory, a .jsonl file, - for JSONL on stdin, "
                    f"or a file ending in {', '.join(READERS)}"
                )

    def file_id(self, path: Path) -> str:
        """A file's document id: its path relative to `root` (POSIX separators), absolute when outside it."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return absolute.as_posix()

    def read(self, paths: Iterable[str | Path]) -> Iterator[SourceDocument | ReadFailure]:
        """Every document of `paths` in order (directories sorted), or a `ReadFailure` in its place."""
        workers = default_workers() if self.workers is None else self.workers
        pool = ReadPool(read_text, workers, self._limits())
        self.reading = pool.stats
        try:
            for path in paths:
                if str(path) == "-":
                    stdin = getattr(sys.stdin, "buffer", None)  # a replaced sys.stdin may be text only
                    yield from self.read_jsonl(stdin or (line.encode() for line in sys.stdin), "<stdin>")
                elif Path(path).suffix.lower() == ".jsonl" and not Path(path).is_dir():
                    yield from self._read_jsonl_file(Path(path))
                elif Path(path).exists():
                    files = self.files(Path(path)) if Path(path).is_dir() else iter([Path(path)])
                    tasks = ((file, workers > 0 and is_parsed(file)) for file in files)
                    for file, result in pool.map(tasks):
                        yield from self._unless_empty(file, self._document(file, result))
        finally:
            pool.close()

    def listing(self, paths: Iterable[str | Path]) -> list[str | Path]:
        """`paths` with each directory replaced by its readable files (walked once, what is left out counted in
        `skipped`): what `read` and `count` take without walking again."""
        listed: list[str | Path] = []
        for path in paths:
            if str(path) != "-" and Path(path).is_dir():
                listed.extend(self.files(Path(path)))
            else:
                listed.append(path)
        return listed

    def _unless_empty(self, path: Path, item: SourceDocument | ReadFailure) -> Iterator[SourceDocument | ReadFailure]:
        """`item`, or nothing when it holds no text and `skip_empty` (counted in `skipped`)."""
        if self.skip_empty and isinstance(item, SourceDocument) and not item.text.strip():
            self._skip(path, "empty", self.skipped.files)
        else:
            yield item

    def count(self, paths: Iterable[str | Path]) -> int | None:
        """How many items `read` will yield (files are counted, not read; JSONL lines counted); None for stdin."""
        counter = replace(self, skipped=Skipped())
        total = 0
        for path in map(Path, paths):
            if str(path) == "-":
                return None
            if path.is_dir():
                total += sum(1 for _ in counter.files(path))
            elif path.suffix.lower() == ".jsonl" and path.is_file():
                with path.open("rb") as stream:
                    total += sum(1 for line in stream if line.strip())
            elif path.exists():
                total += 1
        return total

    def files(self, directory: Path) -> Iterator[Path]:
        """The readable files under `directory`, sorted, counting what is left out in `skipped`."""
        for top, folders, names in os.walk(directory):
            top_path = Path(top)
            kept = []
            for folder in sorted(folders):
                reason = self._skip_folder(folder, (top_path / folder).relative_to(directory).as_posix(), top_path / folder)
                if reason:
                    self._skip(top_path / folder, reason, self.skipped.folders)
                else:
                    kept.append(folder)
            folders[:] = kept
            for name in sorted(names):
                file = top_path / name
                reason = self._skip_file(file, file.relative_to(directory).as_posix(), directory)
                if reason:
                    self._skip(file, reason, self.skipped.files)
                else:
                    yield file

    def read_file(self, path: Path) -> SourceDocument | ReadFailure:
        """One file as a document (id from `file_id`, metadata `{"source": id}`, and a PDF's page starts), or why it
        cannot be read; read in this process."""
        return self._document(path, read_safely(read_text, path, self._limits()))

    def _limits(self) -> ReadLimits:
        return replace(self.limits, max_chars=self.max_chars)

    def _document(self, path: Path, result: str | PagedText | UnreadableFile) -> SourceDocument | ReadFailure:
        document_id = self.file_id(path)
        if isinstance(result, UnreadableFile):
            return ReadFailure(document_id, str(result), id=document_id, path=str(Path(os.path.abspath(path))))
        metadata: dict[str, Any] = {"source": document_id}
        if isinstance(result, PagedText):
            metadata[PAGE_STARTS_KEY] = list(result.page_starts)
            result = result.text
        return SourceDocument(text=result, id=document_id, metadata=metadata, source=document_id,
                              path=str(Path(os.path.abspath(path))))

    def read_jsonl(self, stream: Iterable[bytes], name: str) -> Iterator[SourceDocument | ReadFailure]:
        """One document per non-empty line; a line that is not a JSON object (or not UTF-8) is a `ReadFailure`.

        A line holding `path` and no text field reads that file (keeping the line's id). A first line without the
        text field is taken for a wrong `--text-field` and raises `ConfigurationError`."""
        read_one = False
        for number, item in parsed_lines(stream):
            source = f"{name}:{number}"
            if isinstance(item, str):
                yield ReadFailure(source, item)
                continue
            if isinstance(item.get(self.text_field), str) and len(item[self.text_field]) > self.max_chars:
                read_one = True
                yield ReadFailure(source, over_the_cap(self.max_chars), id=_id(item.get(self.id_field)))
                continue
            if not isinstance(item.get(self.text_field), str):
                if isinstance(item.get(PATH_FIELD), str):
                    read_one = True
                    yield self._reread(item, source)
                    continue
                if isinstance(item.get(FAILURE_FIELD), str):
                    read_one = True
                    yield ReadFailure(str(item.get("source") or source), item[FAILURE_FIELD])
                    continue
            try:
                document = to_source_document(item, id_field=self.id_field, text_field=self.text_field)
            except ConfigurationError as error:
                if not read_one:
                    raise ConfigurationError(f"{source}: {error}") from None
                yield ReadFailure(source, str(error), id=_id(item.get(self.id_field)))
                continue
            read_one = True
            failed_at = item.get("source") if isinstance(item.get(FAILURE_FIELD), str) else None
            yield replace(document, source=failed_at if isinstance(failed_at, str) else source)  # a retry: its origin

    def _read_jsonl_file(self, path: Path) -> Iterator[SourceDocument | ReadFailure]:
        try:
            stream = path.open("rb")
        except OSError as error:
            yield ReadFailure(str(path), f"cannot read: {error.strerror or error}")
            return
        with stream:
            yield from self.read_jsonl(stream, str(path))

    def _reread(self, item: Mapping[str, Any], source: str) -> SourceDocument | ReadFailure:
        """The file a failures-file line names, under the id it was first read with (only a line the failures file
        wrote, naming a file under `root`)."""
        document_id = _id(item.get(self.id_field))
        path = Path(item[PATH_FIELD])
        if item.get(WRITTEN_BY_FIELD) != WRITTEN_BY:
            return ReadFailure(source, f"a line naming a file ({PATH_FIELD!r}) is read only from a failures file "
                               "the ingest wrote", id=document_id)
        if not _inside(path, self.root):
            return ReadFailure(source, f"{path} is outside {self.root} (--root): not read", id=document_id)
        result = self.read_file(path)
        if document_id is None:
            return result
        if isinstance(result, ReadFailure):
            return replace(result, id=document_id)
        return replace(result, id=document_id, metadata={**result.metadata, "source": document_id}, source=str(document_id))

    def _skip_folder(self, name: str, relative: str, path: Path) -> str | None:
        if name in SKIPPED_FOLDERS:
            return name
        if name.startswith("."):
            return "hidden"
        return "excluded" if self._excluded(name, relative, self.file_id(path)) else None

    def _skip_file(self, path: Path, relative: str, directory: Path) -> str | None:
        name = path.name
        if name.startswith("."):
            return "hidden"
        if self._excluded(name, relative, self.file_id(path)) or (
            self.include and not any(_matches(p, name, relative, self.file_id(path)) for p in self.include)
        ):
            return "excluded"
        if not path.is_file():
            return "other format"  # a socket, a FIFO, a broken link
        if path.is_symlink() and not self.follow_symlinks and not _inside(path, directory):
            return "link outside"
        reader = reader_of(path)
        try:
            binary = (reader is None or not is_parsed(path)) and is_binary(path)  # parsed formats hold binary data
        except OSError:
            return None  # read_file reports it
        if binary:
            return "binary"
        if reader is None:  # named by an --include pattern's suffix: said so, not silently "other format"
            named = path.suffix and any(pattern.lower().endswith(path.suffix.lower()) for pattern in self.include)
            return f"no reader for {path.suffix.lower()}" if named else "other format"
        return "empty" if self.skip_empty and path.stat().st_size == 0 else None

    def _skip(self, path: Path, reason: str, counts: Counter[str]) -> None:
        counts[reason] += 1
        if self.on_skip is not None:
            self.on_skip(path, reason)

    def _excluded(self, name: str, relative: str, document_id: str) -> bool:
        return any(_matches(pattern, name, relative, document_id) for pattern in self.exclude)


def read_paths(
    paths: Iterable[str | Path], *, id_field: str = "id", text_field: str = "text", root: str | Path | None = None,
    include: Sequence[str] = (), exclude: Sequence[str] = (),
) -> Iterator[SourceDocument | ReadFailure]:
    """`FileReader(...).read(paths)`: documents of directories, files, `.jsonl` files, or `-` (JSONL on stdin)."""
    reader = FileReader(Path(root) if root is not None else Path.cwd(), include, exclude, id_field, text_field)
    reader.check(paths := list(paths))
    return reader.read(paths)


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path`, links resolved, lies in `folder` (links resolved)."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _matches(pattern: str, *candidates: str) -> bool:
    pattern = pattern.rstrip("/")
    return any(fnmatch(candidate, pattern) for candidate in candidates)


def plural(number: int, noun: str) -> str:
    """`1 file`, `2 files`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"




def _id(value: object) -> DocumentId | None:
    """Ids keep their type (str or int); other values become their text."""
    if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return str(value)


def _describe(item: Mapping[str, Any], id_field: str) -> str:
    return repr(item[id_field]) if id_field in item else f"with fields {sorted(item)[:5]}"
