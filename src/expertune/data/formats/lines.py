"""Split raw file bytes into numbered text lines, so one undecodable line cannot spoil the rest."""

from __future__ import annotations

from collections.abc import Iterator

from expertune.data.records import Reject

_BOM = b"\xef\xbb\xbf"


def decode_lines(data: bytes) -> Iterator[tuple[int, str | Reject]]:
    """Yield (line number, text) for every line, blank ones included; a line that is not UTF-8
    comes back as a Reject so callers can report it in place of the record."""
    offset = 0
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        offset = len(_BOM)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        text: str | Reject
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 (byte offset {offset + exc.start})"
            text = Reject(number, f"{reason}; re-save the file as UTF-8")
        yield number, text
        offset += len(raw) + 1
