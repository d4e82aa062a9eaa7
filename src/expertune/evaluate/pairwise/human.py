"""Human blind judging: a domain expert compares answers the way the LLM judges do, blind.

The methods expertune follows validate LLM judges against experts, so a human sees exactly what a
judge sees — the conversation and two answers under the rubric's neutral labels, never a
candidate's name — and the judgment is stored like a judge's: an EvalJudgment of the judge
`human:NAME`, keyed by `judging.judgment_key` (what was shown), with its label -> answer-hash
mapping, so the winner is resolved through the answers (`analysis.resolve_outcome`) and can never
be read inverted.

A human judges each comparison once, in one order chosen at random (a person remembers the first
reading, so asking twice would not be an independent second order). The order, like the order of
the comparisons, comes from a hash of (run, name, comparison), so it is random across comparisons
and people but the same on every start: a session is resumable without any session table (what
is judged is in the store), and the order shown is recorded in the judgment (`flags.order`).

`--sample N --prefer disagreement` spends the expert's time where it tells most: the comparisons
whose LLM verdicts (judges x orders) disagree most. The chosen sample is saved in the run folder
(`human/NAME.json`) so a resumed session keeps judging the same comparisons.

The terminal UI (cli/human.py) and the studio's blind-review page both drive this API:
`start_human_session`, `next_comparison`, `record_human_judgment`, `progress`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from expertune.errors import ConfigError, InputError, NotFound
from expertune.evaluate import stats as st
from expertune.evaluate.config import Rubric
from expertune.evaluate.frozen import FrozenJudge
from expertune.evaluate.pairwise.analysis import load_run_data
from expertune.evaluate.pairwise.judges import HUMAN_PREFIX, human_judge
from expertune.evaluate.pairwise.judging import Comparison, build_comparisons, build_request, load_judgments
from expertune.evaluate.runs import EvalRunRecord, get_run, run_config, sha256_json
from expertune.store.eval_models import EvalJudgment
from expertune.workspace import Workspace

PREFER = ("random", "disagreement")


def judge_name_for(person: str) -> str:
    """A valid human judge name for a display name ("Dr. Lee" -> "Dr._Lee"): the studio knows its
    users by names that may hold spaces or apostrophes, which a judge name cannot."""
    name = re.sub(r"[^\w.@-]+", "_", (person or "").strip()).strip("_")[:100]
    return human_judge(name).settings["name"]


def comparison_id(c: Comparison) -> str:
    """A stable short id of a comparison within its run (what the studio puts in its URLs)."""
    return sha256_json([c.candidate, c.prompt.idx, c.temperature, c.max_new_tokens, c.seed, c.sample])[:16]


def _unit(*parts: Any) -> float:
    """A number in [0, 1) from a hash: the session's randomness, reproducible on every start."""
    return int(hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:15], 16) / 16**15


@dataclass
class Shown:
    """One comparison as the human sees it: no candidate names, answers under neutral labels."""

    comparison_id: str
    conversation: list[dict[str, str]]
    answers: dict[str, str]  # label -> answer text, in the order shown
    labels: list[str]
    criteria: list[str]
    scale: tuple[int, int]
    position: int  # 1-based place of this comparison in the session
    total: int


@dataclass
class HumanSession:
    ws: Workspace
    run: EvalRunRecord
    name: str
    judge: FrozenJudge
    rubric: Rubric
    rubric_hash: str
    comparisons: list[Comparison]  # the session's comparisons in presentation order
    shown_at: dict[str, float] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(self.rubric.labels)

    def order_of(self, c: Comparison) -> int:
        """0: the baseline's answer under the first label; 1: the candidate's."""
        return int(_unit("order", self.run.id, self.name, comparison_id(c)) < 0.5)

    def request(self, c: Comparison):
        return build_request(c, self.order_of(c), self.judge, self.rubric_hash, self.labels)

    def find(self, cid: str) -> Comparison:
        for c in self.comparisons:
            if comparison_id(c) == cid:
                return c
        raise NotFound(f"comparison {cid!r} is not in {self.name}'s session of eval run {self.run.id}")

    def judged(self) -> dict[str, EvalJudgment]:
        """comparison id -> this human's stored judgment (in either order: a reused one counts)."""
        return human_judgments(self.ws, self.run, self.name, self.comparisons, self.rubric_hash, self.labels)


