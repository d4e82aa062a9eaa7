"""Artefacts: chat-export labels and UI text, boilerplate, HTML/markdown junk, broken encodings,
cut-off answers, empty turns. Each kind has its own severity ("off" disables it).

Answers are searched for every kind; prompts, earlier turns and system prompts for the residue a
paste leaves there (a speaker label at the start of the turn, chat UI lines), by line."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Literal

from expertune.config import StrictModel
from expertune.curate.artefacts import find_artefacts, find_turn_artefacts
from expertune.curate.findings import CheckResult, Finding, Span
from expertune.curate.registry import check

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "artefacts"
Level = Literal["error", "warning", "info", "off"]

_ADVICE = {
    "chat-prefix": "the model would learn to write speaker labels; run `expertune fix artefacts --apply`",
    "ui-text": "chat UI text was copied along; run `expertune fix artefacts --apply`",
    "empty": "an empty answer teaches the model to say nothing; reject or rewrite it",
    "boilerplate": "assistant boilerplate makes the tuned model sound like a generic chatbot; edit it out",
    "html": "leftover markup from a copy-paste; edit it out",
    "markdown": "close the code fence or remove it",
    "encoding": "the text was mis-decoded or carries invisible characters; re-export it as UTF-8",
    "truncated": "complete the answer or reject it",
}


class Config(StrictModel):
    chat_prefix: Level = "error"
    ui_text: Level = "error"
    empty: Level = "error"
    boilerplate: Level = "warning"
    html: Level = "warning"
    markdown: Level = "warning"
    encoding: Level = "warning"
    truncated: Level = "warning"

    def level(self, kind: str) -> str:
        return getattr(self, kind.replace("-", "_"))


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    result = CheckResult(NAME)
    counts: dict[str, int] = defaultdict(int)
    for i, item in enumerate(data.items):
        by_kind = defaultdict(list)
        for a in find_artefacts(item.text):
            if cfg.level(a.kind) != "off":
                by_kind[a.kind].append(a)
        ref = data.ref(i)
        for kind, found in by_kind.items():
            counts[kind] += 1
            details = "; ".join(dict.fromkeys(a.detail for a in found))
            result.findings.append(Finding(
                NAME, cfg.level(kind), f"response {item.id}: {details} — {_ADVICE[kind]}",
                records=[ref],
                spans=[Span("response", a.start, a.end, ref.group_id, ref.response_id, kind) for a in found],
                data={"kind": kind, "count": len(found)},
            ))
    for gi, g in enumerate(data.groups):
        turns = [("system", g.system or ""), *((f"context.{n}", t.get("content") or "") for n, t in enumerate(g.context)),
                 ("prompt", g.prompt)]
        by_kind = defaultdict(list)
        for name, text in turns:
            for a in find_turn_artefacts(text):
                if cfg.level(a.kind) != "off":
                    by_kind[a.kind].append((name, a))
        ref = data.gref(gi)
        for kind, found in by_kind.items():
            counts[f"prompt-{kind}"] += 1
            details = "; ".join(f"{name}: {a.detail}" for name, a in found)
            advice = _ADVICE[kind].replace("the model would learn to write speaker labels", "the model would learn from speaker labels")
            result.findings.append(Finding(
                NAME, cfg.level(kind), f"prompt group {g.id}: {details} — {advice}",
                records=[ref],
                spans=[Span(name, a.start, a.end, ref.group_id, None, kind) for name, a in found],
                data={"kind": kind, "count": len(found), "fields": [name for name, _ in found]},
            ))
    if cfg.empty != "off":
        for gi, g in enumerate(data.groups):
            empty = [f"context.{n}" for n, t in enumerate(g.context) if not (t.get("content") or "").strip()]
            if g.system is not None and not g.system.strip():
                empty.insert(0, "system")
            if empty:
                counts["empty-turn"] += 1
                result.findings.append(Finding(
                    NAME, "warning", f"prompt group {g.id}: empty {', '.join(empty)} turn(s); remove them or fill them in",
                    records=[data.gref(gi)], data={"kind": "empty-turn", "fields": empty},
                ))
    result.stats = {"responses_with": dict(counts)}
    return result
