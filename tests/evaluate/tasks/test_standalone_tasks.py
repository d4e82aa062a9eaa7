"""The choices `eval mcq|perplexity|forgetting` make before any model loads (evaluate/tasks/standalone.py)."""

from pathlib import Path

import pytest

from expertune.errors import ConfigError, InputError, WorkspaceNotFound
from expertune.evaluate.tasks import standalone as tasks

EXAMS = Path(__file__).parents[2] / "fixtures" / "exams"


def test_a_shot_pool_only_when_a_few_shot_format_is_generated(ws):
    shots = str(EXAMS / "shots.jsonl")
    assert tasks.shot_pool(ws, "zero-answer-json", "generate", shots) == []  # no few-shot format asked
    assert tasks.shot_pool(ws, None, "logprob", shots) == []  # log-prob scoring uses no prompt format
    pool = tasks.shot_pool(ws, None, "generate", shots)  # the default formats include a few-shot one
    assert pool and all(item.options for item in pool)
    assert tasks.shot_pool(None, "few-answer-markdown", "generate", None) == []  # no workspace, no file: none
    assert tasks.shot_pool(ws, "few-answer-markdown", "both", None) == []  # an empty workspace has no train split


def test_perplexity_needs_a_set_to_score(ws):
    with pytest.raises(InputError, match="nothing to score"):
        tasks.perplexity_sets(ws, heldout=False)


def test_the_run_folder_is_the_given_one_or_a_new_one_in_the_workspace(ws, tmp_path):
    assert tasks.run_folder(None, tmp_path / "mine", "mcq") == tmp_path / "mine" and (tmp_path / "mine").is_dir()
    made = tasks.run_folder(ws, None, "mcq")
    assert made.parent == ws.runs_dir and made.name.startswith("mcq-")
    with pytest.raises(WorkspaceNotFound, match="--run DIR"):
        tasks.run_folder(None, None, "mcq")


def test_greedy_params_refuse_no_tokens():
    assert tasks.greedy_params(5, 3).temperature == 0.0
    with pytest.raises(InputError, match="--max-new-tokens"):
        tasks.greedy_params(0, 0)


def test_the_forgetting_check_says_what_it_misses_before_loading_a_model(tmp_path):
    with pytest.raises(InputError, match="--adapter NAME or --adapter-path DIR"):
        tasks.run_forgetting_check(None, "general.jsonl")
    with pytest.raises(ConfigError, match="--margin-accuracy"):
        tasks.run_forgetting_check(None, "general.jsonl", adapter="x", margin_accuracy=-1)
    with pytest.raises(WorkspaceNotFound):
        tasks.run_forgetting_check(None, "general.jsonl", adapter="x")
