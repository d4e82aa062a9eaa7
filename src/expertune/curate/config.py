"""Thresholds of the checks: the `checks:` key of expertune.yaml, validated here.

    checks:
      near-duplicates: {threshold: 0.85}
      length: {max_length: 4096}

Every check has its own model (in its module); an unknown check or key is an error that names
`checks.<name>.<key>`.
"""

from typing import Any

from pydantic import ConfigDict, Field, ValidationError, create_model

from expertune.config import StrictModel
from expertune.curate.checks import MODULES
from expertune.errors import ConfigError
from expertune.workspace import SETTINGS_FILE, Workspace


class _ChecksBase(StrictModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    def for_check(self, name: str) -> StrictModel:
        return getattr(self, name.replace("-", "_"))


# One field per check, typed by the check's own Config; the alias is the name used in YAML and --only.
ChecksConfig = create_model(
    "ChecksConfig",
    __base__=_ChecksBase,
    **{name.replace("-", "_"): (module.Config, Field(default_factory=module.Config, alias=name))
       for name, module in MODULES.items()},
)


def parse_checks_config(raw: Any, source: str) -> _ChecksBase:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: checks: expected a mapping of check names to settings")
    try:
        return ChecksConfig.model_validate(raw)
    except ValidationError as err:
        lines = [f"{source}: invalid check settings"]
        for e in err.errors():
            loc = ".".join(["checks", *(str(p) for p in e["loc"])])
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = f"unknown key; known: {', '.join(_known_keys(e['loc']))}"
            lines.append(f"  {loc}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def _known_keys(loc: tuple) -> list[str]:
    if len(loc) == 1:
        return [f.alias or name for name, f in ChecksConfig.model_fields.items()]
    model = ChecksConfig.model_fields.get(str(loc[0]).replace("-", "_"))
    return list(model.annotation.model_fields) if model else []


def load_checks_config(ws: Workspace) -> _ChecksBase:
    return parse_checks_config(ws.settings.checks, str(ws.root / SETTINGS_FILE))
