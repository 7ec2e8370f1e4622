"""One sync/async bridge: call either client from a coroutine, and run a coroutine from blocking code.

```python
from aleph_embed.bridge import call, blocking

vectors = await call(embedder, "embed_texts", texts, settings)  # EmbedClient in a worker thread, AsyncEmbedClient awaited
evaluate = blocking(aevaluate)                                     # the blocking twin, refused inside a running loop
```
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from .client import AsyncEmbedClient
from .errors import ConfigurationError

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = ["blocking", "call", "is_async", "run_blocking"]


def is_async(embedder: object) -> bool:
    """Whether `embedder`'s methods are coroutine functions (an `AsyncEmbedClient` or anything shaped like one)."""
    return isinstance(embedder, AsyncEmbedClient)


async def call(embedder: object, method: str, /, *args: Any, **kwargs: Any) -> Any:
    """`embedder.method(*args, **kwargs)` from a coroutine: awaited on an async client, in a worker thread on a sync
    one (so the event loop keeps running while it blocks)."""
    bound = getattr(embedder, method)
    if is_async(embedder):
        return await bound(*args, **kwargs)
    return await asyncio.to_thread(functools.partial(bound, *args, **kwargs))


def run_blocking(coroutine: Coroutine[Any, Any, _R], *, name: str, instead: str | None = None) -> _R:
    """Run `coroutine` to its end from blocking code; inside a running event loop it is closed unawaited and
    `ConfigurationError` names what to call instead (`instead`, default `await a{name}(...)`)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)  # no loop running: the usual case
    coroutine.close()
    raise ConfigurationError(f"{name}() was called inside a running event loop: use `{instead or f'await a{name}(...)'}`")


def blocking(coroutine_function: Callable[_P, Coroutine[Any, Any, _R]]) -> Callable[_P, _R]:
    """The blocking twin of an `a...` coroutine function (same signature, same docstring)."""
    name = coroutine_function.__name__.removeprefix("a")

    @functools.wraps(coroutine_function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return run_blocking(coroutine_function(*args, **kwargs), name=name)

    run.__name__ = run.__qualname__ = name
    return run
