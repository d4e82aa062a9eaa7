"""The training audit for the studio: the same call as `expertune train audit RECIPE` (render the
examples exactly as the trainer will, mark which tokens are trained)."""

from __future__ import annotations

from typing import Any

from expertune.workspace import Workspace


def audit(ws: Workspace, recipe: str, n: int = 3) -> dict[str, Any]:
    from expertune.data.versions import snapshot
    from expertune.models import resolve
    from expertune.train.audit import audit_examples
    from expertune.train.data import load_examples
    from expertune.train.recipe import load_recipe

    r = load_recipe(recipe)
    version = snapshot(ws)
    base = resolve(r.base_model)
    report = audit_examples(r, base.path, base.chat_template_source, load_examples(version, r), n_samples=n)
    return report.as_dict()
