"""CSV and TSV files: a header row names the columns and every later row is one record.

A quote left open glues rows together: the csv module reads on to the next quote, and what were
several rows becomes one record whose cell spans them. A row that spans several lines each of which
reads as a whole row on its own (the header's number of fields) is rejected with its line span,
so no input line disappears into another record unreported.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

from expertune.data.formats.fields import Invalid, record_status
from expertune.data.records import Outcome, Record, Reject
from expertune.errors import InputError

FIELDS = ("prompt", "response", "system", "topic", "rating", "preferred", "tags", "author", "status")

# Header names people actually use, most specific first; matched case-insensitively.
_ALIASES = {
    "prompt": ("prompt", "question", "instruction", "input", "user"),
    "response": ("response", "answer", "output", "completion", "assistant"),
    "system": ("system", "system_prompt"),
    "topic": ("topic", "area", "category"),
    "rating": ("rating", "score"),
    "preferred": ("preferred", "is_preferred", "rated_better"),
    "tags": ("tags",),
    "author": ("author",),
    "status": ("status",),
}
_TRUE = frozenset({"true", "yes", "1", "x"})
_FALSE = frozenset({"false", "no", "0", ""})
_MAP_EXAMPLE = "--map prompt=Question,response=Answer"
# Bytes that are not UTF-8 survive decoding as these surrogates, so the row can be rejected alone.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _delimiter(first_line: str, tab_default: bool) -> str:
    """The extension's delimiter, unless the header only makes sense with another one
    (spreadsheets in many locales write ';')."""
    default = "\t" if tab_default else ","
    if default in first_line:
        return default
    counts = {candidate: first_line.count(candidate) for candidate in (",", "\t", ";")}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else default


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, int, list[str] | csv.Error]]:
    """(first line, last line, its cells or the csv module's error) for each non-blank row."""
    reader = csv.reader((line + "\n" for line in text.split("\n")), delimiter=delimiter)
    start = 1
    while True:
        try:
            row: list[str] | csv.Error = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row = exc
        if isinstance(row, csv.Error) or any(cell.strip() for cell in row):
            yield start, reader.line_num, row
        start = reader.line_num + 1


def _whole_row(line: str, delimiter: str, width: int) -> bool:
    """Whether a line read by itself looks like a record: `width` fields, at least two of them with
    text (a prompt and a response), its quotes read as quotes (an open one running to the line's
    end) or as plain characters. A quoted cell's own line break (`",` then `",0`) does not."""
    try:
        quoted = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        quoted = []
    plain = line.split(delimiter)
    return any(len(cells) == width and sum(bool(cell.strip(' "')) for cell in cells) >= 2 for cells in (quoted, plain))


def _strictly_malformed(lines: list[str], delimiter: str) -> bool:
    """Whether the csv module's strict mode refuses these lines: a quote closed with text after it
    that is not a delimiter, or one never closed. The default mode reads both quietly."""
    try:
        for _ in csv.reader((line + "\n" for line in lines), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return True
    return False


def _glued(cells: list[str], lines: list[str], delimiter: str, width: int) -> bool:
    """Whether a multi-line row is rows glued by a quote that was never closed, rather than a
    cell with line breaks in it: each of its lines reads as a whole row by itself, and the cell
    that spans lines swallowed a delimiter on the line where its quote opened."""
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2 or not all(_whole_row(line, delimiter, width) for line in lines):
        return False
    spanning = next((cell for cell in cells if "\n" in cell), "")
    return delimiter in spanning.split("\n", 1)[0]


def _quote_problem(cells: list[str], lines: list[str], delimiter: str, width: int, at_end: bool) -> bool:
    """Whether a row spanning several lines owes them to a misplaced quote rather than to a cell
    with line breaks: it runs into the empty line after the file's last line break (a quote never
    closed), its quoting is malformed, or its lines read as whole rows glued together."""
    if len(lines) < 2:
        return False
    if at_end and lines[-1] == "":
        return True
    return _strictly_malformed(lines, delimiter) or _glued(cells, lines, delimiter, width)


def _columns(names: list[str], csv_map: dict[str, str] | None) -> dict[str, int]:
    """Column index of each field: the mapping first, then the usual header names."""
    folded = [name.casefold() for name in names]
    shown = ", ".join(repr(name) for name in names)
    columns: dict[str, int] = {}
    for field, column in (csv_map or {}).items():
        if field not in FIELDS:
            raise InputError(
                f"unknown field {field!r} in the column mapping; fields are {', '.join(FIELDS)}"
            )
        if column.strip().casefold() not in folded:
            raise InputError(f"column {column!r} (mapped to {field}) is not in the header: {shown}")
        columns[field] = folded.index(column.strip().casefold())
    for field, aliases in _ALIASES.items():
        # A column the mapping already uses is not matched again under another field.
        free = [folded.index(a) for a in aliases if a in folded]
        free = [index for index in free if index not in columns.values()]
        if field not in columns and free:
            columns[field] = free[0]
    missing = [field for field in ("prompt", "response") if field not in columns]
    if missing:
        raise InputError(
            f"no {' or '.join(missing)} column in the CSV header ({shown}); "
            f"name the columns with a mapping, e.g. {_MAP_EXAMPLE}"
        )
    return columns


def _rating(text: str, column: str) -> int:
    try:
        rating = int(text)
    except ValueError:
        rating = 0
    if not 1 <= rating <= 5:
        raise Invalid(f"rating {text!r} in column {column!r} must be a whole number from 1 to 5")
    return rating


def _preferred(text: str, column: str) -> bool:
    if text.casefold() in _TRUE:
        return True
    if text.casefold() in _FALSE:
        return False
    raise Invalid(
        f"preferred {text!r} in column {column!r} must be true/yes/1/x or false/no/0/empty"
    )


def _record(
    line: int,
    cells: list[str],
    names: list[str],
    columns: dict[str, int],
    default_topic: str | None,
) -> Record:
    if len(cells) != len(names):
        raise Invalid(
            f"row has {len(cells)} fields but the header has {len(names)}: "
            "quote cells that contain the delimiter, quotes or line breaks"
        )
    if any(_UNDECODABLE.search(cell) for cell in cells):
        raise Invalid("row is not valid UTF-8; re-save the file as UTF-8")

    def cell(field: str) -> str:
        return cells[columns[field]].strip() if field in columns else ""

    def column(field: str) -> str:
        return names[columns[field]] if field in columns else field

    for field in ("prompt", "response"):
        if not cell(field):
            raise Invalid(f"empty {field} in column {column(field)!r}: every row needs one")
    used = set(columns.values())
    # Columns nobody mapped are kept in meta, so nothing in the file is lost.
    extra = {
        names[i] or f"column {i + 1}": value
        for i, value in enumerate(cells)
        if i not in used and value.strip()
    }
    tags = [tag.strip() for tag in cell("tags").split(",") if tag.strip()]
    return Record(
        line=line,
        prompt=cell("prompt"),
        response=cell("response"),
        system=cell("system") or None,
        topic=cell("topic") or default_topic,
        tags=list(dict.fromkeys(tags)),
        rating=_rating(cell("rating"), column("rating")) if cell("rating") else None,
        preferred=_preferred(cell("preferred"), column("preferred")),
        author=cell("author") or None,
        meta={"extra": extra} if extra else None,
        status=record_status(cell("status"), f"status in column {column('status')!r}") if cell("status") else None,
    )


def _outcomes(
    rows: Iterator[tuple[int, int, list[str] | csv.Error]],
    lines: list[str],
    delimiter: str,
    names: list[str],
    columns: dict[str, int],
    default_topic: str | None,
) -> Iterator[Outcome]:
    # After the file's final line break the reader sees one more, empty line; no reject names it.
    final_line = len(lines) - (lines[-1] == "")
    for line, last, row in rows:
        end = min(last, final_line)
        span = end if end > line else None  # a rejected row reports every line it took
        if isinstance(row, csv.Error):
            yield Reject(line, f"unreadable CSV row ({row}); check its quotes", last_line=span)
            continue
        if _quote_problem(row, lines[line - 1 : last], delimiter, len(names), last == len(lines)):
            yield Reject(
                line,
                f"lines {line}-{end} were read as one row: a quote opened on line {line} is not closed where its "
                'cell ends, so it swallows the lines after it; close the quote (a quote inside a cell is written twice: "")',
                last_line=end,
            )
            continue
        try:
            yield _record(line, row, names, columns, default_topic)
        except Invalid as exc:
            yield Reject(line, str(exc), last_line=span)


def parse_csv(
    data: bytes,
    *,
    tab_default: bool,
    csv_map: dict[str, str] | None,
    default_topic: str | None,
) -> Iterator[Outcome]:
    """Outcomes for the data rows. Header problems are whole-file problems, so they raise
    InputError now rather than when the first row is read."""
    # Long answers easily exceed the csv module's default 128 KiB field limit.
    csv.field_size_limit(2**31 - 1)
    text = data.decode("utf-8-sig", errors="surrogateescape")
    lines = text.split("\n")
    first_line = next((line for line in lines if line.strip()), "")
    delimiter = _delimiter(first_line, tab_default)
    rows = _rows(text, delimiter)
    first = next(rows, None)
    if first is None:
        raise InputError("the CSV file is empty; it needs a header row naming its columns")
    line, _, header = first
    if isinstance(header, csv.Error):
        raise InputError(f"cannot read the CSV header on line {line} ({header}); check its quotes")
    names = [name.strip() for name in header]
    if any(_UNDECODABLE.search(name) for name in names):
        raise InputError("the CSV header is not valid UTF-8; re-save the file as UTF-8")
    return _outcomes(rows, lines, delimiter, names, _columns(names, csv_map), default_topic)
