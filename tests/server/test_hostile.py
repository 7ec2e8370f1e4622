"""The local server under abuse (issue 11, findings 1-7), each reproduced on loopback against a real server.

Bounds on time are the issue's own and generous for a loaded 2-core machine; they are not performance claims."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aleph_embed.server import LocalServer, ServerConfig
from tests.support.raw_http import address, read_answer, request_bytes, reset, rss_bytes

from .conftest import post_embed

pytestmark = pytest.mark.slow

MODEL = "all-minilm-l6-v2"
GOOD = {"model": MODEL, "prompt": "still serving"}
TIMEOUT = 2.0  # header and body read timeouts of the guarded server


@pytest.fixture(scope="module")
def guarded() -> Iterator[LocalServer]:
    """A server with a queue of 4, short read timeouts and a connection limit of 350."""
    config = ServerConfig(
        max_queue=4, header_timeout=TIMEOUT, body_timeout=TIMEOUT, keep_alive_timeout=1, max_connections=350,
    )
    with LocalServer(config=config) as server:
        yield server


class HealthWatch:
    """Polls GET /health every 20 ms in a thread; remembers each answer's status and latency."""

    def __init__(self, server: LocalServer) -> None:
        self.url = f"{server.host}/health"
        self.answers: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = http.get(self.url).status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((status, time.monotonic() - started))
                self._stop.wait(0.02)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)

    @property
    def slowest(self) -> float:
        return max(latency for _, latency in self.answers)


def control_flood(controls: int, characters: int = 19_990) -> dict[str, Any]:
    text = ("word " * characters)[:characters]
    spans = [{"start": i % (characters - 10), "length": 10, "factor": 0.5} for i in range(controls)]
    return {"model": MODEL, "prompt": [{"type": "text", "data": text, "controls": spans}]}


# 1. controls x tokens on the event loop


@pytest.mark.parametrize("controls", [10_000, 100_000])
def test_control_flood_is_refused_at_once_while_health_answers(guarded: LocalServer, controls: int) -> None:
    body = json.dumps(control_flood(controls)).encode()
    with HealthWatch(guarded) as watch:
        time.sleep(0.1)
        started = time.monotonic()
        response = post_embed(guarded, body, headers={"Content-Type": "application/json"})
        elapsed = time.monotonic() - started
        time.sleep(0.1)
    assert 400 <= response.status_code < 500 and response.json()["code"] == "PAYLOAD_ERROR", response.text
    assert elapsed < 2.0
    assert watch.answers and all(status == 200 for status, _ in watch.answers)
    assert watch.slowest < 1.0


def test_many_controls_within_the_limits_are_linear_work(guarded: LocalServer) -> None:
    text = "word " * 400
    controls = [{"start": 5 * i, "length": 4, "factor": 0.5} for i in range(400)]
    controls += [{"start": 0, "length": len(text) - 1, "factor": 1.5}] * 600  # 1000 spans over every token
    response = post_embed(guarded, {"model": MODEL, "prompt": [{"type": "text", "data": text, "controls": controls}]})
    assert response.status_code == 200, response.text
    too_many = post_embed(guarded, {"model": MODEL, "prompt": [{"type": "text", "data": text, "controls": controls * 2}]})
    assert too_many.status_code == 400 and "--max-controls" in too_many.json()["error"]


# 2. abandoned requests keep running and keep their queue slots


def abandon(server: LocalServer, body: Any, count: int) -> None:  # noqa: ANN401 - a JSON body
    """Send `count` requests on their own connections, then reset every connection."""
    sockets = [socket.create_connection(address(server.host), timeout=10) for _ in range(count)]
    for sock in sockets:
        sock.sendall(request_bytes(body, token=server.token))
    for sock in sockets:
        reset(sock)


def test_abandoned_requests_leave_the_queue(embed_server: LocalServer) -> None:
    heavy = {"model": MODEL, "prompt": "a sentence that keeps the model busy for a while " * 45}  # ~450 tokens
    before = httpx.get(f"{embed_server.host}/health").json()["batched_requests"]
    abandon(embed_server, heavy, 100)
    time.sleep(0.2)
    started = time.monotonic()
    response = post_embed(embed_server, GOOD)
    assert response.status_code == 200 and time.monotonic() - started < 3.0
    health = httpx.get(f"{embed_server.host}/health").json()
    assert health["queue"] == 0 and health["in_flight"] == 0
    assert health["batched_requests"] - before < 100  # most abandoned requests never reached a forward pass


def test_abandoned_requests_free_their_slots_in_a_small_queue(guarded: LocalServer) -> None:
    heavy = {"model": MODEL, "prompt": "a sentence that keeps the model busy for a while " * 45}
    for _ in range(3):
        abandon(guarded, heavy, 4)
        time.sleep(0.2)
        assert post_embed(guarded, GOOD).status_code == 200


