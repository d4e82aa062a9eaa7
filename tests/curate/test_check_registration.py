"""Explicit registration of checks (curate/registry.py): the shipped checks are known without any
discovery and keep their standard order, and a plugin distribution adds its own through the
`expertune.checks` entry points, with its settings validated like a shipped check's."""

import warnings

import pytest
from curate_helpers import build, record, set_checks
from plugin_helpers import install_distribution

from expertune import plugins
from expertune.curate import registry
from expertune.curate.checks import all_checks, check_names, model_checks
from expertune.curate.config import load_checks_config
from expertune.curate.gate import gate_checks
from expertune.curate.runner import checks_to_run, run_checks
from expertune.errors import ConfigError, InputError

STANDARD_ORDER = ["duplicates", "near-duplicates", "leakage", "contamination", "artefacts", "length", "language", "pii",
                  "balance", "diversity", "confidence"]

PLUGIN = '''
from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding
from expertune.curate.registry import check


class Config(StrictModel):
    word: str = Field("shout", min_length=1)


@check("shouting", config=Config, description="answers in capitals")
def run(ctx, cfg):
    result = CheckResult("shouting")
    for item in ctx.data.items:
        if item.text.isupper():
            result.findings.append(Finding("shouting", "warning", f"response {item.id}: {cfg.word}"))
    return result
'''


@pytest.fixture
def clean_registry(monkeypatch):
    """The registry as it is now, restored afterwards (plugins must not leak into other tests)."""
    all_checks()
    monkeypatch.setattr(registry, "CHECKS", dict(registry.CHECKS))
    monkeypatch.setattr(plugins, "_loaded", set())
    yield


def test_the_shipped_checks_register_in_the_standard_order():
    assert list(check_names()) == STANDARD_ORDER
    assert model_checks() == ("confidence",)
    assert list(gate_checks()) == STANDARD_ORDER[:-1]


def test_a_report_lists_the_checks_in_the_standard_order(ws):
    build(ws, [record("What is consideration?", "Something of value given in exchange for a promise.")])
    report = run_checks(ws)
    assert [r.check for r in report.results] == STANDARD_ORDER[:-1]
    assert report.source["not_run"] == ["confidence"]
    # --only keeps the standard order, whatever order the names are given in
    assert [r.check for r in run_checks(ws, only="pii,duplicates,leakage").results] == ["duplicates", "leakage", "pii"]


def test_an_entry_point_plugin_adds_a_check_with_its_own_settings(ws, tmp_path, monkeypatch, clean_registry):
    install_distribution(tmp_path / "plugin", monkeypatch, "shout_plugin", {"shouting": "shout_plugin"},
                         {"shout_plugin": PLUGIN}, group="expertune.checks")
    assert "shouting" not in registry.CHECKS
    build(ws, [record("What is consideration?", "SOMETHING OF VALUE GIVEN IN EXCHANGE."),
               record("What is an offer?", "A promise to be bound on stated terms.")])
    ws = set_checks(ws, {"shouting": {"word": "too loud"}})
    config = load_checks_config(ws)
    assert check_names()[-1] == "shouting" and "shouting" in gate_checks()
    assert checks_to_run(config)[-1] == "shouting"
    report = run_checks(ws, only="shouting", config=config)
    (finding,) = report.findings
    assert finding.check == "shouting" and "too loud" in finding.message
    with pytest.raises(ConfigError, match="checks.shouting.word"):
        load_checks_config(set_checks(ws, {"shouting": {"word": ""}}))


def test_a_broken_check_plugin_warns_and_leaves_the_shipped_checks(ws, tmp_path, monkeypatch, clean_registry):
    install_distribution(tmp_path / "plugin", monkeypatch, "broken_check", {"broken": "broken_check"},
                         {"broken_check": "raise RuntimeError('boom')\n"}, group="expertune.checks")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = check_names()
    assert list(names) == STANDARD_ORDER
    assert any("broken" in str(w.message) and "boom" in str(w.message) for w in caught)
    with pytest.raises(InputError, match="unknown check"):
        checks_to_run(load_checks_config(ws), "broken")
