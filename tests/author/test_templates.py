"""Structure templates: builtins, workspace YAML with errors naming file and field, guidance text and
the checker that shows which parts a draft is missing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expertune.author.templates import (
    StructureTemplate, TemplatePart, builtin_templates, check_structure, get_template, load_templates,
)
from expertune.errors import ConfigError, NotFound

IRAC_ANSWER = """## Issue
Whether the display of goods in a shop window is an offer.

## Rule
An advertisement or display is an invitation to treat (Fisher v Bell).

## Application
Here, the knife was displayed with a price ticket, which invites offers.

## Conclusion
The display was not an offer, so no contract was made by it."""


def test_builtins_include_irac_answer_then_reasons_and_step_by_step():
    templates = builtin_templates()
    assert {"irac", "answer-then-reasons", "step-by-step"} <= set(templates)
    assert [p.name for p in templates["irac"].parts] == ["Issue", "Rule", "Application", "Conclusion"]


def test_guidance_lists_the_parts_in_order_with_their_hints():
    guidance = builtin_templates()["irac"].guidance()
    lines = guidance.splitlines()
    assert lines[1].startswith("1. Issue — ") and lines[4].startswith("4. Conclusion — ")
    assert "IRAC" in lines[0]


def test_checker_finds_labelled_parts_and_names_the_missing_ones():
    irac = builtin_templates()["irac"]
    assert check_structure(irac, IRAC_ANSWER).model_dump() == {
        "template": "irac", "present": ["Issue", "Rule", "Application", "Conclusion"], "missing": []}
    without_rule = IRAC_ANSWER.replace("## Rule\nAn advertisement or display is an invitation to treat (Fisher v Bell).\n\n", "")
    report = check_structure(irac, without_rule)
    assert report.missing == ["Rule"] and not report.complete


@pytest.mark.parametrize("text", ["Rule: the postal rule.", "**Rule:** the postal rule.", "**Rule**\nthe postal rule.",
                                  "### RULE\nThe postal rule.", "2. Rule: the postal rule.", "- rule: the postal rule.",
                                  "> Rule\n> the postal rule."])
def test_label_styles_count_as_the_part(text):
    part = StructureTemplate(name="t", parts=[TemplatePart(name="Rule")])
    assert check_structure(part, f"Intro.\n{text}").present == ["Rule"]


def test_a_part_name_inside_a_sentence_is_not_a_label_but_a_cue_phrase_is():
    t = StructureTemplate(name="t", parts=[TemplatePart(name="Rule", cues=["the rule is"])])
    assert check_structure(t, "This is a rule of thumb, nothing more.").missing == ["Rule"]
    assert check_structure(t, "In short, the rule is that acceptance\nmust be communicated.").present == ["Rule"]
    assert check_structure(t, "In short, the rule\nis that acceptance must be communicated.").present == ["Rule"]
    assert check_structure(t, "Overrule is not a label.").missing == ["Rule"]


def test_unlabelled_irac_answer_is_recognised_by_cue_phrases():
    text = ("The issue is whether the letter of acceptance was effective on posting. The rule is the postal rule "
            "from Adams v Lindsell. Applying it, the letter was properly addressed and stamped. Therefore a contract "
            "was formed on posting.")
    assert check_structure(builtin_templates()["irac"], text).missing == []


def test_workspace_yaml_templates_add_and_override(ws):
    folder = ws.root / "templates"
    folder.mkdir()
    (folder / "brief.yaml").write_text(
        "description: a holding and its reason\nparts:\n  - name: Holding\n    cues: [the court held]\n  - name: Reason\n")
    (folder / "irac.yaml").write_text("name: irac\nparts:\n  - name: Issue\n  - name: Answer\n")
    templates = load_templates(ws)
    assert templates["brief"].parts[0].cues == ["the court held"] and templates["brief"].name == "brief"
    assert [p.name for p in templates["irac"].parts] == ["Issue", "Answer"]  # the workspace wins
    assert "step-by-step" in templates
    assert get_template(ws, "brief").description == "a holding and its reason"


@pytest.mark.parametrize("text, message", [
    ("parts:\n  - name: A\n    hnit: typo\n", "parts.0.hnit: unknown key"),
    ("parts: []\n", "parts: List should have at least 1 item"),
    ("name: Bad Name\nparts:\n  - name: A\n", "name: Value error, use lowercase letters"),
    ("parts:\n  - name: A\n  - name: a\n", "part 'a' appears twice"),
    ("parts:\n  - name: A\n    cues: ['  ']\n", "parts.0.cues: Value error, a cue must not be empty"),
    ("parts: [\n", ":2: not valid YAML"),
])
def test_invalid_yaml_names_the_file_and_field(ws, text, message):
    (ws.root / "templates").mkdir()
    path = ws.root / "templates" / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_templates(ws)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_two_files_defining_one_name_is_an_error(ws):
    (ws.root / "templates").mkdir()
    (ws.root / "templates" / "a.yaml").write_text("name: same\nparts: [{name: A}]\n")
    (ws.root / "templates" / "b.yaml").write_text("name: same\nparts: [{name: B}]\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: name: template 'same' is already defined in .*a\.yaml"):
        load_templates(ws)


def test_unknown_template_lists_the_known_ones(ws):
    with pytest.raises(NotFound, match="no structure template 'iarc'; known: answer-then-reasons, irac, step-by-step"):
        get_template(ws, "iarc")


@given(st.text(max_size=300))
def test_checker_accounts_for_every_part_exactly_once(text):
    for template in builtin_templates().values():
        report = check_structure(template, text)
        assert sorted(report.present + report.missing) == sorted(p.name for p in template.parts)
        assert not set(report.present) & set(report.missing)


# --- the CLI ---------------------------------------------------------------------------------

_CLI = "import sys; from expertune.cli import app as a; sys.argv[0] = 'expertune'; a.main()"


def cli(*args, cwd=None):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_cli_templates_list_show_check(ws, tmp_path):
    import json

    (ws.root / "templates").mkdir()
    (ws.root / "templates" / "brief.yaml").write_text("parts:\n  - name: '[bold]Holding[/bold]'\n    hint: the [i]ratio[/i]\n")
    names = [t["name"] for t in json.loads(cli("-w", str(ws.root), "templates", "list", "--json").stdout)]
    assert names[:3] == ["irac", "answer-then-reasons", "step-by-step"] and "brief" in names
    shown = cli("-w", str(ws.root), "templates", "show", "brief")
    assert "1. [bold]Holding[/bold] — the [i]ratio[/i]" in shown.stdout  # printed as text, not markup
    answer = tmp_path / "answer.md"
    answer.write_text(IRAC_ANSWER)
    ok = cli("-w", str(ws.root), "templates", "check", "irac", str(answer), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["missing"] == []
    answer.write_text("## Issue\nWhether a display is an offer.\n")
    missing = cli("templates", "check", "irac", str(answer), cwd=tmp_path)  # builtins work outside a workspace
    assert missing.returncode == 1 and "✗ Rule — missing: the governing rule" in missing.stdout
    unknown = cli("-w", str(ws.root), "templates", "show", "iarc")
    assert unknown.returncode == 2 and "no structure template 'iarc'" in unknown.stderr
    bad = cli("templates", "check", "irac", str(tmp_path / "none.md"), cwd=tmp_path)
    assert bad.returncode == 2 and "none.md: cannot read the text" in bad.stderr
