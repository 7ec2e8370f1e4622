"""The server and the client share one contract: answers are built as the client's `EmbedResponse` and `ModelInfo`,
every pooling of `aleph_embed.models.Pooling` is served."""

from __future__ import annotations

from typing import Any, get_args

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from aleph_embed import EmbedResponse
from aleph_embed.models import ModelInfo, Pooling
from aleph_embed.server.engine import POOLINGS, EmbedAnswer, ModelEntry
from aleph_embed.server.launcher import LocalServer


def test_the_pooling_table_covers_every_pooling() -> None:
    assert sorted(POOLINGS) == sorted(get_args(Pooling))


SERVED = [
    (EmbedAnswer, EmbedResponse, {"model_version": "local", "num_tokens_prompt_total": 1}),
    (ModelEntry, ModelInfo, {"name": "m", "max_context_size": 8}),
]


@pytest.mark.parametrize(("served", "parsed", "minimal"), SERVED, ids=["embed", "models_available"])
def test_the_server_cannot_build_a_field_the_client_does_not_know(
    served: type[BaseModel], parsed: type[BaseModel], minimal: dict[str, Any]
) -> None:
    assert issubclass(served, parsed) and served.model_fields.keys() == parsed.model_fields.keys()
    assert isinstance(served.model_validate(minimal), parsed)
    with pytest.raises(ValidationError, match="surprise"):
        served.model_validate({**minimal, "surprise": True})


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


@pytest.mark.slow
def test_models_available_validates_as_model_info(embed_server: LocalServer) -> None:
    (entry,) = httpx.get(f"{embed_server.host}/models_available", timeout=60).json()
    assert set(entry) == set(ModelInfo.model_fields)
    assert ModelInfo.model_validate(entry).name == embed_server.default_model
