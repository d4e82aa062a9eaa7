"""The OpenAI-compatible backend against a local HTTP server: retries, Retry-After, malformed
bodies, non-retryable errors, concurrency, keys from the environment, generation."""

import asyncio
import json
import threading
import time

import pytest

from expertune.errors import ConfigError
from expertune.llm.base import GenParams
from expertune.llm.openai_compat import Endpoint, EndpointError, OpenAIChatModel, OpenAIEndpointClient
from expertune.llm.testing import FakeOpenAIServer, completion

MSG = [{"role": "user", "content": "hello"}]


def sequence(*replies):
    """A handler answering with the given replies in turn, then "ok"."""
    state = {"i": 0}

    def handler(body):
        i = state["i"]
        state["i"] += 1
        return replies[i] if i < len(replies) else "ok"

    return handler


def chat(endpoint, **kwargs):
    delays = []

    async def fake_sleep(seconds):
        delays.append(seconds)

    async def main():
        async with OpenAIEndpointClient(endpoint, sleep=fake_sleep) as client:
            return await client.chat(MSG, **kwargs)

    return asyncio.run(main()), delays


def test_429_and_5xx_are_retried_honouring_retry_after():
    with FakeOpenAIServer(sequence((429, {"retry-after": "2"}, b"{}"), (503, {}, b"{}"), (429, {"retry-after-ms": "1500"}, b"{}"))) as srv:
        result, delays = chat(Endpoint(srv.base_url, "m", max_attempts=5, backoff_base=0.01))
    assert result.text == "ok" and result.attempts == 4
    assert delays[0] >= 2.0  # the server's Retry-After is a floor
    assert delays[1] < 0.1  # plain exponential backoff (0.02 s with jitter)
    assert delays[2] >= 1.5
    assert len(srv.requests) == 4


def test_retry_after_as_http_date_and_a_bogus_value_is_capped():
    import email.utils

    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    with FakeOpenAIServer(sequence((429, {"retry-after": date}, b"{}"))) as srv:
        _, delays = chat(Endpoint(srv.base_url, "m", max_attempts=2, backoff_base=0.01, backoff_cap=10.0))
    assert 27 <= delays[0] <= 31  # an HTTP date is honoured too
    with FakeOpenAIServer(sequence((429, {"retry-after": "999999"}, b"{}"))) as srv:
        _, delays = chat(Endpoint(srv.base_url, "m", max_attempts=2, backoff_base=0.01, backoff_cap=1.0))
    assert delays[0] == 10.0  # capped at 10 x backoff_cap: a bogus header cannot stall a run for days


def test_malformed_bodies_are_retried():
    bad = [(200, {}, b"not json at all"), (200, {}, b'{"choices": []}'),
           (200, {}, json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]}).encode())]
    with FakeOpenAIServer(sequence(*bad)) as srv:
        result, _ = chat(Endpoint(srv.base_url, "m", max_attempts=4, backoff_base=0.001))
    assert result.text == "ok" and result.attempts == 4


def test_exhausted_attempts_and_client_errors():
    with FakeOpenAIServer(lambda body: (500, {}, b'{"error": {"message": "down"}}')) as srv:
        with pytest.raises(EndpointError) as err:
            chat(Endpoint(srv.base_url, "m", max_attempts=3, backoff_base=0.001))
        assert err.value.attempts == 3 and err.value.status == 500 and len(srv.requests) == 3
    with FakeOpenAIServer(lambda body: (400, {}, b'{"error": {"message": "bad request"}}')) as srv:
        with pytest.raises(EndpointError) as err:
            chat(Endpoint(srv.base_url, "m", max_attempts=3))
        assert not err.value.retryable and len(srv.requests) == 1  # a 400 does not fix itself


def test_request_carries_parameters_and_the_key_from_the_environment(monkeypatch):
    seen = {}

    class Handler:
        def __call__(self, body):
            seen.update(body)
            return "ok"

    monkeypatch.setenv("MY_TEST_KEY", "sk-abc")
    with FakeOpenAIServer(Handler()) as srv:
        chat(Endpoint(srv.base_url, "judge-1", api_key_env="MY_TEST_KEY", max_tokens_param="max_completion_tokens"),
             temperature=0.3, max_tokens=77, seed=5, response_format={"type": "json_object"})
    assert srv.headers[0]["authorization"] == "Bearer sk-abc"
    assert seen["model"] == "judge-1" and seen["temperature"] == 0.3 and seen["max_completion_tokens"] == 77
    assert seen["seed"] == 5 and seen["response_format"] == {"type": "json_object"}
    monkeypatch.delenv("MY_TEST_KEY")
    with pytest.raises(ConfigError, match="MY_TEST_KEY is not set"):
        Endpoint("http://127.0.0.1:9/v1", "m", api_key_env="MY_TEST_KEY").api_key()


