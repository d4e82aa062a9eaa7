"""Serving under load: continuous batching vs one-at-a-time, and live promote/rollback under load.

Starts `expertune serve` logic in a child process on 127.0.0.1 (builtin SmolLM2 + two versions of a
random LoRA adapter registered in a temporary workspace) and drives it with the official `openai`
async client, streaming, every answer forced to --tokens tokens (`min_tokens`) so runs compare:

1. one client, one request at a time, for --single-seconds;
2. 16 concurrent clients for --single-seconds (the ≥ 4x aggregate tokens/s acceptance);
3. --clients concurrent clients for --seconds while the adapter is promoted / rolled back --swaps
   times; every request must succeed, and each swap's delay until the server serves it is shown.

Prints p50/p95 latency, time to first token and aggregate tokens/s per phase, and the ratios.

    .venv/bin/python bench/serve_load.py                 # 64 clients, 60 s, 5 swaps
    .venv/bin/python bench/serve_load.py --clients 8 --seconds 10 --single-seconds 5 --swaps 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import expertune.llm  # noqa: E402,F401 -- sets how OpenMP threads wait, before torch loads (as the entry points do)

ROOT = Path(__file__).resolve().parents[1]
MODEL = "builtin:smollm2-135m-instruct"
SERVER = """
import sys
from pathlib import Path
from expertune.serve.config import ServeConfig
from expertune.serve.server import Server
from expertune.workspace import Workspace
config = ServeConfig(port=int(sys.argv[2]), max_queue=int(sys.argv[3]), log_prompts=False)
Server(config, adapters=["demo"], ws=Workspace(Path(sys.argv[1]))).run(log_level="warning")
"""


def prompts() -> list[list[dict[str, str]]]:
    out = []
    for line in (ROOT / "examples" / "contracts.jsonl").read_text(encoding="utf-8").splitlines():
        out.append(json.loads(line)["messages"][:-1])
    return out


def make_workspace(root: Path):
    """Two versions of a random LoRA adapter 'demo', registered (the second is current)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from expertune.llm.local import base_identity
    from expertune.models import load_model, load_tokenizer
    from expertune.records import AdapterMetrics, RunLineage, SystemPromptPolicy
    from expertune.train.registry import register
    from expertune.workspace import Workspace

    ws = Workspace.init(root / "ws")
    _, sha = base_identity(MODEL)
    for version in (1, 2):
        torch.manual_seed(version)
        peft_model = get_peft_model(load_model(MODEL), LoraConfig(r=8, target_modules=["q_proj", "v_proj"],
                                                                  init_lora_weights=False, lora_alpha=1))
        folder = root / f"demo-v{version}"
        peft_model.save_pretrained(folder)
        load_tokenizer(MODEL).save_pretrained(folder)
        register(ws, RunLineage(run_id=f"bench-{version}", adapter_name="demo", method="lora", recipe={}, base_model=MODEL,
                                base_sha256=sha, dataset_hash="bench", system_prompt_policy=SystemPromptPolicy(),
                                metrics=AdapterMetrics()), folder)
    return ws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Phase:
    def __init__(self, name: str):
        self.name, self.latencies, self.first, self.tokens, self.errors, self.versions = name, [], [], 0, [], {}
        self.started = self.ended = 0.0

    def report(self) -> dict:
        wall = self.ended - self.started
        q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1] if len(xs) >= 2 else (xs[0] if xs else float("nan"))
        return {"phase": self.name, "requests": len(self.latencies), "errors": len(self.errors),
                "tokens_per_s": self.tokens / wall, "p50_s": q(self.latencies, 50), "p95_s": q(self.latencies, 95),
                "ttft_p50_s": q(self.first, 50), "ttft_p95_s": q(self.first, 95), "versions": self.versions}


