"""Multiple-choice items: {"question", "options", "answer", "area", "explanation"}. They train like
any record (question with lettered options -> lettered answer) and keep their fields for exams."""

from __future__ import annotations

import re
from typing import Any

from expertune.data.formats.fields import (
    Invalid,
    build_record,
    describe,
    json_type,
    optional_text,
    required_text,
)
from expertune.data.records import Mcq, Record, normalise_ws

KEYS = frozenset({"question", "options", "answer", "area", "explanation"})

_HINT = "multiple-choice records need 'question', 'options' and 'answer'"
_MAX_OPTIONS = 10
# Answer keys are written as "B", "(B)", "B." or "B)" depending on who typed them.
_LETTER = re.compile(r"^\(?([A-Ja-j])\)?[.):]?$")


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _options(obj: dict[str, Any]) -> list[str]:
    if "options" not in obj:
        raise Invalid(f"missing field 'options': {_HINT}")
    options = obj["options"]
    if not isinstance(options, list) or not 2 <= len(options) <= _MAX_OPTIONS:
        got = f"{len(options)}" if isinstance(options, list) else json_type(options)
        raise Invalid(f"field 'options' must be a list of 2 to {_MAX_OPTIONS} strings, got {got}")
    seen: dict[str, int] = {}
    for i, option in enumerate(options):
        if not isinstance(option, str):
            raise Invalid(f"options[{i}] must be a string, got {json_type(option)}")
        if not option.strip():
            raise Invalid(f"options[{i}] is empty: every option needs text")
        key = normalise_ws(option).casefold()
        if key in seen:
            raise Invalid(f"options[{i}] repeats options[{seen[key]}]: options must be distinct")
        seen[key] = i
    return [option.strip() for option in options]


def _answer_index(obj: dict[str, Any], options: list[str]) -> int:
    """Index of the right option from a letter, a 0-based index or the option's own text."""
    if "answer" not in obj:
        raise Invalid(f"missing field 'answer': {_HINT}")
    answer = obj["answer"]
    last = _letter(len(options) - 1)
    if isinstance(answer, int) and not isinstance(answer, bool):
        if 0 <= answer < len(options):
            return answer
        raise Invalid(f"answer index {answer} is outside the options (0 to {len(options) - 1})")
    if not isinstance(answer, str):
        raise Invalid(
            "field 'answer' must be a letter, a 0-based index or an option's text, "
            f"got {json_type(answer)}"
        )
    letter = _LETTER.match(answer.strip())
    if letter and ord(letter.group(1).upper()) - ord("A") < len(options):
        return ord(letter.group(1).upper()) - ord("A")
    wanted = normalise_ws(answer).casefold()
    for i, option in enumerate(options):
        if normalise_ws(option).casefold() == wanted:
            return i
    if letter:
        raise Invalid(f"answer {describe(answer)} is outside the options (A to {last})")
    raise Invalid(
        f"answer {describe(answer)} is not an option letter (A to {last}), "
        "a 0-based index or the text of an option"
    )


def to_record(obj: dict[str, Any], line: int, default_topic: str | None) -> Record:
    question = required_text(obj, "question", _HINT).strip()
    options = _options(obj)
    index = _answer_index(obj, options)
    area = optional_text(obj, "area")
    explanation = optional_text(obj, "explanation")
    mcq = Mcq(
        question=question,
        options=options,
        answer=_letter(index),
        area=area.strip() if area else None,
        explanation=explanation.strip() if explanation else None,
    )
    lettered = "\n".join(f"{_letter(i)}. {option}" for i, option in enumerate(options))
    response = f"Answer: {mcq.answer}. {options[index]}"
    if mcq.explanation:
        response += f"\n\nExplanation: {mcq.explanation}"
    return build_record(
        obj,
        line,
        known=KEYS,
        prompt=f"{question}\n\n{lettered}",
        response=response,
        mcq=mcq,
        topic_fallback=mcq.area,
        default_topic=default_topic,
    )
