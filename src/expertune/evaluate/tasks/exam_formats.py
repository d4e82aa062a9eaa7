"""Prompt formats for multiple-choice exams and robust extraction of the chosen letter.

The formats follow the Bar-Llama study: zero- or few-shot × answer-first or explanation-first ×
JSON, Markdown or numbered-list answers (12 combinations). Parsing reads the format's own answer
field first, so prose that discusses several options ("A is tempting, but C ...") never overrides
what the answer field says; only when the field is missing do we fall back to repairs, the other
formats' fields and explicit cues ("the answer is B"), and several different letters is ambiguous
(no letter) rather than a guess.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from expertune.errors import InputError

SHOTS = ("zero", "few")
ORDERS = ("answer", "explain")  # answer-first | explanation-first
STYLES = ("json", "markdown", "list")
LETTERS = "ABCDEFGHIJ"

_ALIASES = {
    "zero": "zero", "zs": "zero", "0": "zero",
    "few": "few", "fs": "few",
    "answer": "answer", "af": "answer",
    "explain": "explain", "explanation": "explain", "ef": "explain",
    "json": "json", "markdown": "markdown", "md": "markdown", "list": "list", "numbered": "list",
}
_NOISE = {"shot", "first", "", "numbered-list"}


@dataclass(frozen=True)
class ExamFormat:
    shots: str
    order: str
    style: str

    @property
    def name(self) -> str:
        return f"{self.shots}-{self.order}-{self.style}"

    @classmethod
    def parse(cls, text: str) -> "ExamFormat":
        """Accepts "zero-answer-json", "few-shot/explanation-first/markdown", "fs-ef-list", ..."""
        parts: dict[str, str] = {}
        for token in re.split(r"[-/_ ,.:]+", text.strip().lower()):
            if token in _NOISE:
                continue
            value = _ALIASES.get(token)
            if value is None:
                raise InputError(f"--formats {text!r}: unknown part {token!r}; write SHOTS-ORDER-STYLE with "
                                 f"SHOTS zero|few, ORDER answer|explain, STYLE json|markdown|list (e.g. zero-answer-json)")
            dim = "shots" if value in SHOTS else "order" if value in ORDERS else "style"
            parts[dim] = value
        missing = [d for d in ("shots", "order", "style") if d not in parts]
        if missing:
            raise InputError(f"--formats {text!r}: missing {', '.join(missing)}; e.g. zero-answer-json")
        return cls(**parts)


ALL_FORMATS = tuple(ExamFormat(s, o, st) for s in SHOTS for o in ORDERS for st in STYLES)
# Small default that still varies each dimension once; `--formats all` runs the 12.
DEFAULT_FORMATS = ("zero-answer-json", "few-answer-markdown", "zero-explain-list")


def parse_formats(spec: str | Sequence[str] | None) -> list[ExamFormat]:
    items: list[str] = list(DEFAULT_FORMATS) if not spec else [spec] if isinstance(spec, str) else list(spec)
    names = [p.strip() for item in items for p in item.split(",") if p.strip()]
    if any(n.lower() == "all" for n in names):
        return list(ALL_FORMATS)
    out: list[ExamFormat] = []
    for n in names:
        f = ExamFormat.parse(n)
        if f not in out:
            out.append(f)
    return out


@dataclass(frozen=True)
class ExamItem:
    id: str
    question: str
    options: tuple[str, ...]
    answer: str  # gold letter
    area: str | None = None
    explanation: str | None = None
    line: int | None = None

    def shifted(self, shift: int) -> tuple[tuple[str, ...], str, list[int]]:
        """Options cyclically moved by `shift` (A→B→C→D→A for shift 1): the presented options, the
        gold letter in that order, and for each presented position the original option index."""
        n = len(self.options)
        order = [(pos - shift) % n for pos in range(n)]
        gold = LETTERS[(LETTERS.index(self.answer) + shift) % n]
        return tuple(self.options[i] for i in order), gold, order


# -- prompts ---------------------------------------------------------------------------------------
_EXPLAIN = "explain briefly: the issue, the rule, how it applies and the conclusion"


def _instruction(fmt: ExamFormat) -> str:
    if fmt.style == "json":
        shape = ('{"answer": "<letter>", "explanation": "<reasoning>"}' if fmt.order == "answer"
                 else '{"explanation": "<reasoning>", "answer": "<letter>"}')
        return f"Reply with one JSON object only, exactly in this shape:\n{shape}"
    if fmt.style == "markdown":
        a, e = "## Answer\n<letter>", "## Explanation\n<reasoning>"
        first, second = (a, e) if fmt.order == "answer" else (e, a)
        return f"Reply in Markdown with exactly these two sections:\n{first}\n\n{second}"
    a, e = "Answer: <letter>", "Explanation: <reasoning>"
    first, second = (a, e) if fmt.order == "answer" else (e, a)
    return f"Reply as a numbered list, exactly:\n1. {first}\n2. {second}"


def question_block(question: str, options: Sequence[str]) -> str:
    lettered = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    return f"Question: {question}\n\n{lettered}"


def render_user(question: str, options: Sequence[str], fmt: ExamFormat) -> str:
    when = "Give the letter of the correct option first, then" if fmt.order == "answer" else "First"
    tail = "" if fmt.order == "answer" else ", then give the letter of the correct option"
    return (f"Answer this multiple-choice question. {when} {_EXPLAIN}{tail}.\n\n"
            f"{question_block(question, options)}\n\n{_instruction(fmt)}")


def render_answer(letter: str, explanation: str, fmt: ExamFormat) -> str:
    """A reply in `fmt` (used for few-shot examples and as the parsers' ground truth)."""
    if fmt.style == "json":
        pairs = [("answer", letter), ("explanation", explanation)]
        return json.dumps(dict(pairs if fmt.order == "answer" else pairs[::-1]), ensure_ascii=False)
    flat = " ".join(explanation.split())  # one line keeps the sections/items unambiguous
    if fmt.style == "markdown":
        a, e = f"## Answer\n{letter}", f"## Explanation\n{flat}"
        return f"{a}\n\n{e}" if fmt.order == "answer" else f"{e}\n\n{a}"
    a, e = f"Answer: {letter}", f"Explanation: {flat}"
    first, second = (a, e) if fmt.order == "answer" else (e, a)
    return f"1. {first}\n2. {second}"


def render_conversation(question: str, options: Sequence[str], fmt: ExamFormat,
                        shots: Sequence[ExamItem] = ()) -> list[dict[str, str]]:
    """Few-shot examples are earlier user/assistant turns answered in the same format."""
    turns: list[dict[str, str]] = []
    if fmt.shots == "few":
        for s in shots:
            why = s.explanation or f"Option {s.answer} is correct."
            turns += [{"role": "user", "content": render_user(s.question, s.options, fmt)},
                      {"role": "assistant", "content": render_answer(s.answer, why, fmt)}]
    return [*turns, {"role": "user", "content": render_user(question, options, fmt)}]


def letter_prompt(question: str, options: Sequence[str]) -> list[dict[str, str]]:
    """A prompt whose next token should be the letter: used for log-probability scoring."""
    return [{"role": "user", "content": "Answer this multiple-choice question.\n\n"
             f"{question_block(question, options)}\n\nReply with the letter of the correct option only."}]


# -- parsing ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parsed:
    letter: str | None
    adherent: bool  # the reply was in the requested format, unrepaired
    method: str  # format | repaired | other-format | cue | bare | option-text | ambiguous | none
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"letter": self.letter, "adherent": self.adherent, "method": self.method}


