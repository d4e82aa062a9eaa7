"""`expertune eval classify` end to end on the builtin model (fast) and on a trained adapter (slow)."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from expertune.cli import exams

TASK = Path(__file__).parents[2] / "fixtures" / "exams" / "classify6.jsonl"
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
    from expertune.evaluate.tasks.classify import rescore

    assert rescore(stored)["models"]["base"]["summary"] == stored["models"]["base"]["summary"]


def test_export_training_option_writes_train_split_records(tmp_path):
    out = run("eval", "classify", TASK, "--export-training", tmp_path / "train.jsonl", "--json")
    rows = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert out["rows"] == 6 == len(rows) and rows[0]["messages"][-1] == {"role": "assistant", "content": "formation"}


def test_user_errors_exit_2_without_traceback(tmp_path, ws):
    result = CliRunner().invoke(cli(), ["-w", str(ws.root), "eval", "classify", str(tmp_path / "nope.jsonl")])
    from expertune.errors import ExpertuneError

    assert isinstance(result.exception, ExpertuneError) and "no such file" in str(result.exception)


@pytest.mark.integration
def test_classifier_adapter_trained_with_cpu_quick_is_reported_with_intervals_and_confusion(ws, tmp_path):
    """The whole loop: the task's train split becomes training data, `cpu-quick` trains an adapter
    on the builtin model, and `eval classify` reports base and tuned side by side."""
    from expertune.data.ingest import import_file
    from expertune.data.splits import assign_splits
    from expertune.evaluate.tasks.classify import report_section
    from expertune.train.run import train

    run("eval", "classify", TASK, "--export-training", tmp_path / "train.jsonl", "--json")
    import_file(ws, tmp_path / "train.jsonl")
    assign_splits(ws, val=0.0, test=0.0)
    record = train(ws, "cpu-quick", ["adapter_name=classify6", "max_steps=8", "learning_rate=2e-3", "max_length=256"],
                   show_progress=False)
    assert record.status == "completed"

    out = run("-w", ws.root, "eval", "classify", TASK, "--adapter", "classify6", "--max-new-tokens", 6,
              "--scoring", "both", "--json")
    base, tuned = out["models"]["base"]["summary"], out["models"]["tuned"]["summary"]
    for summary in (base, tuned):
        assert summary["generate"]["n"] == 6
        low, high = summary["generate"]["accuracy"]["ci"]
        assert 0 <= low <= summary["generate"]["accuracy"]["value"] <= high <= 1
        assert summary["logprob"]["confusion"]["columns"] == [*LABELS, "invalid"]
    # Trained on label-only answers, the adapter answers with a label at least as often as the base.
    assert tuned["generate"]["invalid"]["value"] <= base["generate"]["invalid"]["value"]
    assert out["comparisons"]["tuned"]["generate"]["mcnemar"]["n_items"] == 6
    html = report_section(json.loads(Path(out["path"]).read_text()))
    assert "tuned" in html and "base" in html and "data:image/png;base64," in html
