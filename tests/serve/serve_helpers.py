"""A workspace with two registered versions of one random LoRA adapter, and a server on it."""

from __future__ import annotations

from pathlib import Path

from adapter_helpers import BUILTIN, make_adapter

from expertune.workspace import Workspace


def workspace_with_adapters(root: Path, name: str = "tiny", versions: int = 2) -> Workspace:
    from expertune.llm.local import base_identity
    from expertune.train.registry import register

    ws = Workspace.init(root / "ws")
    _, sha = base_identity(BUILTIN)
    for v in range(1, versions + 1):
        folder = make_adapter(root / f"{name}-v{v}", name=name, version=v, seed=v)
        run = {"id": f"run-{v}", "recipe": {"adapter_name": name, "method": "lora"}, "dataset_version": {"hash": "d"},
               "base_model": {"name": BUILTIN, "sha256": sha}}
        register(ws, run, folder)  # registering promotes: the last version is current
    return ws


def start_server(ws: Workspace | None, adapters=("tiny",), **settings):
    from expertune.serve.config import ServeConfig
    from expertune.serve.server import Server

    server = Server(ServeConfig(port=0, **settings), adapters=list(adapters), ws=ws)
    return server, server.start()
