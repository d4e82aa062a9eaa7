"""The standalone evaluations behind `expertune eval mcq|classify|perplexity|forgetting`: each one
loads its set, opens the models, runs the task and writes the result file into a run folder.

The choices a command makes before running live here, not in the CLI: where few-shot examples
come from and which formats fall back when there are none (exams), which sets perplexity scores
(held-out splits of the workspace plus out-of-domain sets), and the forgetting check's margins.
Each function returns the result as written and the path it was written to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from expertune.errors import ConfigError, InputError, WorkspaceNotFound, user_path_errors
from expertune.evaluate.tasks.common import new_run_dir, open_local_models, result_files, slug, write_result
from expertune.llm.base import GenParams

Progress = Callable[[str], Any] | None


def run_folder(ws, run: Path | None, prefix: str) -> Path:
    """The given run folder (created), else a new runs/<prefix>-<time> of the workspace."""
    if run is not None:
        with user_path_errors("--run", run):
            run.mkdir(parents=True, exist_ok=True)
        return run
    if ws is None:
        raise WorkspaceNotFound("no workspace here to store results in runs/; pass -w DIR or --run DIR")
    return new_run_dir(ws.runs_dir, prefix)


def greedy_params(max_new_tokens: int, seed: int) -> GenParams:
    """Tasks with one right answer decode greedily."""
    if max_new_tokens < 1:
        raise InputError("--max-new-tokens must be at least 1")
    return GenParams(temperature=0.0, max_new_tokens=max_new_tokens, seed=seed)


def shot_pool(ws, formats: str | None, scoring: str, shots_from: str | None) -> list:
    """Few-shot examples, needed only when a few-shot format is generated: from `shots_from` (an
    exam file or eval set), else the workspace's train-split multiple-choice groups, else none."""
    from expertune.evaluate.tasks import mcq
    from expertune.evaluate.tasks.exam_formats import parse_formats

    if scoring == "logprob" or not any(f.shots == "few" for f in parse_formats(formats)):
        return []
    if shots_from:
        return mcq.load_exam(shots_from, ws)[0]
    return mcq.store_shot_pool(ws) if ws is not None else []


def run_mcq(ws, exam: str, *, model: str | None = None, adapter: str | None = None, adapter_path: Path | None = None,
            tuned_only: bool = False, formats: str | None = None, permutations: bool = False, scoring: str = "generate",
            shots_from: str | None = None, shots: int = 3, max_new_tokens: int = 192, limit: int | None = None,
            seed: int = 0, run: Path | None = None, on_note: Callable[[str], Any] | None = None,
            progress: Progress = None) -> tuple[dict[str, Any], Path]:
    """A multiple-choice exam. Without few-shot examples the few-shot formats fall back to
    zero-shot (mcq.choose_formats); `on_note` hears why before the models load."""
    from expertune.evaluate.tasks import mcq

    items, exam_info = mcq.load_exam(exam, ws)
    items = items[:limit] if limit else items
    pool = shot_pool(ws, formats, scoring, shots_from)
    fmts, note = mcq.choose_formats(formats, bool(pool))
    if note and on_note:
        on_note(note)
    models, meta = open_local_models(ws, model, adapter, adapter_path, tuned_only)
    folder = run_folder(ws, run, "mcq")
    result = mcq.run_exam(models, items, formats=fmts, permutations=permutations, shot_pool=pool, n_shots=shots,
                          params=greedy_params(max_new_tokens, seed), scoring=scoring, seed=seed, exam_info=exam_info,
                          model_info=meta, note=note, progress=progress)
    return result, write_result(folder, f"mcq-{slug(exam)}.json", result)


def run_classify(ws, task: str, *, model: str | None = None, adapter: str | None = None, adapter_path: Path | None = None,
                 tuned_only: bool = False, scoring: str = "generate", max_new_tokens: int = 16, limit: int | None = None,
                 seed: int = 0, run: Path | None = None, progress: Progress = None) -> tuple[dict[str, Any], Path]:
    """A labelled classification task."""
    from expertune.evaluate.tasks import classify

    items, info = classify.load_task(task, ws)
    models, meta = open_local_models(ws, model, adapter, adapter_path, tuned_only)
    folder = run_folder(ws, run, "classify")
    result = classify.run_task(models, items, scoring=scoring, params=greedy_params(max_new_tokens, seed), task_info=info,
                               model_info=meta, limit=limit, progress=progress)
    return result, write_result(folder, f"classify-{slug(task)}.json", result)


