"""The seam between a served model and what runs it: a `Backend` turns a padded batch into hidden states.

`TorchBackend` (torch_backend.py) runs every request, attention controls included; `OnnxBackend` (onnx_backend.py)
runs those without controls on ONNX Runtime. A new backend is one module with a class of this shape; `ModelEngine`
routes each request to the first of its backends that can run it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from .attention import KeyControls

HiddenStates = Mapping[int, torch.Tensor] | Sequence[torch.Tensor]
"""Hidden states `[batch, tokens, dim]` by absolute layer index (0: the embeddings)."""


@dataclass(frozen=True)
class Batch:
    """Prompts padded on the right, the layers wanted, and (only for a backend that takes them) attention controls."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    layers: Collection[int]
    controls: KeyControls | None = None

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]], pad_id: int, layers: Collection[int],
           controls: KeyControls | None = None) -> Batch:
        """`rows` of token ids padded with `pad_id`, with their attention mask."""
        length = max(map(len, rows))
        input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
        for row, ids in enumerate(rows):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        return cls(input_ids, attention_mask, layers, controls)


class Backend(Protocol):
    """Runs a model's forward passes: `hidden_states(batch)` for the layers the batch asks for."""

    @property
    def name(self) -> str:
        """What serves, e.g. "onnx int8" or "torch fp32" (its first word counts the passes in /health)."""
        ...

    @property
    def supports_controls(self) -> bool:
        """Whether batches with attention controls may be routed here."""
        ...

    @property
    def pass_cost_tokens(self) -> int:
        """What one more forward pass costs here, in padded tokens: how finely the batcher splits a batch by length."""
        ...

    def hidden_states(self, batch: Batch) -> HiddenStates: ...


def check_agreement(reference: Backend, candidate: Backend, batch: Batch, min_cosine: float) -> None:
    """Raise ValueError when a layer of `candidate` differs from `reference` on `batch` (cosine per token, padding
    excluded)."""
    expected, actual = reference.hidden_states(batch), candidate.hidden_states(batch)
    lengths = batch.attention_mask.sum(-1).tolist()
    for layer in batch.layers:
        for row, length in enumerate(lengths):
            cosine = F.cosine_similarity(expected[layer][row, :length], actual[layer][row, :length], dim=-1)
            if cosine.min() < min_cosine:
                raise ValueError(f"the {candidate.name} backend's layer {layer} differs from {reference.name}'s "
                                 f"(cosine {cosine.min():.6f})")
