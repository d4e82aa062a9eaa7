"""What the evidence of an evaluation run amounts to: one line per metric per candidate.

expertune exists to say whether tuning helped. The tables of `eval stats` and the report are
honest, but a reader still has to work out which numbers carry weight. `evidence_summary` does
that from the stored run summary (summary.run_summary) and its tasks' results, for every
candidate against the baseline and every metric the run measured:

  - the estimate (the difference from the baseline, or the win rate against 0.5) and its 95%
    interval, computed where the metric's own statistics live (evaluate/stats.py);
  - a verdict: "better" or "worse" only when the whole interval lies on one side of no change,
    otherwise "no detectable difference" (never "no difference": absence of evidence);
  - the smallest difference the run could have detected (80% power, two-sided 5%), so a "no
    detectable difference" from a 12-item exam is read as what it is;
  - what the line rests on: n and its unit, the judges, the split.

Pairwise judges that follow positions rather than answers are marked unreliable (their flip rate
or a significant first-slot preference; analysis.pair_summary) and by default left out of the
pooled verdict; with no reliable judge the summary says so and how to add one.

One function and three printers: `eval run` and `eval stats` (cli/evaluate.py) and the report
(the "evidence" section of report/sections.py) all show the same EvidenceSummary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from expertune.evaluate import stats as st
from expertune.evaluate.results import PairedAccuracy

if TYPE_CHECKING:  # summary.py reads EvidenceSummary from here
    from expertune.evaluate.summary import PairSummary, RunSummary

Verdict = Literal["better", "worse", "no detectable difference", "not measured"]

HOW_TO_ADD_A_JUDGE = ("add a capable judge under judges: in the eval config, e.g. an OpenAI-compatible endpoint "
                      "(type: openai, base_url, model, api_key_env) or a larger local model; see docs/evaluation.md")


class MetricEvidence(BaseModel):
    metric: str  # "pairwise win rate", "exam accuracy", "macro-F1", "test NLL", "refusal rate", ...
    task: str  # where it comes from: "pairwise", "mcq", "classify", "perplexity", ...
    detail: str = ""  # the exam format, the scoring method, the set
    baseline_value: float | None = None
    candidate_value: float | None = None
    estimate: float | None = None  # candidate - baseline (win rate: minus 0.5, its value without a difference)
    null: float = 0.0  # the estimate of "no change"
    interval: tuple[float, float] | None = None
    higher_is_better: bool = True
    verdict: Verdict = "not measured"
    detectable: float | None = None  # smallest difference detectable with 80% power at 5%
    n: int = 0
    unit: str = "items"
    judges: list[str] = Field(default_factory=list)
    split: str = ""
    note: str = ""


class JudgeEvidence(BaseModel):
    name: str
    reliable: bool
    reasons: list[str] = Field(default_factory=list)
    counted: bool = True  # part of the pooled verdict


class CandidateEvidence(BaseModel):
    candidate: str
    baseline: str
    metrics: list[MetricEvidence] = Field(default_factory=list)


class EvidenceSummary(BaseModel):
    run: int
    baseline: str
    candidates: list[CandidateEvidence] = Field(default_factory=list)
    judges: list[JudgeEvidence] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def for_candidate(self, name: str) -> CandidateEvidence:
        return next(c for c in self.candidates if c.candidate == name)


def _interval(ci: Any) -> tuple[float, float] | None:
    if not ci or ci[0] is None or ci[1] is None:
        return None
    return float(ci[0]), float(ci[1])


def _finish(m: MetricEvidence) -> MetricEvidence:
    """The verdict from the interval (stats.verdict); "not measured" without one."""
    m.verdict = st.verdict(m.interval, null=m.null, higher_is_better=m.higher_is_better) or "not measured"
    return m


# -- pairwise -------------------------------------------------------------------------------------
def pairwise_metrics(pair: PairSummary) -> list[MetricEvidence]:
    """The pooled win rate over the counted (reliable) judges, against 0.5, on held-out prompts."""
    o = pair.pooled["overall"]
    counted = pair.counted_judges
    ci = _interval(o["ci"])
    m = MetricEvidence(metric="pairwise win rate", task="pairwise", detail="pooled over reliable judges, ties ½",
                       baseline_value=0.5, candidate_value=o["win_rate"],
                       estimate=None if o["win_rate"] is None else o["win_rate"] - 0.5,
                       interval=None if ci is None else (ci[0] - 0.5, ci[1] - 0.5),
                       n=o["prompts"] if o["n"] else 0, unit="prompts", judges=counted, split="held out (test / eval sets)")
    if not counted:
        m.note = "no reliable judge (see the notes)"
        m.interval = m.baseline_value = None
    else:
        m.detectable = st.win_rate_detectable(m.n)
    return [_finish(m)]


# -- paired correctness (exams, classification accuracy, refusal, facts) -------------------------
def paired_metric(name: str, task: str, detail: str, c: PairedAccuracy, *, higher_is_better: bool = True,
                  split: str = "held out") -> MetricEvidence:
    """A paired proportion from McNemar's counts: interval of tuned - base, detectable difference."""
    mc = c.mcnemar
    d = st.paired_binary_difference(mc.base_only, mc.tuned_only, c.n) if c.n else {}
    return _finish(MetricEvidence(
        metric=name, task=task, detail=detail, baseline_value=c.base_accuracy, candidate_value=c.tuned_accuracy,
        estimate=d.get("difference"), interval=_interval(d.get("ci")), detectable=d.get("detectable"),
        higher_is_better=higher_is_better, n=c.n, unit="items", split=split, note=f"McNemar p = {mc.p_value:.3g}"))


