"""One decoded JSON value -> one outcome, with the format named or detected from the keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from expertune.data.formats import alpaca, mcq, messages, pair, sharegpt
from expertune.data.formats.fields import Invalid, describe, json_type
from expertune.data.records import Outcome, Record, Reject
from expertune.errors import InputError

ToRecord = Callable[[dict[str, Any], int, str | None], Record]

JSON_FORMATS: dict[str, ToRecord] = {
    "messages": messages.to_record,
    "sharegpt": sharegpt.to_record,
    "alpaca": alpaca.to_record,
    "mcq": mcq.to_record,
}

_EXPECTED_KEYS = (
    "'messages', 'conversations', 'instruction', 'question' with 'options', "
    "or 'prompt' with 'response'"
)


_SURROGATE = (
    "a \\u escape encodes half of a surrogate pair, which UTF-8 cannot store; "
    "escape the whole pair or write the character itself"
)


def _detect(obj: dict[str, Any]) -> ToRecord:
    # Checked in this order so that a record carrying several shapes' keys is read the richest way.
    if "messages" in obj:
        return messages.to_record
    if "conversations" in obj:
        return sharegpt.to_record
    if "instruction" in obj:
        return alpaca.to_record
    if "question" in obj and "options" in obj:
        return mcq.to_record
    if "prompt" in obj:
        return pair.to_record
    keys = ", ".join(describe(key) for key in list(obj)[:8]) or "none"
    raise Invalid(
        f"cannot tell the record's format from its keys ({keys}); expected {_EXPECTED_KEYS}"
    )


def _unstorable(obj: dict[str, Any]) -> str | None:
    """Why the record could not be written back as UTF-8 JSON, if it could not. Found here, the
    problem is reported on its line rather than failing later when the record is stored."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE
    except RecursionError:
        return "the record is nested too deeply to store; flatten its fields"
    return None


def parse_record(
    obj: Any, line: int, fmt: str, *, default_topic: str | None = None
) -> Outcome:
    """Turn one JSON value into a Record, or a Reject saying what is wrong and how to fix it.
    `fmt` is one of JSON_FORMATS or "auto" (detect per record, so mixed files work)."""
    if fmt != "auto" and fmt not in JSON_FORMATS:
        names = ", ".join(JSON_FORMATS)
        raise InputError(f"unknown JSON record format {fmt!r}; expected auto, {names}")
    if not isinstance(obj, dict):
        return Reject(line, f"expected a JSON object holding one record, got {json_type(obj)}")
    problem = _unstorable(obj)
    if problem:
        return Reject(line, problem)
    try:
        to_record = _detect(obj) if fmt == "auto" else JSON_FORMATS[fmt]
        return to_record(obj, line, default_topic)
    except Invalid as exc:
        return Reject(line, str(exc))
