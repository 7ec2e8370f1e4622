"""The clients against broken and hostile servers (issue 11, findings 8-11): answers too large (gzip bombs, huge
error pages), answers that never end, malformed answers, and credentials in the host URL."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from aleph_embed import (
    AsyncEmbedClient,
    BatchEmbedError,
    EmbedClient,
    InvalidResponseError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from aleph_embed.errors import MAX_ERROR_MESSAGE_CHARS
from tests.support.scripted_server import ScriptedServer, dribble, head

from .conftest import TOKEN, async_client, embed_answer, sync_client

ROOT = Path(__file__).resolve().parents[2]
REQUEST = {"model": "m", "prompt": "hello", "layers": [0, -1], "pooling": ["mean", "max"]}


class _Chunks(httpx.SyncByteStream):
    """A body streamed in `count` chunks of `size` bytes; `sent` counts what was taken."""

    def __init__(self, size: int, count: int) -> None:
        self.size, self.count, self.sent = size, count, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.sent += 1
            yield b"x" * self.size


# --- finding 8: no response size limit -------------------------------------------------------------------------

BOMB_SCRIPT = """
import asyncio, sys
from aleph_embed import AsyncEmbedClient, EmbedClient
from aleph_embed.errors import ResponseTooLargeError
from tests.support.scripted_server import ScriptedServer, gzip_bomb, head

bomb = gzip_bomb(500 << 20)
def answer(wfile):
    wfile.write(head(content_type="application/json", content_encoding="gzip", content_length=len(bomb)) + bomb)

async def run_async(host):
    async with AsyncEmbedClient(host, max_retries=0) as client:
        await client.embed({"model": "m", "prompt": "hi"})

with ScriptedServer(answer) as server:
    for run in (lambda: EmbedClient(server.host, max_retries=0).embed({"model": "m", "prompt": "hi"}),
                lambda: asyncio.run(run_async(server.host))):
        try:
            run()
        except ResponseTooLargeError as error:
            print("raised:", error)
        else:
            sys.exit("no error")
# VmHWM: this process's own peak (ru_maxrss can carry the forking parent's size over exec)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print(f"bomb {len(bomb)} bytes; peak RSS {int(status['VmHWM'].split()[0]) // 1024} MiB")
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from /proc")
def test_gzip_bomb_raises_with_bounded_memory() -> None:
    """510 kB of gzip expanding to 500 MiB (read whole before: 1.08 GB peak) stops at `max_response_bytes`."""
    result = subprocess.run([sys.executable, "-c", BOMB_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("raised: the answer to POST /embed is over max_response_bytes=67108864") == 2
    peak = int(result.stdout.rsplit("peak RSS ", 1)[1].split()[0])
    assert peak < 300, result.stdout


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_a_success_body_over_the_limit_raises_and_is_not_retried(encoding: str | None, no_sleep: list[float]) -> None:
    calls: list[httpx.Request] = []
    body = b'{"model_version": "x", "embeddings": {"layer_0": {"mean": [' + b"0.5, " * 3000 + b'0.5]}}}'

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if encoding is None:
            return httpx.Response(200, content=body)
        compressed = __import__("gzip").compress(body)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(compressed))

    with sync_client(handler, max_response_bytes=10_000) as client:
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=10000"):
            client.embed(REQUEST)
    assert len(calls) == 1 and client.usage.failures == 1 and client.usage.requests == 0


def test_a_huge_error_body_is_read_only_in_part_and_cut_in_the_message(no_sleep: list[float]) -> None:
    """A 50 MB error page (kept whole in the exception before) is read up to 64 KiB; the message is cut."""
    streams: list[_Chunks] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(_Chunks(1 << 20, 50))
        return httpx.Response(500, stream=streams[-1])

    with sync_client(handler, max_retries=2) as client:
        with pytest.raises(ServerError) as caught:
            client.embed(REQUEST)
    assert all(stream.sent == 1 for stream in streams) and len(streams) == 3
    assert len(str(caught.value)) < MAX_ERROR_MESSAGE_CHARS + 100
    assert caught.value.message.endswith("(65536 characters)")


async def test_a_huge_json_error_message_is_cut_async() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "too long " * 10_000, "code": "PAYLOAD_ERROR" * 1000})

    async with async_client(handler) as client:
        outcome = await client.embed_many([REQUEST] * 10, return_exceptions=True)
    assert all(len(str(error)) < MAX_ERROR_MESSAGE_CHARS + 200 for error in outcome)
    with pytest.raises(BatchEmbedError) as caught:
        async with async_client(handler) as client:
            await client.embed_many([REQUEST] * 10)
    assert len(str(caught.value)) < 4 * (MAX_ERROR_MESSAGE_CHARS + 200)


# --- finding 9: no overall deadline per attempt --------------------------------------------------------------------


