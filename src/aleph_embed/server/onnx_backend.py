"""The ONNX Runtime backend: the served model exported once (all hidden states as outputs), cached on disk.

The export runs `torch.onnx` on the model the torch path serves; a BERT-like one (`FUSED_MODEL_TYPES`) as a copy
(the same weights) switched to transformers' eager attention, whose MatMul-Softmax-MatMul graph ONNX Runtime's
transformer optimizer fuses into `Attention` (the SDPA graph of the served attention it does not), then fused
(MiniLM: 6 Attention, 1 EmbedLayerNormalization, 6 BiasGelu). Residual additions and layer norms stay apart (13
LayerNormalization): ONNX Runtime 1.32's `SkipLayerNormalization` CPU kernel took 5.2 ns an element against 1.0 for
Add + LayerNormalization (8 x 100 x 384, one thread), 26% of an int8 pass; unfused, int8 passes take 0.77x the time
and fp32 0.93x. The file is cached under `cache_dir/onnx/` keyed by the model directory (path and weight files'
sizes and times), the precision, and the exporter's versions; `int8` is ONNX Runtime's dynamic quantization (per-channel int8
weights) of the fused fp32 graph.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch

from .backend import Batch
from .batcher import PASS_COST_TOKENS

logger = logging.getLogger("aleph_embed.server")
EXPORT_FORMAT = 3  # bump when the exported graph changes (inputs, outputs, opset, fusions)
OPSET = 17
ONNX_PRECISIONS = ("fp32", "int8")
FUSED_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta"})  # the layout of ONNX Runtime's BERT fusions
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]  # the session would fuse Add + LayerNormalization again at load


class _AllHiddenStates(torch.nn.Module):
    """`(input_ids, attention_mask) -> hidden states of every layer`, the graph that is exported."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model  # the exporter restores this module's training flag on the model too: create it .eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output = self.model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, use_cache=False
        )
        return tuple(output.hidden_states)


def cache_key(model_dir: Path, precision: str) -> str:
    """A name for the export of `model_dir` at `precision` that changes when the weights or the exporter change."""
    model_dir = model_dir.resolve()
    files = sorted(
        (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns) for entry in model_dir.iterdir() if entry.is_file()
    )
    identity = {
        "path": str(model_dir), "files": files, "precision": precision, "format": EXPORT_FORMAT, "opset": OPSET,
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', model_dir.name)}-{precision}-{digest}"


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """`write(temporary path)` next to `target`, then rename: concurrent servers never read half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _export(model: torch.nn.Module, num_layers: int, pad_id: int, target: Path) -> None:
    """Export `model` into `target`; a BERT-like one with eager attention, then fused in place (`_optimize`)."""
    config: Any = model.config
    fusable = getattr(config, "model_type", None) in FUSED_MODEL_TYPES
    if fusable:
        eager: Any = copy.deepcopy(model)  # the served model keeps its attention (controls)
        eager.set_attn_implementation("eager")
        model = eager
    ids = torch.full((2, 8), pad_id, dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0  # a padded row, so no "nothing is padded" shortcut is traced
    outputs = [f"hidden_state_{layer}" for layer in range(num_layers + 1)]
    dynamic = {name: {0: "batch", 1: "tokens"} for name in ["input_ids", "attention_mask", *outputs]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings: the export is checked against torch
        torch.onnx.export(
            _AllHiddenStates(model).eval(), (ids, mask), str(target), input_names=["input_ids", "attention_mask"],
            output_names=outputs, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
        )
    if fusable:
        _optimize(target, config)


def _optimize(path: Path, config: Any) -> None:
    """Fuse the exported graph at `path` in place with ONNX Runtime's BERT optimizer (offline fusions only: the
    session adds its own at load). Shapes come from the model's config; the engine checks the result against torch.
    The fused attention reads the mask as each row's length: batches are padded on the right (`Batch.of`)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    fusions = FusionOptions("bert")
    fusions.enable_skip_layer_norm = fusions.enable_bias_skip_layer_norm = False  # slower than its parts: see above
    optimized = optimize_model(
        str(path), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size,
        opt_level=0, optimization_options=fusions,
    )
    fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    logger.info("fused %s", ", ".join(f"{count} {name}" for name, count in sorted(fused.items())) or "nothing")
    optimized.save_model_to_file(str(path))


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # weights of the matrix products only: quantized embeddings (Gather, EmbedLayerNormalization) cost layer 0's
    # equality with torch (MiniLM: least mean-pooled cosine 0.998 -> 1.000) and save no time. The fused ops are in
    # ONNX Runtime's domain, unknown to shape inference: their outputs are fp32.
    quantize_dynamic(
        source, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def exported_model(
    model: torch.nn.Module, model_dir: Path, num_layers: int, pad_id: int, precision: str, cache_dir: Path
) -> Path:
    """The cached ONNX file of `model` at `precision`, exported (and quantized) on first use."""
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f"ONNX Runtime runs {' or '.join(ONNX_PRECISIONS)}, not {precision}")
    target = cache_dir / "onnx" / cache_key(model_dir, precision) / "model.onnx"
    if target.is_file():
        return target
    if precision == "int8":
        fp32 = exported_model(model, model_dir, num_layers, pad_id, "fp32", cache_dir)
        logger.info("quantizing %s to int8 into %s", fp32, target)
        _write_atomically(target, lambda path: _quantize(fp32, path))
    else:
        logger.info("exporting %s to ONNX into %s", model_dir, target)
        with torch.inference_mode(False), torch.no_grad():
            _write_atomically(target, lambda path: _export(model, num_layers, pad_id, path))
    return target


class OnnxBackend:
    """An ONNX Runtime session over an exported model: the hidden states of the layers a batch asks for (only the
    graph up to the deepest one runs); attention controls are not supported (they run on torch)."""

    supports_controls = False
    pass_cost_tokens = PASS_COST_TOKENS  # little beyond its tokens: see TORCH_PASS_COST_TOKENS

    def __init__(self, path: Path, precision: str, threads: int | None) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no spin-waiting between passes: on a busy CPU the spinning threads starve the server's event loop
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.path, self.precision = path, precision
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS
        )
        # the CPU arena keeps what a pass allocated (gigabytes after a long pass) unless asked to shrink after each
        self.run_options = onnxruntime.RunOptions()
        self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    @property
    def name(self) -> str:
        return f"onnx {self.precision}"

    def hidden_states(self, batch: Batch) -> dict[int, torch.Tensor]:
        wanted = sorted(set(batch.layers))
        outputs = self.session.run(
            [f"hidden_state_{layer}" for layer in wanted],
            {"input_ids": batch.input_ids.numpy(), "attention_mask": batch.attention_mask.numpy()},
            self.run_options,
        )
        return {layer: torch.from_numpy(np.asarray(states)) for layer, states in zip(wanted, outputs)}
