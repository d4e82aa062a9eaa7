"""Multiple-choice exams: several prompt formats, robust answer extraction, cyclic option
permutations to expose option-selection bias, option log-probability scoring, base vs tuned.

Every question's raw answer is stored with the parsed letter and adherence flag, and all numbers
are computed by `summarise` from those stored records, so `rescore` reproduces a result exactly.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from pydantic import Field

from expertune.config import StrictModel
from expertune.errors import InputError
from expertune.evaluate import registry
from expertune.evaluate.report.html import esc, figure_img, fmt_num, fmt_pct, table, new_figure
from expertune.evaluate.results import McqFormatSummary, McqResult, TaskResult, as_result
from expertune.evaluate.stats import mcnemar, population_std, proportion
from expertune.evaluate.tasks.common import compare_with_baseline, evaluate_models, slug, task_models, write_result
from expertune.evaluate.tasks.exam_formats import (
    LETTERS,
    ExamFormat,
    ExamItem,
    letter_prompt,
    parse_answer,
    parse_formats,
    render_conversation,
)
from expertune.llm.base import ChatModel, GenParams

LOGPROB = "logprob"  # the pseudo-format name of log-probability scoring
Progress = Callable[[int, int], None]


# -- loading ---------------------------------------------------------------------------------------
def _norm_question(text: str) -> str:
    return " ".join(text.split()).casefold()


def items_from_records(records: Sequence[tuple[int, dict]], source: str) -> list[ExamItem]:
    """Validate {"question", "options", "answer", "area", "explanation"} records like the importer
    does (same rules: 2–10 distinct options, answer as letter, index or option text)."""
    from expertune.data.formats import mcq as mcq_format
    from expertune.data.formats.fields import Invalid

    items: list[ExamItem] = []
    problems: list[str] = []
    for line, obj in records:
        try:
            rec = mcq_format.to_record(obj, line, None)
        except Invalid as err:
            problems.append(f"{source}:{line}: {err}")
            continue
        m = rec.mcq
        items.append(ExamItem(id=f"L{line}", question=m.question, options=tuple(m.options), answer=m.answer,
                              area=m.area, explanation=m.explanation, line=line))
    if problems:
        more = f"\n... {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError("\n".join(problems[:20]) + more + "\nfix these records (see the multiple-choice format in README)")
    if not items:
        raise InputError(f"{source}: no questions")
    return items


def load_exam(source: str | Path, ws=None) -> tuple[list[ExamItem], dict[str, Any]]:
    """An exam from a JSONL file or a registered eval set of kind "mcq"."""
    from expertune.data.evalsets import load_records

    records, origin = load_records(source, "mcq", ws)
    return items_from_records(records, origin["source"]), origin


def store_shot_pool(ws) -> list[ExamItem]:
    """Multiple-choice groups of the train split: the few-shot pool when no --shots-from is given."""
    from sqlalchemy import select

    from expertune.store.tables import PromptGroup

    with ws.session() as session:
        groups = session.scalars(select(PromptGroup).where(PromptGroup.kind == "mcq", PromptGroup.split == "train")
                                 .order_by(PromptGroup.key)).all()
        out = []
        for g in groups:
            m = g.mcq or {}
            if m.get("question") and m.get("options") and m.get("answer"):
                out.append(ExamItem(id=f"group:{g.id}", question=m["question"], options=tuple(m["options"]),
                                    answer=m["answer"], area=m.get("area"), explanation=m.get("explanation")))
        return out


def pick_shots(item: ExamItem, pool: Sequence[ExamItem], k: int, seed: int = 0) -> list[ExamItem]:
    """k examples for `item`, never the question itself (same normalised text); the choice depends
    only on the question and the seed, so reruns and other models see the same shots."""
    own = _norm_question(item.question)
    eligible = [p for p in pool if _norm_question(p.question) != own]
    digest = hashlib.sha256(f"{seed}|{own}".encode()).hexdigest()
    rng = random.Random(int(digest[:16], 16))
    return rng.sample(eligible, min(k, len(eligible)))


def choose_formats(spec: str | Sequence[str] | None, have_shots: bool) -> tuple[list[ExamFormat], str | None]:
    """The formats to run. With the default set and no few-shot examples available, the few-shot
    formats become their zero-shot twins (noted in the result); asking for few-shot explicitly
    without examples stays an error (run_model says how to provide them)."""
    fmts = parse_formats(spec)
    if spec or have_shots or all(f.shots == "zero" for f in fmts):
        return fmts, None
    out: list[ExamFormat] = []
    for f in fmts:
        f = ExamFormat("zero", f.order, f.style) if f.shots == "few" else f
        if f not in out:
            out.append(f)
    return out, "no few-shot examples (no --shots-from and no train-split multiple-choice groups): default few-shot formats ran zero-shot"


# -- running ---------------------------------------------------------------------------------------
def shifts_for(items: Sequence[ExamItem], permutations: bool) -> list[int]:
    """The shifts of the exam: all cyclic shifts of the largest option count. Each item is asked
    only its own shifts (`item_shifts`), so every option sits in every slot exactly once."""
    return list(range(max(len(i.options) for i in items))) if permutations else [0]


def item_shifts(item: ExamItem, shifts: Sequence[int]) -> list[int]:
    """The shifts an item is asked: those below its option count. Shift s and s + n of an n-option
    item present the same order; asking both would repeat the item and weigh it more in the
    letter statistics."""
    return [s for s in shifts if s < len(item.options)]


def _chunks(seq: list, size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def generate_all(model: ChatModel, convs: list, params: GenParams, *, batch_size: int = 8,
                 progress: Progress | None = None) -> list:
    """All answers in one call when the backend reports progress itself (it batches by length
    better than we could); otherwise in chunks so the progress bar still moves."""
    import inspect

    if not convs:
        return []
    try:
        takes_progress = "progress" in inspect.signature(model.generate).parameters
    except (TypeError, ValueError):
        takes_progress = False
    if takes_progress:
        return list(model.generate(convs, params, progress=progress))
    out: list = []
    for chunk in _chunks(convs, batch_size):
        out.extend(model.generate(chunk, params))
        if progress:
            progress(len(out), len(convs))
    return out


def run_model(model: ChatModel, items: Sequence[ExamItem], formats: Sequence[ExamFormat], *,
              shifts: Sequence[int] = (0,), shot_pool: Sequence[ExamItem] = (), n_shots: int = 3,
              params: GenParams = GenParams(max_new_tokens=192), scoring: str = "generate",
              seed: int = 0, batch_size: int = 32, progress: Progress | None = None) -> dict[str, Any]:
    """Ask every question in every format and shift; returns the stored per-item records."""
    if scoring not in ("generate", LOGPROB, "both"):
        raise InputError(f"--scoring {scoring!r}: expected generate, logprob or both")
    if any(f.shots == "few" for f in formats) and scoring != LOGPROB and not shot_pool:
        raise InputError("few-shot formats need examples: pass --shots-from FILE|EVALSET, or import "
                         "multiple-choice training data (train split) into the workspace")
    jobs: list[dict[str, Any]] = []
    convs: list[list[dict[str, str]]] = []
    if scoring in ("generate", "both"):
        for fmt in formats:
            for shift in shifts:
                for it in items:
                    if shift not in item_shifts(it, shifts):
                        continue
                    options, gold, order = it.shifted(shift)
                    shots = pick_shots(it, shot_pool, n_shots, seed) if fmt.shots == "few" else []
                    jobs.append({"item": it.id, "format": fmt.name, "shift": shift, "gold": gold, "order": order,
                                 "shots": [s.id for s in shots]})
                    convs.append(render_conversation(it.question, options, fmt, shots))
    lp_jobs = []
    if scoring in (LOGPROB, "both"):
        if not hasattr(model, "next_token_logprobs"):
            raise InputError(f"model {getattr(model, 'id', model)!r} cannot score options by log-probability; use --scoring generate")
        for shift in shifts:
            for it in items:
                if shift not in item_shifts(it, shifts):
                    continue
                options, gold, order = it.shifted(shift)
                lp_jobs.append(({"item": it.id, "format": LOGPROB, "shift": shift, "gold": gold, "order": order},
                                letter_prompt(it.question, options), LETTERS[:len(options)]))
    total = len(jobs) + len(lp_jobs)
    records: list[dict[str, Any]] = []
    by_id = {it.id: it for it in items}
    gens = generate_all(model, convs, params, batch_size=batch_size,
                        progress=(lambda d, _t: progress(d, total)) if progress else None)
    for job, g in zip(jobs, gens):
        rec = {**job, "raw": g.text, "finish_reason": g.finish_reason, "error": g.error}
        records.append(_score(rec, by_id[job["item"]]))
    done = len(jobs)
    lp_records: list[dict[str, Any]] = []
    for chunk in _chunks(lp_jobs, batch_size):
        # Items with fewer options get fewer candidates, so ask per candidate set.
        by_cands: dict[str, list] = defaultdict(list)
        for job in chunk:
            by_cands[job[2]].append(job)
        for cands, group in by_cands.items():
            scores = model.next_token_logprobs([g[1] for g in group], list(cands))
            for (job, _, _), lp in zip(group, scores):
                lp_records.append(_score_logprob({**job, "logprobs": {c: float(lp[c]) for c in cands}}))
        done += len(chunk)
        if progress:
            progress(done, total)
    return {"model": getattr(model, "id", str(model)), "params": params.as_dict(), "records": records,
            "logprob_records": lp_records}


def _score(rec: dict[str, Any], item: ExamItem) -> dict[str, Any]:
    """Parse the stored raw answer; the letter maps back to the option's original index."""
    options, _, order = item.shifted(rec["shift"])
    parsed = parse_answer(rec["raw"], rec["format"], options)
    choice = order[LETTERS.index(parsed.letter)] if parsed.letter else None
    return {**rec, **parsed.as_dict(), "choice": choice, "correct": parsed.letter == rec["gold"]}


