"""A background of hostile traffic against a local server, in a process of its own (`HostileTraffic`): control
floods, abandoned requests, half-open sockets, bodies that trickle in, malformed and oversized bodies. Loopback only;
every loop ends when the traffic is stopped."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import struct
from collections import Counter
from multiprocessing.synchronize import Event
from typing import Any

from tests.support.raw_http import Answer, address, exchange, request_bytes

HALF_OPEN = 100  # sockets kept sending unfinished headers
TRICKLING = 4  # requests whose body comes a byte every half second
ABANDONING = 4  # loops sending a heavy request and resetting the connection
FLOODING = 2  # kept-alive connections sending control floods
MALFORMED_LOOPS = 2  # kept-alive connections sending malformed bodies
LARGE_LOOPS = 1  # connections sending 8 MB bodies


def _bodies(model: str) -> dict[str, bytes]:
    text = ("word " * 4000)[:19_990]
    controls = [{"start": i % 19_980, "length": 10, "factor": 0.5} for i in range(10_000)]
    return {
        "flood": json.dumps({"model": model, "prompt": [{"type": "text", "data": text, "controls": controls}]}).encode(),
        "heavy": json.dumps({"model": model, "prompt": "a sentence that keeps the model busy " * 60}).encode(),
        "large": json.dumps({"model": model, "prompt": "word " * (8 * 1024 * 1024 // 5)}).encode(),
    }


MALFORMED = [
    b'{"model": "m", "prompt": ',
    b'{"model": "m", "prompt": "a", "prompt": "b"}',
    b'{"model": "m", "prompt": "\\ud800"}',
    b'{"model": "m", "prompt": "a", "normalize": "yes"}',
    b"[" * 50_000 + b"]" * 50_000,
]


class _Run:
    def __init__(self, host: str, model: str, stop: Event) -> None:
        self.where = address(host)
        self.bodies = _bodies(model)
        self.stop = stop
        self.statuses: Counter[str] = Counter()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep; whether the traffic goes on."""
        await asyncio.sleep(seconds)
        return not self.stop.is_set()

    async def _kept_alive(self, bodies: list[bytes], pause: float = 0.0) -> None:
        """Send `bodies` in turn on a kept-alive connection, reconnecting when the server closes it."""
        turn = 0
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(*self.where)
                while not self.stop.is_set():
                    answer: Answer = await asyncio.wait_for(
                        exchange(reader, writer, request_bytes(bodies[turn % len(bodies)])), 60
                    )
                    turn += 1
                    self.statuses[str(answer.status)] += 1
                    if answer.headers.get("connection") == "close":
                        break
                    await self._sleep(pause)
                writer.close()
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                self.statuses["closed"] += 1
                await self._sleep(0.1)

    async def _abandon(self) -> None:
        """A heavy request, its connection reset right after it is sent; about 10 a second per loop."""
        while await self._sleep(0.1):
            try:
                _, writer = await asyncio.open_connection(*self.where)
                writer.write(request_bytes(self.bodies["heavy"]))
                await writer.drain()
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.close()
                self.statuses["abandoned"] += 1
            except OSError:
                self.statuses["closed"] += 1

    async def _half_open(self) -> None:
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(*self.where)
                writer.write(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Le")
                while not self.stop.is_set() and not reader.at_eof():
                    try:
                        await asyncio.wait_for(reader.read(1024), 0.5)
                    except asyncio.TimeoutError:
                        continue
                self.statuses["half-open closed"] += 1
                writer.close()
            except OSError:
                await self._sleep(0.1)

    async def _trickle(self) -> None:
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(*self.where)
                writer.write(request_bytes(b"", length=1000))
                while not reader.at_eof() and await self._sleep(0.5):
                    writer.write(b" ")
                    await writer.drain()
                self.statuses["trickle closed"] += 1
                writer.close()
            except OSError:
                await self._sleep(0.1)

    async def run(self) -> None:
        await asyncio.gather(
            *(self._kept_alive([self.bodies["flood"]]) for _ in range(FLOODING)),
            *(self._kept_alive(MALFORMED) for _ in range(MALFORMED_LOOPS)),
            *(self._kept_alive([self.bodies["large"]], pause=0.5) for _ in range(LARGE_LOOPS)),
            *(self._abandon() for _ in range(ABANDONING)),
            *(self._half_open() for _ in range(HALF_OPEN)),
            *(self._trickle() for _ in range(TRICKLING)),
        )


def _main(host: str, model: str, stop: Event, results: Any) -> None:  # noqa: ANN401 - a multiprocessing queue
    run = _Run(host, model, stop)
    asyncio.run(run.run())
    results.put(dict(run.statuses))


class HostileTraffic:
    """`with HostileTraffic(host, model) as traffic:` runs the background; `traffic.statuses` afterwards counts the
    answers (by status) and closed or abandoned connections."""

    def __init__(self, host: str, model: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        self._process = context.Process(target=_main, args=(host, model, self._stop, self._results), daemon=True)
        self.statuses: dict[str, int] = {}

    def __enter__(self) -> HostileTraffic:
        self._process.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.statuses = self._results.get(timeout=90)
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
