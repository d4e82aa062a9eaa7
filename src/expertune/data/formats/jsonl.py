"""JSON Lines files (one record per line), and .json files holding one array of records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from expertune.data.formats.json_records import parse_record
from expertune.data.formats.lines import decode_lines
from expertune.data.records import Outcome, Reject

_ARRAY_FIX = "fix the syntax, or write one JSON object per line (JSON Lines)"


def _detail(exc: Exception) -> str:
    """What is wrong with a JSON text, in words a user can act on."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (column {exc.colno})"  # the Reject's line says which line
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _array_outcomes(elements: list[Any], fmt: str, default_topic: str | None) -> Iterator[Outcome]:
    # Records in an array have no line of their own; the 1-based element index stands in for it.
    for index, element in enumerate(elements, start=1):
        outcome = parse_record(element, index, fmt, default_topic=default_topic)
        if isinstance(outcome, Reject):
            outcome = Reject(index, f"array element {index}: {outcome.reason}")
        yield outcome


def _whole_file_array(data: bytes) -> list[Any] | Reject | None:
    """The elements of a file that is one JSON array, a Reject when it starts like an array but
    does not parse, or None when it should be read as JSON Lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None  # reading line by line names the line that is not UTF-8
    if not text.lstrip().startswith("["):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        return Reject(line, f"not a valid JSON array: {_detail(exc)}; {_ARRAY_FIX}")


def parse_json(
    data: bytes, fmt: str, *, is_json_file: bool, default_topic: str | None
) -> Iterator[Outcome]:
    """Outcomes for a JSON Lines file; a .json file that is one array yields one per element.
    Only .json files are read as arrays: in JSON Lines an array line is just a bad record."""
    if is_json_file:
        elements = _whole_file_array(data)
        if isinstance(elements, Reject):
            yield elements
            return
        if elements is not None:
            yield from _array_outcomes(elements, fmt, default_topic)
            return
    for number, text in decode_lines(data):
        if isinstance(text, Reject):
            yield text
        elif text.strip():
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as exc:
                reason = f"not valid JSON: {_detail(exc)}; each line must hold one JSON object"
                yield Reject(number, reason)
                continue
            yield parse_record(value, number, fmt, default_topic=default_topic)
