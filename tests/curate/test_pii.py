import json

import pytest

from conftest import FIXTURES
from curate_helpers import build, findings, record
from expertune.curate import run_checks
from expertune.curate.pii import find_pii, iban_ok, luhn_ok, redact_text

PLANTED = [json.loads(line) for line in (FIXTURES / "curate" / "pii_planted.jsonl").read_text().splitlines()]
CLEAN = (FIXTURES / "curate" / "pii_clean.txt").read_text().splitlines()


def _found(row) -> bool:
    start = row["text"].index(row["value"])
    end = start + len(row["value"])
    return any(m.kind == row["kind"] and m.start <= start and m.end >= end for m in find_pii(row["text"]))


def test_fixtures_are_large_enough():
    assert len(PLANTED) >= 100 and len(CLEAN) >= 100
    assert {r["kind"] for r in PLANTED} == {"EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID", "IP", "ADDRESS"}


def test_at_least_95_percent_of_planted_personal_data_is_found():
    missed = [r for r in PLANTED if not _found(r)]
    assert len(missed) <= 0.05 * len(PLANTED), missed


def test_at_most_2_percent_false_flags_on_look_alikes():
    flagged = [(line, find_pii(line)) for line in CLEAN if find_pii(line)]
    assert len(flagged) <= 0.02 * len(CLEAN), flagged


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
    assert find_pii("card 4111 1111 1111 1112") == []  # fails Luhn
    assert find_pii("IBAN GB82 WEST 1234 5698 7654 33") == []  # fails mod-97


def test_redaction_uses_typed_placeholders_and_is_idempotent():
    text = "Mail jane.doe@example.com or ring 020 7946 0958; IBAN GB82 WEST 1234 5698 7654 32; from 203.0.113.45."
    redacted, matches = redact_text(text)
    assert redacted == "Mail [EMAIL] or ring [PHONE]; IBAN [IBAN]; from [IP]."
    assert [m.kind for m in matches] == ["EMAIL", "PHONE", "IBAN", "IP"]
    assert redact_text(redacted) == (redacted, [])


@pytest.mark.parametrize("kind", ["CARD", "NATIONAL_ID", "ADDRESS"])
def test_each_kind_redacts_to_its_placeholder(kind):
    row = next(r for r in PLANTED if r["kind"] == kind)
    assert f"[{kind}]" in redact_text(row["text"])[0]


def test_check_flags_responses_and_prompts_with_spans(ws):
    build(ws, [
        record("My email is a.b@example.com, what are my rights?", "You may rescind. Call 020 7946 0958 for help."),
        record("What is consideration?", "Something of value; see Carlill v Carbolic Smoke Ball Co [1893] 1 QB 256."),
    ])
    report = run_checks(ws, only=["pii"])
    found = findings(report, "pii")
    assert len(found) == 2 and all(f.severity == "error" for f in found)
    response = next(f for f in found if f.response_ids)
    text = report.data.response_text(response.response_ids[0])
    assert [text[s.start : s.end] for s in response.spans] == ["020 7946 0958"]
    prompt = next(f for f in found if not f.response_ids)
    assert prompt.spans[0].field == "prompt" and prompt.data["kinds"] == {"EMAIL": 1}