def _score_logprob(rec: dict[str, Any]) -> dict[str, Any]:
    lps = rec["logprobs"]
    # Ties break towards the earlier letter; deterministic, and rare with float scores.
    letter = max(lps, key=lambda c: (lps[c], -LETTERS.index(c))) if lps else None
    choice = rec["order"][LETTERS.index(letter)] if letter else None
    return {**rec, "letter": letter, "adherent": True, "method": LOGPROB, "choice": choice,
            "correct": letter == rec["gold"]}


# -- metrics ---------------------------------------------------------------------------------------
def summarise_format(records: Sequence[dict[str, Any]], items: Sequence[ExamItem]) -> dict[str, Any]:
    """Accuracy (as written, shift 0) overall and per area, adherence, accuracy per shift,
    consistency across shifts, chosen vs gold letter distribution and per-letter recall.

    A generation that failed (finish_reason "error", e.g. an HTTP failure) is no answer at all:
    it is counted under "errors" and left out of every rate, never scored as wrong."""
    errors = sum(1 for r in records if r.get("finish_reason") == "error")
    records = [r for r in records if r.get("finish_reason") != "error"]
    area = {it.id: it.area or "(none)" for it in items}
    base = [r for r in records if r["shift"] == 0]
    shifts = sorted({r["shift"] for r in records})
    per_area: dict[str, list[bool]] = defaultdict(list)
    for r in base:
        per_area[area[r["item"]]].append(r["correct"])
    out: dict[str, Any] = {
        "n_items": len(base),
        "errors": errors,
        "accuracy": proportion(sum(r["correct"] for r in base), len(base)),
        "adherence": proportion(sum(bool(r["adherent"]) for r in records), len(records)),
        "invalid": proportion(sum(r["letter"] is None for r in records), len(records)),
        "truncated": sum(r.get("finish_reason") == "length" for r in records),
        "per_area": {a: proportion(sum(v), len(v)) for a, v in sorted(per_area.items())},
        "per_shift": {str(s): proportion(sum(r["correct"] for r in records if r["shift"] == s),
                                         sum(1 for r in records if r["shift"] == s)) for s in shifts},
        "methods": dict(Counter(r["method"] for r in records)),
    }
    if len(records) > len(base):
        out["accuracy_all_shifts"] = proportion(sum(r["correct"] for r in records), len(records))
    if len(shifts) > 1:
        choices: dict[str, dict[int, Any]] = defaultdict(dict)
        for r in records:
            choices[r["item"]][r["shift"]] = r["choice"]
        # Consistent = the same option *content* (original index) under every shift of the item;
        # an invalid answer under any shift is not consistent.
        n_options = {it.id: len(it.options) for it in items}
        full = {k: v for k, v in choices.items() if len(v) == len([s for s in shifts if s < n_options[k]])}
        consistent = sum(1 for v in full.values() if None not in v.values() and len(set(v.values())) == 1)
        out["consistency"] = proportion(consistent, len(full))
    letters = LETTERS[:max(len(it.options) for it in items)]
    chosen = Counter(r["letter"] or "invalid" for r in records)
    gold = Counter(r["gold"] for r in records)
    out["letters"] = {
        "chosen": {c: chosen.get(c, 0) for c in [*letters, "invalid"]},
        "gold": {c: gold.get(c, 0) for c in letters},
    }
    recall = {c: sum(r["correct"] for r in records if r["gold"] == c) / gold[c] for c in letters if gold[c]}
    out["letter_recall"] = recall
    out["letter_recall_std"] = population_std(recall.values())
    return out


