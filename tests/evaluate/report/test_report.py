"""The HTML report: self-contained, escaped, built from stored results, extensible by sections."""

import re

import pytest
from pairwise_helpers import candidate_answer, eval_config, make_workspace, register_scripts

from expertune.evaluate import registry
from expertune.evaluate.config import EvalConfig
from expertune.evaluate.pipeline import run_eval
from expertune.evaluate.report.build import write_report
from expertune.evaluate.report.html import interval
from expertune.llm.testing import FakeOpenAIServer

EVIL = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from expertune.workspace import Workspace

    tmp = tmp_path_factory.mktemp("report")
    ws = Workspace.init(tmp / "ws")
    make_workspace(ws, tmp)
    register_scripts()
    judges = [{"name": "marker", "type": "scripted", "script": "prefers_marker"},
              {"name": "first", "type": "scripted", "script": "always_first"}]
    with FakeOpenAIServer(lambda body: candidate_answer(body, planted={1: " " + EVIL})) as srv:
        result = run_eval(ws, EvalConfig.model_validate(eval_config(srv.base_url, judges, name=f"demo {EVIL}")))
    return ws, result


def test_report_is_self_contained_and_complete(run, tmp_path):
    ws, result = run
    out = write_report(ws, result["run"], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert out["sections"][:8] == ["evidence", "lineage", "headline", "domain", "grid", "criteria", "reliability", "failures"]
    assert out["sections"][-1] == "samples" and not out["section_errors"]
    assert "<style>" in html and html.count("data:image/png;base64,") >= 4
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # nothing fetched from elsewhere
    # numbers come from the stored results
    marker = result["summary"].pairs[0].judges["marker"]["overall"]
    assert f"{100 * marker['win_rate']:.1f}%" in html
    assert "Fleiss" not in html or "κ" in html
    assert "first-slot rate" in html and "flip rate" in html
    # the evidence comes first and says the always-first judge was left out
    assert "What the evidence says" in html and "judge first is unreliable" in html
    assert "no: flip rate 100%" in html
    assert "<th></th>" not in html  # the lineage's fields head their own rows


def test_settings_are_shown_whole_and_escaped():
    from expertune.evaluate.report.html import settings_text, table

    settings = {"script": "prefers_marker", "prompt": "x" * 400 + EVIL, "labels": ["A", "B"]}
    cell = table(None, [["judge", settings_text(settings)]])
    assert "x" * 400 in cell and EVIL not in cell and "&lt;script&gt;" in cell
    assert 'labels: ["A", "B"]'.replace('"', "&quot;") in cell
    assert cell.startswith("<table><tbody><tr><th>judge</th><td>")


def test_everything_is_escaped(run, tmp_path):
    ws, result = run
    write_report(ws, result["run"], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html  # in the title, the samples


def test_sections_can_be_added_and_a_broken_one_does_not_hide_the_rest(run, tmp_path):
    ws, result = run
    saved = list(registry.SECTIONS)
    try:
        @registry.report_section("exam", title="Exams")
        def exam(ctx):
            return f"<p>exam of run {ctx.run.id}: {ctx.esc('<b>')}</p>"

        @registry.report_section("broken", title="Broken", after="lineage")
        def broken(ctx):
            return 1 / 0

        @registry.report_section("skipped")
        def skipped(ctx):
            return None

        out = write_report(ws, result["run"], tmp_path / "r.html")
    finally:
        registry.SECTIONS[:] = saved
    keys = out["sections"]
    assert keys.index("exam") == keys.index("samples") - 1  # by default just before the samples
    assert keys.index("broken") == keys.index("lineage") + 1
    assert "skipped" not in keys and "ZeroDivisionError" in out["section_errors"]["broken"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"exam of run {result['run']}: &lt;b&gt;" in html and "This section failed to build" in html


def test_headline_interval_resamples_prompts_and_wilson_is_labelled_unclustered(run, tmp_path):
    ws, result = run
    write_report(ws, result["run"], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    headline = html.split('<section id="headline">', 1)[1].split("</section>", 1)[0]
    assert "95% interval (over prompts)" in headline and "Wilson, unclustered" in headline
    assert ">Wilson<" not in headline and ">bootstrap<" not in headline  # no interval without its unit
    pooled = result["summary"].pairs[0].pooled["overall"]
    assert pooled["ci_method"] == "bootstrap over prompts" and interval(pooled["ci"]) in headline


def test_samples_name_the_answers_by_this_runs_candidates_even_for_reused_judgments(tmp_path):
    """A judgment cached by a run whose candidates had other names is labelled with this run's names."""
    from expertune.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    make_workspace(ws, tmp_path, in_domain=2, out_domain=0)
    register_scripts()
    judges = [{"name": "marker", "type": "scripted", "script": "prefers_marker"}]
    with FakeOpenAIServer(candidate_answer) as srv:
        run_eval(ws, EvalConfig.model_validate(eval_config(srv.base_url, judges, out_domain=False)))
        config = eval_config(srv.base_url, judges, out_domain=False, baseline="control")
        config["candidates"][0]["name"], config["candidates"][1]["name"] = "control", "adapted"
        renamed = run_eval(ws, EvalConfig.model_validate(config))
    assert renamed["judging"]["judges"]["marker"]["cached"] == 4  # 2 prompts x 2 orders, judged by the first run
    write_report(ws, renamed["run"], tmp_path / "r.html")
    samples = (tmp_path / "r.html").read_text(encoding="utf-8").split('<section id="samples">', 1)[1]
    assert "A=control / B=adapted" in samples and "A=adapted / B=control" in samples
    assert "=base" not in samples and "=tuned" not in samples
