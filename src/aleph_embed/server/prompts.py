"""Turn a request's prompt into the token ids the model sees, with a control factor per token."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..models import Image, Prompt, Text, TextControl, TokenControl, TokenIds
from .errors import ServerError


MAX_CHARS_PER_TOKEN = 64
"""Text longer than this many characters per token of the model's context is refused before tokenizing (real
text has about 4 per token; tokenizing megabytes only to refuse them would cost seconds and gigabytes)."""


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


class PromptEncoder:
    """Tokenizes prompts for one model and checks them against its vocabulary and context size."""

    def __init__(self, tokenizer: Any, model_name: str, vocab_size: int, max_context: int) -> None:
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.vocab_size = vocab_size
        self.max_context = max_context
        self.special = SpecialTokens.of(tokenizer)

    def encode(self, prompt: Prompt) -> EncodedPrompt:
        """The model's view of the prompt: the items concatenated, special tokens around the whole.

        The cheap checks come first (images, token-id counts and characters against the context), then tokenizing,
        then the context check, and only then the control factors (linear in tokens + controls)."""
        items = [Text(prompt)] if isinstance(prompt, str) else prompt
        if any(isinstance(item, Image) for item in items):
            raise ServerError(
                f"model {self.model_name!r} reads text only; send text or token_ids items instead of an image"
            )
        specials = len(self.special.prefix) + len(self.special.suffix)
        self._check_context(specials + sum(len(item.data) for item in items if isinstance(item, TokenIds)))
        self.check_characters(sum(len(item.data) for item in items if isinstance(item, Text)))
        pieces = [self._tokenize(item) for item in items if isinstance(item, (Text, TokenIds))]
        ids = [token for piece_ids, _ in pieces for token in piece_ids]
        if not ids:
            raise ServerError("prompt has no tokens (its text is only whitespace?); send some text")
        self._check_context(specials + len(ids))
        factors = _Factors(len(self.special.prefix) + len(ids) + len(self.special.suffix))
        position = len(self.special.prefix)
        for item, (item_ids, offsets) in zip(items, pieces):
            if isinstance(item, Text):
                factors.add_spans(position, offsets, item.controls)
            elif isinstance(item, TokenIds):
                factors.add_indices(position, item.controls)
            position += len(item_ids)
        values, controlled = factors.result()
        return EncodedPrompt(ids=self.special.prefix + ids + self.special.suffix, factors=values, controlled=controlled)

    def check_characters(self, characters: int) -> None:
        """Refuse more characters of text than `MAX_CHARS_PER_TOKEN` per token of the context, before tokenizing."""
        if characters > MAX_CHARS_PER_TOKEN * self.max_context:
            raise ServerError(
                f"prompt has {characters} characters of text, more than the {MAX_CHARS_PER_TOKEN * self.max_context} "
                f"the model's context of {self.max_context} tokens is read from ({MAX_CHARS_PER_TOKEN} per token)"
            )

    def _check_context(self, total: int) -> None:
        if total > self.max_context:
            raise ServerError(f"prompt has {total} tokens, more than the model's context of {self.max_context}")

    def _tokenize(self, item: Text | TokenIds) -> tuple[list[int], NDArray[np.int64] | None]:
        """The item's ids and, for a text with controls, each token's character span `[start, end)`."""
        if isinstance(item, TokenIds):
            outside = [token for token in item.data if not 0 <= token < self.vocab_size]
            if outside:
                raise ServerError(
                    f"token id {outside[0]} is outside the vocabulary of {self.model_name!r} "
                    f"(ids 0..{self.vocab_size - 1})"
                )
            return list(item.data), None
        if item.controls and not self.tokenizer.is_fast:
            raise ServerError(f"{self.model_name!r} cannot map characters to tokens; put controls on token_ids items")
        encoding = self.tokenizer(item.data, add_special_tokens=False, return_offsets_mapping=bool(item.controls))
        offsets = np.array(encoding["offset_mapping"], dtype=np.int64).reshape(-1, 2) if item.controls else None
        return encoding["input_ids"], offsets


class _Factors:
    """The product of the control factors per token, kept as a sum of logs and a count of zero factors."""

    def __init__(self, length: int) -> None:
        self.log = np.zeros(length)
        self.zeros = np.zeros(length, dtype=np.int64)
        self.controlled = np.zeros(length, dtype=bool)

    def add_indices(self, position: int, controls: Sequence[TokenControl]) -> None:
        """Token-id controls: each scales the token at its index."""
        if controls:
            index = position + np.array([control.index for control in controls], dtype=np.int64)
            self._multiply(index, np.array([control.factor for control in controls]))

    def add_spans(self, position: int, offsets: NDArray[np.int64] | None, controls: Sequence[TextControl]) -> None:
        """Text controls over tokens at character `offsets` (`[start, end)` per token)."""
        if not controls or offsets is None:
            return
        spans = np.array([(c.start, c.start + c.length) for c in controls], dtype=np.int64)
        factor = np.array([control.factor for control in controls])
        complete = np.array([control.token_overlap == "complete" for control in controls])
        visible = np.flatnonzero(offsets[:, 1] > offsets[:, 0])  # an empty token is no character, never controlled
        runs, (token, control, share) = _coverage(offsets[visible], spans, complete)
        # `token_overlap: partial`: covering a share of a token's characters moves its factor that far to `factor`
        partial = 1.0 + (factor[control] - 1.0) * share
        whole = complete[control] | (share >= 1.0)
        self._multiply(position + visible[token], np.where(whole, factor[control], partial))
        run_control, first, stop = runs
        self._multiply_runs(position + visible, first, stop, factor[run_control])

    def _multiply(self, index: NDArray[np.int64], factor: NDArray[np.float64]) -> None:
        positive = factor > 0
        np.add.at(self.log, index[positive], np.log(factor[positive]))
        np.add.at(self.zeros, index[~positive], 1)
        self.controlled[index] = True

    def _multiply_runs(
        self, where: NDArray[np.int64], first: NDArray[np.int64], stop: NDArray[np.int64], factor: NDArray[np.float64]
    ) -> None:
        """Multiply the tokens `where[first[i]:stop[i]]` by `factor[i]`, through running sums (linear)."""
        positive = factor > 0
        log = np.log(np.where(positive, factor, 1.0))
        steps = np.zeros((3, len(where) + 1))
        for row, weight in enumerate((log, (~positive).astype(float), np.ones(len(factor)))):
            np.add.at(steps[row], first, weight)
            np.add.at(steps[row], stop, -weight)
        log_sum, zeros, touched = np.cumsum(steps, axis=1)[:, :-1]
        self.log[where] += log_sum
        self.zeros[where] += np.rint(zeros).astype(np.int64)
        self.controlled[where] |= touched > 0.5

    def result(self) -> tuple[list[float], list[bool]]:
        """The factor per token (1.0 where no control applies) and whether a control applies."""
        overflow = np.flatnonzero((self.log > _LOG_MAX) & (self.zeros == 0))
        if overflow.size:
            raise ServerError(
                f"controls: the factors on token {int(overflow[0])} multiply to more than {_FLOAT_MAX:.3g}; "
                "use smaller factors"
            )
        with np.errstate(over="ignore"):
            values = np.where(self.zeros > 0, 0.0, np.exp(self.log))
        values[~self.controlled] = 1.0
        return values.tolist(), self.controlled.tolist()


_FLOAT_MAX = float(np.finfo(np.float64).max)
_LOG_MAX = math.log(_FLOAT_MAX)


_Pairs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
_Runs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def _coverage(offsets: NDArray[np.int64], spans: NDArray[np.int64], complete: NDArray[np.bool_]) -> tuple[_Runs, _Pairs]:
    """Which tokens each span touches: runs `(span, first, stop)` of tokens it covers whole (all it touches when
    `complete`), and pairs `(token, span, share)` of the others with the share of the token's characters covered.

    Tokens in text order (starts and ends non-decreasing, as fast tokenizers give them) take the linear path: a
    span touches a contiguous run of tokens, found by binary search, and only the tokens across its two ends are
    covered partly. Tokens in another order take the direct path: every token against every span, in chunks."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    if not (np.all(np.diff(starts) >= 0) and np.all(np.diff(ends) >= 0)):
        none = np.zeros(0, dtype=np.int64)
        return (none, none, none), _overlaps_direct(offsets, spans)
    lo = np.searchsorted(ends, spans[:, 0], side="right")  # first token ending after the span starts
    hi = np.maximum(np.searchsorted(starts, spans[:, 1], side="left"), lo)  # first token starting at/after its end
    inner_first = np.maximum(lo, np.searchsorted(starts, spans[:, 0], side="left"))  # starts inside the span
    inner_stop = np.minimum(hi, np.searchsorted(ends, spans[:, 1], side="right"))  # ends inside the span
    has_inner = inner_first < inner_stop
    first = np.where(complete, lo, np.where(has_inner, inner_first, hi))
    stop = np.where(complete, hi, np.where(has_inner, inner_stop, hi))
    # the partly covered tokens: [lo, first) before the inner run and [stop, hi) after it
    token = np.concatenate([_expand(lo, first), _expand(stop, hi)])
    span = np.concatenate([np.repeat(np.arange(len(spans)), first - lo), np.repeat(np.arange(len(spans)), hi - stop)])
    runs = (np.arange(len(spans)), first, stop)
    return runs, (token, span, _share(offsets[token], spans[span]))


