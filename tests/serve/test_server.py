"""The OpenAI-compatible server on a real socket, used through the official `openai` client:
model list, chat (plain and streamed), answers equal to evaluation's, OpenAI-shaped errors,
registry promote/rollback followed live, in-flight requests kept on their version, limits."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from adapter_helpers import BUILTIN
from serve_helpers import start_server, workspace_with_adapters

from expertune.llm.base import GenParams

pytestmark = pytest.mark.integration

QUESTION = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is an offer in contract law?"}]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ws = workspace_with_adapters(tmp_path_factory.mktemp("serve"))
    server, url = start_server(ws, poll_interval=0.1)
    yield ws, server, url
    server.close()


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served[2] + "/v1", api_key="unused", max_retries=0)


def eval_answer(ws, ref: str | None, conversation, max_tokens: int) -> str:
    """What evaluation generates: LocalChatModel.generate, greedy."""
    from expertune.store.adapters import resolve_adapter
    from expertune.llm.local import LocalChatModel

    model = LocalChatModel(BUILTIN, adapter_info=resolve_adapter(ws, ref) if ref else None)
    return model.generate([conversation], GenParams(temperature=0, max_new_tokens=max_tokens))[0].text


def wait_until(predicate, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def served_version(client, name: str) -> str:
    return next(m for m in client.models.list().data if m.id == name).root


def test_model_list_names_base_adapter_and_version(client):
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == BUILTIN and "tiny" in ids and "tiny@2" in ids
    assert served_version(client, "tiny") == "tiny@2"
    assert client.models.retrieve("tiny@2").id == "tiny@2"


def test_served_greedy_answers_equal_evaluation(served, client):
    ws = served[0]
    for model, ref in ((BUILTIN, None), ("tiny", "tiny@2")):
        out = client.chat.completions.create(model=model, messages=QUESTION, temperature=0, max_tokens=24)
        assert out.choices[0].message.content == eval_answer(ws, ref, QUESTION, 24)
        assert out.model == (BUILTIN if ref is None else "tiny@2")
        assert out.usage.completion_tokens >= 1 and out.usage.prompt_tokens > 10


def test_streaming_gives_the_same_text_in_pieces(client):
    plain = client.chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=20)
    chunks = list(client.chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=20,
                                                 stream=True, stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 3  # really streamed, not one blob
    assert "".join(pieces) == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == plain.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_sampling_parameters_seed_n_and_stop(client):
    ask = dict(model=BUILTIN, messages=QUESTION, temperature=0.9, top_p=0.9, max_tokens=12, seed=5, n=2)
    first, again = client.chat.completions.create(**ask), client.chat.completions.create(**ask)
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert len(first.choices) == 2 and [c.index for c in first.choices] == [0, 1]
    full = client.chat.completions.create(model=BUILTIN, messages=QUESTION, temperature=0, max_tokens=24).choices[0].message.content
    word = full.split()[3]
    cut = client.chat.completions.create(model=BUILTIN, messages=QUESTION, temperature=0, max_tokens=24, stop=[word])
    assert cut.choices[0].finish_reason == "stop" and cut.choices[0].message.content == full[: full.index(word)]
    streamed = client.chat.completions.create(model=BUILTIN, messages=QUESTION, temperature=0, max_tokens=24, stop=word,
                                              stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == full[: full.index(word)]


def test_errors_come_in_the_openai_shape(served, client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=QUESTION)
    assert err.value.code == "model_not_found" and "tiny" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=QUESTION, temperature=5)
    assert err.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=100_000)
    assert err.value.param == "max_tokens"
    big = httpx.post(served[2] + "/v1/chat/completions", content=b"x" * 1_100_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
    bad = httpx.post(served[2] + "/v1/chat/completions", content=b"{not json")
    assert bad.status_code == 400 and set(bad.json()["error"]) == {"message", "type", "param", "code"}


def test_promote_and_rollback_are_followed_live(served, client):
    from expertune.store.adapters import promote, rollback

    ws = served[0]
    promote(ws, "tiny@1")
    wait_until(lambda: served_version(client, "tiny") == "tiny@1")
    out = client.chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=12)
    assert out.model == "tiny@1" and out.choices[0].message.content == eval_answer(ws, "tiny@1", QUESTION, 12)
    rollback(ws, "tiny")
    wait_until(lambda: served_version(client, "tiny") == "tiny@2")
    assert client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=4).model == "tiny@2"
    assert client.chat.completions.create(model="tiny@1", messages=QUESTION, max_tokens=4).model == "tiny@1"


def test_a_request_in_flight_finishes_on_the_version_it_started_with(served, client):
    from expertune.store.adapters import promote

    ws = served[0]
    stream = client.chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=40, stream=True)
    chunks = [next(stream)]
    promote(ws, "tiny@1")
    try:
        wait_until(lambda: served_version(client, "tiny") == "tiny@1")
        chunks += list(stream)
    finally:
        promote(ws, "tiny@2")
        wait_until(lambda: served_version(client, "tiny") == "tiny@2")
    assert {c.model for c in chunks} == {"tiny@2"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == eval_answer(ws, "tiny@2", QUESTION, 40)


def test_full_queue_answers_429_with_retry_after(served, client):
    engine = served[1].engine
    saved = engine.max_batch, engine.max_queue
    engine.max_batch, engine.max_queue = 1, 1
    try:
        busy = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=300, stream=True, seed=1)
        next(busy)  # it holds the only place in the batch
        with httpx.Client(base_url=served[2], timeout=60) as http:
            with http.stream("POST", "/v1/chat/completions", json={"model": "tiny", "messages": QUESTION, "max_tokens": 2,
                                                                    "stream": True}):
                wait_until(lambda: engine.queue_depth() == 1)  # the second waits in the queue
                with pytest.raises(openai.RateLimitError) as err:  # and the third finds it full
                    client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=2)
        assert int(err.value.response.headers["retry-after"]) >= 1
        assert err.value.code == "rate_limit_exceeded"
        busy.close()
    finally:
        engine.max_batch, engine.max_queue = saved


def _has_text(line: str) -> bool:
    return line.startswith("data: {") and bool(json.loads(line[6:])["choices"][0]["delta"].get("content"))


def test_a_client_that_disconnects_cancels_its_generation(served):
    engine, metrics = served[1].engine, served[1].metrics
    before = metrics.tokens._value.get()
    with httpx.Client(base_url=served[2], timeout=60) as http:
        # min_tokens (vLLM's extension) keeps it from stopping by itself before 1000 tokens
        with http.stream("POST", "/v1/chat/completions", json={"model": "tiny", "messages": QUESTION, "max_tokens": 1000,
                                                               "min_tokens": 1000, "stream": True}) as response:
            lines = response.iter_lines()
            while not _has_text(next(lines)):  # wait for the first token
                pass
            assert engine.active() == 1
    wait_until(lambda: engine.active() == 0)
    assert metrics.tokens._value.get() - before < 1000  # cancelled, not run to its end
    text = httpx.get(served[2] + "/metrics").text
    assert 'expertune_requests_total{model="tiny",status="200"}' in text


def test_timeout_ends_the_request(served, client):
    config = served[1].config
    saved, config.request_timeout = config.request_timeout, 1e-3
    try:
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=200)
        assert err.value.status_code == 504 and err.value.code == "timeout"
    finally:
        config.request_timeout = saved


def test_health_and_prometheus_metrics(served, client):
    from prometheus_client.parser import text_string_to_metric_families

    client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=3)
    health = httpx.get(served[2] + "/health").json()
    assert health["status"] == "ok" and "tiny@2" in health["models"]
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(served[2] + "/metrics").text)}
    for name in ("expertune_requests", "expertune_errors", "expertune_queue_depth", "expertune_active_rows",
                 "expertune_request_latency_seconds", "expertune_time_to_first_token_seconds",
                 "expertune_generated_tokens", "expertune_tokens_per_second", "expertune_adapter_version"):
        assert name in families, name
    versions = {s.labels["name"]: s.value for s in families["expertune_adapter_version"].samples}
    assert versions == {"tiny": 2.0}
    assert sum(s.value for s in families["expertune_generated_tokens"].samples if s.name.endswith("_total")) >= 3