def _norm(text: str) -> str:
    return " ".join(text.split()).strip(" .;:'\"*`").casefold()


def letter_from_value(value: Any, options: Sequence[str]) -> str | None:
    """The letter an answer *field* names: "B", "(b)", "B. text", "B) text", "Option B", or the
    text of an option."""
    if not isinstance(value, str):
        return None
    n = len(options)
    v = value.strip().strip("*`'\" ").strip()
    m = (re.fullmatch(r"\(?([A-Ja-j])\)?[.):]?", v)
         or re.fullmatch(r"\(?([A-Ja-j])(?:\)[.:]?|[.:])\s*.*", v, re.S)
         or re.fullmatch(r"(?i:option|choice|answer|letter)\s*:?\s*\(?([A-J])\)?[.):]?", v))
    if m:
        i = LETTERS.index(m.group(1).upper())
        return LETTERS[i] if i < n else None
    m = re.fullmatch(r"([A-J])\s+(.+)", v, re.S)
    if m and LETTERS.index(m.group(1)) < n and _norm(m.group(2)) == _norm(options[LETTERS.index(m.group(1))]):
        return m.group(1)
    return option_text_letter(v, options)


def option_text_letter(text: str, options: Sequence[str]) -> str | None:
    """The letter of the option whose text the reply repeats (whitespace, case, quotes ignored)."""
    wanted = _norm(text)
    hits = [i for i, o in enumerate(options) if _norm(o) == wanted]
    return LETTERS[hits[0]] if len(hits) == 1 else None


