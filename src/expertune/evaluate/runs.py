"""Evaluation runs: creation (which freezes prompts, candidates and judges), lookup, folders.

A run's plan is frozen when it is created: the prompts are copied into the store and every
candidate and judge is resolved to a stable identity (base weights hash, adapter weights hash,
endpoint + model). Later stages, resumptions and reports work from that frozen plan, so moving
`demo@current` to a new version or editing the store never changes what a past run measured.

The plan is typed (`EvalLineage`, its candidates and judges in evaluate/frozen.py): validated when
the run is created and every time `get_run` reads it back, so a damaged or hand-edited lineage is
an InputError naming the run and the field, never a KeyError in a later stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import Field
from sqlalchemy import func, select

from expertune.errors import ConfigError, InputError, NotFound
from expertune.evaluate.config import EvalConfig, Grid
from expertune.evaluate.frozen import (
    AnyFrozenJudge, FrozenCandidate, FrozenJudge, FrozenLocalCandidate, FrozenRemoteCandidate, chat_model, resolve_local,
    sha256_json,
)
from expertune.evaluate.pairwise.judges import all_judge_kinds
from expertune.evaluate.prompts import collect_prompts
from expertune.records import Record, validated
from expertune.store.eval_models import EvalPrompt, EvalRun
from expertune.store.tables import utcnow
from expertune.workspace import Workspace

LINEAGE_VERSION = 1  # of a run's lineage; raise it (and read the older shape) when a field changes meaning


class PromptSetCount(Record):
    name: str
    prompts: int
    in_domain: int
    out_of_domain: int


class EvalLineage(Record):
    """A run's frozen plan (the `lineage` column of eval_runs, and runs/eval-<id>/lineage.json)."""

    schema_version: int = LINEAGE_VERSION
    created_at: str
    expertune_version: str
    config_source: str | None = None  # the config file, when the run was started from one
    dataset_version: dict[str, Any] | None = None  # the newest dataset version then: id, hash, name, created_at
    baseline: str
    candidates: list[FrozenCandidate]
    judges: list[AnyFrozenJudge] = Field(default_factory=list)
    grid: Grid
    rubric_hash: str
    prompt_sets: list[PromptSetCount] = Field(default_factory=list)

    def candidate(self, name: str) -> FrozenLocalCandidate | FrozenRemoteCandidate | None:
        return next((c for c in self.candidates if c.name == name), None)


class FrozenPrompt(Record):
    """A prompt of a run, as frozen in the store (store.eval_models.EvalPrompt)."""

    idx: int
    set_name: str
    in_domain: bool
    source: str | None = None
    topic: str | None = None
    messages: list[dict[str, Any]]
    prompt_hash: str


class EvalRunRecord(Record):
    """An evaluation run as the stages read it (`get_run`): its config, frozen plan and prompts."""

    id: int
    name: str | None = None
    status: str
    config: dict[str, Any]  # the EvalConfig as JSON (run_config validates it)
    config_hash: str
    lineage: EvalLineage
    folder: str
    created_at: str
    prompts: list[FrozenPrompt] = Field(default_factory=list)


def rubric_hash(config: EvalConfig) -> str:
    return sha256_json(config.rubric.model_dump(mode="json"))


# -- resolving candidates and judges --------------------------------------------------------------
def resolve_candidates(ws: Workspace, config: EvalConfig) -> list[FrozenLocalCandidate | FrozenRemoteCandidate]:
    out: list[FrozenLocalCandidate | FrozenRemoteCandidate] = []
    for i, c in enumerate(config.candidates):
        if c.type == "local":
            frozen = resolve_local(ws, c.model, c.adapter, c.adapter_path, f"candidates.{i}", c.precision or config.precision)
            out.append(FrozenLocalCandidate(name=c.name, batch_size=c.batch_size, **dict(frozen)))
        else:
            endpoint = c.endpoint()
            endpoint.api_key()  # a missing key fails now, not after an hour of local generation
            out.append(FrozenRemoteCandidate(name=c.name, type="openai", model_id=endpoint.id, base=c.model,
                                             endpoint=c.model_dump(include=set(type(c).model_fields) - {"type", "name"})))
    return out


def resolve_judges(ws: Workspace, config: EvalConfig) -> list[FrozenJudge]:
    """Each `judges:` entry frozen by its judge kind (evaluate/pairwise/judges.py, or a plugin's)."""
    kinds = all_judge_kinds()
    return [kinds[j.type].freeze(ws, j, f"judges.{i}") for i, j in enumerate(config.judges)]



# -- runs -----------------------------------------------------------------------------------------
def run_folder(ws: Workspace, run_id: int) -> Path:
    return ws.runs_dir / f"eval-{run_id}"