def mcq_metrics(result: dict[str, Any], candidate: str) -> list[MetricEvidence]:
    comparisons = (result.get("comparisons") or {}).get(candidate, {})
    return [paired_metric("exam accuracy", "mcq", fmt, PairedAccuracy.model_validate(c), split="exam (eval set)")
            for fmt, c in comparisons.items()]


def classify_metrics(result: dict[str, Any], candidate: str, *, n_boot: int, seed: int) -> list[MetricEvidence]:
    """Macro-F1 (paired bootstrap over items, from the stored records) per scoring method."""
    out = []
    path = Path(result.get("path") or "")
    full = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    for mode in (result.get("comparisons") or {}).get(candidate, {}):
        if full is None:
            continue
        key = "records" if mode == "generate" else "logprob_records"
        base = {r["item"]: r for r in full["models"][result["baseline"]].get(key) or [] if r.get("finish_reason") != "error"}
        tuned = {r["item"]: r for r in full["models"][candidate].get(key) or [] if r.get("finish_reason") != "error"}
        shared = [i for i in base if i in tuned]
        d = st.macro_f1_difference([base[i]["gold"] for i in shared], [base[i]["pred"] for i in shared],
                                   [tuned[i]["pred"] for i in shared], full["task"]["labels"], n_boot=n_boot, seed=seed)
        ci = _interval(d["ci"])
        out.append(_finish(MetricEvidence(
            metric="classification macro-F1", task="classify", detail=mode, baseline_value=d["base"], candidate_value=d["tuned"],
            estimate=d["difference"], interval=ci, detectable=st.detectable_from_interval(ci), n=d["n"], unit="items",
            split="eval set (evaluation items only)")))
    return out


