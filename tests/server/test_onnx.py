"""The ONNX Runtime backend: the same vectors as the torch path, cached exports, controls and failures on torch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from aleph_embed import EmbedRequest, Text, TextControl, TokenIds
from aleph_embed.models import POOLINGS
from aleph_embed.server.launcher import LocalServer

from .conftest import minilm_path

torch = pytest.importorskip("torch")
from aleph_embed.server import onnx_backend  # noqa: E402
from aleph_embed.server.engine import ModelEngine  # noqa: E402
from aleph_embed.server.errors import ModelLoadError  # noqa: E402

TEXTS = [
    "hi",
    "Annual reports describe a company's results, risks and plans for the next year in some detail.",
    " ".join(["Banks need to prepare for the next growth curve, says the review."] * 12),
]
ALL_LAYERS = list(range(7))


def engine(cache: Path, **settings: Any) -> ModelEngine:
    return ModelEngine("m", minilm_path(), torch.device("cpu"), cache_dir=cache, **settings)


@pytest.fixture(scope="module")
def cache(cache_home: Path) -> Path:
    return cache_home / "aleph-embed"


@pytest.fixture(scope="module")
def torch_engine(cache: Path) -> ModelEngine:
    return engine(cache, backend="torch")


@pytest.fixture(scope="module")
def onnx_engine(cache: Path) -> ModelEngine:
    return engine(cache, backend="onnx")


def vectors(engine: ModelEngine, requests: list[EmbedRequest]) -> list[dict[str, dict[str, list[float]]]]:
    """One batch (mixed lengths) through `engine`: the embeddings of each request."""
    return [answer.embeddings or {} for answer in engine.run([engine.prepare(request) for request in requests])]


def min_cosine(left: list[dict[str, dict[str, list[float]]]], right: list[dict[str, dict[str, list[float]]]]) -> float:
    worst = 1.0
    for a, b in zip(left, right, strict=True):
        assert a.keys() == b.keys()
        for layer in a:
            for pooling in a[layer]:
                u, v = np.array(a[layer][pooling]), np.array(b[layer][pooling])
                worst = min(worst, float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v))))
    return worst


def requests(**fields: Any) -> list[EmbedRequest]:
    prompts: list[Any] = [*TEXTS, [TokenIds(data=[101, 7592, 2088, 102])], [Text(data=TEXTS[1]), TokenIds(data=[2088])]]
    fields = {"layers": ALL_LAYERS, "pooling": list(POOLINGS), **fields}
    return [EmbedRequest(model="m", prompt=prompt, **fields) for prompt in prompts]


def test_fp32_onnx_equals_torch_for_every_layer_and_pooling(
    torch_engine: ModelEngine, onnx_engine: ModelEngine
) -> None:
    assert onnx_engine.backend == "onnx fp32" and torch_engine.backend == "torch fp32"
    before = onnx_engine.passes["onnx"]
    assert min_cosine(vectors(onnx_engine, requests()), vectors(torch_engine, requests())) >= 0.99999
    normalized = requests(normalize=True)
    assert min_cosine(vectors(onnx_engine, normalized), vectors(torch_engine, normalized)) >= 0.99999
    assert onnx_engine.passes["onnx"] == before + 2 and onnx_engine.passes["torch"] == 0


def test_the_fp32_export_is_fused(onnx_engine: ModelEngine) -> None:
    import onnx

    assert onnx_engine.onnx is not None
    ops = Counter(node.op_type for node in onnx.load(str(onnx_engine.onnx.path)).graph.node)
    fused = {name: ops[name] for name in ("Attention", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu")}
    assert fused == {"Attention": 6, "EmbedLayerNormalization": 1, "SkipLayerNormalization": 0, "BiasGelu": 6}
    assert ops["Softmax"] == 0  # no attention left unfused
    assert ops["LayerNormalization"] == 13  # residual additions and layer norms apart: the fused kernel is slower


def test_the_session_keeps_residual_additions_and_layer_norms_apart(onnx_engine: ModelEngine, tmp_path: Path) -> None:
    """ONNX Runtime fuses Add + LayerNormalization into SkipLayerNormalization at load unless told not to."""
    import onnx
    import onnxruntime

    from aleph_embed.server.onnx_backend import DISABLED_OPTIMIZERS

    assert onnx_engine.onnx is not None
    loaded = {}
    for disabled in ([], DISABLED_OPTIMIZERS):
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"{len(disabled)}.onnx")
        onnxruntime.InferenceSession(str(onnx_engine.onnx.path), options, providers=["CPUExecutionProvider"],
                                     disabled_optimizers=disabled)
        graph = onnx.load(options.optimized_model_filepath).graph
        loaded[len(disabled)] = Counter(node.op_type for node in graph.node)["SkipLayerNormalization"]
    assert loaded == {0: 12, 1: 0}


def test_requests_with_controls_run_on_torch(torch_engine: ModelEngine, onnx_engine: ModelEngine) -> None:
    controlled = EmbedRequest(
        model="m", prompt=[Text(data=TEXTS[1], controls=[TextControl(start=0, length=6, factor=0.2)])], layers=[-1],
    )
    plain = EmbedRequest(model="m", prompt=TEXTS[1], layers=[-1])
    before = dict(onnx_engine.passes)
    mixed = vectors(onnx_engine, [controlled, plain])
    assert onnx_engine.passes["torch"] == before.get("torch", 0) + 1
    assert onnx_engine.passes["onnx"] == before.get("onnx", 0) + 1
    assert min_cosine(mixed, vectors(torch_engine, [controlled, plain])) >= 0.99999
    assert min_cosine(mixed[:1], mixed[1:]) < 0.9999  # the controls changed something


def test_int8_is_close_and_cached_beside_fp32(cache: Path, torch_engine: ModelEngine, onnx_engine: ModelEngine) -> None:
    int8 = engine(cache, backend="auto", precision="int8")
    assert int8.backend == "onnx int8"
    assert int8.onnx is not None and onnx_engine.onnx is not None
    assert int8.onnx.path != onnx_engine.onnx.path
    mean = requests(pooling=["mean"], normalize=True)
    assert min_cosine(vectors(int8, mean), vectors(torch_engine, mean)) >= 0.95


def test_the_export_is_made_once_and_reused(
    cache: Path, onnx_engine: ModelEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert onnx_engine.onnx is not None
    exported = onnx_engine.onnx.path
    assert exported.is_relative_to(cache) and exported.is_file()

    def no_export(*args: Any) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "_export", no_export)
    again = onnx_backend.exported_model(onnx_engine.model, onnx_engine.path, onnx_engine.num_layers, 0, "fp32", cache)
    assert again == exported


def test_a_model_that_does_not_export_runs_on_torch_or_fails_with_backend_onnx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_export(*args: Any) -> None:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(onnx_backend, "_export", broken_export)
    fallback = engine(tmp_path, backend="auto")
    assert fallback.onnx is None and fallback.backend == "torch fp32"
    assert fallback.run([fallback.prepare(EmbedRequest(model="m", prompt="hi"))])[0].embeddings
    with pytest.raises(ModelLoadError, match="--backend onnx: unsupported operator"):
        engine(tmp_path, backend="onnx")


def test_health_says_which_backend_serves(embed_server: LocalServer) -> None:
    health = httpx.get(f"{embed_server.host}/health").json()
    assert health["backends"][embed_server.default_model]["serves"] == "onnx fp32"
    assert 0 <= health["padding_share"] < 1
