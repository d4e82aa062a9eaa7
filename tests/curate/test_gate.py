import pytest

from conftest import EXAMPLES
from curate_helpers import build, record
from expertune.curate.gate import GateFailed, gate_checks, run_gate
from expertune.data.evalsets import add_evalset
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.errors import ExpertuneError, InputError


def test_gate_runs_every_check_but_confidence():
    assert "confidence" not in gate_checks() and len(gate_checks()) == 10


def test_split_leakage_fails_the_gate_unless_allowed(ws):
    build(ws, [record("What is consideration?", "Something of value given in exchange for a promise."),
               record("What is consideration", "The price of the other party's promise."),
               record("What is an offer?", "A promise to be bound on stated terms.")],
          splits={"What is consideration": "test"})
    with pytest.raises(GateFailed) as err:
        run_gate(ws)
    message = str(err.value)
    assert "leakage: 1 error" in message and "pass --allow CHECK to train anyway" in message
    assert isinstance(err.value, ExpertuneError) and err.value.exit_code == 2
    assert not err.value.report.passed

    report = run_gate(ws, allow=["leakage"])
    assert report.passed
    (leak,) = [f for f in report.findings if f.check == "leakage"]
    assert leak.severity == "warning" and leak.data["allowed"] is True
    assert report.as_dict()["allowed"] == ["leakage"]


def test_unknown_allowed_check_is_a_user_error(ws):
    build(ws, [record("Q?", "A full answer.")])
    with pytest.raises(InputError, match="--allow leakge"):
        run_gate(ws, allow=["leakge"])


def test_bundled_sample_passes_the_gate(ws):
    import_file(ws, EXAMPLES / "contracts.jsonl")
    assign_splits(ws, val=0.15, test=0.15, stratify="topic")
    for name in ("exam", "classify", "out_of_domain"):
        add_evalset(ws, EXAMPLES / f"{name}.jsonl")
    report = run_gate(ws)
    assert report.passed and not report.errors
    assert {r.check for r in report.report.results} == set(gate_checks())
