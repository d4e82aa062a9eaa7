"""A workspace with two registered versions of one random LoRA adapter, and a server on it."""

from __future__ import annotations

from pathlib import Path

from adapter_helpers import BUILTIN, make_adapter
from run_helpers import sft_run

from expertune.workspace import Workspace


def workspace_with_adapters(root: Path, name: str = "tiny", versions: int = 2) -> Workspace:
    from expertune.llm.local import base_identity
    from expertune.train.registry import register

    ws = Workspace.init(root / "ws")
    _, sha = base_identity(BUILTIN)
    for v in range(1, versions + 1):
        folder = make_adapter(root / f"{name}-v{v}", name=name, version=v, seed=v)
        old = sft_run()
        run = old.updated(id=f"run-{v}", recipe={**old.recipe.model_dump(), "adapter_name": name, "system_prompt": "as-data"},
                          system_prompt_policy={"mode": "as-data"}, dataset_version={"id": 1, "hash": "d"},
                          base_model={**old.base_model.model_dump(), "name": BUILTIN, "sha256": sha})
        register(ws, run, folder)  # registering promotes: the last version is current
    return ws


def start_server(ws: Workspace | None, adapters=("tiny",), **settings):
    from expertune.serve.config import ServeConfig
    from expertune.serve.server import Server

    server = Server(ServeConfig(port=0, **settings), adapters=list(adapters), ws=ws)
    return server, server.start()
