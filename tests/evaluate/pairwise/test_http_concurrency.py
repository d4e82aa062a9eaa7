"""HTTP candidates and judges at `concurrency: 32` keep 32 requests in flight against a real local
server, ask nothing twice, and a second run with the same config is served from the store."""

import hashlib
import json
import threading
from collections import Counter

from pairwise_helpers import candidate_answer, is_judge_request, make_workspace, marker_reply

from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pipeline import run_eval
from expertune.llm.testing import FakeOpenAIServer

LIMIT = 32


class HoldsFirst:
    """Holds the first LIMIT candidate requests, then the first LIMIT judge requests, until all of
    them have arrived (a broken barrier fails the requests, and so the test); tracks the peak in
    flight per kind and every request body's hash."""

    def __init__(self):
        self.lock = threading.Lock()
        self.barriers = {"candidate": threading.Barrier(LIMIT, timeout=60), "judge": threading.Barrier(LIMIT, timeout=60)}
        self.arrived = Counter()
        self.now = Counter()
        self.peak = Counter()
        self.bodies = Counter()

    def __call__(self, body):
        kind = "judge" if is_judge_request(body) else "candidate"
        with self.lock:
            self.bodies[hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()] += 1
            self.arrived[kind] += 1
            self.now[kind] += 1
            self.peak[kind] = max(self.peak[kind], self.now[kind])
            hold = self.arrived[kind] <= LIMIT
        try:
            if hold:
                self.barriers[kind].wait()
            return marker_reply(body) if kind == "judge" else candidate_answer(body)
        finally:
            with self.lock:
                self.now[kind] -= 1


def test_candidates_and_judge_keep_32_in_flight_without_repeated_calls(ws, tmp_path):
    make_workspace(ws, tmp_path, in_domain=40, out_domain=0)  # prompt 3 gets identical answers: 39 comparisons
    server = HoldsFirst()
    with FakeOpenAIServer(server) as srv:
        common = {"type": "openai", "base_url": srv.base_url, "concurrency": LIMIT, "max_attempts": 1}
        config = EvalConfig.model_validate({
            "candidates": [{"name": "base", "model": "base", **common}, {"name": "tuned", "model": "tuned", **common}],
            "baseline": "base", "prompts": [{"evalset": "indomain"}],
            "grid": {"temperatures": [0.5], "max_new_tokens": [64], "seeds": [0]},
            "judges": [{"name": "api", "model": "judge-model", **common}], "bootstrap": 100})
        first = run_eval(ws, config)
        asked = sum(server.bodies.values())
        again = run_eval(ws, config)  # a new run, same config
    assert first["generation"]["generated"] == 80 and first["generation"]["errors"] == 0
    assert first["judging"]["judges"]["api"]["judged"] == 78 and first["judging"]["judges"]["api"]["failed"] == 0
    assert server.peak == {"candidate": LIMIT, "judge": LIMIT}  # held until 32 were in flight, never more
    assert asked == 80 + 78 and set(server.bodies.values()) == {1}  # nothing asked twice
    assert sum(server.bodies.values()) == asked  # the second run asked nothing
    assert again["generation"]["cached"] == 80 and again["judging"]["judges"]["api"]["cached"] == 78
