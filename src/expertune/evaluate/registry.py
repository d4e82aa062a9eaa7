"""The one registry of what an evaluation can run beyond pairwise judging, and of the report's
sections. Everything registers explicitly, with a decorator on the function it names:

    @task("mcq", config=McqTaskConfig, description="multiple-choice exam")
    def run_mcq_task(ctx, cfg): ...          # a `tasks:` entry of the eval YAML

    @report_section("human", title="Human judgments", before="reliability")
    def human_section(ctx): ...              # (ReportContext) -> HTML fragment or None

    @report_section("mcq", title="Multiple-choice exams", results="mcq")
    def mcq_section(result): ...             # one stored result: every `mcq*.json` of the run folder

    @judge_kind("openai", config=OpenAIJudge, freeze=freeze_openai)
    class ChatJudge: ...                     # a `type:` of the `judges:` entries, and its backend

Which tasks and sections exist is written down, not discovered: the shipped tasks are the modules
evaluate/tasks/__init__.py imports, the shipped sections those evaluate/report/build.py imports, the
shipped judge kinds those evaluate/pairwise/judges.py registers. Another distribution adds its own
with an entry point naming a module that registers with these decorators (or a function that does
when called): group `expertune.tasks` for tasks and sections (`load_entry_points`), group
`expertune.judges` for judge kinds (`load_judge_plugins`); each is loaded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from expertune import plugins

ENTRY_POINT_GROUP = "expertune.tasks"


# -- tasks -----------------------------------------------------------------------------------------
@dataclass
class EvalTask:
    """`run(ctx, config)` evaluates the run's candidates, stores its own results and returns a
    JSON-able summary (saved under runs/eval-<id>/tasks/<name>.json and shown by `eval stats`).
    `ctx` is an evaluate.runs.TaskContext: workspace, run id and folder, frozen candidates,
    and `ctx.chat_model(name)` to get a loaded LocalChatModel / OpenAIChatModel."""

    name: str
    config_model: type[BaseModel]
    run: Callable[[Any, BaseModel], dict[str, Any]]  # its dict becomes an evaluate.results.TaskSummary
    description: str = ""


TASKS: dict[str, EvalTask] = {}


def register_task(entry: EvalTask) -> None:
    TASKS[entry.name] = entry


def task(name: str, *, config: type[BaseModel], description: str = "") -> Callable:
    """Register the decorated `run(ctx, config) -> summary` as the task `name`, its `tasks.<name>`
    entry validated by `config`."""

    def decorate(run: Callable[[Any, BaseModel], dict[str, Any]]) -> Callable[[Any, BaseModel], dict[str, Any]]:
        register_task(EvalTask(name, config, run, description))
        return run

    return decorate


def validate_tasks(tasks: dict[str, Any]) -> dict[str, Any]:
    """Validate each `tasks:` entry with its registered model; unknown names are errors. Only the
    tasks registered so far count: callers load them first (evaluate.tasks.validate_tasks does)."""
    out: dict[str, Any] = {}
    for name, raw in tasks.items():
        entry = TASKS.get(name)
        if entry is None:
            known = ", ".join(sorted(TASKS)) or "none installed"
            raise ValueError(f"tasks.{name}: unknown evaluation task (known: {known})")
        try:
            out[name] = entry.config_model.model_validate(raw or {}).model_dump(mode="json")
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ValueError(f"tasks.{name}: {problems}") from None
    return out


# -- report sections -------------------------------------------------------------------------------
Builder = Callable[[Any], "str | None"]  # (evaluate.report.sections.ReportContext) -> HTML fragment


@dataclass
class Section:
    key: str
    title: str
    builder: Builder
    before: str | None = "samples"
    after: str | None = None


SECTIONS: list[Section] = []  # in the order they were registered; `ordered_sections` places them


def register_section(key: str, builder: Builder, *, title: str | None = None, before: str | None = "samples",
                     after: str | None = None) -> None:
    """Add (or replace, keeping its place) a report section. Placement: after `after` if given,
    else before `before` (default: before the samples), else at the end."""
    section = Section(key, title or key.replace("_", " ").capitalize(), builder, before, after)
    keys = [s.key for s in SECTIONS]
    if key in keys:
        SECTIONS[keys.index(key)] = section
    else:
        SECTIONS.append(section)


def report_section(key: str, *, title: str | None = None, before: str | None = "samples", after: str | None = None,
                   results: str | None = None) -> Callable:
    """Register the decorated builder as the report section `key`. With `results=KIND` the builder
    takes one stored result instead of the report context, and the section shows every
    `KIND*.json` of the run folder whose "kind" is KIND (the files a task writes)."""

    def decorate(fn: Callable) -> Callable:
        register_section(key, fn if results is None else _results_builder(results, fn), title=title, before=before,
                         after=after)
        return fn

    return decorate


def _results_builder(kind: str, section: Callable[[Any], str]) -> Builder:
    """The section of every `KIND*.json` of the run folder that declares that kind, each read as
    its typed result (evaluate/results.py): a damaged one is an InputError naming the file and
    field, shown in the section's place."""
    from expertune.evaluate.results import read_result, result_kind

    def builder(ctx: Any) -> str | None:
        paths = [p for p in sorted(Path(ctx.run.folder).glob(f"{kind}*.json")) if result_kind(p) == kind]
        return "\n".join(section(read_result(p)) for p in paths) or None

    return builder


