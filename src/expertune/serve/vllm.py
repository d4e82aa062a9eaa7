"""The vLLM hand-off: the `vllm serve` command that serves the same base with the same adapters.

vLLM loads LoRA adapters as they are (`--enable-lora --lora-modules NAME=PATH`) and applies the
chat template it finds; the adapter folder carries the one used in training, passed with
`--chat-template`. The base is named by its portable hub id (a builtin is a GGUF conversion of one).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from expertune.errors import ConfigError


def vllm_command(adapters: list[str], ws=None, *, base: str | None = None, host: str = "127.0.0.1", port: int = 8000,
                 api_key_env: str | None = None) -> list[str]:
    from expertune.llm.adapters import read_adapter
    from expertune.store.adapters import resolve_adapter
    from expertune.models.builtin import portable_id
    from expertune.serve.server import DEFAULT_BASE

    infos = []
    for ref in adapters:
        if Path(ref).expanduser().is_dir():
            infos.append(read_adapter(ref))
        elif ws is None:
            raise ConfigError(f"--adapter {ref}: no workspace to resolve it in; run inside one or pass -w DIR")
        else:
            infos.append(resolve_adapter(ws, ref))
    bases = {i.base_model for i in infos if i.base_model}
    if base is None and len(bases) > 1:
        raise ConfigError(f"the adapters were trained on different bases ({', '.join(sorted(bases))}); vLLM serves "
                          "one base per server")
    base = base or (bases.pop() if bases else DEFAULT_BASE)
    full = [i.label for i in infos if i.kind == "full"]
    if full:
        raise ConfigError(f"{', '.join(full)}: full fine-tunes are models, not LoRA adapters; serve each with "
                          "`vllm serve FOLDER` (see `adapters export --format merged`)")
    cmd = ["vllm", "serve", portable_id(base), "--host", host, "--port", str(port)]
    if infos:
        rank = max(_rank(i.path) for i in infos)
        cmd += ["--enable-lora", "--max-lora-rank", str(rank), "--lora-modules"]
        cmd += [f"{i.name or Path(i.path).name}={i.path}" for i in infos]
        template = Path(infos[0].path) / "chat_template.jinja"
        if template.is_file():
            cmd += ["--chat-template", str(template)]
    if api_key_env:
        # vLLM reads the key from VLLM_API_KEY: the key itself never appears on the command line
        cmd = ["env", f"VLLM_API_KEY=${{{api_key_env}}}"] + cmd
    return cmd


def _rank(adapter_path: str) -> int:
    try:
        r = int(json.loads((Path(adapter_path) / "adapter_config.json").read_text()).get("r", 16))
    except (OSError, ValueError):
        r = 16
    return next(n for n in (8, 16, 32, 64, 128, 256, 512) if n >= r)  # the ranks vLLM accepts


def shell_line(cmd: list[str]) -> str:
    line = shlex.join(cmd)
    return line.replace("'VLLM_API_KEY=${", "VLLM_API_KEY=\"${").replace("}'", "}\"")