def perplexity_metrics(result: dict[str, Any], candidate: str) -> list[MetricEvidence]:
    """Paired per-group NLL difference (tuned - base, nats/token; lower is better) on the held-out
    test split and out-of-domain sets. Val and train sets are not held out and give no verdict."""
    out = []
    for set_name, block in (result.get("sets") or {}).items():
        diff = (block.get("differences") or {}).get(candidate)
        if diff is None:
            continue
        held_out = set_name == "heldout" or set_name.startswith("ood:")
        # The t interval over groups: with a handful of held-out groups a percentile bootstrap is too narrow.
        ci = _interval(diff["t"]["ci"])
        models = block.get("models", {})
        m = MetricEvidence(
            metric="test NLL" if set_name == "heldout" else f"NLL {set_name}", task="perplexity",
            detail="nats/token, paired per prompt group", higher_is_better=False,
            baseline_value=(models.get(block.get("baseline")) or {}).get("nll_group_mean"),
            candidate_value=(models.get(candidate) or {}).get("nll_group_mean"),
            estimate=diff["t"]["mean"], interval=ci, detectable=st.detectable_from_interval(ci),
            n=diff["n_groups"], unit="prompt groups", split="test split" if set_name == "heldout" else set_name)
        if held_out:
            out.append(_finish(m))
        else:
            m.note = "not held out (chose the checkpoint or was trained on): no verdict"
            out.append(m)
    return out


def task_metrics(name: str, result: dict[str, Any], candidate: str, *, n_boot: int, seed: int) -> list[MetricEvidence]:
    """The metrics of one extension task. Other tasks (refusal, facts) put under
    `comparisons[candidate][key]` either McNemar counts (paired correctness) or a paired
    "difference" with its "ci", and declare each metric's name, detail, direction and split."""
    if name == "mcq":
        return mcq_metrics(result, candidate)
    if name == "classify":
        return classify_metrics(result, candidate, n_boot=n_boot, seed=seed)
    if name == "perplexity":
        return perplexity_metrics(result, candidate)
    out = []
    for key, c in (result.get("comparisons") or {}).get(candidate, {}).items():
        if not isinstance(c, dict):
            continue
        if "mcnemar" in c:
            # Other tasks put their own keys (metric, detail, ...) next to the paired counts.
            paired = PairedAccuracy(n=c["n"], base_accuracy=c.get("base_accuracy"), tuned_accuracy=c.get("tuned_accuracy"),
                                    difference=c.get("difference"), mcnemar=c["mcnemar"])
            out.append(paired_metric(c.get("metric", key), name, c.get("detail", key), paired,
                                     higher_is_better=c.get("higher_is_better", True), split=c.get("split", "held out")))
        elif "difference" in c and "ci" in c:  # a paired mean difference with its interval
            ci = _interval(c["ci"])
            out.append(_finish(MetricEvidence(
                metric=c.get("metric", key), task=name, detail=c.get("detail", key), baseline_value=c.get("base_value"),
                candidate_value=c.get("tuned_value"), estimate=c["difference"], interval=ci,
                detectable=st.detectable_from_interval(ci), higher_is_better=c.get("higher_is_better", True),
                n=c.get("n", 0), unit=c.get("unit", "items"), split=c.get("split", "held out"))))
    return out


