"""Proof that the server on a port is the one holding a token, without sending the token: `GET /identity?nonce=N`
answers `{"pid": P, "proof": HMAC-SHA256(token, N, the port the server accepted the call on, P)}`.

The port is in the proof, so a squatter on another port that relays the nonce to the real server gets a proof
for the wrong port; the pid is in it, so a caller can tell the process it may signal. Both sides live here
(no heavy imports): `IdentityProof` (ASGI middleware, server side) and `proves` (client side).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

IDENTITY_PATH = "/identity"
_NONCE = re.compile(r"[0-9a-f]{32,128}")
_MAX_ANSWER_BYTES = 4096


def proof(token: str, nonce: str, port: int, pid: int) -> str:
    """The answer to `nonce` of the server on `port` (process `pid`) holding `token`."""
    message = f"aleph-embed identity\0{nonce}\0{port}\0{pid}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


class IdentityProof:
    """ASGI middleware answering `GET /identity?nonce=<32-128 hex digits>` (no token needed: it proves, it reveals
    nothing); every other request goes to `app`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    @classmethod
    def wrap(cls, app: ASGIApp, token: str | None) -> ASGIApp:
        return app if token is None else cls(app, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != IDENTITY_PATH:
            await self.app(scope, receive, send)
            return
        nonce = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("nonce", [""])[0]
        server = scope.get("server") or (None, None)
        body: dict[str, object]
        if scope["method"] != "GET" or not _NONCE.fullmatch(nonce) or not isinstance(server[1], int):
            status, body = 400, {"error": "send GET /identity?nonce=<32 to 128 lowercase hex digits>",
                                 "code": "PAYLOAD_ERROR"}
        else:
            pid = os.getpid()
            status, body = 200, {"pid": pid, "proof": proof(self.token, nonce, server[1], pid)}
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


def proves(host: str, token: str, pid: int | None = None, timeout: float = 2.0) -> bool:
    """Whether the server at `host` (`http://127.0.0.1:PORT`) holds `token` (and, given `pid`, is that process),
    asked with a fresh nonce. The token is never sent; any failure, odd answer or wrong proof is False."""
    port = urlsplit(host).port
    nonce = secrets.token_hex(16)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as http, \
                http.stream("GET", f"{host}{IDENTITY_PATH}", params={"nonce": nonce}) as response:
            if response.status_code != 200:
                return False
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > _MAX_ANSWER_BYTES:
                    return False
        answer = json.loads(data)
        claimed, given = answer["pid"], answer["proof"]
    except (httpx.HTTPError, ValueError, TypeError, KeyError):
        return False
    if type(claimed) is not int or not isinstance(given, str) or port is None or (pid is not None and claimed != pid):
        return False
    return hmac.compare_digest(given.encode(), proof(token, nonce, port, claimed).encode())
