"""The torch backend: the Hugging Face model itself, every layer, attention controls, optional bf16 autocast."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel

from .attention import goes_through_controlled_attention, key_controls, register
from .backend import Batch, HiddenStates

TORCH_PASS = threading.Lock()
"""Held through every torch forward pass: torch spreads one pass over all its threads, so passes from the server's
parallel workers take turns instead of oversubscribing the cores."""


class TorchBackend:
    """`model` (loaded with the controlled attention registered) on `device`; `bf16` runs it under autocast."""

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
        with TORCH_PASS, key_controls(batch.controls), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            output = self.model(
                input_ids=batch.input_ids.to(self.device), attention_mask=batch.attention_mask.to(self.device),
                output_hidden_states=True, use_cache=False,
            )
        return output.hidden_states
