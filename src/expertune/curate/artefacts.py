"""Artefacts of how a text was produced: pasted chat-export speaker labels, assistant boilerplate,
leftover HTML and markdown junk, broken encodings, and answers that stop mid-sentence.

`find_artefacts` reports them in answers with character spans; `fix_chat_prefixes` removes pasted
speaker labels (and pasted user turns) so the answer is left as the assistant wrote it.

Prompts, earlier turns and system prompts carry the same residue differently: a speaker label
pasted at the very start of the turn ("User:", "You said:", "ChatGPT said:", a role word alone on
the first line) and chat UI strings on lines of their own ("Copy code", "Regenerate").
`find_turn_artefacts` reports those with their line; `fix_turn` removes them. Only the start of a
turn counts, so a prompt that quotes a transcript, or prose that starts with "User agreements",
is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Speaker labels of chat exports at the start of a line: "Human:", "**Assistant:**", "USER:".
_ASSISTANT = r"Assistant|ASSISTANT|AI|ChatGPT|GPT-4o?|GPT|Claude|Bot|Gemini|Copilot"
_HUMAN = r"Human|HUMAN|User|USER"
LABEL = re.compile(
    rf"^[ \t]*(?:\*\*|__)?(?P<who>{_ASSISTANT}|{_HUMAN})(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*"
    rf"|^[ \t]*(?:\*\*|__)?(?P<bare>Human|Assistant|User)(?:\*\*|__)?[ \t]*$",
    re.MULTILINE,
)
_HUMAN_NAMES = {"Human", "HUMAN", "User", "USER"}
# Any case ("human:", "SYSTEM:"): at the very start of a turn a role word is a label, not prose.
_ROLE = rf"(?i:{_ASSISTANT}|{_HUMAN}|You|System)"
# At the very start of a turn: "User:", "**Human:**", "You said:", "ChatGPT said:", "System:", or
# the role word alone on the first line.
TURN_LABEL = re.compile(
    rf"\A\s*(?:\*\*|__)?(?P<who>{_ROLE})(?:[ \t]+said)?(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*"
    rf"|\A\s*(?:\*\*|__)?(?P<bare>{_ROLE})(?:[ \t]+said)?(?:\*\*|__)?[ \t]*(?=\n|\Z)"
)
# Buttons of chat UIs copied along with the text, on a line of their own.
UI_LINE = re.compile(
    r"^[ \t]*(?:Copy code|Copy to clipboard|Regenerate(?: response)?|Stop generating|Edit message)[ \t]*(?:\n|\Z)",
    re.MULTILINE,
)

BOILERPLATE = re.compile(
    r"\bAs an AI(?: language model| model| assistant)?\b"
    r"|\bI(?:'m| am) (?:sorry|afraid),? but\b"
    r"|(?:^|(?<=[.!?]\s))I (?:cannot|can't|can not|am unable to|am not able to) "
    r"(?:help|assist|provide|answer|give|offer|comply|do that|fulfil|fulfill|discuss|share|access)\b"
    r"|\bmy (?:knowledge|training) (?:cutoff|cut-off)\b"
    r"|\bI don't have (?:personal (?:opinions|experiences|beliefs)|access to real-time)\b",
    re.MULTILINE,
)
# Cheap substring tests first: most answers contain none of these, and the regexes cost ~50 µs each.
_BOILERPLATE_KEYS = ("As an AI", "sorry", "afraid", "I can", "I am unable", "I am not able", " cut", "I don't have")
HTML_TAG = re.compile(
    r"</?(?:br|p|div|span|b|i|u|em|strong|a|ul|ol|li|h[1-6]|table|tr|td|th|tbody|thead|font|img|hr|"
    r"blockquote|sup|sub|center|small)\b[^<>]{0,200}?/?>",
    re.IGNORECASE,
)
ENTITY = re.compile(r"&(?:nbsp|amp|lt|gt|quot|apos|ndash|mdash|hellip|rsquo|lsquo|rdquo|ldquo|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
ENCODING = re.compile("[\u200b\u200c\u200d\u2060\ufeff\ufffd]|â€[™œ\u009d\"“”˜¦]|Ã[©¨¢¡³¶¼«ª]")
FENCE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]+`")
# A line that is not prose: list item, table row, heading, quote, fence, or a lone URL.
_NOT_PROSE = re.compile(r"^\s*(?:[-*+•]\s|\d+[.)]\s|\||#|>|```|~~~|https?://\S+$)")
_END_OK = set(".!?:;)]}\"'’”»…*_`>") | {"\u3002", "\uff01", "\uff1f"}
_DANGLING = {"and", "or", "but", "the", "a", "an", "of", "to", "in", "for", "with", "that", "which", "because",
             "is", "are", "was", "were"}


@dataclass(frozen=True)
class Artefact:
    kind: str  # chat-prefix | boilerplate | html | markdown | encoding | truncated | empty
    start: int
    end: int
    detail: str


def code_regions(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks (an unclosed fence runs to the end) and inline code: left alone."""
    regions = []
    fences = [m.start() for m in FENCE.finditer(text)]
    for a, b in zip(fences[::2], fences[1::2] + [len(text)] * (len(fences) % 2)):
        regions.append((a, b))
    regions += [m.span() for m in INLINE_CODE.finditer(text)]
    return regions


