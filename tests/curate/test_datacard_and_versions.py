from curate_helpers import build, record, response_id
from expertune.curate import run_checks
from expertune.curate.datacard import build_datacard
from expertune.curate.edits import redact
from expertune.curate.html_report import describe_source, render_html
from expertune.data.versions import snapshot
from expertune.store import repo


def test_datacard_reports_sources_revisions_splits_and_checks(ws, tmp_path):
    build(ws, [record("Q1?", "Email me at a@example.com about it.", topic="Formation", model="gpt-4o"),
               record("Q1?", "A second, human answer to question one.", topic="Formation"),
               record("Q2?", "A single answer to question two.", topic="Remedies")],
          splits={"Q2?": "test"})
    redact(ws, apply=True)
    result = build_datacard(ws, tmp_path / "DATACARD.md", licence="CC-BY-4.0")
    text = (tmp_path / "DATACARD.md").read_text()
    assert "Redaction of personal data: 1 records (EMAIL 1 replaced by typed placeholders)" in text
    assert "| model | gpt-4o | 1 |" in text and "| Formation | 1 | 2 |" in text
    assert "| train | 1 | 2 |" in text and "| test | 1 | 1 |" in text
    assert "| pii | ok | 0 |" in text  # the check results are from after the redaction
    assert "33% of the responses were drafted with a model" in text
    assert result["preprocessing"]["redacted_items"] == {"EMAIL": 1} and result["checks"]["pii"] == {}
    assert all((tmp_path / name).exists() for name in ("DATACARD_topics.png", "DATACARD_lengths.png",
                                                       "DATACARD_responses_per_prompt.png"))


def test_checks_on_a_dataset_version_see_the_snapshot_not_later_edits(ws):
    build(ws, [record("Q1?", "Call me on 020 7946 0958 tonight."), record("Q2?", "A clean answer.")])
    version = snapshot(ws, name="v1")
    redact(ws, apply=True)
    assert not run_checks(ws, only=["pii"]).findings  # the store is clean now
    report = run_checks(ws, only=["pii"], dataset_version="v1")
    (f,) = report.findings
    assert f.response_ids == [response_id(ws, "Call me")] and report.source["hash"] == version["hash"]
    assert describe_source(report.source).startswith(f"dataset version v1 ({version['hash'][:12]}) · ")
    with ws.session() as s:
        assert repo.get(s, "response", f.response_ids[0]).text == "Call me on [PHONE] tonight."


def test_html_report_is_self_contained_and_escapes_text(ws):
    build(ws, [record("Q1?", "Assistant: <script>alert(1)</script> call 020 7946 0958.")])
    page = render_html(run_checks(ws, only=["artefacts", "pii", "balance"]))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page.split("<body>")[0]  # no external stylesheet or script
    assert '<mark title="PHONE">020 7946 0958</mark>' in page
    # The header says what was checked in words, not as raw JSON.
    assert "the store&#x27;s accepted responses · 1 response in 1 prompt group" in page and '{"kind"' not in page


def test_datacard_escapes_user_text_in_markdown_and_plots(ws, tmp_path):
    topic = "<script>alert(1)</script> [click](http://e.x) *a* $\\foo{$ b"
    build(ws, [record("Q1?", "Answer one.", topic=topic), record("Q2?", "Answer two.", topic="Other"),
               record("Q2?", "Answer two, again.", topic="Other"), record("Q2?", "Answer two, a third time.", topic="Other")])
    build_datacard(ws, tmp_path / "card.md", licence="<b>mine</b>", run_gate_checks=False)
    text = (tmp_path / "card.md").read_text()
    assert "<script>" not in text and "<b>" not in text and "[click](http" not in text and "*a*" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt; \\[click\\](http://e.x) \\*a\\*") == 3  # purpose, topic table, uneven-topics limitation
    assert "&lt;b&gt;mine&lt;/b&gt;" in text
    assert (tmp_path / "card_topics.png").stat().st_size > 0  # "$\foo{$" is not parsed as matplotlib math