def create_run(ws: Workspace, config: EvalConfig, *, source: str | None = None) -> EvalRunRecord:
    """Resolve and freeze the plan, store the run and its prompts, write runs/eval-<id>/."""
    prompts = collect_prompts(ws, config)
    candidates = resolve_candidates(ws, config)
    judges = resolve_judges(ws, config)
    config_data = config.model_dump(mode="json")
    lineage = EvalLineage(
        created_at=utcnow().isoformat(), expertune_version=_version(), config_source=source,
        dataset_version=_dataset_version(ws), baseline=config.baseline_name, candidates=candidates, judges=judges,
        grid=config.grid, rubric_hash=rubric_hash(config), prompt_sets=_set_counts(prompts),
    ).model_dump(mode="json")
    with ws.session() as session:
        run = EvalRun(name=config.name, config=config_data, config_hash=sha256_json(config_data), lineage=lineage, folder="")
        session.add(run)
        session.flush()
        run.folder = str(run_folder(ws, run.id))
        session.add_all(EvalPrompt(run_id=run.id, idx=i, set_name=p.set_name, in_domain=p.in_domain, source=p.source,
                                   topic=p.topic, messages=p.messages, prompt_hash=p.prompt_hash) for i, p in enumerate(prompts))
        run_id = run.id
    folder = run_folder(ws, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config_data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (folder / "lineage.json").write_text(json.dumps(lineage, indent=2, ensure_ascii=False), encoding="utf-8")
    return get_run(ws, run_id)


def _set_counts(prompts) -> list[dict[str, Any]]:
    sets: dict[str, dict[str, Any]] = {}
    for p in prompts:
        entry = sets.setdefault(p.set_name, {"name": p.set_name, "prompts": 0, "in_domain": 0, "out_of_domain": 0})
        entry["prompts"] += 1
        entry["in_domain" if p.in_domain else "out_of_domain"] += 1
    return list(sets.values())


def _dataset_version(ws: Workspace) -> dict[str, Any] | None:
    from expertune.data.versions import list_versions

    versions = list_versions(ws)
    if not versions:
        return None
    v = versions[-1]
    return {"id": v["id"], "hash": v["hash"], "name": v["name"], "created_at": v["created_at"]}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("expertune")
    except PackageNotFoundError:
        return "unknown"


def get_run(ws: Workspace, ref: int | str) -> EvalRunRecord:
    """The run `ref` (an id, or eval-<id>) with its frozen plan and prompts, validated."""
    try:
        run_id = int(str(ref).removeprefix("eval-"))
    except ValueError:
        raise NotFound(f"eval run {ref!r}: expected a run id (a number, as printed by `expertune eval run`)") from None
    with ws.session() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            latest = session.scalar(select(func.max(EvalRun.id)))
            hint = f"the newest is {latest}" if latest else "none yet; run `expertune eval run EVAL.yaml`"
            raise NotFound(f"eval run {run_id} does not exist ({hint})")
        prompts = session.scalars(select(EvalPrompt).where(EvalPrompt.run_id == run_id).order_by(EvalPrompt.idx)).all()
        data = {
            "id": run.id, "name": run.name, "status": run.status, "config": run.config, "config_hash": run.config_hash,
            "lineage": run.lineage, "folder": run.folder, "created_at": run.created_at.isoformat(),
            "prompts": [{"idx": p.idx, "set_name": p.set_name, "in_domain": p.in_domain, "source": p.source,
                         "topic": p.topic, "messages": p.messages, "prompt_hash": p.prompt_hash} for p in prompts],
        }
    return parse_run_record(data, f"eval run {run_id}")


def parse_run_record(data: Any, source: str) -> EvalRunRecord:
    """An evaluation run from its stored form; `source` names it in errors."""
    lineage = data.get("lineage") if isinstance(data, dict) else None
    version = lineage.get("schema_version") if isinstance(lineage, dict) else None
    if isinstance(version, int) and version > LINEAGE_VERSION:
        raise InputError(f"{source}: lineage schema_version {version} was written by a newer expertune (this one "
                         f"reads up to {LINEAGE_VERSION}); upgrade expertune to read this run")
    return validated(EvalRunRecord, data, source, "evaluation run",
                     "the stored plan was edited or damaged: start a new run")


def set_status(ws: Workspace, run_id: int, status: str) -> None:
    with ws.session() as session:
        run = session.get(EvalRun, run_id)
        run.status = status
        run.updated_at = utcnow()


class EvalRunRow(Record):
    """A run as `eval list` and the studio list it."""

    id: int
    name: str | None = None
    status: str
    created_at: str
    candidates: list[str]
    judges: list[str]
    prompts: int
    folder: str


def list_runs(ws: Workspace) -> list[EvalRunRow]:
    """Every run, oldest first. The names come from the stored lineage as it is, without validating
    the whole plan: a run whose lineage is damaged is still listed (`get_run` says what is wrong)."""
    with ws.session() as session:
        runs = session.scalars(select(EvalRun).order_by(EvalRun.id)).all()
        counts = dict(session.execute(select(EvalPrompt.run_id, func.count()).group_by(EvalPrompt.run_id)).all())
        return [EvalRunRow(id=r.id, name=r.name, status=r.status, created_at=r.created_at.isoformat(),
                           candidates=[c["name"] for c in r.lineage.get("candidates", [])],
                           judges=[j["name"] for j in r.lineage.get("judges", [])], prompts=counts.get(r.id, 0),
                           folder=r.folder) for r in runs]


def run_config(run: EvalRunRecord) -> EvalConfig:
    return EvalConfig.model_validate(run.config)


@dataclass
class TaskContext:
    """What an extension task (evaluate/tasks/, registered in evaluate/registry.py) gets to evaluate a run's candidates."""

    ws: Workspace
    run_id: int
    folder: Path
    candidates: list[FrozenLocalCandidate | FrozenRemoteCandidate]
    baseline: str

    def chat_model(self, name: str):
        frozen = next((c for c in self.candidates if c.name == name), None)
        if frozen is None:
            raise ConfigError(f"no candidate named {name!r} in eval run {self.run_id}")
        return chat_model(frozen)


def rows_by_key(ws: Workspace, model: Any, keys: Iterable[str], *where: Any) -> dict[str, Any]:
    """Cached rows (generations, judgments) by their cache key, looked up in chunks that stay
    under SQLite's bound-parameter limit."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, Any] = {}
    with ws.session() as session:
        for i in range(0, len(keys), 500):
            for row in session.scalars(select(model).where(model.key.in_(keys[i:i + 500]), *where)):
                found[row.key] = row
    return found