def agreement(generated: Sequence[dict[str, Any]], logprob: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Share of (question, shift) where the generated answer picks the option log-probs pick."""
    lp = {(r["item"], r["shift"]): r["choice"] for r in logprob}
    pairs = [(r["choice"], lp[(r["item"], r["shift"])]) for r in generated
             if (r["item"], r["shift"]) in lp and r.get("finish_reason") != "error"]
    return proportion(sum(1 for a, b in pairs if a is not None and a == b), len(pairs))


def summarise(model_result: dict[str, Any], items: Sequence[ExamItem]) -> dict[str, Any]:
    by_format: dict[str, list] = defaultdict(list)
    for r in model_result["records"]:
        by_format[r["format"]].append(r)
    out = {name: summarise_format(recs, items) for name, recs in by_format.items()}
    lp = model_result.get("logprob_records") or []
    if lp:
        out[LOGPROB] = summarise_format(lp, items)
        for name, recs in by_format.items():
            out[name]["logprob_agreement"] = agreement(recs, lp)
    return out


def compare(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """Per format: accuracy difference and McNemar's test on the same questions (shift 0).
    "base"/"tuned" in the output mean baseline/other model."""
    def correct_by(result: dict[str, Any]) -> dict[str, dict[str, bool]]:
        out: dict[str, dict[str, bool]] = defaultdict(dict)
        for r in [*result["records"], *(result.get("logprob_records") or [])]:
            if r["shift"] == 0 and r.get("finish_reason") != "error":
                out[r["format"]][r["item"]] = bool(r["correct"])
        return out

    b, t = correct_by(base), correct_by(tuned)
    out = {}
    for fmt in b:
        if fmt not in t:
            continue
        shared = [i for i in b[fmt] if i in t[fmt]]
        bb, tt = [b[fmt][i] for i in shared], [t[fmt][i] for i in shared]
        diff = (sum(tt) - sum(bb)) / len(shared) if shared else None
        out[fmt] = {"n": len(shared), "base_accuracy": sum(bb) / len(shared) if shared else None,
                    "tuned_accuracy": sum(tt) / len(shared) if shared else None,
                    "difference": diff, "mcnemar": mcnemar(bb, tt)}
    return out


# -- the whole exam --------------------------------------------------------------------------------
def run_exam(models: dict[str, ChatModel], items: Sequence[ExamItem], *,
             formats: Sequence[ExamFormat | str] | str | None = None,
             permutations: bool = False, shot_pool: Sequence[ExamItem] = (), n_shots: int = 3,
             params: GenParams = GenParams(max_new_tokens=192), scoring: str = "generate", seed: int = 0,
             exam_info: dict[str, Any] | None = None, model_info: dict[str, dict] | None = None,
             baseline: str | None = None, note: str | None = None,
             progress: Callable[[str], Progress | None] | None = None) -> dict[str, Any]:
    """Run the exam for each model ("base", "tuned", ...), comparing each with the baseline
    (default "base"); returns the result stored as mcq-<exam>.json."""
    fmts = parse_formats(formats if formats is None or isinstance(formats, str)
                         else [f.name if isinstance(f, ExamFormat) else f for f in formats])
    shifts = shifts_for(items, permutations)
    result: dict[str, Any] = {
        "kind": "mcq",
        "exam": {**(exam_info or {}), "n_items": len(items)},
        "config": {"formats": [f.name for f in fmts], "shifts": shifts, "n_shots": n_shots, "scoring": scoring,
                   "seed": seed, "params": params.as_dict(), **({"note": note} if note else {})},
        "items": [_item_dict(it) for it in items],
        "shot_pool": [_item_dict(it) for it in shot_pool] if any(f.shots == "few" for f in fmts) else [],
        "models": {},
    }
    return evaluate_models(
        result, models,
        lambda model, prog: run_model(model, items, fmts, shifts=shifts, shot_pool=shot_pool, n_shots=n_shots,
                                      params=params, scoring=scoring, seed=seed, progress=prog),
        lambda res: summarise(res, items), compare, model_info=model_info, baseline=baseline, progress=progress)


def _item_dict(it: ExamItem) -> dict[str, Any]:
    return {"id": it.id, "question": it.question, "options": list(it.options), "answer": it.answer,
            "area": it.area, "explanation": it.explanation, "line": it.line}


def items_of(result: dict[str, Any]) -> list[ExamItem]:
    return [ExamItem(**{**d, "options": tuple(d["options"])}) for d in result["items"]]


def rescore(result: dict[str, Any]) -> dict[str, Any]:
    """Recompute letters, adherence and every summary from the stored raw answers."""
    items = items_of(result)
    by_id = {it.id: it for it in items}
    out = json.loads(json.dumps(result))
    for res in out["models"].values():
        keep = ("item", "format", "shift", "gold", "order", "shots", "raw", "finish_reason", "error")
        res["records"] = [_score({k: r[k] for k in keep if k in r}, by_id[r["item"]]) for r in res["records"]]
        res["logprob_records"] = [_score_logprob({k: r[k] for k in ("item", "format", "shift", "gold", "order", "logprobs")})
                                  for r in res.get("logprob_records") or []]
        res["summary"] = summarise(res, items)
    out["comparisons"] = compare_with_baseline(out, compare)
    return out


# -- report ----------------------------------------------------------------------------------------
def letter_bias_chart(summary: McqFormatSummary, title: str) -> str:
    """Chosen vs gold letter shares for one format: a bar chart (inline PNG)."""
    import numpy as np

    chosen, gold = summary.letters.chosen, summary.letters.gold
    cats = list(chosen)
    total = max(1, sum(chosen.values()))
    fig, ax = new_figure(5.5, 2.8)
    x = np.arange(len(cats))
    ax.bar(x - 0.2, [chosen[c] / total for c in cats], 0.4, label="chosen")
    ax.bar(x + 0.2, [gold.get(c, 0) / total for c in cats], 0.4, label="gold")
    ax.set_xticks(x, cats)
    ax.set_ylabel("share of answers")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return figure_img(fig, f"letter distribution: {title}")


def area_chart(summaries: dict[str, dict[str, McqFormatSummary]], fmt: str) -> str:
    """Accuracy per area (shift 0) with Wilson intervals, one bar per model."""
    import numpy as np

    areas = sorted({a for s in summaries.values() if fmt in s for a in s[fmt].per_area})
    fig, ax = new_figure(6.0, 0.5 + 0.45 * len(areas) * max(1, len(summaries)))
    h = 0.8 / max(1, len(summaries))
    for k, (label, s) in enumerate(summaries.items()):
        per_area = s[fmt].per_area if fmt in s else {}
        vals = [(per_area[a].value or 0.0) if a in per_area else 0.0 for a in areas]
        cis = [(per_area[a].ci or [0, 0]) if a in per_area else [0, 0] for a in areas]
        # Clipped at 0: at 0/n or n/n the interval's end equals the value up to rounding.
        err = np.clip(np.array([[v - c[0] for v, c in zip(vals, cis)], [c[1] - v for v, c in zip(vals, cis)]]), 0, None)
        ax.barh(np.arange(len(areas)) + k * h, vals, h, xerr=err, label=label, capsize=2)
    ax.set_yticks(np.arange(len(areas)) + h * (len(summaries) - 1) / 2, areas)
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (95% Wilson interval)")
    ax.set_title(f"accuracy per area ({fmt})", fontsize=9)
    ax.legend(fontsize=8)
    return figure_img(fig, f"accuracy per area ({fmt})")


@registry.report_section("mcq", title="Multiple-choice exams", results="mcq")
def report_section(result: TaskResult | dict[str, Any], *, charts: bool = True) -> str:
    """HTML fragment for the evaluation report, built only from the stored result."""
    result = as_result(result)
    assert isinstance(result, McqResult)  # the registry hands this section mcq results only
    parts = [f"<section class=\"expertune-mcq\"><h3>Multiple-choice exam: {esc(result.exam.get('source', ''))}</h3>"]
    cfg = result.config
    parts.append(f"<p>{result.exam['n_items']} questions; formats {esc(', '.join(cfg['formats']))}; "
                 f"option shifts {esc(cfg['shifts'])}; scoring {esc(cfg['scoring'])}."
                 + (f" Note: {esc(cfg['note'])}." if cfg.get("note") else "") + "</p>")
    rows = []
    for label, res in result.models.items():
        for fmt, s in res.summary.items():
            rows.append([label, fmt, fmt_pct(s.accuracy), fmt_pct(s.adherence), fmt_pct(s.consistency),
                         fmt_num(s.letter_recall_std), fmt_pct(s.logprob_agreement)])
    parts.append(table(["model", "format", "accuracy", "adherence", "consistency across shifts",
                             "sd of per-letter recall", "agreement with log-prob"], rows))
    crow = [[label, fmt, fmt_num(c.base_accuracy), fmt_num(c.tuned_accuracy), fmt_num(c.difference),
             f"{c.mcnemar.base_only}/{c.mcnemar.tuned_only}", c.mcnemar.method, fmt_num(c.mcnemar.p_value, 4)]
            for label, per in result.comparisons.items() for fmt, c in per.items()]
    if crow:
        parts.append(table(["model", "format", f"{result.baseline} accuracy", "model accuracy", "model − baseline",
                                 "discordant (baseline only/model only)", "test", "p"], crow,
                                caption=f"Each model vs {result.baseline} on the same questions (McNemar)"))
    if charts:
        summaries = {label: res.summary for label, res in result.models.items()}
        first = next(iter(next(iter(summaries.values()))), None)
        if first:
            parts.append(area_chart(summaries, first))
        for label, s in summaries.items():
            for fmt, fs in s.items():
                parts.append(letter_bias_chart(fs, f"{label} · {fmt}"))
    parts.append("</section>")
    return "\n".join(parts)


# -- `eval run` task and report section ------------------------------------------------------------
class McqTaskConfig(StrictModel):
    """`tasks: {mcq: {...}}` in an eval config: the exam run for every candidate of the run."""

    exam: str  # JSONL file or registered eval set
    formats: list[str] | str | None = None
    permutations: bool = False
    scoring: Literal["generate", "logprob", "both"] = "generate"
    shots_from: str | None = None
    shots: int = Field(3, ge=0)
    max_new_tokens: int = Field(192, ge=1)
    limit: int | None = Field(None, ge=1)
    seed: int = 0


@registry.task("mcq", config=McqTaskConfig, description="multiple-choice exam with option-bias analysis")
def _run_task(ctx, cfg: McqTaskConfig) -> dict[str, Any]:
    items, info = load_exam(cfg.exam, ctx.ws)
    items = items[:cfg.limit] if cfg.limit else items
    pool: list[ExamItem] = []
    if any(f.shots == "few" for f in parse_formats(cfg.formats)) and cfg.scoring != LOGPROB:
        pool = load_exam(cfg.shots_from, ctx.ws)[0] if cfg.shots_from else store_shot_pool(ctx.ws)
    fmts, note = choose_formats(cfg.formats, bool(pool))
    models, meta = task_models(ctx)
    result = run_exam(models, items, formats=fmts, permutations=cfg.permutations, shot_pool=pool, n_shots=cfg.shots,
                      params=GenParams(max_new_tokens=cfg.max_new_tokens, seed=cfg.seed), scoring=cfg.scoring,
                      seed=cfg.seed, exam_info=info, model_info=meta, baseline=ctx.baseline, note=note)
    path = write_result(ctx.folder, f"mcq-{slug(cfg.exam)}.json", result, task_name="mcq")
    return {"path": str(path), "baseline": result["baseline"], "comparisons": result["comparisons"],
            "summary": {label: res["summary"] for label, res in result["models"].items()}}
