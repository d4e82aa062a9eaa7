"""Overview page: dataset statistics, dataset versions and their lineage (version → adapters → eval runs)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from expertune.data.stats import dataset_stats
from expertune.data.versions import list_versions
from expertune.evaluate.runs import list_runs
from expertune.store.adapters import list_adapters
from expertune.studio.web import render, workspace

router = APIRouter()


@router.get("/")
def overview(request: Request):
    ws = workspace(request)
    adapters = list_adapters(ws)
    versions = [{**v, "adapters": [a for a in adapters if a.dataset_hash == v["hash"]]} for v in list_versions(ws)]
    return render(request, "overview.html", active="overview", name=ws.settings.name, stats=dataset_stats(ws),
                  versions=versions, adapters=adapters, runs=list_runs(ws))