def _one_byte_a_second(wfile: BinaryIO) -> None:
    wfile.write(head(content_type="application/json", content_length=1000))
    wfile.flush()
    dribble(wfile, b" " * 60)


def test_a_server_sending_a_byte_a_second_ends_within_the_attempt_deadline() -> None:
    """Before: `timeout=3` kept such a call alive for 255 s (each byte resets a read timeout)."""
    with ScriptedServer(_one_byte_a_second) as server:
        started = time.monotonic()
        with EmbedClient(server.host, timeout=3, max_retries=1) as client:
            with pytest.raises(TransportError, match="attempt_timeout=3s"):
                client.embed(REQUEST)
        assert time.monotonic() - started < 15
    assert server.requests == 2 and client.usage.retries == 1 and client.usage.failures == 1


async def test_the_async_deadline_covers_headers_sent_a_byte_a_second() -> None:
    def slow_headers(wfile: BinaryIO) -> None:
        dribble(wfile, head(content_length=2), interval=0.2)

    with ScriptedServer(slow_headers) as server:
        started = time.monotonic()
        async with AsyncEmbedClient(server.host, attempt_timeout=1, max_retries=0) as client:
            with pytest.raises(TransportError, match="attempt_timeout=1s"):
                await client.embed(REQUEST)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("timeouts", "expected"),
    [({}, 330), ({"timeout": 3}, 3), ({"timeout": httpx.Timeout(5, read=20)}, 20), ({"timeout": 3, "attempt_timeout": 60}, 60)],
)
def test_attempt_timeout_defaults(timeouts: dict, expected: float) -> None:
    with EmbedClient("http://h", concurrency=1, **timeouts) as client:
        assert client.attempt_timeout == expected


# --- finding 10: malformed 200 answers ------------------------------------------------------------------------------


def _answer(embeddings: object, **fields: object) -> bytes:
    body = {"model_version": "t", "embeddings": embeddings, "tokens": None, "num_tokens_prompt_total": 2, **fields}
    return json.dumps(body).encode()


def _layers(**layers: object) -> dict[str, object]:
    return layers


GOOD = {"mean": [0.5, 0.5], "max": [1.0, 1.0]}
MALFORMED = {
    "NaN": (_answer({}).replace(b"{}", b'{"layer_0": {"mean": [NaN, 1.0], "max": [1, 1]}}'), "finite number"),
    "Infinity": (_answer({}).replace(b"{}", b'{"layer_0": {"mean": [Infinity, 1.0], "max": [1, 1]}}'), "finite number"),
    "1e400": (_answer({}).replace(b"{}", b'{"layer_0": {"mean": [1e400, 1.0], "max": [1, 1]}}'), "finite number"),
    "dimensions": (_answer(_layers(layer_0=GOOD, layer_7={"mean": [0.5], "max": [1.0]})), "different dimensions [1, 2]"),
    "empty vector": (_answer(_layers(layer_0={"mean": [], "max": []}, layer_7=GOOD)), "at least 1 item"),
    "layer key": (_answer(_layers(layer_0=GOOD, last=GOOD)), "embeddings.last.[key]"),
    "extra layer": (_answer(_layers(layer_0=GOOD, layer_7=GOOD, layer_8=GOOD)), "layers ['layer_0', 'layer_7', 'layer_8']"),
    "unmappable layer": (_answer(_layers(layer_3=GOOD, layer_7=GOOD)), "lacks layer 0"),
    "missing pooling": (_answer(_layers(layer_0=GOOD, layer_7={"mean": [0.5, 0.5]})), "lacks pooling ['max'] of layer_7"),
    "embeddings null": (_answer(None), '"embeddings": null'),
    "missing keys": (b'{"embeddings": {}}', "model_version: Field required"),
    "not an object": (b"[1, 2]", "Input should be an object"),
    "not JSON": (b"<html>oops</html>", "Invalid JSON"),
    "strings": (_answer(_layers(layer_0={"mean": ["a", "b"], "max": [1, 1]}, layer_7=GOOD)), "valid number"),
}


@pytest.mark.parametrize("body, problem", MALFORMED.values(), ids=MALFORMED.keys())
def test_every_malformed_answer_is_invalid_response_error_naming_the_problem(body: bytes, problem: str) -> None:
    with sync_client(lambda request: httpx.Response(200, content=body)) as client:
        with pytest.raises(InvalidResponseError) as caught:
            client.embed(REQUEST)
    assert problem in str(caught.value)
    assert client.usage.failures == 1 and client.usage.requests == 0


async def test_malformed_answers_async_and_in_batches() -> None:
    body, problem = MALFORMED["NaN"]
    async with async_client(lambda request: httpx.Response(200, content=body)) as client:
        with pytest.raises(BatchEmbedError, match=problem) as caught:
            await client.embed_many([REQUEST] * 3)
    assert all(isinstance(error, InvalidResponseError) for error in caught.value.errors.values())


