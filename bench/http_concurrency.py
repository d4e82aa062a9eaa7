"""HTTP candidates and judges under latency: requests in flight, wall time, no repeated calls.

Starts a scripted OpenAI-compatible server (uvicorn + Starlette) in a child process on 127.0.0.1.
It answers POST /v1/chat/completions after --latency seconds, counts requests, tracks the most
requests in flight at once and the sha256 of every request body, so a call asked twice shows up.
Candidate requests get an answer naming the model; judge requests get a valid rubric verdict.

The bench then drives expertune's own evaluation stages over a temporary workspace with --prompts
prompts and two HTTP candidates, every endpoint at --concurrency:

1. generation: each candidate answers each prompt (2 x N requests);
2. judging: one HTTP judge sees each comparison in both orders (2 x N requests);
3. rerun: `run_eval` (what `expertune eval run` calls) on a new run with the same config, which
   must be served entirely from the store (0 requests).

Prints per phase: requests; the peak in flight; the mean in flight over the phase (time-weighted,
what a stage sustains) and the share of time at the full --concurrency; wall time, requests/s and
the ideal wall time (requests x latency / concurrency); the repeated calls (target 0); the client's
(this process's) CPU time as % of wall and per request, and the server's CPU as % of wall (shows
the scripted server is not the bottleneck).

    .venv/bin/python bench/http_concurrency.py                      # 256 prompts, 0.5 s, 32 in flight
    .venv/bin/python bench/http_concurrency.py --prompts 64 --latency 0.2 --concurrency 64
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


# -- the scripted server (runs in the child process) ----------------------------------------------
def serve(port: int, latency: float, full: int) -> None:
    import asyncio
    from collections import Counter

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    state = {"requests": 0, "in_flight": 0, "peak": 0, "area": 0.0, "full_s": 0.0, "since": time.perf_counter(),
             "changed": time.perf_counter()}
    seen: Counter[str] = Counter()

    def level(delta: int) -> None:
        # Time-weighted in-flight count since the last reset: its mean is what a stage sustains.
        now = time.perf_counter()
        state["area"] += state["in_flight"] * (now - state["changed"])
        state["full_s"] += (now - state["changed"]) if state["in_flight"] >= full else 0.0
        state["changed"] = now
        state["in_flight"] += delta
        state["peak"] = max(state["peak"], state["in_flight"])

    async def completions(request):
        body = await request.json()
        seen[hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()] += 1
        state["requests"] += 1
        level(+1)
        try:
            await asyncio.sleep(latency)
        finally:
            level(-1)
        content = _reply(body)
        return JSONResponse({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": body.get("model", "bench"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        })

    async def stats(request):
        level(0)
        return JSONResponse({"requests": state["requests"], "peak": state["peak"],
                             "mean_in_flight": state["area"] / max(1e-9, time.perf_counter() - state["since"]),
                             "full_s": state["full_s"], "cpu_s": time.process_time(), "repeated": sum(n - 1 for n in seen.values() if n > 1)})

    async def reset(request):
        level(0)
        state.update(peak=state["in_flight"], area=0.0, full_s=0.0, since=time.perf_counter())
        return JSONResponse({})

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]),
                            Route("/stats", stats), Route("/reset", reset, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096)


def _reply(body: dict) -> str:
    system = body["messages"][0]
    if system["role"] == "system" and "impartial expert judge" in system["content"]:
        labels = re.findall(r"\[Answer (\w+)\]", body["messages"][1]["content"])
        scores = {label: {c: 3 for c in ("Creativity", "Coherence", "Depth", "Engagement", "Quality")} for label in labels}
        return json.dumps({"scores": scores, "reason": "scripted", "verdict": labels[-1] if labels else "tie"})
    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:12]
    return f"{body['model']} answers prompt {digest}."


# -- the bench (parent process) -------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_call(port: int, path: str, method: str = "GET") -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("the scripted server exited")
        try:
            server_call(port, "/stats")
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the scripted server did not start")


def make_workspace(root: Path, n: int):
    from expertune.data.evalsets import add_evalset
    from expertune.workspace import Workspace

    ws = Workspace.init(root / "ws")
    path = root / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Question {i}: explain contract rule {i}."}) + "\n" for i in range(n)))
    add_evalset(ws, path, name="bench", in_domain=True)
    return ws


def eval_config(base_url: str, concurrency: int) -> dict:
    common = {"type": "openai", "base_url": base_url, "concurrency": concurrency, "backoff_base": 0.01}
    return {"candidates": [{"name": "base", "model": "base", **common}, {"name": "tuned", "model": "tuned", **common}],
            "baseline": "base", "prompts": [{"evalset": "bench"}],
            "grid": {"temperatures": [0.0], "max_new_tokens": [64], "seeds": [0]},
            "judges": [{"name": "judge", "model": "judge", "response_format": "json_object", **common}],
            "bootstrap": 100}


def measure(port: int, name: str, fn, latency: float, concurrency: int) -> dict:
    server_call(port, "/reset", "POST")
    before = server_call(port, "/stats")
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = server_call(port, "/stats")
    n = after["requests"] - before["requests"]
    row = {"phase": name, "requests": n, "max_in_flight": after["peak"] if n else 0, "wall_s": round(wall, 2),
           "req_per_s": round(n / wall, 1),
           "mean_in_flight": round(after["mean_in_flight"], 1), "full_pct": round(100 * after["full_s"] / wall), "ideal_s": round(n * latency / concurrency, 2),
           "repeated": after["repeated"] - before["repeated"], "cpu_ms": round(1000 * cpu / n, 1) if n else "-",
           "cpu_pct": round(100 * cpu / wall), "server_cpu_pct": round(100 * (after["cpu_s"] - before["cpu_s"]) / wall)}
    return row, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the server waits before answering")
    parser.add_argument("--concurrency", type=int, default=32, help="the endpoints' concurrency setting")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run the server on this port
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency, args.concurrency)
        return

    from expertune.evaluate.config import EvalConfig
    from expertune.evaluate.pairwise.generation import run_generation
    from expertune.evaluate.pairwise.judging import run_judging
    from expertune.evaluate.pipeline import run_eval, start_run

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--latency", str(args.latency),
                             "--concurrency", str(args.concurrency)])
    try:
        wait_ready(port, proc)
        with tempfile.TemporaryDirectory(prefix="expertune-httpbench-") as tmp:
            ws = make_workspace(Path(tmp), args.prompts)
            config = EvalConfig.model_validate(eval_config(f"http://127.0.0.1:{port}/v1", args.concurrency))
            run = start_run(ws, config)
            rows = []
            row, gen = measure(port, "generation", lambda: run_generation(ws, run["id"]), args.latency, args.concurrency)
            rows.append(row)
            row, judged = measure(port, "judging", lambda: run_judging(ws, run["id"]), args.latency, args.concurrency)
            rows.append(row)
            row, rerun = measure(port, "rerun (new run)", lambda: run_eval(ws, config), args.latency, args.concurrency)
            rows.append(row)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"{args.prompts} prompts, 2 HTTP candidates + 1 HTTP judge, latency {args.latency} s, concurrency {args.concurrency}")
    print(f"{'phase':<17}{'requests':>9}{'max in flight':>14}{'mean in flight':>15}{'time at max':>12}"
          f"{'wall s':>8}{'req/s':>7}{'ideal s':>8}{'repeated':>9}{'client CPU':>11}{'ms/req':>7}{'server CPU':>11}")
    for r in rows:
        print(f"{r['phase']:<17}{r['requests']:>9}{r['max_in_flight']:>14}{r['mean_in_flight']:>15}{r['full_pct']:>11}%"
              f"{r['wall_s']:>8}{r['req_per_s']:>7}{r['ideal_s']:>8}{r['repeated']:>9}{r['cpu_pct']:>10}%{r['cpu_ms']:>7}{r['server_cpu_pct']:>10}%")
    j = judged["judges"]["judge"]
    print(f"generated {gen['generated']} (errors {gen['errors']}); judged {j['judged']} (failed {j['failed']}); "
          f"rerun: generation cached {rerun['generation']['cached']}/{rerun['generation']['unique']}, "
          f"judging cached {rerun['judging']['judges']['judge']['cached']}/{rerun['judging']['judges']['judge']['planned']}")
    live = rows[:2]
    ok = (all(r["max_in_flight"] >= args.concurrency for r in live) and sum(r["repeated"] for r in rows) == 0
          and rows[2]["requests"] == 0)
    print(f"target (max in flight >= {args.concurrency} in both stages, 0 repeated calls, 0 calls on rerun): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