# -- the summary ----------------------------------------------------------------------------------
def evidence_summary(summary: RunSummary) -> EvidenceSummary:
    """The evidence of a run from its summary (summary.run_summary / pipeline.write_summary)."""
    baseline = summary.lineage.baseline
    n_boot, seed = (summary.bootstrap.replicates, summary.bootstrap.seed) if summary.bootstrap else (2000, 0)
    out = EvidenceSummary(run=summary.run.id, baseline=baseline)
    by_candidate: dict[str, CandidateEvidence] = {}

    def cand(name: str) -> CandidateEvidence:
        if name not in by_candidate:
            by_candidate[name] = CandidateEvidence(candidate=name, baseline=baseline)
        return by_candidate[name]

    for c in summary.lineage.candidates:
        if c.name != baseline:
            cand(c.name)
    judges: dict[str, JudgeEvidence] = {}
    for pair in summary.pairs:
        counted = pair.counted_judges
        for name, j in pair.judges.items():
            rel = j["reliability"]
            entry = judges.setdefault(name, JudgeEvidence(name=name, reliable=True))
            entry.reliable = entry.reliable and rel.get("reliable", True)
            entry.reasons += [r for r in rel.get("reasons", []) if r not in entry.reasons]
            entry.counted = entry.counted and name in counted
        cand(pair.candidate).metrics += pairwise_metrics(pair)
    for name, task in (summary.tasks or {}).items():
        # Each task chooses its headline figures (results.TaskSummary): read in their JSON form.
        result = task.model_dump(mode="json")
        for c in list(by_candidate):
            by_candidate[c].metrics += task_metrics(name, result, c, n_boot=n_boot, seed=seed)
    out.candidates = list(by_candidate.values())
    out.judges = list(judges.values())
    if judges and not any(j.counted for j in out.judges):
        out.notes.append("no reliable judge: the pairwise protocol gives no verdict; " + HOW_TO_ADD_A_JUDGE)
    for c in out.candidates:
        for m in c.metrics:
            if m.task == "refusal" and m.verdict == "worse":
                out.notes.append(f"{c.candidate}: refusals eroded ({m.detail}): fine-tuning weakened safety behaviour")
    for j in out.judges:
        if not j.reliable:
            state = "left out of the pooled verdict" if not j.counted else "still counted (exclude_unreliable: false)"
            out.notes.append(f"judge {j.name} is unreliable ({'; '.join(j.reasons)}); {state}")
    return out


def report_section(ev: EvidenceSummary) -> str | None:
    """The report's first section: the same lines `eval run` and `eval stats` print (HTML, escaped)."""
    from expertune.evaluate.report.html import esc, table

    if not ev.candidates:
        return None

    def fmt(x: float | None, signed: bool = False) -> str:
        return "–" if x is None else f"{x:+.3f}" if signed else f"{x:.3f}"

    parts = ["<p class=note>Each metric of each candidate against the baseline: the difference with its 95% interval; "
             "<b>better</b> or <b>worse</b> only when the interval excludes no change. \"Detectable\" is the smallest "
             "difference this run could have detected (80% power, two-sided 5%).</p>"]
    for c in ev.candidates:
        rows = [[m.metric, m.detail, fmt(m.baseline_value), fmt(m.candidate_value), fmt(m.estimate, True),
                 "–" if m.interval is None else f"{fmt(m.interval[0], True)} to {fmt(m.interval[1], True)}",
                 m.verdict, fmt(m.detectable),
                 f"n={m.n} {m.unit}, {m.split}" + (f", judges: {', '.join(m.judges) or 'none reliable'}" if m.task == "pairwise" else "")
                 + (f"; {m.note}" if m.note else "")] for m in c.metrics]
        parts.append(f"<h3>{esc(c.candidate)} vs {esc(c.baseline)}</h3>"
                     + table(["metric", "detail", c.baseline, c.candidate, "difference", "95% interval", "verdict",
                              "detectable", "rests on"], rows))
    if ev.notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in ev.notes) + "</ul>")
    return "".join(parts)


def plan_prompts(effect: float, *, power: float = 0.8, confidence: float = 0.95) -> dict[str, Any]:
    """`eval plan`: the prompts a pairwise win-rate difference of `effect` needs (stats.prompts_needed)."""
    from expertune.errors import ConfigError

    for name, value in (("--power", power), ("--confidence", confidence)):
        if not 0 < value < 1:
            raise ConfigError(f"{name} {value}: give a probability between 0 and 1 (e.g. 0.8 power, 0.95 confidence)")
    try:
        n = st.prompts_needed(effect, confidence=confidence, power=power)
    except ValueError as err:
        raise ConfigError(f"--effect {effect}: {err}") from None
    return {"effect": abs(effect), "win_rate": 0.5 + abs(effect), "power": power, "confidence": confidence, "prompts": n,
            "note": "count prompts, not answers: samples and grid cells of one prompt are not independent; "
                    "ties lower the variance, so this is conservative"}