def ordered_sections() -> list[Section]:
    """The sections in report order. Those without a place (before=None, after=None: the built-in
    ones) come first, in the order they were registered; then each other one goes after its
    `after`, else before its `before`, else at the end. The order so never depends on which
    module happened to be imported first."""
    out = [s for s in SECTIONS if s.before is None and s.after is None]
    for section in SECTIONS:
        if section in out:
            continue
        keys = [s.key for s in out]
        if section.after in keys:
            out.insert(keys.index(section.after) + 1, section)
        elif section.before in keys:
            out.insert(keys.index(section.before), section)
        else:
            out.append(section)
    return out


# -- judge kinds -----------------------------------------------------------------------------------
JUDGES_ENTRY_POINT_GROUP = "expertune.judges"


@dataclass
class JudgeKind:
    """A `type:` of the eval YAML's `judges:` entries. `config` validates an entry (a pydantic model
    with `type: Literal[name]` and `name`); `freeze(ws, judge, where)` resolves it to the entry stored
    in the run's lineage (an evaluate.frozen.FrozenJudge: name, type, judge_id, settings, model_id,
    ...: see pairwise.judges.judge_entry);
    `make(frozen, rubric)` opens that entry as a backend with `estimate(request) -> usd` and
    `run(requests, on_outcome, budget)`. Without `make` the kind is judged by people
    (`eval human`), not by the judging stage."""

    name: str
    config_model: type[BaseModel]
    freeze: Callable[[Any, Any, str], Any]
    make: Callable[[Any, Any], Any] | None = None
    description: str = ""


JUDGE_KINDS: dict[str, JudgeKind] = {}


def register_judge_kind(entry: JudgeKind) -> None:
    JUDGE_KINDS[entry.name] = entry


def judge_kind(name: str, *, config: type[BaseModel], freeze: Callable[[Any, Any, str], Any],
               description: str = "") -> Callable:
    """Register the decorated backend factory `make(frozen, rubric)` (a class, usually) as the judge
    kind `name`, its `judges:` entries validated by `config` and frozen by `freeze`."""

    def decorate(make: Callable) -> Callable:
        register_judge_kind(JudgeKind(name, config, freeze, make, description))
        return make

    return decorate


def load_judge_plugins() -> list[str]:
    """Load the `expertune.judges` entry points (each once): judge kinds of other distributions."""
    return plugins.load_entry_points(JUDGES_ENTRY_POINT_GROUP)


# -- plugins from other distributions --------------------------------------------------------------
def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Load the installed distributions' `expertune.tasks` entry points (each once; see
    expertune.plugins): a module registers its tasks and sections when imported, a callable when
    called. A plugin that fails to load is skipped with a warning. Returns the names loaded now."""
    return plugins.load_entry_points(group)
