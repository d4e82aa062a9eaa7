"""Fixtures for the browser tests: the studio served by uvicorn on 127.0.0.1 and a real headless
Chromium (Debian's `chromium` package) driven by Playwright. Without /usr/bin/chromium the browser
tests are skipped with a warning that the end of the test run shows (what is missing, how to install it).

Test modules import the fixtures (`from browser_helpers import browser, shots`): a conftest.py here
would shadow tests/conftest.py, which the other test modules import by name."""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from pathlib import Path

import pytest
import uvicorn

from expertune.studio import create_app

CHROMIUM = Path("/usr/bin/chromium")
# git-ignored; EXPERTUNE_SCREENSHOTS puts them elsewhere (e.g. a temporary folder)
SCREENSHOTS = Path(os.environ.get("EXPERTUNE_SCREENSHOTS") or Path(__file__).parent / "screenshots")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
SKIP_REASON = f"browser tests skipped: {CHROMIUM} not found (install it with `apt-get install -y chromium`)"


class BrowserTestsSkipped(UserWarning):
    """Shown in pytest's warnings summary, so `make test` says that the browser tests did not run."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveStudio:
    def __init__(self, ws, token: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(ws, token=token, default_user="owner"), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:  # a readiness wait, not a timing assertion
            if not self.thread.is_alive():
                raise RuntimeError("the studio did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join()


@pytest.fixture
def browser(request):
    if not CHROMIUM.exists():
        warnings.warn(BrowserTestsSkipped(SKIP_REASON))
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()


class Shots:
    """Screenshots of every page at 1280×800, for a person to look at (not compared)."""

    def __init__(self):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.fixture
def shots() -> Shots:
    return Shots()


def new_user(browser, studio: LiveStudio, name: str):
    """A browser context (its own cookies) that has told the studio its name."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(studio.url + "/me")
    page.fill("input[name=name]", name)
    page.click("button[type=submit]")
    page.wait_for_url(studio.url + "/")
    return page


def tiny_eval_workspace(ws, tmp_path) -> None:
    """Tiny data split half to test, and a random LoRA adapter registered as tiny@1 (current): what a
    studio evaluation of base vs `adapter: tiny@current` needs."""
    from adapter_helpers import BUILTIN, make_adapter
    from conftest import tiny_records, write_jsonl

    from expertune.data.ingest import import_file
    from expertune.data.splits import assign_splits
    from expertune.llm.adapters import read_adapter
    from expertune.store.tables import Adapter

    import_file(ws, write_jsonl(tmp_path / "tiny.jsonl", tiny_records()))
    assign_splits(ws, val=0.0, test=0.5, seed=1)
    folder = make_adapter(tmp_path / "adapter")
    with ws.session() as s:
        s.add(Adapter(name="tiny", version=1, path=str(folder), run_id="test-run", base_model=BUILTIN,
                      base_sha256=read_adapter(folder).base_sha256, dataset_hash="0" * 64, recipe={"method": "lora"},
                      is_current=True))


def run_evaluation(page, config: str, shots=None) -> None:
    """Paste an eval config on the Evaluate page, start it and wait until the job has completed."""
    page.click("text=Evaluate")
    page.fill("textarea[name=yaml_text]", config)
    if shots:
        shots(page, "evaluate")
    page.click("#start-eval")
    page.wait_for_selector("#job-status.completed, #job-status.failed", timeout=600_000)
    if shots:
        shots(page, "evaluate-job")
    assert page.inner_text("#job-status") == "completed", page.inner_text("main")
