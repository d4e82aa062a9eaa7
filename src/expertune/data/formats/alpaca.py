"""Alpaca records: {"instruction": ..., "input": ..., "output": ..., "system": ...}."""

from __future__ import annotations

from typing import Any

from expertune.data.formats.fields import build_record, optional_text, required_text
from expertune.data.records import Record

KEYS = frozenset({"instruction", "input", "output", "system"})

_HINT = "alpaca records need 'instruction' and 'output' ('input' is optional)"


def to_record(obj: dict[str, Any], line: int, default_topic: str | None) -> Record:
    instruction = required_text(obj, "instruction", _HINT)
    output = required_text(obj, "output", _HINT)
    extra_input = optional_text(obj, "input")
    prompt = f"{instruction}\n\n{extra_input}" if extra_input else instruction
    return build_record(
        obj,
        line,
        known=KEYS,
        prompt=prompt,
        response=output,
        system=optional_text(obj, "system"),
        default_topic=default_topic,
    )
