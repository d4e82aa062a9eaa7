"""Checks page: run the checks, work through the findings, apply fixes as revisions, allow with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request

from expertune.curate import edits
from expertune.errors import InputError
from expertune.studio import checkstore
from expertune.studio.web import redirect, render, user, workspace

router = APIRouter()
FIXES = {"redact": edits.redact, "artefacts": edits.fix_artefacts}


@router.get("/checks")
def checks_page(request: Request):
    ws = workspace(request)
    report = checkstore.latest(ws)
    return render(request, "checks.html", active="checks", report=report, items=checkstore.worklist(ws))


@router.post("/checks/run")
def run(request: Request):
    checkstore.run(workspace(request))
    return redirect("/checks")


@router.post("/checks/allow")
def allow(request: Request, key: str = Form(...), reason: str = Form("")):
    checkstore.allow(workspace(request), key, reason=reason, author=user(request))
    return redirect("/checks")


def _fix(name: str):
    if name not in FIXES:
        raise InputError(f"fix {name!r}: expected one of {', '.join(FIXES)}")
    return FIXES[name]


@router.get("/checks/fix/{name}")
def fix_preview(request: Request, name: str):
    plan = _fix(name)(workspace(request), apply=False)
    return render(request, "fix.html", active="checks", name=name, plan=plan.as_dict())


@router.post("/checks/fix/{name}")
def fix_apply(request: Request, name: str):
    ws = workspace(request)
    _fix(name)(ws, apply=True, author=user(request))
    checkstore.run(ws)
    return redirect("/checks")
