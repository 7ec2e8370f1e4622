"""The server and the client share one contract: answers are built as the client's `EmbedResponse`, every pooling of
`aleph_embed.models.Pooling` is served."""

from __future__ import annotations

from typing import get_args

import httpx
import pytest
from pydantic import ValidationError

from aleph_embed import EmbedResponse
from aleph_embed.models import Pooling
from aleph_embed.server.engine import POOLINGS, EmbedAnswer
from aleph_embed.server.launcher import LocalServer


def test_the_pooling_table_covers_every_pooling() -> None:
    assert sorted(POOLINGS) == sorted(get_args(Pooling))


def test_the_server_cannot_build_a_field_the_client_does_not_know() -> None:
    assert issubclass(EmbedAnswer, EmbedResponse)
    assert EmbedAnswer.model_fields.keys() == EmbedResponse.model_fields.keys()
    with pytest.raises(ValidationError, match="surprise"):
        EmbedAnswer(model_version="local", num_tokens_prompt_total=1, surprise=True)  # type: ignore[call-arg]


@pytest.mark.slow
def test_an_answer_validates_as_embed_response(embed_server: LocalServer) -> None:
    poolings = list(get_args(Pooling))
    body = {"model": embed_server.default_model, "prompt": "hello", "layers": [0, -1], "pooling": poolings,
            "tokens": True}
    answer = httpx.post(f"{embed_server.host}/embed", json=body, timeout=60).json()
    assert set(answer) == set(EmbedResponse.model_fields)
    response = EmbedResponse.model_validate(answer)
    assert sorted(response.embeddings or {}) == ["layer_0", "layer_6"]
    assert all(sorted(vectors) == sorted(poolings) for vectors in (response.embeddings or {}).values())
    assert response.tokens and response.num_tokens_prompt_total == len(response.tokens)
