"""Configuration sources, errors' shape, and the token never showing."""

from __future__ import annotations

import logging

import httpx
import pytest

from aleph_embed import (
    AlephEmbedError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    EmbedClient,
    PayloadTooLargeError,
    ServerBusyError,
    ServerError,
    TransportError,
)
from aleph_embed.errors import error_from_response

from .conftest import TOKEN, sync_client
from .test_retries import failing_then_ok


def test_missing_host_says_how_to_start_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AA_HOST", raising=False)
    monkeypatch.setenv("AA_SERVER_IDLE", "0")  # no shared local server to fall back on
    with pytest.raises(ConfigurationError, match="aleph-embed serve"):
        EmbedClient()


def test_environment_then_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AA_HOST", "http://env-host:1/")
    monkeypatch.setenv("AA_TOKEN", "env-token")
    from_env = EmbedClient()
    assert from_env.host == "http://env-host:1" and from_env.token.get_secret_value() == "env-token"
    explicit = EmbedClient("https://arg-host", token="arg-token")
    assert explicit.host == "https://arg-host" and explicit.token.get_secret_value() == "arg-token"
    with pytest.raises(ConfigurationError, match="http"):
        EmbedClient("arg-host")


@pytest.mark.parametrize(
    ("response", "error", "code", "message"),
    [
        (httpx.Response(401, json={"error": "invalid token", "code": "UNAUTHENTICATED"}), AuthenticationError, "UNAUTHENTICATED", "invalid token"),
        (httpx.Response(503, json={"error": "queue full", "code": "QUEUE_FULL"}), ServerBusyError, "QUEUE_FULL", "queue full"),
        (httpx.Response(502, text="Bad Gateway\n"), ServerError, None, "Bad Gateway"),
        (httpx.Response(413, text=""), PayloadTooLargeError, None, "Request Entity Too Large"),
        (httpx.Response(418, text="teapot"), APIStatusError, None, "teapot"),
    ],
)
def test_error_mapping(response: httpx.Response, error: type, code: str | None, message: str) -> None:
    mapped = error_from_response(response)
    assert type(mapped) is error and isinstance(mapped, AlephEmbedError)
    assert mapped.code == code and mapped.message == message and mapped.status_code == response.status_code


def test_token_never_shows(caplog: pytest.LogCaptureFixture, no_sleep) -> None:
    caplog.set_level(logging.DEBUG)
    failures = [httpx.Response(503, text="busy"), httpx.ConnectError("reset")]

    def always_401(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "bad token", "code": "UNAUTHENTICATED"})

    with sync_client(failing_then_ok(failures, [])) as client:
        client.embed({"model": "m", "prompt": "x"})
    with sync_client(always_401) as client, pytest.raises(AuthenticationError) as caught:
        client.embed({"model": "m", "prompt": "x"})
    with sync_client(failing_then_ok([httpx.ConnectError("down")] * 9, []), max_retries=1) as client:
        with pytest.raises(TransportError) as transport:
            client.embed({"model": "m", "prompt": "x"})
    shown = [repr(client), str(client), str(caught.value), repr(caught.value), str(transport.value), caplog.text]
    assert all(TOKEN not in text for text in shown)
    assert "**********" in repr(client)
