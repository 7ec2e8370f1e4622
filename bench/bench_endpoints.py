"""Every embedding endpoint of the local server at the speed of `/embed`: `embed_texts` of 240 slices of the real
docs (600 characters each) through `/embed`, `semantic` (`/batch_semantic_embed`) and `openai` (`/embeddings`) on one
server (default settings), best of 2 interleaved rounds; prints each endpoint's time and its ratio to `/embed`'s.

    python -m bench.bench_endpoints
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from aleph_embed import EmbedClient  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from aleph_embed.texts import EmbeddingSettings  # noqa: E402
from tests.support.corpora import doc_files  # noqa: E402

TEXTS = 240
CHARACTERS = 600
ROUNDS = 2


def main() -> None:
    texts = [text[i : i + CHARACTERS] for path in doc_files() for text in [path.read_text()]
             for i in range(0, len(text), CHARACTERS)]
    texts = [text for text in texts if text.strip()][:TEXTS]
    times: dict[str, list[float]] = {}
    with LocalServer() as server, EmbedClient(server.host, server.token) as client:
        for _ in range(ROUNDS):
            for endpoint in ("embed", "semantic", "openai"):
                settings = EmbeddingSettings(model=server.default_model, endpoint=endpoint)
                started = time.perf_counter()
                client.embed_texts(texts, settings)
                times.setdefault(endpoint, []).append(time.perf_counter() - started)
    for endpoint, values in times.items():
        print(f"{endpoint}: {min(values):.2f} s for {len(texts)} texts, {min(values) / min(times['embed']):.2f}x "
              "/embed's time")
    print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