def judgeable(run: EvalRunRecord, ws: Workspace) -> list[Comparison]:
    """Comparisons with both answers that differ (identical answers are a tie without asking)."""
    return [c for c in build_comparisons(run, ws=ws) if c.complete and not c.identical]


def human_judgments(ws: Workspace, run: EvalRunRecord, name: str, comparisons: list[Comparison], rubric_hash: str,
                    labels: list[str]) -> dict[str, EvalJudgment]:
    judge = human_judge(name)
    keys = {comparison_id(c): [build_request(c, order, judge, rubric_hash, labels).key for order in (0, 1)] for c in comparisons}
    rows = load_judgments(ws, [k for ks in keys.values() for k in ks], ok_only=True)
    return {cid: rows[k] for cid, ks in keys.items() for k in ks if k in rows}


def human_names(ws: Workspace, run: EvalRunRecord) -> list[str]:
    """The run's declared human judges and everyone who stored a human judgment, sorted."""
    from sqlalchemy import select

    declared = {j.settings["name"] for j in run.lineage.judges if j.type == "human"}
    with ws.session() as session:
        stored = {j.removeprefix(HUMAN_PREFIX) for j in session.scalars(
            select(EvalJudgment.judge).where(EvalJudgment.judge.like(HUMAN_PREFIX + "%")).distinct())}
    return sorted(declared | stored)


# -- sessions --------------------------------------------------------------------------------------
def start_human_session(ws: Workspace, run_ref: int | str, name: str, sample: int | None = None,
                        prefer: Literal["random", "disagreement"] | None = None) -> HumanSession:
    """A human's session over a run: every judgeable comparison in a random order, or a sample of
    N chosen at random or where the LLM judges disagree most. Starting again resumes it."""
    judge = human_judge(name)
    run = get_run(ws, run_ref)
    config = run_config(run)
    if prefer is not None and prefer not in PREFER:
        raise ConfigError(f"--prefer {prefer!r}: use one of {', '.join(PREFER)}")
    if sample is not None and sample < 1:
        raise ConfigError(f"--sample {sample}: give a positive number of comparisons")
    comparisons = judgeable(run, ws)
    if not comparisons:
        raise NotFound(f"eval run {run.id} has no comparisons to judge yet (both answers needed); "
                       f"run `expertune eval generate {run.id}` first")
    rank = {comparison_id(c): _unit("sequence", run.id, name, comparison_id(c)) for c in comparisons}
    comparisons.sort(key=lambda c: rank[comparison_id(c)])
    saved = _sample_file(run, name)
    if sample is not None:
        chosen = _choose(ws, run, comparisons, sample, prefer or "random")
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"sample": sample, "prefer": prefer or "random", "comparisons": chosen}, indent=1),
                         encoding="utf-8")
    elif saved.is_file():
        chosen = json.loads(saved.read_text(encoding="utf-8"))["comparisons"]
    else:
        chosen = None
    if chosen is not None:
        keep = set(chosen)
        comparisons = [c for c in comparisons if comparison_id(c) in keep]
    return HumanSession(ws, run, name, judge, config.rubric, run.lineage.rubric_hash, comparisons)


def _sample_file(run: EvalRunRecord, name: str) -> Path:
    return Path(run.folder) / "human" / f"{name}.json"


def disagreement(ws: Workspace, run: EvalRunRecord) -> dict[str, float]:
    """comparison id -> how unsettled the LLM verdicts are: the standard deviation of the scores
    (win 1, tie 0.5, loss 0) over every judge and order that gave one; 0.5 (the most) when none
    did, since an unjudged comparison is the least certain of all."""
    out = {}
    for item in load_run_data(ws, run.id).items:
        scores = [st.SCORE[o] for v in item.judges.values() for o in v.orders if o is not None]
        out[comparison_id(item.comparison)] = st.population_std(scores) if scores else 0.5
    return out


