"""Loading validated configs from YAML with `--set key=value` overrides.

Every stage has one pydantic model; this module turns YAML and overrides into it and turns
validation failures into one readable error naming the file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from expertune.errors import ConfigError
from expertune.yamlfile import read_yaml

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for configs: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.learning_rate=1e-4")
    key, raw = item.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None, *, prefix: str | None = None) -> dict[str, Any]:
    """Set dotted keys in a nested dict. With `prefix`, a leading `prefix.` in the key is optional."""
    out = dict(data)
    for item in overrides or []:
        path, value = parse_override(item)
        if prefix and path[0] == prefix and len(path) > 1:
            path = path[1:]
        node = out
        for part in path[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[path[-1]] = value
    return out


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the documented keys)"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def validate(model: type[M], data: dict[str, Any], source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_config(model: type[M], path: Path | None, overrides: list[str] | None = None, *, base: dict[str, Any] | None = None,
                prefix: str | None = None, source: str | None = None) -> M:
    """`source` names where `base` came from in error messages (default: the file, else --set)."""
    data = dict(base or {})
    if path is not None:
        data.update(read_yaml(path))
    data = apply_overrides(data, overrides, prefix=prefix)
    where = source or (str(path) if path else "--set")
    if overrides and (source or path):
        where += " with --set " + " ".join(overrides)
    return validate(model, data, where)


def dump_yaml(model: BaseModel) -> str:
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
