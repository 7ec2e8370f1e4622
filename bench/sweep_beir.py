"""The README's sweep table: every layer x pooling of the local model on the shared BEIR business-reports set.

One ingest of the whole corpus, chunked as the ingest chunks by default (ONE /embed call per chunk, all 35 (layer,
pooling) vectors from it), evaluated twice: with the set's published qrels, and with judgements derived from the
corpus alone (each report's title as the query, every passage of that report relevant). Prints both tables, the
/embed calls, wall time, load average; `--plot` writes both heatmaps.

    python -m bench.sweep_beir [--layers 0,1,2,3,4,5,6] [--plot DIR]   # data: ALEPH_EMBED_BEIR_DIR or shared/
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import cast

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qdrant_client import QdrantClient  # noqa: E402

from aleph_embed import POOLINGS, EmbedClient, EmbeddingSettings  # noqa: E402
from aleph_embed.metrics import load_qrels, load_queries  # noqa: E402
from aleph_embed.models import Pooling  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from aleph_embed.ingest.documents import read_paths  # noqa: E402
from aleph_embed_qdrant.evaluation import evaluate, sweep  # noqa: E402
from tests.support.beir import shared_beir  # noqa: E402


def title_judgements(corpus: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """One query per report (its title without "(Part n/m)"), every passage of the report relevant."""
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for line in corpus.read_text(encoding="utf-8").splitlines():
        passage = json.loads(line)
        report = passage["_id"].split("_chunk_")[0]
        queries.setdefault(report, re.sub(r"\s*\(Part \d+/\d+\)$", "", passage["title"]))
        qrels.setdefault(report, {})[passage["_id"]] = 1
    return queries, qrels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", default="0,1,2,3,4,5,6")
    parser.add_argument("--plot", type=Path, metavar="DIR", help="write qrels.png and titles.png (needs [plot])")
    args = parser.parse_args()
    beir = shared_beir()
    if beir is None:
        sys.exit("no BEIR data: set ALEPH_EMBED_BEIR_DIR to the business-reports directory")
    layers = [int(layer) for layer in args.layers.split(",")]
    with LocalServer() as server, EmbedClient(server.host, server.token) as embedder, \
            closing(QdrantClient(":memory:")) as qdrant:
        settings = EmbeddingSettings(model=server.default_model)
        started = time.perf_counter()
        result = sweep(embedder, qdrant, read_paths([beir.corpus], id_field="_id"), load_queries(beir.queries),
                       load_qrels(beir.qrels), settings=settings, layers=layers, poolings=cast(list[Pooling], list(POOLINGS)),
                       collection="sweep", keep=True)
        elapsed = time.perf_counter() - started
        queries, qrels = title_judgements(beir.corpus)
        titles = evaluate(embedder, qdrant, "sweep", queries, qrels, settings=settings,
                          vectors={r.name: r.spec for r in result.evaluation.results if r.name})
    print(f"{result.documents} passages stored as {result.points} points, {len(result.failed)} failed, "
          f"{result.embed_calls} /embed calls, sweep {elapsed:.1f}s, load average {os.getloadavg()[0]:.2f} "
          "(shared 2-core machine)")
    print(f"\npublished qrels ({result.evaluation.queries} queries):\n{result.evaluation.table()}")
    print(f"\ntitle -> its report's passages ({titles.queries} queries):\n{titles.table()}")
    if args.plot:
        from aleph_embed_qdrant.plot import plot_heatmap

        what = f"{settings.model}, {result.documents} passages"
        plot_heatmap(result.evaluation, args.plot / "qrels.png",
                     title=f"nDCG@10, published qrels ({result.evaluation.queries} queries), {what}")
        plot_heatmap(titles, args.plot / "titles.png", title=f"nDCG@10, title -> its passages ({titles.queries} "
                     f"queries), {what}")


if __name__ == "__main__":
    main()
