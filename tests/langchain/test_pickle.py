"""Both framework classes pickle (multiprocessing, caches): options survive, the copy builds its own clients."""

from __future__ import annotations

import pickle

import pytest

from aleph_embed_langchain import AlephAlphaEmbeddings
from aleph_embed_llamaindex import AlephAlphaEmbedding


@pytest.mark.parametrize(
    "embedding",
    [
        AlephAlphaEmbeddings(model="m", host="http://127.0.0.1:9", token="secret", layer=2, pooling="max"),
        AlephAlphaEmbedding(model_name="m", host="http://127.0.0.1:9", token="secret", layer=2, pooling="max"),
    ],
    ids=["langchain", "llamaindex"],
)
def test_pickle_keeps_options_and_builds_new_clients(embedding, caplog: pytest.LogCaptureFixture) -> None:
    original_client = embedding.client
    copy = pickle.loads(pickle.dumps(embedding))
    assert (copy.layer, copy.pooling, copy.host) == (2, "max", "http://127.0.0.1:9")
    assert copy.token is not None and copy.token.get_secret_value() == "secret"
    assert copy.client is not original_client and copy.client.host == original_client.host
    assert "unpickleable" not in caplog.text