def _choose(ws: Workspace, run: EvalRunRecord, comparisons: list[Comparison], n: int, prefer: str) -> list[str]:
    """The ids of n comparisons; `comparisons` is already in this human's random order, which
    breaks ties (and is the whole choice for prefer=random)."""
    ids = [comparison_id(c) for c in comparisons]
    if prefer == "disagreement":
        spread = disagreement(ws, run)
        ids = sorted(ids, key=lambda cid: -spread.get(cid, 0.5))  # stable: ties keep the random order
    return ids[:n]


def progress(session: HumanSession) -> dict[str, int]:
    done = len(session.judged())
    return {"done": done, "total": len(session.comparisons), "pending": len(session.comparisons) - done}


def next_comparison(session: HumanSession) -> Shown | None:
    """The next comparison this human has not judged, as shown to them; None when all are done."""
    judged = session.judged()
    for position, c in enumerate(session.comparisons, start=1):
        cid = comparison_id(c)
        if cid in judged:
            continue
        request = session.request(c)
        session.shown_at[cid] = time.monotonic()
        return Shown(cid, list(c.prompt.messages), dict(request.answers), session.labels,
                     [k.name for k in session.rubric.criteria], (session.rubric.scale_min, session.rubric.scale_max),
                     len(judged) + 1, len(session.comparisons))
    return None


def record_human_judgment(session: HumanSession, comparison: str, verdict: str,
                          scores: dict[str, dict[str, int]] | None = None, note: str | None = None,
                          seconds: float | None = None) -> EvalJudgment:
    """Store the human's verdict on a comparison: a neutral label or "tie", optional scores
    (label -> criterion -> scale value) and a note. Judging a comparison again replaces it.
    `seconds` is how long the comparison was shown, when the caller measured it (the studio:
    from the page's render to the POST); by default the session's own clock."""
    c = session.find(comparison)
    labels = session.labels
    verdict = verdict.strip()
    match = {x.lower(): x for x in [*labels, "tie"]}.get(verdict.lower())
    if match is None:
        raise InputError(f"verdict {verdict!r}: use {', '.join(labels)} or tie")
    scores = _valid_scores(scores or {}, session.rubric)
    request = session.request(c)
    started = session.shown_at.pop(comparison, None)
    if seconds is None:
        seconds = round(time.monotonic() - started, 3) if started else 0.0
    row = EvalJudgment(
        key=request.key, judge=session.judge.name, judge_id=session.judge.judge_id, status="ok", verdict=match,
        mapping=request.mapping, scores=scores or None, reason=(note or "").strip() or None,
        flags={**request.flags, "order": session.order_of(c), "run": session.run.id},
        raw=None, attempts=1, error=None, seconds=max(0.0, round(seconds, 3)))
    with session.ws.session() as db:
        # A reused judgment of the same comparison in the other order is replaced, not doubled.
        for order in (0, 1):
            old = db.get(EvalJudgment, build_request(c, order, session.judge, session.rubric_hash, labels).key)
            if old is not None:
                db.delete(old)
        db.flush()
        db.add(row)
    return row


def _valid_scores(scores: dict[str, dict[str, int]], rubric: Rubric) -> dict[str, dict[str, int]]:
    criteria = {k.name.lower(): k.name for k in rubric.criteria}
    labels = {x.lower(): x for x in rubric.labels}
    out: dict[str, dict[str, int]] = {}
    for label, per in scores.items():
        if str(label).lower() not in labels:
            raise InputError(f"scores: label {label!r} is not one of {', '.join(rubric.labels)}")
        for crit, value in (per or {}).items():
            if str(crit).lower() not in criteria:
                raise InputError(f"scores: criterion {crit!r} is not in the rubric ({', '.join(criteria.values())})")
            if value is None:
                continue
            if not isinstance(value, int) or not rubric.scale_min <= value <= rubric.scale_max:
                raise InputError(f"scores: {label}/{crit} = {value!r}; give a whole number "
                                 f"{rubric.scale_min}-{rubric.scale_max}")
            out.setdefault(labels[str(label).lower()], {})[criteria[str(crit).lower()]] = value
    return out