def perplexity_sets(ws, *, splits: Sequence[str] = ("test",), heldout: bool = True,
                    ood: Sequence[str] = ()) -> tuple[dict[str, list], dict[str, dict]]:
    """The sets perplexity scores: the workspace's held-out groups of each split (test is held
    out; val and train are reported as sets of their own) and each out-of-domain set as "ood:NAME"."""
    from expertune.evaluate.tasks import perplexity

    sets, info = perplexity.heldout_sets(ws, list(splits)) if heldout else ({}, {})
    for source in ood:
        examples, set_info = perplexity.ood_examples(source, ws)
        sets[f"ood:{set_info['name']}"] = examples
        info[f"ood:{set_info['name']}"] = set_info
    if not sets:
        raise InputError("nothing to score: keep --heldout or pass --ood SET")
    return sets, info


def run_perplexity(ws, *, model: str | None = None, adapter: str | None = None, adapter_path: Path | None = None,
                   tuned_only: bool = False, splits: Sequence[str] = ("test",), heldout: bool = True, ood: Sequence[str] = (),
                   max_new_tokens: int = 128, seed: int = 0, run: Path | None = None,
                   progress: Progress = None) -> tuple[dict[str, Any], Path]:
    """Held-out NLL/perplexity of accepted answers under base and tuned, paired per prompt group."""
    from expertune.evaluate.tasks import perplexity

    sets, info = perplexity_sets(ws, splits=splits, heldout=heldout, ood=ood)
    models, meta = open_local_models(ws, model, adapter, adapter_path, tuned_only)
    folder = run_folder(ws, run, "perplexity")
    result = perplexity.run_sets(models, sets, ws=ws, seed=seed, set_info=info, model_info=meta,
                                 reference_params=greedy_params(max_new_tokens, seed), progress=progress)
    return result, write_result(folder, "perplexity.json", result)


def forgetting_config(**options: Any):
    """The forgetting check's configuration; a bad value is a ConfigError naming the option."""
    from pydantic import ValidationError

    from expertune.evaluate.tasks.forgetting import ForgettingConfig

    try:
        return ForgettingConfig(**options)
    except ValidationError as err:
        raise ConfigError("; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}"
                                    for e in err.errors())) from None


def run_forgetting_check(ws, source: str, *, model: str | None = None, adapter: str | None = None,
                         adapter_path: Path | None = None, margin_accuracy: float = 0.02, margin_nll: float = 0.1,
                         scoring: str = "logprob", max_new_tokens: int = 128, run: Path | None = None,
                         progress: Progress = None) -> tuple[dict[str, Any], Path]:
    """Base vs tuned on a general set, flagged beyond a margin; needs an adapter to compare."""
    from expertune.evaluate.tasks.forgetting import run_forgetting

    if not adapter and not adapter_path:
        raise InputError("the forgetting check compares base and tuned: pass --adapter NAME or --adapter-path DIR")
    config = forgetting_config(margin_accuracy=margin_accuracy, margin_nll=margin_nll, mcq_scoring=scoring,
                               max_new_tokens=max_new_tokens)
    if ws is None and run is None:
        run_folder(ws, run, "forgetting")  # raises WorkspaceNotFound before the models load
    models, meta = open_local_models(ws, model, adapter, adapter_path)
    folder = run_folder(ws, run, "forgetting")
    result = run_forgetting(models, source, ws=ws, config=config, model_info=meta, progress=progress)
    return result, write_result(folder, f"forgetting-{slug(source)}.json", result)


def report_sections(run_dir: Path, *, charts: bool = True) -> list[str]:
    """The HTML fragments of the standalone results stored in `run_dir` (exams, classification,
    perplexity, forgetting), in file order."""
    from expertune.evaluate.results import read_result, result_kind
    from expertune.evaluate.tasks import classify, forgetting, mcq, perplexity

    builders = {"mcq": lambda r: mcq.report_section(r, charts=charts),
                "classify": lambda r: classify.report_section(r, charts=charts),
                "perplexity": perplexity.report_section, "forgetting": forgetting.report_section}
    out = []
    for path in result_files(run_dir):
        builder = builders.get(result_kind(path))  # None: not ours or not JSON; the report names its own inputs
        if builder:
            out.append(builder(read_result(path)))
    return out