async def client_loop(client, phase: Phase, convs, k: int, until: float, tokens: int) -> None:
    i = k
    while time.monotonic() < until:
        started = time.monotonic()
        first = None
        try:
            stream = await client.chat.completions.create(
                model="demo", messages=convs[i % len(convs)], max_tokens=tokens, temperature=0, stream=True,
                stream_options={"include_usage": True}, extra_body={"min_tokens": tokens})
            usage, model, reason = None, None, None
            async for chunk in stream:
                model = chunk.model
                if chunk.choices and chunk.choices[0].delta.content and first is None:
                    first = time.monotonic() - started
                if chunk.choices and chunk.choices[0].finish_reason:
                    reason = chunk.choices[0].finish_reason
                if chunk.usage:
                    usage = chunk.usage
            if reason not in ("stop", "length") or usage is None:
                raise RuntimeError(f"finish_reason {reason}, usage {usage}")
            phase.latencies.append(time.monotonic() - started)
            phase.first.append(first or 0.0)
            phase.tokens += usage.completion_tokens
            phase.versions[model] = phase.versions.get(model, 0) + 1
        except Exception as err:  # every failure counts; the benchmark must show 0
            phase.errors.append(f"{type(err).__name__}: {err}")
        i += 1


async def run_phase(url: str, name: str, clients: int, seconds: float, tokens: int, swapper=None) -> Phase:
    import httpx
    import openai

    phase = Phase(name)
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=600,
                                http_client=httpx.AsyncClient(limits=limits, timeout=600))
    convs = prompts()
    phase.started = time.monotonic()
    until = phase.started + seconds
    jobs = [client_loop(client, phase, convs, k, until, tokens) for k in range(clients)]
    if swapper:
        jobs.append(swapper(until))
    await asyncio.gather(*jobs)
    phase.ended = time.monotonic()
    await client.close()
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--single-seconds", type=float, default=20)
    parser.add_argument("--swaps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()

    import httpx

    from expertune.store.adapters import promote, rollback

    root = Path(tempfile.mkdtemp(prefix="serve-load-"))
    ws = make_workspace(root)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(ws.root), str(port), str(args.clients * 2)], env=env)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("the server did not start")
            time.sleep(0.5)
        print(f"model {MODEL} + LoRA 'demo' (2 versions) · {args.tokens} tokens per answer (forced) · streaming · "
              f"greedy · {os.cpu_count()} CPUs", flush=True)

        def current() -> str:
            return next(m["root"] for m in httpx.get(url + "/v1/models").json()["data"] if m["id"] == "demo")

        delays: list[float] = []

        async def swapper(until: float) -> None:
            gap = (until - time.monotonic()) / (args.swaps + 1)
            for k in range(args.swaps):
                await asyncio.sleep(gap)
                expected = "demo@1" if k % 2 == 0 else "demo@2"
                started = time.monotonic()
                await asyncio.to_thread(promote if k % 2 == 0 else (lambda w, _: rollback(w, "demo")), ws, "demo@1")
                while await asyncio.to_thread(current) != expected:
                    await asyncio.sleep(0.02)
                delays.append(time.monotonic() - started)

        phases = [asyncio.run(run_phase(url, "one at a time", 1, args.single_seconds, args.tokens)),
                  asyncio.run(run_phase(url, "16 concurrent", 16, args.single_seconds, args.tokens)),
                  asyncio.run(run_phase(url, f"{args.clients} concurrent + {args.swaps} swaps", args.clients, args.seconds,
                                        args.tokens, swapper))]
    finally:
        server.terminate()
        server.wait(timeout=60)
    single = phases[0].report()["tokens_per_s"]
    print(f"{'phase':<28} {'requests':>8} {'errors':>6} {'tokens/s':>9} {'x single':>8} {'p50 s':>7} {'p95 s':>7} "
          f"{'ttft p50':>8} {'ttft p95':>8}")
    for phase in phases:
        r = phase.report()
        print(f"{r['phase']:<28} {r['requests']:>8} {r['errors']:>6} {r['tokens_per_s']:>9.1f} "
              f"{r['tokens_per_s'] / single:>8.2f} {r['p50_s']:>7.2f} {r['p95_s']:>7.2f} {r['ttft_p50_s']:>8.2f} "
              f"{r['ttft_p95_s']:>8.2f}")
        for e in phase.errors[:3]:
            print("   error:", e)
    print(f"answers by version during the swaps: {phases[2].versions}")
    print(f"swap delays (promote/rollback -> served): {', '.join(f'{d:.2f}' for d in delays)} s")


if __name__ == "__main__":
    main()