OTHER_ENDPOINTS = {
    "semantic NaN": ("semantic_embed", {"model": "m", "prompt": "hi"},
                     b'{"model_version": "t", "embedding": [NaN], "num_tokens_prompt_total": 1}', "finite number"),
    "batch dimensions": ("batch_semantic_embed", {"model": "m", "prompts": ["a", "b"]},
                         b'{"model_version": "t", "embeddings": [[1, 2], [1]], "num_tokens_prompt_total": 1}',
                         "different dimensions [1, 2]"),
    "instructable empty": ("instructable_embed", {"model": "m", "input": "hi"},
                           b'{"model_version": "t", "embedding": [], "num_tokens_prompt_total": 1}', "at least 1 item"),
    "embeddings base64 NaN": ("embeddings", {"model": "m", "input": "hi", "encoding_format": "base64"},
                              b'{"data": [{"embedding": "AADAfw==", "index": 0}], "model": "m", '
                              b'"usage": {"prompt_tokens": 1, "total_tokens": 1}}', "not finite"),
    "embeddings count": ("embeddings", {"model": "m", "input": ["a", "b"]},
                         b'{"data": [{"embedding": [1.0], "index": 0}], "model": "m", '
                         b'"usage": {"prompt_tokens": 1, "total_tokens": 1}}', "indexes [0] for 2 inputs"),
}


@pytest.mark.parametrize("method, request_, body, problem", OTHER_ENDPOINTS.values(), ids=OTHER_ENDPOINTS.keys())
def test_every_endpoint_checks_its_answer(method: str, request_: dict, body: bytes, problem: str) -> None:
    with sync_client(lambda request: httpx.Response(200, content=body)) as client:
        with pytest.raises((InvalidResponseError, BatchEmbedError), match=problem.replace("[", r"\[")):
            getattr(client, method)(request_)


def test_a_well_formed_answer_still_passes() -> None:
    with sync_client(embed_answer) as client:
        response = client.embed(REQUEST)
    assert response.vector(-1, "max") == response.vector(0, "mean") and client.usage.requests == 1


def test_models_available_malformed_is_invalid_response_error() -> None:
    with sync_client(lambda request: httpx.Response(200, json={"models": []})) as client:
        with pytest.raises(InvalidResponseError, match="/models_available answer is not a list of models"):
            client.models_available()


# --- finding 11: credentials in the host URL ------------------------------------------------------------------------

SECRET = "pa55word-xyz"


def test_credentials_in_the_host_never_show(caplog: pytest.LogCaptureFixture, no_sleep: list[float]) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    caplog.set_level(logging.DEBUG)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = EmbedClient(f"https://alice:{SECRET}@inference.example/v1", token=TOKEN, http_client=http, max_retries=1)
    with pytest.raises(TransportError) as caught:
        client.embed(REQUEST)
    with pytest.raises(BatchEmbedError) as batch:
        client.embed_many([REQUEST])
    shown = [repr(client), client.host, str(caught.value), str(batch.value), caplog.text]
    assert not any(SECRET in text or "alice" in text for text in shown), shown
    assert client.host == "https://***@inference.example/v1"
    assert all(request.url == "https://inference.example/v1/embed" for request in sent)
    assert {request.headers["authorization"] for request in sent} == {httpx.BasicAuth("alice", SECRET)._auth_header}


def test_credentials_in_a_host_that_cannot_be_reached_never_show(no_sleep: list[float]) -> None:
    with EmbedClient(f"http://bob:{SECRET}@127.0.0.1:9", max_retries=0, timeout=2) as client:
        with pytest.raises(TransportError) as caught:
            client.embed(REQUEST)
    assert SECRET not in str(caught.value) and "127.0.0.1:9" in str(caught.value)


# --- kept: what was already right -----------------------------------------------------------------------------------


def test_redirects_are_not_followed_with_the_token() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(307, headers={"location": "https://elsewhere.example/steal"})

    with sync_client(handler) as client:
        with pytest.raises(Exception) as caught:
            client.embed(REQUEST)
    assert [request.url.host for request in sent] == ["inference.example"]
    assert TOKEN not in str(caught.value)


def test_the_stream_is_released_on_every_path() -> None:
    """No connection is held after errors (each attempt closes its streamed answer)."""
    closed: list[bool] = []

    class Tracked(_Chunks):
        def close(self) -> None:
            closed.append(True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Tracked(1000, 100))

    with sync_client(handler, max_response_bytes=5000) as client:
        with pytest.raises(ResponseTooLargeError):
            client.embed(REQUEST)
    assert closed == [True]

