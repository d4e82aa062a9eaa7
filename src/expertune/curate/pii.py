"""Personal data in text: e-mail addresses, phone numbers, payment cards, IBANs, national ids,
IP addresses and street addresses, with typed placeholders for redaction.

Precision matters as much as recall: legal and business text is full of numbers that look like
personal data (dates, versions, prices, order numbers, case citations such as "[1893] 1 QB 256",
statute sections). So every pattern is anchored on a shape that such numbers do not have, checksums
are verified where the format has one (Luhn for cards, mod-97 for IBANs), and a number preceded by
an order/invoice/reference/version word is not taken for a phone, card or IP address.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

PLACEHOLDERS = {
    "EMAIL": "[EMAIL]",
    "PHONE": "[PHONE]",
    "CARD": "[CARD]",
    "IBAN": "[IBAN]",
    "NATIONAL_ID": "[NATIONAL_ID]",
    "IP": "[IP]",
    "ADDRESS": "[ADDRESS]",
}
# When two matches overlap, the more specific kind wins.
PRIORITY = ["EMAIL", "IBAN", "CARD", "NATIONAL_ID", "IP", "ADDRESS", "PHONE"]


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str


# -- patterns ---------------------------------------------------------------------------------
EMAIL = re.compile(r"(?<![\w.+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")

IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
# Lengths by country (ISO 13616 registry, the common ones); others must be 15-34.
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "AE": 23, "SA": 24, "IL": 23,
}

CARD = re.compile(r"(?<![\d.,-])(?:\d[ -]?){12,18}\d(?![\d-]|[.,]\d)")

SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
NINO = re.compile(r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
SIN = re.compile(r"\b(?:SIN|[Ss]ocial [Ii]nsurance [Nn]umber)\D{0,20}?(\d{3}[ -]?\d{3}[ -]?\d{3})\b")
SSN_LABELLED = re.compile(r"\b(?:SSN|[Ss]ocial [Ss]ecurity [Nn]umber)\D{0,20}?(\d{9})\b")

IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d|\w)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w-])")
PHONE_NANP = re.compile(r"(?<![\w(-])(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|[.,]\d)")
PHONE_UK = re.compile(r"(?<![\w-])0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}(?![\w-]|[.,]\d)")
PHONE_LABELLED = re.compile(
    r"\b(?:[Tt]el(?:ephone)?|[Pp]hone|[Mm]obile|[Cc]ell|[Ff]ax|WhatsApp|[Cc]all(?: me)?(?: on| at)?|[Rr]ing(?: me)?(?: on)?)"
    r"\.?:?\s{0,3}(\+?\d[\d ().-]{5,18}\d)"
)

_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Terrace|Way|Close|Crescent|Square|Sq|"
    "Gardens|Place|Pl|Parkway|Pkwy|Highway|Hwy|Row|Mews|Grove|Walk|Hill"
)
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})"
_US_STATE = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|"
    "PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC"
)
STREET = re.compile(
    rf"(?:\b(?:Flat|Apt\.?|Apartment|Suite|Unit) \w{{1,5}},? )?"
    rf"\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?,? (?:[A-Z][a-z'’]+\.? ){{1,4}}(?:{_STREET_TYPES})\b\.?"
    rf"(?:,? (?:[A-Z][a-z]+)(?: [A-Z][a-z]+){{0,2}})?"
    rf"(?:,? (?:{_UK_POSTCODE}|(?:{_US_STATE}) \d{{5}}(?:-\d{{4}})?))?"
)
POSTCODE = re.compile(rf"\b{_UK_POSTCODE}\b")
CITY_STATE_ZIP = re.compile(rf"\b[A-Z][a-z]+(?: [A-Z][a-z]+){{0,2}}, (?:{_US_STATE}) \d{{5}}(?:-\d{{4}})?\b")
PO_BOX = re.compile(r"\bP\.? ?O\.? Box \d{1,6}\b", re.IGNORECASE)

# Words that make a nearby number an identifier of a thing (an order, a document, a release),
# not of a person: "Order #555-123-4567", "ticket no. 020 7946 0958", "version 1.2.3.4".
_NOT_PERSONAL = re.compile(
    r"(?:\b(?:order|invoice|inv|ref(?:erence)?|ticket|tracking|case|claim|policy|account|acct|serial|isbn|issn|"
    r"sku|item|part|model|batch|lot|receipt|transaction|txn|booking|confirmation|shipment|parcel|customer|"
    r"version|ver|release|build|firmware|patch|kb|doi)\.?(?:\s*(?:number|no\.?|nr\.?|num\.?|id|code|#))?|#)\W{0,4}$",
    re.IGNORECASE,
)
_PHONE_WORD = re.compile(r"\b(?:tel|phone|mobile|cell|fax|call|ring|whatsapp|text|sms)\w*(?:\s+(?:number|no\.?|nr))?\W{0,12}$", re.IGNORECASE)
_VERSION_WORD = re.compile(
    r"(?:\b(?:v|version|ver|release|build|firmware|python|node|kb|section|sections|ss?\.|rule|para(?:graph)?|"
    r"clause|art(?:icle)?\.?|chapter|item|figure|table)|§)\s{0,2}$",
    re.IGNORECASE,
)
_NETWORK_WORD = re.compile(r"\b(?:ip|ips|address|addresses|server|host|ping|connect\w*|log\w*|from|router|gateway|dns|vpn|subnet)\b", re.IGNORECASE)


def _before(text: str, start: int, width: int = 24) -> str:
    return text[max(0, start - width) : start]


# -- validators -------------------------------------------------------------------------------
def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2 or not luhn_ok(digits):
        return False
    separators = set(re.findall(r"[ -]", raw))
    if len(separators) > 1:
        return False
    if separators:  # grouped like a card: 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4 (Diners)
        groups = [len(g) for g in re.split(r"[ -]", raw)]
        if groups not in ([4, 4, 4, 4], [4, 4, 4, 4, 3], [4, 6, 5], [4, 6, 4], [4, 4, 4, 1], [4, 4, 4, 4, 1, 2]):
            return False
    # Issuer prefixes: Visa, Mastercard, Amex, Diners, Discover, JCB, UnionPay, Maestro.
    return bool(re.match(r"4|5[1-5]|2[2-7]|3[47]|3[068]|6011|65|64[4-9]|35|62|50|5[6-9]|6[37]", digits))


def iban_ok(compact: str) -> bool:
    expected = IBAN_LENGTHS.get(compact[:2])
    if (expected and len(compact) != expected) or not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _ipv4_ok(raw: str) -> bool:
    parts = raw.split(".")
    return all(p == "0" or (not p.startswith("0") and int(p) <= 255) for p in parts) and parts != ["0"] * 4


def _ipv6_ok(raw: str) -> bool:
    if raw.count(":") < 2 or sum(1 for g in raw.split(":") if g) < 2:
        return False
    if "::" not in raw and raw.count(":") != 7:
        return False
    try:
        ipaddress.IPv6Address(raw)
    except ValueError:
        return False
    return True


def _digits(raw: str) -> int:
    return sum(ch.isdigit() for ch in raw)


# -- detection --------------------------------------------------------------------------------
def _candidates(text: str):
    for m in EMAIL.finditer(text):
        yield "EMAIL", m.start(), m.end()
    for m in IBAN.finditer(text):
        compact = m.group(0).replace(" ", "")
        n = IBAN_LENGTHS.get(compact[:2], len(compact))
        if len(compact) >= n and iban_ok(compact[:n]):
            end, seen = m.start(), 0
            while seen < n:  # map the n compact characters back onto the spaced text
                seen += text[end] != " "
                end += 1
            yield "IBAN", m.start(), end
    for m in CARD.finditer(text):
        raw = m.group(0).rstrip(" -")
        before = _before(text, m.start())
        if _card_ok(raw) and not (_NOT_PERSONAL.search(before) and "card" not in before.lower()):
            yield "CARD", m.start(), m.start() + len(raw)
    for m in SSN.finditer(text):
        if _ssn_ok(*m.groups()) and not _NOT_PERSONAL.search(_before(text, m.start())):
            yield "NATIONAL_ID", m.start(), m.end()
    for rx in (SSN_LABELLED, SIN):
        for m in rx.finditer(text):
            digits = re.sub(r"\D", "", m.group(1))
            valid = _ssn_ok(digits[:3], digits[3:5], digits[5:]) if rx is SSN_LABELLED else luhn_ok(digits)
            if valid:
                yield "NATIONAL_ID", m.start(1), m.end(1)
    for m in NINO.finditer(text):
        yield "NATIONAL_ID", m.start(), m.end()
    for m in IPV4.finditer(text):
        raw = m.group(0)
        if not _ipv4_ok(raw) or _VERSION_WORD.search(_before(text, m.start(), 16)):
            continue
        # Small parts ("see 4.2.1.3") are usually clause numbers: an IP then needs a network word nearby.
        if max(int(p) for p in raw.split(".")) <= 30 and not _NETWORK_WORD.search(_before(text, m.start(), 40)):
            continue
        yield "IP", m.start(), m.end()
    for m in IPV6.finditer(text):
        if _ipv6_ok(m.group(0)):
            yield "IP", m.start(), m.end()
    for rx in (STREET, CITY_STATE_ZIP, PO_BOX, POSTCODE):
        for m in rx.finditer(text):
            yield "ADDRESS", m.start(), m.end()
    yield from _phones(text)


def _phones(text: str):
    for rx, lo, hi in ((PHONE_INTL, 8, 15), (PHONE_NANP, 10, 10), (PHONE_UK, 10, 11)):
        for m in rx.finditer(text):
            raw = m.group(0)
            before = _before(text, m.start())
            if rx is PHONE_INTL:
                raw = raw.rstrip(" .-")
            if lo <= _digits(raw) <= hi and not (_NOT_PERSONAL.search(before) and not _PHONE_WORD.search(before)):
                yield "PHONE", m.start(), m.start() + len(raw)
    for m in PHONE_LABELLED.finditer(text):
        raw = m.group(1)
        if 7 <= _digits(raw) <= 15:
            yield "PHONE", m.start(1), m.end(1)


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping matches in text order; on overlap the higher-priority kind, then the longer, wins."""
    if not any(ch.isdigit() for ch in text) and "@" not in text:
        return []  # every pattern needs a digit or an @: most prose is done here
    found = sorted(set(_candidates(text)), key=lambda c: (PRIORITY.index(c[0]), -(c[2] - c[1]), c[1]))
    taken: list[tuple[int, int]] = []
    out = []
    for kind, start, end in found:
        if all(end <= s or start >= e for s, e in taken):
            taken.append((start, end))
            out.append(PiiMatch(kind, start, end, text[start:end]))
    return sorted(out, key=lambda m: m.start)


def redact_text(text: str) -> tuple[str, list[PiiMatch]]:
    """The text with every match replaced by its typed placeholder, and the matches."""
    matches = find_pii(text)
    out, pos = [], 0
    for m in matches:
        out.append(text[pos : m.start])
        out.append(PLACEHOLDERS[m.kind])
        pos = m.end
    out.append(text[pos:])
    return "".join(out), matches