# 3. no read timeouts, no connection limit, a log flood


def test_half_open_connections_are_closed_and_do_not_delay_others(guarded: LocalServer) -> None:
    where = address(guarded.host)
    half_open = []
    for index in range(300):
        sock = socket.create_connection(where, timeout=10)
        if index % 3:
            sock.sendall(b"POST /embed HTTP/1.1\r\nHost: test\r\nContent-Le")  # headers never finished
        half_open.append(sock)
    short_bodies = []
    for _ in range(10):
        sock = socket.create_connection(where, timeout=10)
        sock.sendall(request_bytes(b'{"model": "', length=100))  # 11 of 100 bytes, then nothing
        short_bodies.append(sock)
    started = time.monotonic()
    assert post_embed(guarded, GOOD).status_code == 200
    assert time.monotonic() - started < 2.0
    for sock in short_bodies:
        answer = read_answer(sock, timeout=30)
        assert answer is not None and answer.status == 408 and answer.json()["code"] == "REQUEST_TIMEOUT"
        assert read_answer(sock, timeout=30) is None  # and the connection is closed
    deadline = time.monotonic() + 60
    for sock in half_open:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            assert sock.recv(1024) == b""
        except ConnectionResetError:
            pass
        sock.close()
    assert time.monotonic() < deadline
    assert post_embed(guarded, GOOD).status_code == 200


def test_connections_over_the_limit_get_503_and_the_log_stays_small(guarded: LocalServer) -> None:
    where = address(guarded.host)
    log_before = len(guarded.output())
    sockets = [socket.create_connection(where, timeout=10) for _ in range(350 + 60)]  # well within TIMEOUT
    try:
        refused = [read_answer(sock, timeout=10) for sock in sockets[350:]]
        assert all(answer is not None and answer.status == 503 for answer in refused)
        assert {answer.json()["code"] for answer in refused if answer} == {"TOO_MANY_CONNECTIONS"}
    finally:
        for sock in sockets:
            sock.close()
    time.sleep(0.5)
    assert post_embed(guarded, GOOD).status_code == 200
    assert len(guarded.output()) - log_before < 20_000  # a few lines and a count, not one line per connection


# 4. a lone surrogate gave 500 and dropped the connection


def test_lone_surrogate_is_a_payload_error_and_the_connection_stays_usable(embed_server: LocalServer) -> None:
    connection = http.client.HTTPConnection(*address(embed_server.host), timeout=30)
    try:
        for body in (b'{"model": "all-minilm-l6-v2", "prompt": "\\ud800"}', b'{"model": "\\udfff", "prompt": "x"}'):
            connection.request("POST", "/embed", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 400 and answer["code"] == "PAYLOAD_ERROR" and "surrogate" in answer["error"]
        connection.request("POST", "/embed", json.dumps({**GOOD, "prompt": "\ud83d\ude00 paired"}).encode(),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["num_tokens_prompt_total"] > 2
    finally:
        connection.close()


# 5. memory under concurrent large bodies


def test_concurrent_large_bodies_stay_within_the_inflight_budget(guarded: LocalServer) -> None:
    assert guarded.pid is not None
    rss_before, _ = rss_bytes(guarded.pid)
    body = json.dumps({"model": MODEL, "prompt": "word " * (16 * 1024 * 1024 // 5 - 20)}).encode()
    statuses: list[int] = []

    def send() -> None:
        sock = socket.create_connection(address(guarded.host), timeout=60)
        try:
            sock.sendall(request_bytes(body))
        except OSError:
            pass  # refused before the whole body was sent
        answer = read_answer(sock, timeout=60)
        statuses.append(answer.status if answer else 0)
        sock.close()

    threads = [threading.Thread(target=send) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    _, peak = rss_bytes(guarded.pid)
    # refused as too long (400), over the in-flight budget (503), or too slow under load for the 2 s body timeout (408)
    assert len(statuses) == 25 and set(statuses) <= {0, 400, 408, 503} and 503 in statuses
    assert peak - rss_before < 800 * 1024 * 1024
    assert post_embed(guarded, GOOD).status_code == 200


# 7. overflowing factors, a log of the URL


def test_overflowing_control_factors_are_a_payload_error(embed_server: LocalServer) -> None:
    huge = [{"start": 0, "length": 5, "factor": 1e200}] * 2
    for additive in (True, False):
        response = post_embed(embed_server, {
            "model": MODEL, "prompt": [{"type": "text", "data": "hello world", "controls": huge}],
            "normalize": True, "control_log_additive": additive,
        })
        assert response.status_code == 400 and "multiply to more than" in response.json()["error"]


def test_serve_says_where_it_listens(embed_server: LocalServer) -> None:
    assert f"listening on {embed_server.host}" in embed_server.output()
