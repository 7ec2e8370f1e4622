"""Turn a request's prompt into the token ids the model sees, with a control factor per token."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..models import Image, Prompt, Text, TextControl, TokenIds


class PromptError(ValueError):
    """The prompt cannot be embedded by this model (answered as 400 PAYLOAD_ERROR)."""


@dataclass(frozen=True)
class EncodedPrompt:
    """Token ids including the model's special tokens, and per token its attention control.

    `factors[i]` scales attention to token i as a key (1.0 = neutral); `controlled[i]` says whether a control named it.
    """

    ids: list[int]
    factors: list[float]
    controlled: list[bool]

    @property
    def has_controls(self) -> bool:
        return any(self.controlled)


@dataclass(frozen=True)
class SpecialTokens:
    """The ids a tokenizer puts around one sequence (e.g. [CLS] ... [SEP]); wrapped once around the whole prompt."""

    prefix: list[int]
    suffix: list[int]

    @classmethod
    def of(cls, tokenizer: Any) -> SpecialTokens:
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        wrapped = tokenizer("a")["input_ids"]
        for start in range(len(wrapped) - len(plain) + 1):
            if wrapped[start : start + len(plain)] == plain:
                return cls(wrapped[:start], wrapped[start + len(plain) :])
        raise ValueError("cannot tell this tokenizer's special tokens apart from the text")


def partial_factor(factor: float, share: float) -> float:
    """`token_overlap: partial`: covering `share` of a token's characters moves its factor that far to `factor`."""
    return 1.0 + (factor - 1.0) * share


class PromptEncoder:
    """Tokenizes prompts for one model and checks them against its vocabulary and context size."""

    def __init__(self, tokenizer: Any, model_name: str, vocab_size: int, max_context: int) -> None:
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.vocab_size = vocab_size
        self.max_context = max_context
        self.special = SpecialTokens.of(tokenizer)

    def encode(self, prompt: Prompt) -> EncodedPrompt:
        """The model's view of the prompt: the items concatenated, special tokens around the whole."""
        items = [Text(prompt)] if isinstance(prompt, str) else prompt
        ids: list[int] = []
        factors: list[float | None] = []
        for item in items:
            if any(not math.isfinite(control.factor) for control in item.controls):
                raise PromptError("controls: factor must be a finite number")
            if isinstance(item, Image):
                raise PromptError(
                    f"model {self.model_name!r} reads text only; send text or token_ids items instead of an image"
                )
            item_ids, item_factors = self._text(item) if isinstance(item, Text) else self._token_ids(item)
            ids += item_ids
            factors += item_factors
        if not ids:
            raise PromptError("prompt has no tokens (its text is only whitespace?); send some text")
        total = len(self.special.prefix) + len(ids) + len(self.special.suffix)
        if total > self.max_context:
            raise PromptError(f"prompt has {total} tokens, more than the model's context of {self.max_context}")
        prefix, suffix = [1.0] * len(self.special.prefix), [1.0] * len(self.special.suffix)
        controlled = [False] * len(prefix) + [factor is not None for factor in factors] + [False] * len(suffix)
        return EncodedPrompt(
            ids=self.special.prefix + ids + self.special.suffix,
            factors=prefix + [1.0 if factor is None else factor for factor in factors] + suffix,
            controlled=controlled,
        )

    def _text(self, item: Text) -> tuple[list[int], list[float | None]]:
        if item.controls and not self.tokenizer.is_fast:
            raise PromptError(f"{self.model_name!r} cannot map characters to tokens; put controls on token_ids items")
        encoding = self.tokenizer(item.data, add_special_tokens=False, return_offsets_mapping=bool(item.controls))
        ids: list[int] = encoding["input_ids"]
        factors: list[float | None] = [None] * len(ids)
        for control in item.controls:
            for index, (start, end) in enumerate(encoding["offset_mapping"]):
                share = _covered_share(control, start, end)
                if share > 0:
                    complete = control.token_overlap == "complete"
                    factor = control.factor if complete else partial_factor(control.factor, share)
                    factors[index] = factor * (factors[index] or 1.0)
        return ids, factors

    def _token_ids(self, item: TokenIds) -> tuple[list[int], list[float | None]]:
        outside = [token for token in item.data if not 0 <= token < self.vocab_size]
        if outside:
            raise PromptError(
                f"token id {outside[0]} is outside the vocabulary of {self.model_name!r} (ids 0..{self.vocab_size - 1})"
            )
        factors: list[float | None] = [None] * len(item.data)
        for control in item.controls:
            factors[control.index] = control.factor * (factors[control.index] or 1.0)
        return list(item.data), factors


def _covered_share(control: TextControl, start: int, end: int) -> float:
    """Which share of the token's characters `[start, end)` the control's span covers."""
    if end <= start:
        return 0.0
    overlap = min(end, control.start + control.length) - max(start, control.start)
    return max(overlap, 0) / (end - start)