def _agree(letters: list[str | None]) -> tuple[str | None, bool]:
    """(letter, ambiguous): several fields naming different letters give no letter."""
    found = {x for x in letters if x}
    if len(found) == 1:
        return found.pop(), False
    return None, len(found) > 1


def _in_range(letter: str, options: Sequence[str]) -> str | None:
    return letter if LETTERS.index(letter) < len(options) else None


def _leading_letter(value: str, options: Sequence[str]) -> str | None:
    """A field line may carry more than the letter ("B. An offer", "B — because ...")."""
    m = re.match(r"\s*\**\(?([A-J])\)?\**(?:[\s.):,;\-–—]|$)", value)
    if not m:
        return None
    # "A" and "I" are also words: "A contract is formed ..." names no option.
    if m.group(1) in "AI" and re.match(r"\s*\**[AI]\s+[a-z]", value):
        return None
    return _in_range(m.group(1), options)


_CUES = [
    re.compile(r"(?i:\b(?:correct|right|best|final)\s+(?:answer|option|choice)\s*(?:is|:|=|would\s+be|must\s+be|should\s+be)?)"
               r"\s*:?\s*(?:(?i:option|choice)\s+)?\(?\**([A-J])\b"),
    re.compile(r"(?i:\b(?:the\s+)?answer(?:\s+to\s+(?:the|this)\s+question)?\s*(?:is|would\s+be|must\s+be|should\s+be|:|=))\s*:?\s*"
               r"(?:(?i:option|choice)\s+)?\(?\**([A-J])\b"),
    re.compile(r"(?i:\bI\s+(?:choose|pick|select|would\s+choose))\s+(?:(?i:option|choice)\s+)?\(?([A-J])\b"),
]


def _cue_letter(text: str, options: Sequence[str]) -> tuple[str | None, bool]:
    """Explicit statements of the answer in prose; all of them must agree."""
    hits: list[str | None] = []
    for cue in _CUES:
        for m in cue.finditer(text):
            letter = m.group(1)
            if letter in "AI" and re.match(r"\s+[a-z]", text[m.end():]):
                continue  # "the answer is a contract ..."
            hits.append(_in_range(letter, options))
    return _agree(hits)


def field_letter(value: Any, options: Sequence[str]) -> str | None:
    """The letter in an answer field's value, however it is dressed."""
    if not isinstance(value, str):
        return None
    return letter_from_value(value, options) or _leading_letter(value, options) or _cue_letter(value, options)[0]


def _answer_key(obj: dict) -> Any:
    for k, v in obj.items():
        if isinstance(k, str) and k.strip().lower() in ("answer", "final_answer", "final answer", "choice", "letter"):
            return v
    return None


