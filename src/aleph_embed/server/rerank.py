"""The rerank model task: a Hugging Face cross-encoder (sequence classification with one logit) on `POST /rerank`.

`--model 'NAME=PATH;task=rerank'` serves it. Each (query, document) pair is tokenized as the model was trained (the
tokenizer's pair encoding, token type ids included, truncated `longest_first` to the context, as
`sentence_transformers.CrossEncoder` does) and is one batcher job, so a call's pairs share the length-sorted passes
with every other request; `relevance_score` is the sigmoid of the logit, `CrossEncoder.predict`'s default for one
label. Runs on torch.

The request is the client's `RerankRequest` plus the server's `return_text`; the answer is the client's
`RerankResponse`, refusing any field it lacks (as the other endpoints' answers are), plus each result's `document`
when `return_text` asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ..models import RerankRequest, RerankResponse, RerankResult, RerankUsage
from .errors import ModelLoadError
from .prompts import PromptEncoder
from .served import ModelEntry, ModelSettings, ServedTokenizer
from .torch_backend import TORCH_PASS, TORCH_PASS_COST_TOKENS

MAX_RERANK_DOCUMENTS = 1000
"""The most documents one `/rerank` call takes."""
_UNBOUNDED_CONTEXT = 1_000_000
_STRICT = ConfigDict(extra="forbid")


class RerankCall(RerankRequest):
    """A `POST /rerank` request as the clients send it; `return_text` (this server's) adds each document's text to
    its result."""

    return_text: bool = False


class RerankDocument(BaseModel):
    model_config = _STRICT

    text: str


class RerankResultAnswer(RerankResult):
    """One scored document of the server's answer, its text when `return_text` asked for it."""

    model_config = _STRICT

    document: RerankDocument | None = None


class RerankUsageAnswer(RerankUsage):
    """As the real API reports it: the pairs' tokens in `total_tokens` (`prompt_tokens` and `completion_tokens` 0)."""

    model_config = _STRICT


class RerankAnswer(RerankResponse):
    """The server's `/rerank` answer: the client's `RerankResponse`, refusing any field it lacks; results best first."""

    model_config = _STRICT

    results: list[RerankResultAnswer]  # type: ignore[assignment]  # the client's results, strict (list is invariant)
    usage: RerankUsageAnswer


@dataclass(frozen=True)
class PairJob:
    """One (query, document) pair, tokenized: ids and token type ids, special tokens included."""

    ids: list[int]
    type_ids: list[int]

    @property
    def num_tokens(self) -> int:
        return len(self.ids)


class RerankEngine:
    """A cross-encoder served under `name` for `/rerank` (it answers no embedding endpoint)."""

    task = "rerank"
    pass_cost_tokens = TORCH_PASS_COST_TOKENS

    def __init__(self, name: str, path: str | Path, device: torch.device) -> None:
        self.name, self.path, self.device = name, Path(path), device
        if not (self.path / "config.json").is_file():
            raise ModelLoadError(f"--model {name}={path}: not a Hugging Face model directory (it has no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModelForSequenceClassification.from_pretrained(self.path).to(device).eval()
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"--model {name}={path}: cannot load it as a cross-encoder: {error}") from error
        if self.model.config.num_labels != 1:
            raise ModelLoadError(f"--model {name}={path};task=rerank: a cross-encoder has one logit, this model has "
                                 f"{self.model.config.num_labels} labels")
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        vocab_size = min(self.model.get_input_embeddings().num_embeddings, len(self.tokenizer))
        sizes = [self.model.config.max_position_embeddings, self.tokenizer.model_max_length]
        context = min(size for size in sizes if isinstance(size, int) and 0 < size < _UNBOUNDED_CONTEXT)
        self.tokens = ServedTokenizer(self.tokenizer, name, vocab_size)
        self.encoder = PromptEncoder(self.tokenizer, name, vocab_size, context)

    @property
    def max_context(self) -> int:
        return self.encoder.max_context

    def info(self) -> ModelEntry:
        """This model's entry in `GET /models_available`."""
        return ModelEntry.of(self.name, f"{self.model.config.model_type} cross-encoder (rerank) served locally from "
                             f"{self.path}", self.max_context)

    def settings(self) -> ModelSettings:
        """This model's entry in `GET /model-settings`: it embeds nothing."""
        return ModelSettings(name=self.name, status="available", max_context_size=self.max_context,
                             embedding_type="none")

    def prepare(self, body: RerankCall) -> list[PairJob]:
        """The pairs of the call, tokenized (raises ServerError for text far beyond the context)."""
        jobs = []
        for document in body.documents:
            self.encoder.check_characters(len(body.query) + len(document))
            encoded = self.tokenizer(body.query, document, truncation="longest_first", max_length=self.max_context)
            ids = encoded["input_ids"]
            jobs.append(PairJob(ids, encoded.get("token_type_ids") or [0] * len(ids)))
        return jobs

    @torch.inference_mode()
    def run(self, jobs: Sequence[PairJob]) -> list[float]:
        """One padded pass: the relevance score (sigmoid of the logit) of each pair."""
        length = max(job.num_tokens for job in jobs)
        ids = torch.full((len(jobs), length), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(jobs), length), dtype=torch.long)
        mask = torch.zeros((len(jobs), length), dtype=torch.long)
        for row, job in enumerate(jobs):
            ids[row, : job.num_tokens] = torch.tensor(job.ids)
            types[row, : job.num_tokens] = torch.tensor(job.type_ids)
            mask[row, : job.num_tokens] = 1
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.tokenizer.model_input_names:
            inputs["token_type_ids"] = types
        with TORCH_PASS:
            logits = self.model(**{key: value.to(self.device) for key, value in inputs.items()}).logits
        return [float(score) for score in torch.sigmoid(logits[:, 0].float()).cpu()]

    @staticmethod
    def answer(body: RerankCall, jobs: Sequence[PairJob], scores: Sequence[float]) -> RerankAnswer:
        """The scores best first (ties in document order), `top_n` of them, with the pairs' tokens as usage."""
        order = sorted(range(len(scores)), key=lambda index: -scores[index])[: body.top_n]
        return RerankAnswer(
            results=[
                RerankResultAnswer(index=index, relevance_score=scores[index],
                             document=RerankDocument(text=body.documents[index]) if body.return_text else None)
                for index in order
            ],
            usage=RerankUsageAnswer(total_tokens=sum(job.num_tokens for job in jobs)),
        )

