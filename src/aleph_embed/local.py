"""Where calls go when no host is configured: the configured host, or a local server (for the duration, or the
CLI's shared one); and which model, when none is named: the only one the host serves."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .config import ENV_HOST, NO_MODEL_MESSAGE, resolve_host, resolve_model, resolve_token, server_idle_timeout
from .errors import AlephEmbedError, AuthenticationError, ConfigurationError, MissingExtraError
from .shared_host import SERVER_MODULES, shared_endpoint


@contextmanager
def embedding_endpoint(
    host: str | None = None, token: str | None = None, model: str | None = None, *, model_option: str = "model=...",
    shared: bool = False,
) -> Iterator[tuple[str, str | None, str]]:
    """Yield (host, token, model), each from the argument or the environment; with no model, the host's only one.
    With no host and no `AA_HOST`, use the local server (extra `[server]`) and its default model unless one is
    given: started for the duration, or, with `shared` (the CLI) and `AA_SERVER_IDLE` not 0, the shared server
    that stays up between commands (`aleph_embed.server.shared`)."""
    host, token, model = resolve_host(host), resolve_token(token), resolve_model(model)
    if host:
        yield host, token, model or served_model(host, token, model_option)
        return
    MissingExtraError.check(f"the local /embed server (used when no host and no {ENV_HOST} is given)", "server",
                            *SERVER_MODULES)
    if shared and server_idle_timeout():
        host, token, served = shared_endpoint()
        yield host, token, model or served
        return
    from .server.launcher import LocalServer

    print(f"aleph-embed: no host or {ENV_HOST}; starting the local /embed server ...", file=sys.stderr)
    with LocalServer() as local:
        print(f"aleph-embed: local server at {local.host} serving {local.default_model}", file=sys.stderr)
        yield local.host, local.token, model or local.default_model


def served_model(host: str, token: str | None, model_option: str) -> str:
    """The model of a host that serves exactly one; `ConfigurationError` naming the choice otherwise."""
    from .client import EmbedClient

    try:
        with EmbedClient(host, token, max_retries=1) as client:
            names = sorted(info.name for info in client.models_available())
    except AuthenticationError:
        raise  # a wrong token, not a missing model
    except AlephEmbedError as error:
        raise ConfigurationError(
            f"{NO_MODEL_MESSAGE.format(argument=model_option)}; asking the host failed ({error})"
        ) from None
    if len(names) != 1:
        raise ConfigurationError(f"{NO_MODEL_MESSAGE.format(argument=model_option)}; the host serves: "
                                 f"{', '.join(names) or 'none'}")
    return names[0]
