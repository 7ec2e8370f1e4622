"""The semantic endpoints of the local server: `/semantic_embed`, `/batch_semantic_embed`, `/instructable_embed` and
`/embeddings`, on top of the `/embed` engine.

A model's semantic vector is the L2-normalised mean of its last layer (what sentence-transformers models such as
all-MiniLM-L6-v2 are trained for); the model's `ModelSpec` adds its query/document prefixes, instruction template,
128-dimensional projection and whether vectors may be shortened. The prompts of one call join the batcher's
length-sorted passes beside `/embed`'s requests (passes of at most `--max-batch-tokens` padded tokens).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import ConfigDict

from ..models import (
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    ControlledRequest,
    EmbeddingsData,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbeddingsUsage,
    EmbedRequest,
    InstructableEmbedRequest,
    InstructableEmbedResponse,
    Prompt,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
    Text,
    TokenIds,
    encode_base64_floats,
)
from .config import ModelSpec
from .engine import EmbedAnswer, Job, ModelEngine
from .errors import ModelLoadError, ServerError

MAX_EMBEDDINGS_INPUTS = 2048
"""The most inputs one `/embeddings` call takes (OpenAI's limit)."""
_STRICT = ConfigDict(extra="forbid")


class SemanticAnswer(SemanticEmbedResponse):
    """The server's `/semantic_embed` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class BatchSemanticAnswer(BatchSemanticEmbedResponse):
    """The server's `/batch_semantic_embed` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class InstructableAnswer(InstructableEmbedResponse):
    """The server's `/instructable_embed` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class EmbeddingsAnswer(EmbeddingsResponse):
    """The server's `/embeddings` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class SemanticModel:
    """One served model's semantic vectors: its prompts as `/embed` jobs, and the vectors from their answers."""

    def __init__(self, engine: ModelEngine, spec: ModelSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.projection = _load_projection(spec, engine) if spec.projection else None

    def jobs(self, request: ControlledRequest, prompts: Sequence[Prompt], before: str = "", after: str = "") -> list[Job]:
        """The jobs of `prompts` with `before` / `after` around each (raises ServerError)."""
        return [
            self.engine.prepare(EmbedRequest(
                model=request.model, prompt=_around(prompt, before, after), layers=[-1], pooling=["mean"],
                normalize=True, control_log_additive=request.control_log_additive,
                contextual_control_threshold=request.contextual_control_threshold,
            ))
            for prompt in prompts
        ]

    def semantic_prefix(self, representation: str) -> str:
        return {"query": self.spec.query_prefix, "document": self.spec.document_prefix}.get(representation, "")

    def instruction_parts(self, instruction: str) -> tuple[str, str]:
        before, after = self.spec.instruction_template.split("{input}")
        return before.format(instruction=instruction), after.format(instruction=instruction)

    def check_compression(self, compress_to_size: int | None) -> None:
        if compress_to_size is not None and self.projection is None:
            raise ServerError(
                f"compress_to_size {compress_to_size}: {self.engine.name!r} has no such projection here; leave "
                f"compress_to_size out for its full {self.engine.model.config.hidden_size}-dimensional vectors"
                + (", or use /embeddings with dimensions" if self.spec.matryoshka else "")
            )

    def check_dimensions(self, dimensions: int | None) -> None:
        size = self.engine.model.config.hidden_size
        if dimensions is None or dimensions == size:
            return
        if not self.spec.matryoshka:
            raise ServerError(
                f"dimensions {dimensions}: {self.engine.name!r} does not support shortened vectors; leave dimensions "
                f"out for its {size}-dimensional vectors"
            )
        if dimensions > size:
            raise ServerError(f"dimensions {dimensions}: {self.engine.name!r} has {size} dimensions at most")

    def vectors(
        self, answers: Sequence[EmbedAnswer], *, normalize: bool, compress: bool = False, dimensions: int | None = None
    ) -> list[list[float]]:
        """The semantic vectors of the answers: projected, shortened and normalised as asked."""
        vectors = torch.tensor([answer.vector(-1, "mean") for answer in answers])
        if compress and self.projection is not None:
            vectors = vectors @ self.projection
        if dimensions is not None:
            vectors = vectors[:, :dimensions]
        if normalize or dimensions is not None:
            vectors = F.normalize(vectors, dim=-1)
        return list(vectors.tolist())


def _around(prompt: Prompt, before: str, after: str) -> Prompt:
    if isinstance(prompt, str):
        return before + prompt + after
    return [*([Text(before)] if before else []), *prompt, *([Text(after)] if after else [])]


def _load_projection(spec: ModelSpec, engine: ModelEngine) -> torch.Tensor:
    matrix = torch.load(str(spec.projection), weights_only=True).float()
    hidden = engine.model.config.hidden_size
    if matrix.shape == (128, hidden):
        matrix = matrix.T
    if matrix.shape != (hidden, 128):
        raise ModelLoadError(f"projection {spec.projection}: expected a [{hidden}, 128] matrix, got {list(matrix.shape)}")
    return matrix


Submit = Callable[[str, list[Job], bool], Awaitable[list[EmbedAnswer]]]  # the batcher's submit_many
OffLoop = Callable[..., Awaitable[Any]]  # async (work, *args) -> work(*args), run in the server's prepare pool


class SemanticEndpoints:
    """The answers of the semantic endpoints, computed through `submit` (the server's batcher); tokenizing runs
    through `off_loop` (the bounded prepare pool), never on the event loop."""

    def __init__(
        self, engines: Mapping[str, ModelEngine], specs: Mapping[str, ModelSpec], submit: Submit, off_loop: OffLoop
    ) -> None:
        self.models = {name: SemanticModel(engine, specs.get(name) or ModelSpec(path="")) for name, engine in engines.items()}
        self.submit = submit
        self.off_loop = off_loop

    async def _run(self, model: SemanticModel, jobs: list[Job], nice: bool) -> list[EmbedAnswer]:
        return await self.submit(model.engine.name, jobs, nice)

    async def semantic(self, model: SemanticModel, body: SemanticEmbedRequest, nice: bool) -> SemanticAnswer:
        model.check_compression(body.compress_to_size)
        group = await self.off_loop(model.jobs, body, [body.prompt], model.semantic_prefix(body.representation))
        answers = await self._run(model, group, nice)
        (vector,) = model.vectors(answers, normalize=body.normalize, compress=body.compress_to_size is not None)
        return SemanticAnswer(model_version=answers[0].model_version, embedding=vector,
                              num_tokens_prompt_total=group[0].num_tokens)

    async def batch_semantic(self, model: SemanticModel, body: BatchSemanticEmbedRequest, nice: bool) -> BatchSemanticAnswer:
        model.check_compression(body.compress_to_size)
        group = await self.off_loop(model.jobs, body, body.prompts, model.semantic_prefix(body.representation))
        answers = await self._run(model, group, nice)
        return BatchSemanticAnswer(
            model_version=answers[0].model_version,
            embeddings=model.vectors(answers, normalize=body.normalize, compress=body.compress_to_size is not None),
            num_tokens_prompt_total=sum(job.num_tokens for job in group),
        )

    async def instructable(self, model: SemanticModel, body: InstructableEmbedRequest, nice: bool) -> InstructableAnswer:
        group = await self.off_loop(model.jobs, body, [body.input], *model.instruction_parts(body.instruction))
        answers = await self._run(model, group, nice)
        (vector,) = model.vectors(answers, normalize=body.normalize)
        return InstructableAnswer(model_version=answers[0].model_version, embedding=vector,
                                  num_tokens_prompt_total=group[0].num_tokens)

    async def embeddings(self, model: SemanticModel, body: EmbeddingsRequest, nice: bool) -> EmbeddingsAnswer:
        prompts = _embeddings_prompts(body)
        model.check_dimensions(body.dimensions)
        group = await self.off_loop(model.jobs, ControlledRequest(model=body.model), prompts)
        vectors = model.vectors(await self._run(model, group, nice), normalize=True, dimensions=body.dimensions)
        tokens = sum(job.num_tokens for job in group)
        encode = body.encoding_format == "base64"
        return EmbeddingsAnswer(
            data=[EmbeddingsData(embedding=encode_base64_floats(v) if encode else v, index=i) for i, v in enumerate(vectors)],
            model=body.model, usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens),
        )


def _embeddings_prompts(body: EmbeddingsRequest) -> list[Prompt]:
    value = body.input
    if isinstance(value, str):
        return [value]
    if isinstance(value[0], int):
        return [[TokenIds(list(value))]]
    return [item if isinstance(item, str) else [TokenIds(list(item))] for item in value]

