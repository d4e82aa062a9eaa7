"""Input-format parsers: every file becomes one outcome per input record, a Record or a Reject.

Bad content never raises; InputError is only for whole-file problems (a missing file, an
unknown format name, a CSV header that does not name the prompt and response columns)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from expertune.data.formats.csv_table import parse_csv
from expertune.data.formats.json_records import JSON_FORMATS, parse_record
from expertune.data.formats.jsonl import parse_json
from expertune.data.formats.transcript import parse_transcript
from expertune.data.records import Outcome
from expertune.errors import InputError

__all__ = ["FORMATS", "detect_format", "parse_file", "parse_record"]

FORMATS = ("messages", "sharegpt", "alpaca", "csv", "transcript", "mcq")

# detect_format's answer for JSON files is accepted back as a format name, so it can be stored.
_JSON_AUTO = "jsonl-auto"
_CSV_SUFFIXES = (".csv", ".tsv")
_TRANSCRIPT_SUFFIXES = (".txt", ".md")


def detect_format(path: Path) -> str:
    """The format implied by the file name: "csv", "transcript", or "jsonl-auto" (JSON Lines,
    or a .json array, with the format detected per record)."""
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _TRANSCRIPT_SUFFIXES:
        return "transcript"
    return _JSON_AUTO


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_file(
    path: Path,
    fmt: str = "auto",
    *,
    csv_map: dict[str, str] | None = None,
    default_topic: str | None = None,
) -> Iterator[Outcome]:
    """Outcomes for every record in `path`, in file order. Whole-file problems raise InputError
    here, before the first outcome is read."""
    path = Path(path)
    if fmt not in ("auto", _JSON_AUTO, *FORMATS):
        raise InputError(f"unknown format {fmt!r}; expected auto or one of: {', '.join(FORMATS)}")
    kind = detect_format(path) if fmt == "auto" else fmt
    if csv_map and kind != "csv":
        raise InputError(
            f"a column mapping only applies to CSV/TSV files; {path.name} is read as {kind}"
        )
    data = _read(path)
    if kind == "csv":
        return parse_csv(
            data,
            tab_default=path.suffix.lower() == ".tsv",
            csv_map=csv_map,
            default_topic=default_topic,
        )
    if kind == "transcript":
        return parse_transcript(data, default_topic=default_topic)
    json_fmt = kind if kind in JSON_FORMATS else "auto"
    return parse_json(
        data, json_fmt, is_json_file=path.suffix.lower() == ".json", default_topic=default_topic
    )