def test_generate_runs_concurrently_within_the_limit_and_records_finish_reasons():
    state = {"now": 0, "peak": 0, "seen": 0}
    lock = threading.Lock()
    first_three = threading.Barrier(3, timeout=30)  # passes only if three requests are in flight at once

    def handler(body):
        with lock:
            state["now"] += 1
            state["seen"] += 1
            state["peak"] = max(state["peak"], state["now"])
            wait = state["seen"] <= 3
        if wait:
            first_three.wait()
        time.sleep(0.01)
        with lock:
            state["now"] -= 1
        text = body["messages"][-1]["content"]
        reason = "length" if "long" in text else "stop"
        return 200, {}, json.dumps(completion(f"echo {text} seed={body.get('seed')}", finish_reason=reason)).encode()

    convs = [[{"role": "user", "content": f"q{i}{' long' if i % 3 == 0 else ''}"}] for i in range(9)]
    with FakeOpenAIServer(handler) as srv:
        model = OpenAIChatModel(Endpoint(srv.base_url, "m", concurrency=3))
        gens = model.generate(convs, GenParams(temperature=0.7, max_new_tokens=20, seed=1), seeds=list(range(9)))
    assert state["peak"] == 3  # concurrent (the barrier needed three at once), never above the limit
    assert [g.text for g in gens] == [f"echo {c[0]['content']} seed={i}" for i, c in enumerate(convs)]
    assert [g.finish_reason for g in gens] == ["length" if i % 3 == 0 else "stop" for i in range(9)]
    assert gens[0].prompt_tokens == 100 and gens[0].completion_tokens == 20
    assert model.id == f"openai:{srv.base_url}|m"


def test_generate_reports_failures_as_error_generations():
    with FakeOpenAIServer(lambda body: (503, {}, b"{}")) as srv:
        gens = OpenAIChatModel(Endpoint(srv.base_url, "m", max_attempts=2, backoff_base=0.001)).generate(
            [MSG], GenParams(max_new_tokens=5))
    assert gens[0].finish_reason == "error" and "503" in gens[0].error


def test_the_endpoint_identity_covers_every_field_that_changes_answers():
    plain = Endpoint("http://127.0.0.1:9/v1/", "m")
    assert plain.id == "openai:http://127.0.0.1:9/v1|m"  # unchanged for endpoints without extras
    high = Endpoint("http://127.0.0.1:9/v1", "m", extra_body={"reasoning_effort": "high"})
    low = Endpoint("http://127.0.0.1:9/v1", "m", extra_body={"reasoning_effort": "low"})
    completion_param = Endpoint("http://127.0.0.1:9/v1", "m", max_tokens_param="max_completion_tokens")
    assert len({plain.id, high.id, low.id, completion_param.id}) == 4
    # transport settings do not change what the model answers, so they keep the cache
    assert Endpoint("http://127.0.0.1:9/v1", "m", timeout=5, concurrency=32, max_attempts=1, price_input_per_1m=3).id == plain.id
    assert Endpoint("http://127.0.0.1:9/v1", "m", extra_body={"reasoning_effort": "high"}).id == high.id


def test_64_requests_are_in_flight_at_once_against_a_real_server_and_none_is_sent_twice():
    """No hidden limit below the endpoint's concurrency (connection pool, listen backlog): the
    first 64 requests are held by the server until all 64 have arrived."""
    state = {"now": 0, "peak": 0, "seen": 0}
    lock = threading.Lock()
    all_in = threading.Barrier(64, timeout=30)
    bodies = []

    def handler(body):
        with lock:
            state["now"] += 1
            state["seen"] += 1
            state["peak"] = max(state["peak"], state["now"])
            bodies.append(json.dumps(body, sort_keys=True))
            wait = state["seen"] <= 64
        if wait:
            all_in.wait()
        with lock:
            state["now"] -= 1
        return f"echo {body['messages'][-1]['content']}"

    convs = [[{"role": "user", "content": f"q{i}"}] for i in range(80)]
    with FakeOpenAIServer(handler) as srv:
        gens = OpenAIChatModel(Endpoint(srv.base_url, "m", concurrency=64, max_attempts=1)).generate(convs, GenParams())
    assert state["peak"] == 64  # the barrier let them through only once 64 were in flight, never more
    assert [g.text for g in gens] == [f"echo q{i}" for i in range(80)]
    assert len(bodies) == len(set(bodies)) == 80
