"""Explicit registration of judge kinds (evaluate/registry.py `@judge_kind`): the shipped kinds are
registered by evaluate/pairwise/judges.py, and the registry is the one list of `judges:` types (the
eval config validates an entry with the settings model of its type's kind), and a plugin distribution adds a kind through the `expertune.judges` entry points: its `judges:`
entries validate, freeze into the run's lineage and judge like a shipped kind's."""

import warnings
from typing import get_args

import pytest
from pairwise_helpers import MARKER, candidate_server, eval_config, make_workspace
from plugin_helpers import install_distribution

from expertune import plugins
from expertune.errors import ConfigError
from expertune.evaluate import registry
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.frozen import FrozenPluginJudge
from expertune.evaluate.pairwise.judge_settings import HumanJudge, LocalJudge, OpenAIJudge, ScriptedJudge
from expertune.evaluate.pairwise.judges import SHIPPED_JUDGE_KINDS, ChatJudge, all_judge_kinds, make_judge
from expertune.evaluate.pipeline import run_eval

PLUGIN = '''
from typing import Literal

from expertune.config import StrictModel
from expertune.evaluate.pairwise.judges import JudgeOutcome, judge_entry
from expertune.evaluate.registry import judge_kind


class MarkerJudge(StrictModel):
    type: Literal["marker"]
    name: str
    marker: str


def freeze(ws, judge, where):
    return judge_entry(judge, {"type": "marker", "marker": judge.marker}, model_id="marker:" + judge.marker)


@judge_kind("marker", config=MarkerJudge, freeze=freeze, description="prefers the answer with the marker")
class MarkerBackend:
    def __init__(self, frozen, rubric):
        self.marker = frozen.settings["marker"]

    def estimate(self, request):
        return 0.0

    def run(self, requests, on_outcome, budget):
        for r in requests:
            has = [label for label, text in r.answers.items() if self.marker in text]
            on_outcome(JudgeOutcome(r.key, "ok", verdict=has[0] if len(has) == 1 else "tie", attempts=1))
'''


@pytest.fixture
def clean_registry(monkeypatch):
    """The judge kinds as they are now, restored afterwards (plugins must not leak into other tests)."""
    all_judge_kinds()
    monkeypatch.setattr(registry, "JUDGE_KINDS", dict(registry.JUDGE_KINDS))
    monkeypatch.setattr(plugins, "_loaded", set())
    yield


def test_the_judges_entry_types_are_the_registered_kinds():
    kinds = all_judge_kinds()
    assert SHIPPED_JUDGE_KINDS == ("openai", "scripted", "local", "human")
    for name in SHIPPED_JUDGE_KINDS:  # each settings model names its own kind
        assert get_args(kinds[name].config_model.model_fields["type"].annotation) == (name,)
    entries = [{"name": "l"}, {"name": "o", "type": "openai", "base_url": "http://x/v1", "model": "m"},
               {"name": "s", "type": "scripted", "script": "first"}, {"name": "h", "type": "human"}]
    config = EvalConfig.model_validate({"candidates": [{"name": "a"}, {"name": "b"}], "prompts": [{"split": "test"}],
                                        "judges": entries})
    assert [type(j) for j in config.judges] == [LocalJudge, OpenAIJudge, ScriptedJudge, HumanJudge]
    assert [type(j) for j in config.judges] == [kinds[j.type].config_model for j in config.judges]
    with pytest.raises(ValueError, match=r"judges\.0\s.*type 'gone' is not a judge kind \(installed: openai, scripted, "
                                         r"local, human"):
        EvalConfig.model_validate({"candidates": [{"name": "a"}, {"name": "b"}], "prompts": [{"split": "test"}],
                                   "judges": [{"name": "g", "type": "gone"}]})
    with pytest.raises(ValueError, match=r"judges\.0\.script"):  # a kind's own model says what is wrong
        EvalConfig.model_validate({"candidates": [{"name": "a"}, {"name": "b"}], "prompts": [{"split": "test"}],
                                   "judges": [{"name": "s", "type": "scripted"}]})
    assert kinds["human"].make is None and kinds["local"].make.__name__ == "LocalJudge"
    assert kinds["openai"].make is ChatJudge and kinds["scripted"].make is ChatJudge
    assert kinds["local"].config_model is LocalJudge


