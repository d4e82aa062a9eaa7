"""Evaluate page without a model: configs listed from the workspace, a bad config refused before
any job starts, an unknown run's report is a clear 404."""

from expertune.studio import jobs
from studio_helpers import client, fill, post


def test_configs_are_listed_and_a_bad_pasted_config_is_refused_with_its_field(ws):
    fill(ws)
    (ws.root / "evals").mkdir()
    (ws.root / "evals" / "mine.yaml").write_text("name: x\n")
    c = client(ws)
    page = c.get("/evaluate").text
    assert "<option>evals/mine.yaml</option>" in page and "expertune.yaml" not in page
    r = post(c, "/evaluate/start", {"yaml_text": "name: bad\ncandidates: 3\n"})
    assert r.status_code == 400 and "candidates" in r.text
    assert jobs.list_jobs(ws) == []


def test_a_config_outside_the_workspace_cannot_be_named(ws):
    fill(ws)
    r = post(client(ws), "/evaluate/start", {"config": "/etc/passwd"})
    assert r.status_code == 400 and "choose an eval config" in r.text


def test_report_of_an_unknown_run(ws):
    fill(ws)
    r = client(ws).get("/evaluate/runs/99/report")
    assert r.status_code == 404
