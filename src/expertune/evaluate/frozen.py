"""What a run freezes of its models, and how a frozen model is opened again.

A candidate or local judge is resolved to a stable identity when its run is created (base weights
hash, adapter weights hash); `chat_model` opens it from that frozen entry and refuses when the
weights changed since. Shared by evaluate/runs.py (candidates) and the judge kinds
(evaluate/pairwise/judges.py), so neither depends on the other for it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from expertune.errors import ConfigError
from expertune.workspace import Workspace


def sha256_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _adapter(ws: Workspace, ref: str | None, path: str | None, where: str):
    from expertune.llm.adapters import read_adapter
    from expertune.store.adapters import resolve_adapter

    if path:
        folder = Path(path).expanduser()
        if not folder.is_absolute():
            folder = ws.root / folder
        return read_adapter(folder)
    if ref:
        try:
            return resolve_adapter(ws, ref)
        except ConfigError as err:
            raise ConfigError(f"{where}.adapter: {err}") from None
    return None


def resolve_local(ws: Workspace, model: str | None, adapter_ref: str | None, adapter_path: str | None, where: str) -> dict[str, Any]:
    from expertune.llm.local import base_identity, model_id_for

    adapter = _adapter(ws, adapter_ref, adapter_path, where)
    base = model or (adapter.base_model if adapter else None) or ws.settings.base_model
    if adapter is not None and adapter.kind == "full":
        base_sha = adapter.base_sha256 or ""
    else:
        _, base_sha = base_identity(base)
        if adapter is not None and adapter.base_sha256 and adapter.base_sha256 != base_sha:
            raise ConfigError(f"{where}: adapter {adapter.label} was trained on a base with sha256 {adapter.base_sha256[:12]}…, "
                              f"but {base!r} has {base_sha[:12]}…; set model: to the adapter's base ({adapter.base_model})")
    return {"type": "local", "model_id": model_id_for(base_sha, adapter), "base": base, "base_sha256": base_sha,
            "adapter": adapter.as_dict() if adapter else None}

def chat_model(frozen: dict[str, Any], *, on_result=None):
    """The chat model of a frozen candidate or local judge, checking its adapter is unchanged."""
    if frozen["type"] == "openai":
        from expertune.evaluate.config import EndpointFields
        from expertune.llm.openai_compat import OpenAIChatModel

        endpoint = EndpointFields.model_validate({k: v for k, v in frozen["endpoint"].items() if k in EndpointFields.model_fields}).endpoint()
        return OpenAIChatModel(endpoint, on_result=on_result)
    from expertune.llm.adapters import AdapterInfo, read_adapter
    from expertune.llm.local import LocalChatModel

    info = None
    if frozen.get("adapter"):
        info = read_adapter(frozen["adapter"]["path"])
        if info.sha256 != frozen["adapter"]["sha256"]:
            raise ConfigError(f"{info.path}: the adapter's weights changed since this run was created "
                              f"(sha256 {frozen['adapter']['sha256'][:12]}… → {info.sha256[:12]}…); start a new run")
        info = AdapterInfo(**frozen["adapter"])
    model = LocalChatModel(frozen["base"], adapter_info=info, batch_size=frozen.get("batch_size", 32))
    if model.id != frozen["model_id"]:
        raise ConfigError(f"{frozen['base']}: the base model's weights changed since this run was created; start a new run")
    return model
