"""`EmbedClient` and `AsyncEmbedClient` stay twins: the same public methods with the same parameters, functions on
one side and coroutine functions on the other."""

from __future__ import annotations

import inspect

from aleph_embed import AsyncEmbedClient, EmbedClient

CLOSING = {"close": "aclose"}
"""Methods whose async twin has another name."""
CONSTRUCTOR_POOL = {"http_client": "http_async_client"}


def public_methods(cls: type) -> dict[str, object]:
    return {
        name: member for name, member in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")
    }


def test_the_same_public_methods() -> None:
    sync = {CLOSING.get(name, name) for name in public_methods(EmbedClient)}
    assert sync == set(public_methods(AsyncEmbedClient))


def test_sync_functions_and_async_coroutines_with_the_same_parameters() -> None:
    asynchronous = public_methods(AsyncEmbedClient)
    for name, method in public_methods(EmbedClient).items():
        twin = asynchronous[CLOSING.get(name, name)]
        assert not inspect.iscoroutinefunction(method), name
        assert inspect.iscoroutinefunction(twin), name
        assert inspect.signature(method).parameters == inspect.signature(twin).parameters, name  # type: ignore[arg-type]
        assert inspect.signature(method).return_annotation == inspect.signature(twin).return_annotation, name  # type: ignore[arg-type]


def test_context_managers_and_constructors_alike() -> None:
    assert hasattr(EmbedClient, "__enter__") and hasattr(AsyncEmbedClient, "__aenter__")
    sync = [CONSTRUCTOR_POOL.get(name, name) for name in inspect.signature(EmbedClient).parameters]
    assert sync == list(inspect.signature(AsyncEmbedClient).parameters)
    for name, parameter in inspect.signature(EmbedClient).parameters.items():
        twin = inspect.signature(AsyncEmbedClient).parameters[CONSTRUCTOR_POOL.get(name, name)]
        assert (parameter.kind, parameter.default) == (twin.kind, twin.default), name
