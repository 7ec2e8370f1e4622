"""Attention with per-key controls, registered with transformers as the attention of every served model.

Without controls in the batch it is transformers' own SDPA attention. With controls each row of the batch brings
a factor per key token: log-additive rows add `log(factor)` to the scores of those keys; multiplicative rows shift
the scores so the row minimum (over keys the query may see) is 0 and multiply the controlled keys' scores by the
factor: `(scores - min) * factor`. That is the reference's `(scores - -scores.min(-1)) * factor` read so that a
factor below 1 suppresses and above 1 amplifies, as the API describes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

ATTENTION_NAME = "aleph_controlled"


@dataclass(frozen=True)
class KeyControls:
    """Per batch row and key position: `log_bias` added to the scores, `scale` multiplying shifted scores (or None)."""

    log_bias: torch.Tensor
    scale: torch.Tensor | None


_active = threading.local()


@contextmanager
def key_controls(controls: KeyControls | None) -> Iterator[None]:
    """Apply `controls` to every attention call of the forward passes run inside (in this thread)."""
    _active.controls = controls
    try:
        yield
    finally:
        _active.controls = None


def goes_through_controlled_attention(forward: Callable[[], object]) -> bool:
    """Whether `forward()` used this attention: models with their own attention code cannot take controls."""
    _active.used = False
    forward()
    return bool(_active.used)


def controlled_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    _active.used = True
    controls: KeyControls | None = getattr(_active, "controls", None)
    if controls is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)).float() * scaling
    kv_length = key.size(-2)
    allowed = _allowed(attention_mask, scores, kv_length, bool(getattr(module, "is_causal", False)))
    if controls.scale is not None:
        floor = scores.masked_fill(~allowed, torch.inf).amin(-1, keepdim=True)
        scores = ((scores - floor) * controls.scale[:, None, None, :kv_length]).clamp_max(torch.finfo(scores.dtype).max)
    scores = scores + controls.log_bias[:, None, None, :kv_length]
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1).to(query.dtype)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def _allowed(
    attention_mask: torch.Tensor | None, scores: torch.Tensor, kv_length: int, is_causal: bool
) -> torch.Tensor:
    """Which keys each query may attend to, as a boolean mask broadcastable to `scores`."""
    if attention_mask is None:
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device)
        return allowed.tril(kv_length - scores.size(-2)) if is_causal else allowed
    mask = attention_mask[..., :kv_length]
    return mask if mask.dtype == torch.bool else mask > torch.finfo(mask.dtype).min / 2


def register() -> str:
    """Register the controlled attention (and SDPA's masks for it) with transformers; returns its name."""
    AttentionInterface.register(ATTENTION_NAME, controlled_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION_NAME, sdpa_mask)
    return ATTENTION_NAME
