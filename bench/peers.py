"""Runs inside the peers' own environment (`make bench-peers`: fastembed and infinity-emb need other versions of
numpy and huggingface-hub than this project): fastembed over the texts of a JSON file, on a given ONNX export.

    .cache/bench-peers/bin/python bench/peers.py fastembed MODEL_DIR TEXTS.json VECTORS.npy

Prints one JSON line: {"texts_per_s": ...}. Imports nothing of aleph_embed.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def fastembed(model_dir: str, texts: list[str], batch: int = 32) -> tuple[float, np.ndarray]:
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    TextEmbedding.add_custom_model(
        model="bench/minilm", pooling=PoolingType.MEAN, normalization=True, sources=ModelSource(hf="bench/minilm"),
        dim=384, model_file="model.onnx",
    )
    model = TextEmbedding("bench/minilm", specific_model_path=model_dir)
    list(model.embed(texts[:batch], batch_size=batch))  # warm up
    started = time.perf_counter()
    vectors = np.array(list(model.embed(texts, batch_size=batch)))
    return len(texts) / (time.perf_counter() - started), vectors


if __name__ == "__main__":
    _, what, model_dir, texts_file, vectors_file = sys.argv
    assert what == "fastembed", what
    rate, vectors = fastembed(model_dir, json.loads(open(texts_file, encoding="utf-8").read()))
    np.save(vectors_file, vectors)
    print(json.dumps({"texts_per_s": rate}))
