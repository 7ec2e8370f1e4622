"""`AlephAlphaRanker` over HTTP against a loopback `/rerank` that scores by shared words (the local server's rerank
model is the server's own test; here: what the component sends, and what it makes of the answers)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from haystack import Document, Pipeline

from aleph_embed.server.launcher import LOOPBACK
from haystack_integrations.components.rankers.aleph_alpha import AlephAlphaRanker

DOCUMENTS = [
    "The Eiffel Tower is in Paris.",
    "Plants make sugar from light.",
    "Paris is the capital of France and has the Eiffel Tower.",
    "Mount Everest is the highest mountain.",
]


def _score(query: str, text: str) -> float:
    words = set(query.lower().rstrip("?").split())
    return len(words & set(text.lower().rstrip(".").split())) / len(words)


class RerankServer:
    """Answers `POST /rerank` as the API does (best first, `top_n`, usage); `bodies` holds the requests."""

    def __init__(self) -> None:
        server = self
        self.bodies: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                server.bodies.append(body)
                query, documents = body["query"], body["documents"]
                scored = sorted(
                    ({"index": i, "relevance_score": _score(query, d)} for i, d in enumerate(documents)),
                    key=lambda result: -result["relevance_score"],
                )[: body.get("top_n") or None]
                answer = json.dumps({"results": scored, "usage": {"total_tokens": 7}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.host = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[RerankServer]:
    running = RerankServer()
    monkeypatch.setenv("AA_HOST", running.host)
    monkeypatch.setenv("AA_TOKEN", "sk-ranker-secret")
    yield running
    running.close()


def _documents() -> list[Document]:
    return [Document(content=text, meta={"topic": f"topic {i}"}) for i, text in enumerate(DOCUMENTS)]


def test_the_best_come_back_best_first_with_their_scores(server: RerankServer) -> None:
    documents = _documents()
    ranked = AlephAlphaRanker("reranker", top_k=2).run("Where is the Eiffel Tower in Paris?", documents)["documents"]
    assert [d.content for d in ranked] == [DOCUMENTS[0], DOCUMENTS[2]]
    assert [d.score for d in ranked] == [_score("Where is the Eiffel Tower in Paris?", DOCUMENTS[i]) for i in (0, 2)]
    assert ranked[0].id == documents[0].id and documents[0].score is None  # copies; the inputs are left as they were
    assert server.bodies == [{"model": "reranker", "query": "Where is the Eiffel Tower in Paris?",
                              "documents": DOCUMENTS, "top_n": 2}]


def test_run_arguments_meta_fields_and_threshold(server: RerankServer) -> None:
    ranker = AlephAlphaRanker("reranker", meta_fields_to_embed=["topic"], meta_data_separator=": ", score_threshold=0.5)
    ranked = ranker.run("highest mountain", _documents(), top_k=3)["documents"]
    assert [d.content for d in ranked] == [DOCUMENTS[3]]  # the others score below 0.5
    assert server.bodies[0]["documents"][3] == f"topic 3: {DOCUMENTS[3]}" and server.bodies[0]["top_n"] == 3
    assert len(ranker.run("highest mountain", _documents(), score_threshold=0.0)["documents"]) == 4
    assert ranker.run("anything", [])["documents"] == []


async def test_run_async_ranks_as_run(server: RerankServer) -> None:
    ranker = AlephAlphaRanker("reranker")
    assert await ranker.run_async("plants sugar", _documents()) == ranker.run("plants sugar", _documents())


def test_any_number_of_documents(server: RerankServer) -> None:
    documents = [Document(content=f"word{i} filler") for i in range(150)] + [Document(content="needle in hay")]
    ranked = AlephAlphaRanker("reranker", top_k=1).run("needle", documents)["documents"]
    assert [d.content for d in ranked] == ["needle in hay"]
    assert sorted(len(body["documents"]) for body in server.bodies) == [51, 100]  # two calls in flight


def test_a_saved_ranker_has_no_token_and_loads_with_the_default_allowlist(server: RerankServer) -> None:
    pipeline = Pipeline()
    pipeline.add_component("ranker", AlephAlphaRanker("reranker", top_k=1, meta_fields_to_embed=["topic"]))
    saved = pipeline.dumps()
    assert "sk-ranker-secret" not in saved and "AA_TOKEN" in saved
    loaded = Pipeline.loads(saved)
    assert loaded.get_component("ranker").to_dict() == pipeline.get_component("ranker").to_dict()
    result = loaded.run({"ranker": {"query": "plants sugar", "documents": _documents()}})
    assert [d.content for d in result["ranker"]["documents"]] == [DOCUMENTS[1]]


def test_bad_input_is_a_clear_error(server: RerankServer) -> None:
    with pytest.raises(ValueError, match="top_k"):
        AlephAlphaRanker("reranker", top_k=0)
    with pytest.raises(TypeError, match="list of Documents"):
        AlephAlphaRanker("reranker").run("q", ["a string"])  # type: ignore[list-item]