def _overlaps_direct(offsets: NDArray[np.int64], spans: NDArray[np.int64], chunk: int = 256) -> _Pairs:
    tokens, controls, shares = [], [], []
    for first in range(0, len(spans), chunk):
        block = spans[first : first + chunk]
        overlap = np.minimum(offsets[None, :, 1], block[:, 1:]) - np.maximum(offsets[None, :, 0], block[:, :1])
        control, token = np.nonzero(overlap > 0)
        tokens.append(token)
        controls.append(first + control)
        shares.append(_share(offsets[token], spans[first + control]))
    return np.concatenate(tokens), np.concatenate(controls), np.concatenate(shares)


def _expand(starts: NDArray[np.int64], stops: NDArray[np.int64]) -> NDArray[np.int64]:
    """The concatenated ranges `[starts[i], stops[i])`."""
    lengths = stops - starts
    total = int(lengths.sum())
    firsts = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return firsts + np.arange(total, dtype=np.int64)


def _share(tokens: NDArray[np.int64], spans: NDArray[np.int64]) -> NDArray[np.float64]:
    """Which share of each token's characters `[start, end)` its span covers."""
    overlap = np.minimum(tokens[:, 1], spans[:, 1]) - np.maximum(tokens[:, 0], spans[:, 0])
    return np.clip(overlap, 0, None) / (tokens[:, 1] - tokens[:, 0])
