"""Reading documents (issue 24): files/s and MB/s of reading each kind of the real test corpus (tests/data/office:
PDF, Word, PowerPoint, Excel, OpenDocument, EPUB, HTML) in this process, best of `--rounds`; then the ingest time
of a PDF-heavy folder (`--copies` copies of libtasn1.pdf, 36 pages each, plus the rest of the corpus) through the
CLI into an embedded store, against the stand-in API answering each call after `--delay` seconds (so the run is
bound by reading, as with a fast hosted API), with files read in this process (`--read-workers 0`) and in worker
processes (the default), interleaved, best of `--rounds` each, and their ratio.

    python -m bench.bench_documents [--rounds 2] [--copies 8] [--delay 0.01]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from aleph_embed.cli import main  # noqa: E402
from aleph_embed.ingest.documents import FileReader  # noqa: E402
from aleph_embed.ingest.readers import read_text  # noqa: E402
from aleph_embed.ingest.workers import default_workers  # noqa: E402
from tests.support.standin import StandInServer  # noqa: E402

CORPUS = Path(__file__).parents[1] / "tests" / "data" / "office" / "docs"


def reading_per_kind(rounds: int) -> None:
    print(f"{'kind':8} {'files':>5} {'MB':>7} {'files/s':>9} {'MB/s':>7}  (in this process, best of {rounds})")
    by_kind: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(CORPUS.iterdir()):
        by_kind[path.suffix.lower()].append(path)
    for kind, paths in sorted(by_kind.items()):
        read_text(paths[0])  # the parsing library imported before timing
        best = min(_timed(lambda: [read_text(path) for path in paths]) for _ in range(rounds))
        size = sum(path.stat().st_size for path in paths) / 2**20
        print(f"{kind:8} {len(paths):5d} {size:7.2f} {len(paths) / best:9.1f} {size / best:7.2f}")


def read_folder(folder: Path, workers: int) -> float:
    """Seconds to read every file of `folder` with `workers` worker processes (0: in this process)."""
    reader = FileReader(root=folder, workers=workers)
    return _timed(lambda: list(reader.read([folder])))


def ingest_with_and_without_workers(rounds: int, copies: int, delay: float) -> None:
    with tempfile.TemporaryDirectory() as scratch, StandInServer(delay=delay) as standin:
        folder = Path(scratch) / "pdf-heavy"
        shutil.copytree(CORPUS, folder)
        for copy in range(copies):
            shutil.copy(CORPUS / "libtasn1.pdf", folder / f"libtasn1-{copy}.pdf")
        size = sum(path.stat().st_size for path in folder.iterdir()) / 2**20
        print(f"\ningest of {len(list(folder.iterdir()))} files ({size:.1f} MB, {copies + 1} of them 36-page PDFs) "
              f"through the CLI, stand-in API ({delay * 1000:g} ms a call), embedded store; best of {rounds}:")
        reading = {label: min(read_folder(folder, workers) for _ in range(rounds))
                   for label, workers in (("in this process", 0), (f"{default_workers()} worker(s)", default_workers()))}
        (serial, parallel) = reading.values()
        print(f"  reading alone: {', '.join(f'{label} {seconds:.2f} s' for label, seconds in reading.items())}: "
              f"{serial / parallel:.2f}x with workers")
        times: dict[str, list[float]] = defaultdict(list)
        modes = {"in this process": ["--read-workers", "0"], f"{default_workers()} worker process(es)": []}
        for round_ in range(rounds):
            for label, flags in modes.items():
                store = Path(scratch) / f"store-{round_}-{len(times[label])}-{label[0]}"
                arguments = ["ingest", str(folder), "--collection", "bench", "--qdrant-path", str(store), "--host",
                             standin.host, "--model", standin.model, "--failures", str(store / "failures.jsonl"),
                             *flags]
                with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
                    seconds = _timed(lambda: main(arguments))
                times[label].append(seconds)
                summary = out.getvalue().strip().splitlines()[-1]
                print(f"  round {round_ + 1}, {label:20} {seconds:6.2f} s  | {summary.removeprefix('aleph-embed: ')}")
        (serial, *_), (parallel, *_) = (sorted(values) for values in times.values())
        print(f"  ingest, best: in this process {serial:.2f} s, worker processes {parallel:.2f} s: "
              f"{serial / parallel:.2f}x with workers ({os.cpu_count()} CPUs)")


def _timed(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - started


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.01)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_arguments()
    reading_per_kind(arguments.rounds)
    ingest_with_and_without_workers(arguments.rounds, arguments.copies, arguments.delay)