def test_a_frozen_judge_of_an_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="no judging backend for type 'gone'"):
        make_judge(FrozenPluginJudge(name="j", type="gone", judge_id="x", settings={}, model_id="gone:j"), None)


def test_an_entry_point_plugin_adds_a_judge_kind(ws, tmp_path, monkeypatch, clean_registry):
    install_distribution(tmp_path / "plugin", monkeypatch, "marker_judge", {"marker": "marker_judge"},
                         {"marker_judge": PLUGIN}, group="expertune.judges")
    assert "marker" not in registry.JUDGE_KINDS
    make_workspace(ws, tmp_path)
    with candidate_server() as srv:
        raw = eval_config(srv.base_url, [{"name": "plug", "type": "marker", "marker": MARKER}], out_domain=False)
        config = EvalConfig.model_validate(raw)
        assert config.judges[0].type == "marker" and config.model_dump(mode="json")["judges"][0]["marker"] == MARKER
        with pytest.raises(ValueError, match=r"judges\.0\.marker"):
            EvalConfig.model_validate(eval_config(srv.base_url, [{"name": "plug", "type": "marker"}], out_domain=False))
        result = run_eval(ws, config)
    judged = result["judging"]["judges"]["plug"]
    assert judged["judged"] > 0 and judged["failed"] == 0
    # prompts 0, 1 carry the marker in tuned's answer, prompt 2 in base's, prompt 3 is identical
    overall = result["summary"].pairs[0].judges["plug"]["overall"]
    assert overall["n"] > 0 and overall["win_rate"] > 0.5


def test_a_broken_judge_plugin_warns_and_leaves_the_shipped_kinds(tmp_path, monkeypatch, clean_registry):
    install_distribution(tmp_path / "plugin", monkeypatch, "broken_judge", {"broken": "broken_judge"},
                         {"broken_judge": "raise RuntimeError('boom')\n"}, group="expertune.judges")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kinds = all_judge_kinds()
    assert set(SHIPPED_JUDGE_KINDS) <= set(kinds)
    assert any("broken" in str(w.message) and "boom" in str(w.message) for w in caught)


def test_a_backend_reads_its_frozen_settings_through_its_kinds_model():
    from expertune.errors import InputError
    from expertune.evaluate.frozen import FrozenJudge
    from expertune.evaluate.pairwise.judges import judge_settings
    from expertune.evaluate.rubric import Rubric

    stored = OpenAIJudge(type="openai", name="oj", base_url="http://127.0.0.1:9/v1", model="m", max_tokens=64,
                         concurrency=2).model_dump(mode="json")
    frozen = FrozenJudge(name="oj", type="openai", judge_id="x", settings=stored, model_id="openai:m")
    typed = judge_settings(frozen)
    assert isinstance(typed, OpenAIJudge) and typed.max_tokens == 64 and frozen.settings == stored  # stored as it was
    judge = ChatJudge(frozen, Rubric())
    assert judge.concurrency == 2 and judge.format_kind == "json_schema" and judge.endpoint.id == "openai:http://127.0.0.1:9/v1|m"
    scripted = FrozenJudge(name="sj", type="scripted", judge_id="y", model_id="scripted:s",
                           settings=ScriptedJudge(type="scripted", name="sj", script="s").model_dump(mode="json"))
    assert isinstance(judge_settings(scripted), ScriptedJudge)
    damaged = frozen.updated(settings={**stored, "max_tokens": "many"})
    with pytest.raises(InputError, match=r"judge 'oj'.*max_tokens"):
        ChatJudge(damaged, Rubric())