def _outside(regions: list[tuple[int, int]], pos: int) -> bool:
    return not any(a <= pos < b for a, b in regions)


def find_artefacts(text: str) -> list[Artefact]:
    if not text.strip():
        return [Artefact("empty", 0, len(text), "empty or whitespace-only response")]
    code = code_regions(text)
    out: list[Artefact] = []
    for m in LABEL.finditer(text):
        if _outside(code, m.start()):
            who = m.group("who") or m.group("bare")
            out.append(Artefact("chat-prefix", m.start(), m.end(), f"pasted chat-export label {who!r}"))
    for m in UI_LINE.finditer(text):
        if _outside(code, m.start()):
            out.append(Artefact("ui-text", m.start(), m.end(), f"chat UI text {m.group(0).strip()!r}"))
    if any(k in text for k in _BOILERPLATE_KEYS):
        for m in BOILERPLATE.finditer(text):
            if _outside(code, m.start()):
                out.append(Artefact("boilerplate", m.start(), m.end(), f"assistant boilerplate {m.group(0)!r}"))
    for rx, label, key in ((HTML_TAG, "HTML tag", "<"), (ENTITY, "HTML entity", "&")):
        if key in text:
            for m in rx.finditer(text):
                if _outside(code, m.start()):
                    out.append(Artefact("html", m.start(), m.end(), f"leftover {label} {m.group(0)!r}"))
    if not text.isascii():  # invisible characters and mojibake are all non-ASCII
        for m in ENCODING.finditer(text):
            out.append(Artefact("encoding", m.start(), m.end(), f"invisible or mis-decoded character {m.group(0)!r}"))
    if "```" in text or "~~~" in text:
        fences = list(FENCE.finditer(text))
        if len(fences) % 2:
            out.append(Artefact("markdown", fences[-1].start(), fences[-1].end(), "unclosed code fence"))
    cut = _ends_mid_sentence(text, code)
    if cut:
        out.append(cut)
    return sorted(out, key=lambda a: (a.start, a.end))


def _ends_mid_sentence(text: str, code: list[tuple[int, int]]) -> Artefact | None:
    body = text.rstrip()
    last_line = body[body.rfind("\n") + 1 :]
    if _NOT_PROSE.match(last_line) or not _outside(code, len(body) - 1):
        return None
    last = body[-1]
    last_word = last_line.split()[-1] if last_line.split() else ""
    # Digits and capitalised words end citations ("[1893] 1 QB 256") and names; only clear signs
    # of a cut count: a trailing comma or dangling conjunction/article/preposition, or a long prose
    # line that stops on a lowercase word.
    if last in ",(-–" or last_word.lower() in _DANGLING:
        pass
    elif last in _END_OK or not last_word[:1].islower() or len(last_line.split()) < 8:
        return None
    start = max(body.rfind(" ", 0, len(body) - 1) + 1, len(body) - len(last_line))
    return Artefact("truncated", start, len(body), "the answer ends mid-sentence (cut off?)")


def fix_chat_prefixes(text: str) -> str:
    """Remove pasted speaker labels, keeping the answer as the assistant wrote it.

    The text is cut into turns at the labels (text before the first label is an assistant turn).
    The answer is the run of assistant turns from the first non-empty one up to the next user
    turn: a user turn pasted before the answer is dropped, and a user turn after it ends the answer
    (what follows belongs to another exchange). Returns `text` unchanged if nothing would remain.
    """
    code = code_regions(text)
    ui = [m.span() for m in UI_LINE.finditer(text) if _outside(code, m.start())]
    if ui:
        kept = zip([0] + [end for _, end in ui], [start for start, _ in ui] + [len(text)])
        return fix_chat_prefixes("".join(text[a:b] for a, b in kept).rstrip())
    labels = [m for m in LABEL.finditer(text) if _outside(code, m.start())]
    if not labels:
        return text
    turns = [("assistant", 0, labels[0].start())]
    for k, m in enumerate(labels):
        end = labels[k + 1].start() if k + 1 < len(labels) else len(text)
        who = m.group("who") or m.group("bare")
        turns.append(("user" if who in _HUMAN_NAMES else "assistant", m.end(), end))
    kept: list[str] = []
    for speaker, start, end in turns:
        if speaker == "user":
            if kept:
                break
            continue
        if kept or text[start:end].strip():
            kept.append(text[start:end])
    fixed = re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()
    return fixed or text


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def find_turn_artefacts(text: str) -> list[Artefact]:
    """Chat-export residue in a prompt, an earlier turn or a system prompt."""
    out = []
    m = TURN_LABEL.match(text)
    if m:
        who = m.group(0).strip()
        out.append(Artefact("chat-prefix", m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end(),
                            f"pasted speaker label {who!r} on line {line_of(text, m.end())}"))
    for u in UI_LINE.finditer(text):
        out.append(Artefact("ui-text", u.start(), u.end(), f"chat UI text {u.group(0).strip()!r} on line {line_of(text, u.start())}"))
    return out


def fix_turn(text: str) -> str:
    """Remove a speaker label at the start and chat UI lines; unchanged if nothing would remain."""
    fixed = UI_LINE.sub("", text)
    while (m := TURN_LABEL.match(fixed)) and m.end() > 0:
        fixed = fixed[m.end():]
    fixed = re.sub(r"\n{3,}", "\n\n", fixed).strip()
    return fixed if fixed else text
