"""Thresholds of the checks: the `checks:` key of expertune.yaml, validated here.

    checks:
      near-duplicates: {threshold: 0.85}
      length: {max_length: 4096}

Every check has its own model (in its module); an unknown check or key is an error that names
`checks.<name>.<key>`.
"""

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from expertune.config import StrictModel
from expertune.curate.checks import all_checks
from expertune.errors import ConfigError
from expertune.workspace import SETTINGS_FILE, Workspace


class ChecksConfig(StrictModel):
    """The validated `checks:` settings; `checks_config_model()` is the model with one field per check."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    def for_check(self, name: str) -> StrictModel:
        return getattr(self, name.replace("-", "_"))


def checks_config_model() -> type[ChecksConfig]:
    """One field per registered check (plugins' included), typed by the check's own Config; the
    alias is the name used in YAML and --only."""
    return _model(tuple((name, c.config_model) for name, c in all_checks().items()))


@lru_cache(maxsize=8)
def _model(checks: tuple[tuple[str, type[BaseModel]], ...]) -> type[ChecksConfig]:
    return create_model(
        "ChecksConfig",
        __base__=ChecksConfig,
        **{name.replace("-", "_"): (model, Field(default_factory=model, alias=name)) for name, model in checks},
    )


def parse_checks_config(raw: Any, source: str) -> ChecksConfig:
    model = checks_config_model()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: checks: expected a mapping of check names to settings")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        lines = [f"{source}: invalid check settings"]
        for e in err.errors():
            loc = ".".join(["checks", *(str(p) for p in e["loc"])])
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = f"unknown key; known: {', '.join(_known_keys(model, e['loc']))}"
            lines.append(f"  {loc}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def _known_keys(model: type[ChecksConfig], loc: tuple) -> list[str]:
    if len(loc) == 1:
        return [f.alias or name for name, f in model.model_fields.items()]
    field = model.model_fields.get(str(loc[0]).replace("-", "_"))
    return list(field.annotation.model_fields) if field else []


def load_checks_config(ws: Workspace) -> ChecksConfig:
    return parse_checks_config(ws.settings.checks, str(ws.root / SETTINGS_FILE))
