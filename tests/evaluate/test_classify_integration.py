"""`expertune eval classify` end to end on the builtin model (fast) and on a trained adapter (slow)."""

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from expertune.cli import exams

TASK = Path(__file__).parent.parent / "fixtures" / "exams" / "classify6.jsonl"
LABELS = ["formation", "remedies", "terms"]


def cli() -> typer.Typer:
    """The eval sub-app as cli/evaluate.py mounts it, with the global -w option."""
    app = typer.Typer()

    @app.callback()
    def _global(ctx: typer.Context, workspace: str = typer.Option(None, "-w")):
        ctx.obj = {"workspace": workspace}

    eval_app = typer.Typer()
    exams.register(eval_app)
    app.add_typer(eval_app, name="eval")
    return app


def run(*args):
    result = CliRunner().invoke(cli(), [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


@pytest.mark.integration
def test_eval_classify_on_the_builtin_model(ws):
    out = run("-w", ws.root, "eval", "classify", TASK, "--limit", 4, "--max-new-tokens", 4, "--scoring", "both", "--json")
    assert out["task"]["labels"] == LABELS and out["task"]["n_items"] == 4
    summary = out["models"]["base"]["summary"]
    for mode in ("generate", "logprob"):
        m = summary[mode]
        assert m["n"] == 4 and set(m["per_class"]) == set(LABELS)
        assert m["confusion"]["columns"] == [*LABELS, "invalid"]
        assert sum(map(sum, m["confusion"]["matrix"])) == 4
        assert {"precision", "recall", "f1", "sensitivity", "specificity"} <= set(m["per_class"]["terms"])
    stored = json.loads(Path(out["path"]).read_text())
    assert Path(out["path"]).parent.parent == ws.runs_dir
    assert len(stored["models"]["base"]["records"]) == 4 and all("raw" in r for r in stored["models"]["base"]["records"])
    assert all(set(r["logprobs"]) == set(LABELS) for r in stored["models"]["base"]["logprob_records"])
    from expertune.evaluate.classify import rescore

    assert rescore(stored)["models"]["base"]["summary"] == stored["models"]["base"]["summary"]


def test_export_training_option_writes_train_split_records(tmp_path):
    out = run("eval", "classify", TASK, "--export-training", tmp_path / "train.jsonl", "--json")
    rows = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert out["rows"] == 6 == len(rows) and rows[0]["messages"][-1] == {"role": "assistant", "content": "formation"}


def test_user_errors_exit_2_without_traceback(tmp_path, ws):
    result = CliRunner().invoke(cli(), ["-w", str(ws.root), "eval", "classify", str(tmp_path / "nope.jsonl")])
    from expertune.errors import ExpertuneError

    assert isinstance(result.exception, ExpertuneError) and "no such task file" in str(result.exception)


FIXTURE_ADAPTER = TASK.parent / "classify6-adapter"


@pytest.mark.slow
def test_trained_classifier_adapter_beats_or_matches_base(ws):
    """An adapter trained on classify6.jsonl's train split (`expertune eval classify
    tests/fixtures/exams/classify6.jsonl --export-training train.jsonl`, import, split, `expertune
    train`). Found, in order: a folder in EXPERTUNE_CLASSIFY_ADAPTER; a workspace in
    EXPERTUNE_CLASSIFY_WS whose registry holds it as `classify6`; the fixture folder
    tests/fixtures/exams/classify6-adapter."""
    folder = os.environ.get("EXPERTUNE_CLASSIFY_ADAPTER")
    ws_dir = os.environ.get("EXPERTUNE_CLASSIFY_WS")
    if folder:
        args = ["-w", ws.root, "eval", "classify", TASK, "--adapter-path", folder]
    elif ws_dir:
        args = ["-w", ws_dir, "eval", "classify", TASK, "--adapter", "classify6"]
    elif FIXTURE_ADAPTER.is_dir():
        args = ["-w", ws.root, "eval", "classify", TASK, "--adapter-path", FIXTURE_ADAPTER]
    else:
        pytest.skip("no trained classifier adapter (EXPERTUNE_CLASSIFY_ADAPTER, EXPERTUNE_CLASSIFY_WS or "
                    "tests/fixtures/exams/classify6-adapter)")
    out = run(*args, "--scoring", "both", "--json")
    base, tuned = out["models"]["base"]["summary"], out["models"]["tuned"]["summary"]
    # Trained on the label-only answer format, the adapter answers with a label far more often and
    # is at least as accurate on the 6 held-out items.
    assert tuned["generate"]["invalid"]["value"] <= base["generate"]["invalid"]["value"]
    assert tuned["generate"]["accuracy"]["value"] >= base["generate"]["accuracy"]["value"]
    assert out["comparisons"]["tuned"]["generate"]["mcnemar"]["n_items"] == 6
    assert tuned["logprob"]["confusion"]["columns"][-1] == "invalid"
