"""Prompt encoding: special tokens once around the whole prompt, control factors per token."""

from __future__ import annotations

import random

import numpy as np
import pytest

from aleph_embed import Text, TextControl, TokenControl, TokenIds
from aleph_embed.server.errors import ServerError
from aleph_embed.server.prompts import PromptEncoder, _Factors

from .conftest import minilm_path


@pytest.fixture(scope="module")
def encoder() -> PromptEncoder:
    from transformers import AutoTokenizer

    return PromptEncoder(AutoTokenizer.from_pretrained(minilm_path()), "minilm", vocab_size=30522, max_context=16)


def test_partial_overlap_scales_the_factor_by_the_covered_share(encoder: PromptEncoder) -> None:
    # aleph-alpha-client's documented example: factor 2.0 over 2 of a token's 4 characters becomes 1.5
    encoded = encoder.encode([Text("dogs", controls=[TextControl(start=0, length=2, factor=2.0)])])
    assert encoder.tokenizer.convert_ids_to_tokens(encoded.ids) == ["[CLS]", "dogs", "[SEP]"]
    assert encoded.factors == pytest.approx([1.0, 1.5, 1.0]) and encoded.controlled == [False, True, False]
    complete = encoder.encode([Text("dogs", controls=[TextControl(start=0, length=2, factor=2.0, token_overlap="complete")])])
    assert complete.factors == pytest.approx([1.0, 2.0, 1.0])


def test_items_concatenate_and_overlapping_controls_multiply(encoder: PromptEncoder) -> None:
    ids = encoder.tokenizer("cats", add_special_tokens=False)["input_ids"]
    controls = [TextControl(start=0, length=4, factor=0.5), TextControl(start=0, length=4, factor=0.5)]
    encoded = encoder.encode([Text("dogs", controls=controls), TokenIds(ids, controls=[TokenControl(index=0, factor=3)])])
    assert encoder.tokenizer.convert_ids_to_tokens(encoded.ids) == ["[CLS]", "dogs", "cats", "[SEP]"]
    assert encoded.factors == pytest.approx([1.0, 0.25, 3.0, 1.0])


def test_context_limit_counts_the_special_tokens(encoder: PromptEncoder) -> None:
    assert len(encoder.encode("word " * 14).ids) == 16
    with pytest.raises(ServerError, match="prompt has 17 tokens, more than the model's context of 16"):
        encoder.encode("word " * 15)


def test_a_zero_factor_wins_and_an_overflowing_product_is_refused(encoder: PromptEncoder) -> None:
    zero_then_two = [TextControl(start=0, length=4, factor=0), TextControl(start=0, length=4, factor=2)]
    assert encoder.encode([Text("dogs", controls=zero_then_two)]).factors == [1.0, 0.0, 1.0]
    huge = [TextControl(start=0, length=4, factor=1e200), TextControl(start=0, length=4, factor=1e200)]
    with pytest.raises(ServerError, match="multiply to more than"):
        encoder.encode([Text("dogs", controls=huge)])


def test_token_ids_past_the_context_are_refused_before_any_text_is_tokenized(encoder: PromptEncoder) -> None:
    with pytest.raises(ServerError, match="prompt has 22 tokens"):
        encoder.encode([Text("word " * 100_000), TokenIds([7592] * 20)])


def _direct(offsets: list[tuple[int, int]], controls: list[TextControl]) -> tuple[list[float], list[bool]]:
    """The definition, token by token and control by control."""
    factors: list[float | None] = [None] * len(offsets)
    for control in controls:
        for index, (start, end) in enumerate(offsets):
            overlap = min(end, control.start + control.length) - max(start, control.start)
            if end <= start or overlap <= 0:
                continue
            share = overlap / (end - start)
            factor = control.factor if control.token_overlap == "complete" else 1 + (control.factor - 1) * share
            factors[index] = factor * (1.0 if factors[index] is None else factors[index])
    return [1.0 if factor is None else factor for factor in factors], [factor is not None for factor in factors]


def test_span_factors_match_the_definition_in_and_out_of_text_order() -> None:
    rng = random.Random(7)
    for _ in range(400):
        offsets: list[tuple[int, int]] = []
        position = 0
        for _ in range(rng.randint(1, 12)):
            width = rng.choice([0, 1, 2, 3, 4])  # empty tokens, and runs of tokens sharing one span
            offsets.append(offsets[-1] if offsets and rng.random() < 0.1 else (position, position + width))
            position += width + rng.randint(0, 1)
        if rng.random() < 0.3:
            rng.shuffle(offsets)  # not in text order: the direct path
        length = max(position, 1)
        controls = []
        for _ in range(rng.randint(1, 6)):
            start = rng.randrange(length)
            controls.append(TextControl(
                start=start, length=rng.randint(1, length - start), factor=rng.choice([0.0, 1e-3, 0.5, 2.0, 3.5]),
                token_overlap=rng.choice([None, "partial", "complete"]),
            ))
        factors = _Factors(len(offsets))
        factors.add_spans(0, np.array(offsets, dtype=np.int64).reshape(-1, 2), controls)
        values, controlled = factors.result()
        expected, expected_controlled = _direct(offsets, controls)
        assert controlled == expected_controlled and values == pytest.approx(expected, rel=1e-12)
