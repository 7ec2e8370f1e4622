"""Size limits of a request, checked before any expensive step (tokenizing, control factors, the forward pass)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from ..models import MAX_BATCH_PROMPTS
from .config import ServerConfig, _flag
from .endpoints import MAX_EMBEDDINGS_INPUTS
from .guard import LOG_BURST, LOG_PERIOD
from .errors import ServerError
from .prompts import MAX_CHARS_PER_TOKEN
from .rerank import MAX_RERANK_DOCUMENTS


@dataclass(frozen=True)
class RequestLimits:
    """Prompt items per request, controls per item, entries of `layers`. Token ids are checked against the model's
    context by the prompt encoder before it tokenizes anything; `pooling` needs no limit: repeats are dropped when
    the request is read, leaving at most the five poolings."""

    max_prompt_items: int
    max_controls: int
    max_layers: int
    max_tokenizer_length: int

    @classmethod
    def of(cls, config: ServerConfig) -> RequestLimits:
        return cls(config.max_prompt_items, config.max_controls, config.max_layers, config.max_tokenizer_length)

    def check_tokenizer(self, body: Any) -> None:  # noqa: ANN401 - parsed JSON, not validated yet
        """Raise ServerError (400) when a `/tokenize` prompt or the token ids of a `/detokenize` call are longer
        than `--max-tokenizer-length` (checked on the quick parse, before validation, tokenizing or decoding)."""
        if not isinstance(body, dict):
            return
        for field, what in (("prompt", "characters"), ("token_ids", "token ids")):
            value = body.get(field)
            if isinstance(value, (str, list)) and len(value) > self.max_tokenizer_length:
                raise ServerError(f"{field} has {len(value)} {what}, more than {self.max_tokenizer_length} "
                                  "(--max-tokenizer-length)")

    def check(self, body: Any) -> None:  # noqa: ANN401 - parsed JSON, not validated yet
        """Raise ServerError (400) when the parsed JSON `body` of an embedding request (any endpoint) is larger than
        these limits allow. It runs before the body is validated (a hundred thousand controls would take the validator
        a second), so it only counts, whatever the shapes; the validator judges them next."""
        if not isinstance(body, dict):
            return
        prompts, inputs, layers = body.get("prompts"), body.get("input"), body.get("layers")
        documents = body.get("documents")
        if isinstance(documents, list) and len(documents) > MAX_RERANK_DOCUMENTS:
            raise ServerError(f"documents: {len(documents)} documents; send at most {MAX_RERANK_DOCUMENTS} per call")
        if isinstance(prompts, list) and len(prompts) > MAX_BATCH_PROMPTS:
            raise ServerError(f"prompts: {len(prompts)} prompts; send at most {MAX_BATCH_PROMPTS} per call")
        inputs = inputs if isinstance(inputs, list) else []
        first = inputs[0] if inputs else None
        if isinstance(first, (str, list)) and len(inputs) > MAX_EMBEDDINGS_INPUTS:  # /embeddings: texts or id lists
            raise ServerError(f"input: {len(inputs)} inputs; send at most {MAX_EMBEDDINGS_INPUTS} per call")
        items = [body.get("prompt"), inputs if isinstance(first, dict) else None]  # /instructable_embed: a prompt
        for prompt in items + (prompts if isinstance(prompts, list) else []):
            self._check_prompt(prompt if isinstance(prompt, list) else [])
        if isinstance(layers, list) and len(layers) > self.max_layers:
            raise ServerError(f"layers has {len(layers)} entries, more than {self.max_layers} (--max-layers)")

    def _check_prompt(self, items: list[Any]) -> None:
        if len(items) > self.max_prompt_items:
            raise ServerError(f"prompt has {len(items)} items, more than {self.max_prompt_items} (--max-prompt-items)")
        for index, item in enumerate(items):
            controls = item.get("controls") if isinstance(item, dict) else None
            if isinstance(controls, list) and len(controls) > self.max_controls:
                raise ServerError(
                    f"prompt[{index}] has {len(controls)} controls, more than {self.max_controls} (--max-controls)"
                )


FIXED_LIMITS = (
    ("characters of text per prompt", f"{MAX_CHARS_PER_TOKEN} per token of the model's context",
     "more get 400 before tokenizing"),
    ("prompts per /batch_semantic_embed call", str(MAX_BATCH_PROMPTS), "more get 400"),
    ("inputs per /embeddings call", str(MAX_EMBEDDINGS_INPUTS), "more get 400"),
    ("documents per /rerank call", str(MAX_RERANK_DOCUMENTS), "more get 400"),
    ("log lines of one kind", f"{LOG_BURST} per {LOG_PERIOD:g} s", "the rest are counted in the next line"),
)
"""Limits without a flag: (what, limit, beyond it)."""


def limits_table() -> str:
    """Every limit as a Markdown table: the `ServerConfig` options marked `limit` (flag, default, what it bounds),
    then the fixed ones. SECURITY.md holds it; a test compares the two, so neither drifts."""
    defaults = ServerConfig()
    rows = ["| Limit | Flag | Default | What it bounds, and what happens beyond it |", "|---|---|---|---|"]
    for spec in fields(ServerConfig):
        option = spec.metadata["option"]
        if option.limit:
            what = re.sub(r"\s*\(default: %\(default\)s\)", "", option.help)
            rows.append(f"| {spec.name} | `{_flag(spec.name, option)}` | {getattr(defaults, spec.name)} | {what} |")
    rows += [f"| {what} | (fixed) | {limit} | {beyond} |" for what, limit, beyond in FIXED_LIMITS]
    return "\n".join(rows) + "\n"
