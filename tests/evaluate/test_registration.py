"""Explicit registration (evaluate/registry.py): the shipped tasks and sections are known without
any discovery, a plugin distribution adds its own through the `expertune.tasks` entry points, and
the report's order does not depend on which module was imported first."""

import warnings

import pytest
from plugin_helpers import install_distribution

from expertune import plugins
from expertune.evaluate import registry
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.tasks import all_tasks, validate_tasks

PLUGIN = '''
from pydantic import BaseModel

from expertune.evaluate.registry import report_section, task


class GreetConfig(BaseModel):
    times: int = 1


@task("greet", config=GreetConfig, description="says hello")
def run_greet(ctx, cfg):
    return {"hello": cfg.times}


@report_section("greet", title="Greetings", results="greet")
def greet_section(result):
    return "<p>hello</p>"
'''


@pytest.fixture
def clean_registry(monkeypatch):
    """The registry as it is now, restored afterwards (plugins must not leak into other tests)."""
    monkeypatch.setattr(registry, "TASKS", dict(registry.TASKS))
    monkeypatch.setattr(registry, "SECTIONS", list(registry.SECTIONS))
    monkeypatch.setattr(plugins, "_loaded", set())
    yield


def test_the_shipped_tasks_and_sections_are_registered_by_importing_their_packages():
    from expertune.evaluate.report import build  # noqa: F401 - imports the shipped sections

    assert {"mcq", "classify", "perplexity", "forgetting", "facts", "refusal"} <= set(all_tasks())
    keys = [s.key for s in registry.ordered_sections()]
    assert keys[:3] == ["evidence", "lineage", "headline"] and keys[-1] == "samples"
    # the tasks' sections sit just before the samples in the order the tasks package imports them,
    # the human section before the judge reliability
    assert keys[-7:-1] == ["mcq", "classify", "perplexity", "forgetting", "facts", "refusal"]
    assert keys.index("human") == keys.index("reliability") - 1


def test_an_entry_point_plugin_adds_a_task_and_its_report_section(tmp_path, monkeypatch, clean_registry):
    install_distribution(tmp_path, monkeypatch, "greet_plugin", {"greet": "greet_plugin"}, {"greet_plugin": PLUGIN})
    assert "greet" not in registry.TASKS
    assert validate_tasks({"greet": {"times": 2}}) == {"greet": {"times": 2}}
    assert all_tasks()["greet"].description == "says hello"
    keys = [s.key for s in registry.ordered_sections()]
    assert "greet" in keys
    # an eval config names the plugin's task like a shipped one
    with pytest.raises(ValueError, match="tasks.greet"):
        EvalConfig.model_validate({"candidates": [{"name": "base", "model": "m"}], "tasks": {"greet": {"times": "x"}}})


def test_an_entry_point_naming_a_function_is_called_once(tmp_path, monkeypatch, clean_registry):
    source = PLUGIN.replace('@task("greet"', '@task("greet2"') + "\n\ndef register():\n    CALLS.append(1)\n\n\nCALLS = []\n"
    install_distribution(tmp_path, monkeypatch, "greet2_plugin", {"greet2": "greet2_plugin:register"},
                         {"greet2_plugin": source})
    all_tasks()
    all_tasks()
    import greet2_plugin

    assert greet2_plugin.CALLS == [1] and "greet2" in registry.TASKS


def test_a_broken_plugin_warns_and_leaves_the_shipped_tasks(tmp_path, monkeypatch, clean_registry):
    install_distribution(tmp_path, monkeypatch, "broken_plugin", {"broken": "broken_plugin"},
                         {"broken_plugin": "raise RuntimeError('boom')\n"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tasks = all_tasks()
    assert "mcq" in tasks and any("broken" in str(w.message) and "boom" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="unknown evaluation task"):
        validate_tasks({"broken": {}})


def test_report_order_does_not_depend_on_which_module_registered_first(monkeypatch):
    monkeypatch.setattr(registry, "SECTIONS", [])
    noop = lambda ctx: None  # noqa: E731
    registry.register_section("exam", noop)  # a task's section, registered before the built-in ones
    registry.register_section("human", noop, before="reliability")
    for key in ("lineage", "reliability", "samples"):
        registry.register_section(key, noop, before=None)
    registry.register_section("broken", noop, after="lineage")
    assert [s.key for s in registry.ordered_sections()] == ["lineage", "broken", "human", "reliability", "exam", "samples"]
