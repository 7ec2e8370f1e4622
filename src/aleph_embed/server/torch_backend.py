"""The torch backend: the Hugging Face model itself, every layer, attention controls, optional bf16 autocast."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel

from .attention import goes_through_controlled_attention, key_controls, register
from .backend import Batch, HiddenStates

TORCH_PASS_COST_TOKENS = 128
"""A torch pass's own cost in padded tokens (its Python modules, an OpenMP region per operator): the 671 BEIR
passages in batches of 32 split by length ran 64-74 texts/s in process at 16 tokens a pass (ONNX Runtime's), 80-82
at 128 (9.8% padding), 81-82 at 256 (13%); ONNX Runtime the other way round (92 at 16, 78 at 256)."""
TORCH_PASS = threading.Lock()
"""Held through every torch forward pass: torch spreads one pass over all its threads, so passes from the server's
parallel workers take turns instead of oversubscribing the cores."""


class TorchBackend:
    """`model` (loaded with the controlled attention registered) on `device`; `bf16` runs it under autocast."""

    pass_cost_tokens = TORCH_PASS_COST_TOKENS

    def __init__(self, model: Any, device: torch.device, bf16: bool) -> None:  # noqa: ANN401 - a transformers model
        self.model, self.device, self.bf16 = model, device, bf16
        self.supports_controls = True

    @classmethod
    def load(cls, path: Path, device: torch.device, bf16: bool) -> TorchBackend:
        """The encoder or decoder at `path` (raises what transformers raises for a directory it cannot load)."""
        return cls(AutoModel.from_pretrained(path, attn_implementation=register()).to(device).eval(), device, bf16)

    @property
    def name(self) -> str:
        return f"torch {'bf16' if self.bf16 else 'fp32'}"

    def check_controls(self, probe: Batch) -> None:
        """Find out with one pass of `probe` whether the model's attention takes controls (models with their own
        attention code do not)."""
        self.supports_controls = goes_through_controlled_attention(lambda: self.hidden_states(probe))

    @torch.inference_mode()
    def hidden_states(self, batch: Batch) -> HiddenStates:
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        with TORCH_PASS, key_controls(batch.controls), autocast:
            output = self.model(
                input_ids=batch.input_ids.to(self.device), attention_mask=batch.attention_mask.to(self.device),
                output_hidden_states=True, use_cache=False,
            )
        return output.hidden_states
