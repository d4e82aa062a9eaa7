"""Plain prompt/response pairs: {"prompt": ..., "response" or "completion": ..., "system": ...}.
Only reached through per-record detection; it is not a format name users choose."""

from __future__ import annotations

from typing import Any

from expertune.data.formats.fields import Invalid, build_record, optional_text, required_text
from expertune.data.records import Record

KEYS = frozenset({"prompt", "response", "completion", "system"})

_HINT = "prompt/response records need 'prompt' and 'response' (or 'completion')"


def to_record(obj: dict[str, Any], line: int, default_topic: str | None) -> Record:
    prompt = required_text(obj, "prompt", _HINT)
    if "response" in obj and "completion" in obj:
        raise Invalid("both 'response' and 'completion' are given: keep one of them")
    response = required_text(obj, "completion" if "completion" in obj else "response", _HINT)
    return build_record(
        obj,
        line,
        known=KEYS,
        prompt=prompt,
        response=response,
        system=optional_text(obj, "system"),
        default_topic=default_topic,
    )
