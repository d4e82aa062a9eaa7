"""Background jobs: state in the store, one training at a time, dead workers recognised, recipe
fields validated before anything starts."""

import subprocess
import sys

import pytest

from expertune.errors import ConfigError
from expertune.store.job_models import Job
from expertune.studio import jobs, recipes
from studio_helpers import client, post


def add_job(ws, **values) -> int:
    with ws.session() as s:
        job = Job(kind="train", status="running", params={"recipe": "cpu-quick"}, author="a", **values)
        s.add(job)
        s.flush()
        return job.id


def test_a_job_whose_worker_died_is_shown_failed_not_running(ws):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    job_id = add_job(ws, pid=proc.pid)
    job = jobs.get_job(ws, job_id)
    assert job["status"] == "failed" and "ended without reporting" in job["error"]


def test_one_training_at_a_time(ws):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        add_job(ws, pid=sleeper.pid)
        with pytest.raises(jobs.JobBusy, match="still running"):
            jobs.start_training(ws, "cpu-quick", [], author="b")
        r = post(client(ws), "/train/start", {"recipe": "cpu-quick"})
        assert r.status_code == 400 and "one at a time" in r.text
    finally:
        sleeper.kill()
        sleeper.wait()


def test_only_changed_fields_become_overrides_and_are_validated(ws):
    form = dict(recipes.fields("cpu-quick"))
    assert form["max_steps"] == "16" and form["lora.r"] == "8"
    form.update({"max_steps": "6", "early_stopping_patience": ""})
    assert recipes.overrides_from_form("cpu-quick", form) == ["max_steps=6", "early_stopping_patience=null"]
    form["learning_rate"] = "fast"
    with pytest.raises(ConfigError, match="learning_rate"):
        jobs.start_training(ws, "cpu-quick", recipes.overrides_from_form("cpu-quick", form), author="a")
    assert jobs.list_jobs(ws) == []  # nothing was queued


def test_the_train_page_lists_jobs_and_escapes_the_author(ws):
    add_job(ws, pid=None, run_ref=None)
    with ws.session() as s:
        s.get(Job, 1).author = "<script>x</script>"
    page = client(ws).get("/train").text
    assert "job 1" in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_the_train_and_overview_pages_show_registered_adapters(ws, tmp_path):
    from run_helpers import sft_run

    from expertune.store.adapters import register_adapter

    register_adapter(ws, sft_run(), tmp_path / "a1")
    train_page = client(ws).get("/train").text
    assert "legal@1" in train_page and 'name="name" value="legal"' in train_page  # current: offers Roll back
    assert '<span class="num">1</span> adapters' in client(ws).get("/").text


def test_the_worker_process_records_a_user_error_on_the_job(ws):
    """A real worker process, no model: training an empty workspace fails with the library's message."""
    import time

    job_id = jobs.start_training(ws, "cpu-quick", [], author="ann")
    for _ in range(1200):  # waits for the worker to end (bounded), not a timing assertion
        job = jobs.get_job(ws, job_id)
        if job["status"] not in jobs.LIVE:
            break
        time.sleep(0.1)
    assert job["status"] == "failed" and job["author"] == "ann"
    assert job["error"] and "Traceback" not in job["error"]
    assert (ws.runs_dir / "studio" / f"job-{job_id}.log").is_file()


def test_the_job_page_of_a_training_still_preparing(ws):
    job_id = add_job(ws, pid=None, run_ref=None)
    page = client(ws).get(f"/train/jobs/{job_id}")
    assert page.status_code == 200 and ">running</span>" in page.text


def test_progress_reads_the_run_record_also_in_its_old_shape(ws):
    from run_helpers import copy_old_run

    run_dir = copy_old_run(ws.runs_dir)
    job = jobs.get_job(ws, add_job(ws, pid=None, run_ref=run_dir.name))
    got = jobs.progress(ws, job)
    assert (got["run_status"], got["best_step"], got["max_steps"], got["tokens_per_second"]) == ("completed", 8, 8, 78.0)
    assert got["adapter"] == {"name": "legal", "version": 1, "ref": "legal@1",
                              "path": "/home/user/ws/runs/legal-20261122-101500-123/adapter"}


def test_the_recipe_form_shows_common_fields_first_and_all_fields_in_the_form(ws):
    page = client(ws).get("/train?recipe=cpu-quick").text
    details = page.index("<details>")
    assert page.index('name="f.max_steps"') < details < page.index('name="f.lora.dropout"')
    assert page.count('name="f.') == len(recipes.fields("cpu-quick"))


def test_the_audit_page_marks_trained_tokens(tiny_ws):
    page = client(tiny_ws).get("/train/audit?recipe=cpu-quick&n=1")
    assert page.status_code == 200 and '<span class="trained">' in page.text and "Audit passed" in page.text
