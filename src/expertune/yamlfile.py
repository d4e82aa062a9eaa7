"""Reading a YAML file of settings into a mapping, with errors that name the file and line.

Apart from the config models (config.py) so that reading a file does not import pydantic: the
quick commands read one setting of expertune.yaml (workspace.py) and start in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from expertune.errors import ConfigError


def read_yaml(path: Path) -> dict[str, Any]:
    return parse_yaml(read_text(path), path)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; re-save it as UTF-8") from None


def parse_yaml(text: str, path: Path) -> dict[str, Any]:
    """The mapping `text` (read from `path`, which errors name) holds."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return data
