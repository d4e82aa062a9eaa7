"""Browser test with the builtin model: start a cpu-quick training from the Train page, watch it
finish live (Server-Sent Events), look at the audit, promote and roll back adapters."""

import pytest

from browser_helpers import LiveStudio, browser, new_user, shots  # noqa: F401 (fixtures)
from expertune.studio import jobs
from expertune.store import adapters as registry

pytestmark = pytest.mark.integration

QUICK = {"max_steps": "4", "eval_steps": "2", "max_length": "128", "per_device_batch_size": "2",
         "early_stopping_patience": ""}


def test_start_a_training_and_see_it_finish(tiny_ws, browser, shots):
    ws = tiny_ws
    with LiveStudio(ws) as studio:
        page = new_user(browser, studio, "trainer")
        page.click("text=Train")
        page.wait_for_selector("#start-form")
        shots(page, "train")
        for key, value in QUICK.items():
            page.fill(f"input[name='f.{key}']", value)
        page.click("#start-training")
        page.wait_for_selector("#job-status")
        # The page follows the job by SSE and reloads once when it ends.
        page.wait_for_selector("#job-status.completed, #job-status.failed, #job-status.cancelled", timeout=600_000)
        shots(page, "train-job")
        assert page.inner_text("#job-status") == "completed", page.inner_text("main")
        assert page.locator("#train-line").get_attribute("points").count(",") == 4  # one point per step
        assert "Registered adapter" in page.inner_text("#job-result")
        (job,) = jobs.list_jobs(ws, "train")
        assert (job["status"], job["author"]) == ("completed", "trainer")

        page.goto(studio.url + "/train/audit?recipe=cpu-quick&n=2")
        page.wait_for_selector("pre.audit .trained")
        shots(page, "train-audit")

        # The new adapter is current, so its row offers Roll back (not Promote).
        (first,) = registry.list_adapters(ws)
        page.goto(studio.url + "/train")
        shots(page, "train-adapters")
        assert first.is_current and page.locator("#adapters button", has_text="Roll back").count() == 1
