"""The generation stage: every candidate answers every prompt in every grid cell, seed and sample.

Answers are cached by (model identity, prompt, temperature, max_new_tokens, top_p, seed, sample):
the stage generates only what the store lacks and stores each batch as soon as it is done, so an
interrupted run resumes where it stopped. Failed generations are stored for the report but are
not cache hits: the next run retries them.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable


from expertune.evaluate.config import EndpointFields
from expertune.evaluate.frozen import FrozenCandidate, FrozenRemoteCandidate, chat_model, sha256_json
from expertune.evaluate.runs import EvalRunRecord, get_run, rows_by_key, set_status
from expertune.llm.base import GenParams
from expertune.store.eval_models import EvalCost, EvalGeneration
from expertune.workspace import Workspace

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GenTask:
    key: str
    candidate: str
    model_id: str
    prompt_idx: int
    prompt_hash: str
    temperature: float
    max_new_tokens: int
    top_p: float
    seed: int
    sample: int

    @property
    def rng_seed(self) -> int:
        # The same (seed, sample) gives every candidate the same random stream (common random
        # numbers: less noise in the comparison); the cache key carries seed and sample as given.
        return int(hashlib.sha256(f"{self.seed}:{self.sample}".encode()).hexdigest()[:7], 16)  # < 2**31: APIs take int32

    @property
    def cell(self) -> tuple[float, int]:
        return (self.temperature, self.max_new_tokens)


def generation_key(model_id: str, prompt_hash: str, temperature: float, max_new_tokens: int, top_p: float,
                   seed: int, sample: int) -> str:
    return sha256_json({"model": model_id, "prompt": prompt_hash, "temperature": float(temperature),
                        "max_new_tokens": int(max_new_tokens), "top_p": float(top_p), "seed": int(seed), "sample": int(sample)})


def plan_generations(run: EvalRunRecord) -> list[GenTask]:
    grid = run.lineage.grid
    tasks = []
    for cand in run.lineage.candidates:
        for t in grid.temperatures:
            for m in grid.max_new_tokens:
                for seed in grid.seeds:
                    for sample in range(grid.samples):
                        for p in run.prompts:
                            key = generation_key(cand.model_id, p.prompt_hash, t, m, grid.top_p, seed, sample)
                            tasks.append(GenTask(key, cand.name, cand.model_id, p.idx, p.prompt_hash,
                                                 float(t), int(m), float(grid.top_p), int(seed), sample))
    return tasks


def load_generations(ws: Workspace, keys: Iterable[str], *, ok_only: bool = True) -> dict[str, EvalGeneration]:
    where = (EvalGeneration.finish_reason != "error",) if ok_only else ()
    return rows_by_key(ws, EvalGeneration, keys, *where)


def run_generation(ws: Workspace, run_ref: int | str, *, progress: Progress | None = None) -> dict[str, Any]:
    """Generate what the run still lacks; returns counts per candidate."""
    run = get_run(ws, run_ref)
    tasks = plan_generations(run)
    unique = list({t.key: t for t in tasks}.values())  # e.g. identical candidates or repeated prompts
    cached = load_generations(ws, [t.key for t in unique])
    todo = [t for t in unique if t.key not in cached]
    by_candidate: dict[str, list[GenTask]] = defaultdict(list)
    for t in todo:
        by_candidate[t.candidate].append(t)
    messages = {p.idx: p.messages for p in run.prompts}
    summary = {"run": run.id, "planned": len(tasks), "unique": len(unique), "cached": len(unique) - len(todo),
               "generated": 0, "errors": 0, "candidates": {}}
    done = 0
    for cand in run.lineage.candidates:
        pending = by_candidate.get(cand.name, [])
        stats = {"generated": 0, "errors": 0, "tokens": 0, "seconds": 0.0}
        summary["candidates"][cand.name] = stats
        if not pending:
            continue
        model = chat_model(cand)
        endpoint = cand.endpoint if isinstance(cand, FrozenRemoteCandidate) else None
        started = time.perf_counter()
        for chunk in _chunks(pending, messages, cand):
            convs = [messages[t.prompt_idx] for t in chunk]
            t0 = chunk[0]
            params = GenParams(temperature=t0.temperature, max_new_tokens=t0.max_new_tokens, top_p=t0.top_p, seed=t0.seed)
            gens = model.generate(convs, params, seeds=[t.rng_seed if t0.temperature > 0 else t.seed for t in chunk])
            _store(ws, run.id, cand, chunk, gens, endpoint)
            for g in gens:
                stats["errors" if g.finish_reason == "error" else "generated"] += 1
                stats["tokens"] += g.completion_tokens
            done += len(chunk)
            if progress:
                progress(done, len(todo))
        stats["seconds"] = round(time.perf_counter() - started, 2)
        if hasattr(model, "close"):
            model.close()  # one candidate's weights in memory at a time
        summary["generated"] += stats["generated"]
        summary["errors"] += stats["errors"]
    set_status(ws, run.id, "generated")
    return summary


def _chunks(pending: list[GenTask], messages: dict[int, list], cand: FrozenCandidate) -> Iterable[list[GenTask]]:
    """Tasks with equal sampling parameters, sorted by prompt length (similar lengths batch with
    little padding), cut into chunks that are generated and stored one at a time."""
    size = cand.endpoint.concurrency * 4 if isinstance(cand, FrozenRemoteCandidate) else cand.batch_size
    groups: dict[tuple, list[GenTask]] = defaultdict(list)
    for t in pending:
        groups[(t.temperature, t.max_new_tokens, t.top_p)].append(t)
    for key in sorted(groups):
        tasks = sorted(groups[key], key=lambda t: (-sum(len(m["content"]) for m in messages[t.prompt_idx]), t.key))
        for i in range(0, len(tasks), size):
            yield tasks[i:i + size]


def _store(ws: Workspace, run_id: int, cand: FrozenCandidate, chunk: list[GenTask], gens,
           endpoint: EndpointFields | None) -> None:
    with ws.session() as session:
        for t, g in zip(chunk, gens):
            session.merge(EvalGeneration(
                key=t.key, model_id=t.model_id, candidate=t.candidate, prompt_hash=t.prompt_hash,
                params={"temperature": t.temperature, "max_new_tokens": t.max_new_tokens, "top_p": t.top_p},
                seed=t.seed, sample=t.sample, text=g.text, finish_reason=g.finish_reason, prompt_tokens=g.prompt_tokens,
                completion_tokens=g.completion_tokens, error=g.error, seconds=float(g.extra.get("seconds", 0.0)),
            ))
            if endpoint and (g.prompt_tokens or g.completion_tokens):
                usd = (g.prompt_tokens * endpoint.price_input_per_1m
                       + g.completion_tokens * endpoint.price_output_per_1m) / 1e6
                session.add(EvalCost(run_id=run_id, stage="generate", actor=cand.name, model=cand.model_id, key=t.key,
                                     input_tokens=g.prompt_tokens, output_tokens=g.completion_tokens, usd=usd))
