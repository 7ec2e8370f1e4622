"""Prompt encoding: special tokens once around the whole prompt, control factors per token."""

from __future__ import annotations

import pytest

from aleph_embed import Text, TextControl, TokenControl, TokenIds
from aleph_embed.server.prompts import PromptEncoder, PromptError

from .conftest import minilm_path


@pytest.fixture(scope="module")
def encoder() -> PromptEncoder:
    from transformers import AutoTokenizer

    return PromptEncoder(AutoTokenizer.from_pretrained(minilm_path()), "minilm", vocab_size=30522, max_context=16)


def test_partial_overlap_scales_the_factor_by_the_covered_share(encoder: PromptEncoder) -> None:
    # aleph-alpha-client's documented example: factor 2.0 over 2 of a token's 4 characters becomes 1.5
    encoded = encoder.encode([Text("dogs", controls=[TextControl(start=0, length=2, factor=2.0)])])
    assert encoder.tokenizer.convert_ids_to_tokens(encoded.ids) == ["[CLS]", "dogs", "[SEP]"]
    assert encoded.factors == [1.0, 1.5, 1.0] and encoded.controlled == [False, True, False]
    complete = encoder.encode([Text("dogs", controls=[TextControl(start=0, length=2, factor=2.0, token_overlap="complete")])])
    assert complete.factors == [1.0, 2.0, 1.0]


def test_items_concatenate_and_overlapping_controls_multiply(encoder: PromptEncoder) -> None:
    ids = encoder.tokenizer("cats", add_special_tokens=False)["input_ids"]
    controls = [TextControl(start=0, length=4, factor=0.5), TextControl(start=0, length=4, factor=0.5)]
    encoded = encoder.encode([Text("dogs", controls=controls), TokenIds(ids, controls=[TokenControl(index=0, factor=3)])])
    assert encoder.tokenizer.convert_ids_to_tokens(encoded.ids) == ["[CLS]", "dogs", "cats", "[SEP]"]
    assert encoded.factors == [1.0, 0.25, 3.0, 1.0]


def test_context_limit_counts_the_special_tokens(encoder: PromptEncoder) -> None:
    assert len(encoder.encode("word " * 14).ids) == 16
    with pytest.raises(PromptError, match="prompt has 17 tokens, more than the model's context of 16"):
        encoder.encode("word " * 15)
