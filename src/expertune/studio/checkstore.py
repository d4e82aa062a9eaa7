"""The Checks worklist: the last check run's findings and the "allow" decisions, kept in the workspace.

Running checks is `curate.runner.run_checks`, the same as `expertune check`; the studio keeps the
report (`runs/studio/checks.json`) so the worklist and the review filter survive a restart, and
appends each "allow" decision (check, finding, reason, who, when) to `runs/studio/decisions.jsonl`.
Fixes are `curate.edits.redact` / `fix_artefacts`, which write revisions.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from expertune.atomic import write_atomic
from expertune.curate import checks as curate_checks
from expertune.curate.runner import run_checks
from expertune.errors import InputError
from expertune.workspace import Workspace


def default_checks() -> list[str]:
    # The confidence check scores every answer with the base model (minutes on a CPU); the worklist
    # runs the data checks, and confidence stays a CLI run (`expertune check --with-model`).
    model_based = curate_checks.model_checks()
    return [n for n in curate_checks.check_names() if n not in model_based]


def _folder(ws: Workspace) -> Path:
    folder = ws.runs_dir / "studio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run(ws: Workspace, only: list[str] | None = None) -> dict[str, Any]:
    report = run_checks(ws, only=only or default_checks()).as_dict()
    report["ran_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = _folder(ws) / "checks.json"
    write_atomic(path, json.dumps(report, default=str))
    return report


def latest(ws: Workspace) -> dict[str, Any] | None:
    path = ws.runs_dir / "studio" / "checks.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def finding_key(check: str, finding: dict[str, Any]) -> str:
    """A finding's identity across runs: its check, message and records."""
    refs = ",".join(f"{r.get('group_id')}/{r.get('response_id')}" for r in finding.get("records", []))
    return f"{check}|{finding.get('message')}|{refs}"


def worklist(ws: Workspace) -> list[dict[str, Any]]:
    """Findings of the last run, most severe first, each with its allow decision if any."""
    report = latest(ws)
    if not report:
        return []
    decisions = {d["key"]: d for d in decisions_list(ws)}
    rank = {"error": 0, "warning": 1, "info": 2}
    items = [{**f, "key": finding_key(check, f), "decision": decisions.get(finding_key(check, f))}
             for check, result in report["checks"].items() for f in result["findings"]]
    return sorted(items, key=lambda f: (f["decision"] is not None, rank.get(f["severity"], 3), f["check"]))


def response_ids(ws: Workspace, check: str) -> frozenset[int]:
    report = latest(ws) or {"checks": {}}
    findings = report["checks"].get(check, {}).get("findings", [])
    return frozenset(r["response_id"] for f in findings for r in f["records"] if r.get("response_id") is not None)


def check_names(ws: Workspace) -> list[str]:
    report = latest(ws)
    return [c for c, r in report["checks"].items() if r["findings"]] if report else []


def allow(ws: Workspace, key: str, *, reason: str, author: str) -> dict[str, Any]:
    """Record that a finding is accepted as it is, with why and who."""
    if not reason.strip():
        raise InputError("reason: say why this finding is allowed (it is kept with the decision)")
    if not any(f["key"] == key for f in worklist(ws)):
        raise InputError("that finding is not in the last check run; run the checks again")
    decision = {"key": key, "check": key.split("|", 1)[0], "reason": reason.strip(), "author": author,
                "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with (_folder(ws) / "decisions.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(decision) + "\n")
    return decision


def decisions_list(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.runs_dir / "studio" / "decisions.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
