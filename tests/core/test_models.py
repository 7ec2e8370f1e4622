"""The /embed contract: what is accepted, what is rejected, how it is serialised."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from aleph_embed import EmbedRequest, EmbedResponse, Image, ImageControl, Text, TextControl, TokenControl, TokenIds

from .conftest import recorded, recorded_embed_exchanges


def without_nulls(value: object) -> object:
    """Omitting a nullable field means the same as sending null."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("name", recorded_embed_exchanges())
def test_every_recorded_request_body_is_accepted_and_round_trips(name: str) -> None:
    body = recorded(name)["request"]
    request = EmbedRequest.model_validate(body)
    assert request.body() == without_nulls(body)
    assert json.loads(request.body_json()) == request.body()


def test_prompt_items_serialise_as_the_api_shows() -> None:
    image = Image.from_bytes(b"\x89PNG", x=0, y=0, size=600, controls=[ImageControl(left=0.5, top=0, width=0.25, height=1, factor=0)])
    request = EmbedRequest(
        model="m",
        prompt=[
            Text("hello world", controls=[TextControl(start=3, length=5, factor=2.0, token_overlap="partial")]),
            image,
            TokenIds([1, 2, 3], controls=[TokenControl(index=1, factor=0.5)]),
        ],
    )
    assert request.body()["prompt"] == [
        {"type": "text", "data": "hello world", "controls": [{"start": 3, "length": 5, "factor": 2.0, "token_overlap": "partial"}]},
        {"type": "image", "data": base64.b64encode(b"\x89PNG").decode(), "x": 0, "y": 0, "size": 600,
         "controls": [{"rect": {"left": 0.5, "top": 0.0, "width": 0.25, "height": 1.0}, "factor": 0.0}]},
        {"type": "token_ids", "data": [1, 2, 3], "controls": [{"index": 1, "factor": 0.5}]},
    ]
    assert EmbedRequest.model_validate(request.body()) == request


def test_image_constructors(tmp_path) -> None:
    path = tmp_path / "pixel.png"
    path.write_bytes(b"\x89PNG\r\n")
    from_file = Image.from_file(path)
    assert from_file == Image.from_bytes(b"\x89PNG\r\n") == Image.from_base64(base64.b64encode(b"\x89PNG\r\n").decode())
    assert "x" not in from_file.model_dump()
    with pytest.raises(ValidationError, match="without a 'data:"):
        Image.from_base64("data:image/png;base64,AAAA")
    with pytest.raises(ValidationError, match="not valid base64"):
        Image.from_base64("not base64!")
    with pytest.raises(ValidationError, match="x, y, size"):
        Image.from_bytes(b"x", x=1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pooling": ["avg"]}, "pooling"),
        ({"pooling": []}, "pooling"),
        ({"layers": []}, "layers"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": [{"type": "text", "data": ""}]}, "prompt"),
        ({"prompt": [{"type": "text", "data": "ab", "controls": [{"start": 0, "length": 1, "factor": -1}]}]}, "factor"),
        ({"prompt": [{"type": "text", "data": "ab", "controls": [{"start": 1, "length": 5, "factor": 1}]}]}, "controls[0]"),
        ({"prompt": [{"type": "token_ids", "data": [5], "controls": [{"index": 3, "factor": 1}]}]}, "controls[0]"),
        ({"prompt": [{"type": "image", "data": "AAAA", "controls": [{"rect": {"left": 0.9, "top": 0, "width": 0.5, "height": 1}, "factor": 1}]}]}, "rect"),
        ({"contextual_control_threshold": 1.5}, "contextual_control_threshold"),
        ({"contextual_control_threshold": -0.1}, "contextual_control_threshold"),
        ({"normalize": None}, "normalize"),
        ({"control_log_additive": None}, "control_log_additive"),
        ({"hosting": "elsewhere"}, "hosting"),
        ({"model": ""}, "model"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_requests_raise_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EmbedRequest.model_validate({"model": "m", "prompt": "hi", **change})
    assert field in str(caught.value)


def test_booleans_are_never_null_and_nice_is_a_query_parameter() -> None:
    request = EmbedRequest.model_validate({"model": "m", "prompt": "hi", "tokens": None, "nice": True})
    body = request.body()
    assert body["tokens"] is False and body["normalize"] is False and body["control_log_additive"] is True
    assert "nice" not in body and None not in body.values()
    assert request.params() == {"nice": "true"}
    assert EmbedRequest(model="m", prompt="hi").params() == {}


@pytest.mark.parametrize(
    ("layers", "keys", "expected"),
    [
        ([0, -1], ["layer_0", "layer_40"], {0: "layer_0", -1: "layer_40"}),
        ([-2, -1], ["layer_39", "layer_40"], {-2: "layer_39", -1: "layer_40"}),
        ([-1, 40], ["layer_40"], {-1: "layer_40", 40: "layer_40"}),
        ([-1, 0, 3], ["layer_0", "layer_3", "layer_6"], {-1: "layer_6", 0: "layer_0", 3: "layer_3"}),
        ([-7], ["layer_0"], {-7: "layer_0"}),
    ],
)
def test_vector_resolves_requested_layers_to_absolute_keys(layers: list[int], keys: list[str], expected: dict[int, str]) -> None:
    response = EmbedResponse(
        model_version="v", num_tokens_prompt_total=1,
        embeddings={key: {"mean": [float(i)]} for i, key in enumerate(keys)},
    ).with_request(EmbedRequest(model="m", prompt="x", layers=layers))
    for layer, key in expected.items():
        assert response.layer_key(layer) == key
        assert response.vector(layer, "mean") == response.embeddings[key]["mean"]
    with pytest.raises(KeyError, match="pooling 'max'"):
        response.vector(layers[0], "max")
    with pytest.raises(KeyError, match="not requested"):
        response.vector(-3 if -3 not in layers else -4, "mean")