def _loads_dict(text: str) -> dict | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)(?:```|$)", re.S)


def _json_candidates(text: str) -> list[str]:
    """Near-JSON cleaned up step by step: fences, surrounding prose, trailing commas, unquoted
    keys, a missing closing quote or brace (single quotes are left to the literal parser)."""
    body = text.strip()
    fenced = _FENCE.search(body)
    if fenced:
        body = fenced.group(1).strip()
    start = body.find("{")
    if start < 0:
        return []
    end = body.rfind("}")
    body = body[start:end + 1] if end > start else body[start:]
    body = body.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    no_commas = re.sub(r",\s*([}\]])", r"\1", body)
    quoted_keys = re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:", r'\1"\2":', no_commas)
    closed = quoted_keys.rstrip().rstrip(",")
    if len(re.findall(r'(?<!\\)"', closed)) % 2 == 1:
        closed += '"'
    closed += "}" * max(0, closed.count("{") - closed.count("}"))
    return [body, no_commas, quoted_keys, closed]


def _literal_dict(text: str) -> dict | None:
    # Python-literal syntax covers single quotes and trailing commas; it only builds literals, so it
    # is safe on untrusted text, but pathological input must not escape as an exception.
    fixed = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", text)))
    try:
        obj = ast.literal_eval(fixed)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


Field = tuple[str | None, bool]  # (letter, ambiguous)


def _json_field(text: str, options: Sequence[str], strict: bool) -> Field:
    if strict:
        obj = _loads_dict(text.strip())
        return (field_letter(_answer_key(obj), options), False) if obj is not None else (None, False)
    if len(text) > 20000:  # replies are short; do not run repairs over megabytes of junk
        text = text[:20000]
    for cand in _json_candidates(text):
        obj = _loads_dict(cand) or _literal_dict(cand)
        if obj is not None and _answer_key(obj) is not None:
            letter = field_letter(_answer_key(obj), options)
            if letter:
                return letter, False
    # Too broken to load: read the "answer": "X" pairs themselves.
    hits = [m.group(1) for m in re.finditer(r"""["'](?i:answer)["']\s*:\s*["']?\(?([A-J])\b""", text)]
    return _agree([_in_range(h, options) for h in hits])


_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*\**[ \t]*(?i:(?:final[ \t]+)?answer)[ \t]*\**[ \t]*:?[ \t]*\**([^\n]*)$", re.M)
_MD_LOOSE = re.compile(r"^[ \t]*(?:\*\*|__)?[ \t]*(?i:(?:final[ \t]+)?answer)[ \t]*:?[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*(\S[^\n]*)$", re.M)
_LIST_ITEM = re.compile(r"^[ \t]*\d+[.)][ \t]*\**[ \t]*(?i:answer)[ \t]*\**[ \t]*[:\-–][ \t]*\**([^\n]+)$", re.M)
_LIST_LOOSE = re.compile(r"(?:^|\s)\d+[.)][ \t]*\**(?i:answer)\**[ \t]*[:\-–][ \t]*(\(?[A-J]\)?(?![A-Za-z]))")


def _next_nonempty(text: str, pos: int) -> str:
    for line in text[pos:].splitlines():
        if line.strip():
            return line
    return ""


def _markdown_field(text: str, options: Sequence[str], strict: bool) -> Field:
    values: list[str] = []
    for m in _MD_HEADING.finditer(text):
        rest = m.group(1).strip().strip("*").strip()
        values.append(rest if rest else _next_nonempty(text, m.end()))
    if not values and not strict:
        values = [m.group(1) for m in _MD_LOOSE.finditer(text)]
    return _agree([field_letter(v, options) for v in values])


def _list_field(text: str, options: Sequence[str], strict: bool) -> Field:
    values = [m.group(1) for m in _LIST_ITEM.finditer(text)]
    if not values and not strict:
        values = [m.group(1) for m in _LIST_LOOSE.finditer(text)]
    return _agree([field_letter(v, options) for v in values])


_PARSERS = {"json": _json_field, "markdown": _markdown_field, "list": _list_field}


def _bare_letter(text: str, options: Sequence[str]) -> str | None:
    v = text.strip().strip("*`'\" ").strip()
    m = re.fullmatch(r"\(?([A-Ja-j])\)?[.):]?", v) or re.match(r"\(?([A-J])[.)]\s", v)
    return _in_range(m.group(1).upper(), options) if m else None


def parse_answer(text: Any, fmt: ExamFormat | str, options: Sequence[str]) -> Parsed:
    """The chosen letter of a reply to a prompt in `fmt`. Never raises.

    Order: the format's own answer field (adherent), the same field after repairs, another format's
    field, explicit cues in prose, a bare letter, an option's text. Fields or cues naming different
    letters make the reply ambiguous: no letter, rather than a guess.
    """
    if isinstance(fmt, str):
        fmt = ExamFormat.parse(fmt)
    if not isinstance(text, str) or not text.strip():
        return Parsed(None, False, "none")
    own = _PARSERS[fmt.style]
    for strict, method in ((True, "format"), (False, "repaired")):
        letter, ambiguous = own(text, options, strict)
        if letter:
            return Parsed(letter, strict, method)
        if ambiguous:
            return Parsed(None, False, "ambiguous")
    for style, parser in _PARSERS.items():
        if style != fmt.style:
            letter, ambiguous = parser(text, options, False)
            if letter:
                return Parsed(letter, False, "other-format", {"style": style})
    letter, ambiguous = _cue_letter(text, options)
    if letter or ambiguous:
        return Parsed(letter, False, "cue" if letter else "ambiguous")
    letter = _bare_letter(text, options)
    if letter:
        return Parsed(letter, False, "bare")
    letter = option_text_letter(text, options) if len(text) < 2000 else None
    return Parsed(letter, False, "option-text") if letter else Parsed(None, False, "none")
