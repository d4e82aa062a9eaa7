"""The curation commands: exit codes as a user sees them (a real subprocess), output in-process."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from conftest import chat_record, write_jsonl
from expertune.cli.app import app
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.errors import InputError
from expertune.workspace import Workspace


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "expertune", *args], capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def make_ws(tmp_path, rows) -> str:
    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_jsonl(tmp_path / "d.jsonl", rows))
    assign_splits(ws, val=0, test=0)
    return str(ws.root)


def test_check_exit_codes_json_and_html(tmp_path):
    ws = make_ws(tmp_path, [
        chat_record("What is an offer?", "Assistant: An offer is a promise to be bound. Call 020 7946 0958.", topic="T"),
        chat_record("What is acceptance?", "As an AI language model, I think acceptance mirrors the offer.", topic="T"),
    ])
    html = tmp_path / "report.html"
    proc = run("-w", ws, "check", "--only", "artefacts,pii", "--json", "--html", str(html))
    assert proc.returncode == 1  # errors: a chat-export label and a phone number
    data = json.loads(proc.stdout)
    assert data["html"] == str(html)
    assert {(r["check"], r["severity"]) for r in data["summary"]} == {("artefacts", "error"), ("artefacts", "warning"), ("pii", "error")}
    page = html.read_text()
    assert '<mark title="PHONE">020 7946 0958</mark>' in page and '<mark title="chat-prefix">Assistant: </mark>' in page
    bad = run("-w", ws, "check", "--only", "spelling")
    assert bad.returncode == 2 and "known checks" in bad.stderr

    table = invoke("-w", ws, "check", "--only", "artefacts,pii")
    assert table.exit_code == 1 and "artefacts" in table.stdout and "r1" in table.stdout
    assert invoke("-w", ws, "check", "--only", "balance").exit_code == 0  # info only
    assert invoke("-w", ws, "check", "--only", "artefacts", "--fail-on", "warning").exit_code == 1
    assert isinstance(invoke("-w", ws, "check", "--fail-on", "info").exception, InputError)


def test_redact_and_fix_dry_run_then_apply(tmp_path):
    ws = make_ws(tmp_path, [chat_record("Q?", "Human: hi\nAssistant: Mail me at a.b@example.com.", topic="T")])
    dry = invoke("-w", ws, "redact")
    assert dry.exit_code == 0 and "+Assistant: Mail me at [EMAIL]." in dry.stdout and "--apply" in dry.stdout
    applied = json.loads(invoke("-w", ws, "redact", "--apply", "--json").stdout)
    assert applied["applied"] and applied["items"] == {"EMAIL": 1}
    fixed = json.loads(invoke("-w", ws, "fix", "artefacts", "--apply", "--json").stdout)
    assert fixed["changes"][0]["after"]["text"] == "Mail me at [EMAIL]."
    history = json.loads(invoke("-w", ws, "response", "history", "1", "--json").stdout)
    assert [h["reason"] for h in history] == ["redaction", "artefact fix"]
    assert invoke("-w", ws, "check", "--only", "artefacts,pii").exit_code == 0


def test_datacard_writes_markdown_and_plots(tmp_path):
    ws = make_ws(tmp_path, [chat_record(f"Q{i}?", f"Answer {k} to question {i}.", topic=t)
                            for i, t in enumerate("ABBC") for k in range(2)])
    out = tmp_path / "card" / "DATACARD.md"
    result = invoke("-w", ws, "datacard", "-o", str(out), "--licence", "CC-BY-4.0", "--no-checks", "--json")
    data = json.loads(result.stdout)
    text = out.read_text()
    for section in ("## Purpose", "## Composition", "## Collection", "## Preprocessing", "## Splits",
                    "## Check results", "## Known limitations", "## Licence"):
        assert section in text
    assert "CC-BY-4.0" in text and "d.jsonl" in text
    assert len(data["plots"]) == 3 and all((out.parent / p.split("/")[-1]).stat().st_size > 1000 for p in data["plots"])
