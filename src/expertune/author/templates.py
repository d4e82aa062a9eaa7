"""Structure templates: named shapes an expert wants answers to take (IRAC, "answer, then reasons",
step by step), and a checker that shows which parts a draft is missing.

A template only *guides* the authoring model: `guidance()` is text for the authoring prompt and is
recorded in a draft's provenance, never in the training text. The checker is deliberately simple
and explainable: a part counts as present when the draft labels it (a heading, a bold label or a
`Name:` line) or uses one of the part's cue phrases. The expert sees which parts were found and
decides; nothing is rejected automatically.

Builtins live here; a workspace adds or overrides templates with YAML files in
`<workspace>/templates/*.yaml`:

    name: irac-short            # optional; defaults to the file name without .yaml
    description: IRAC in four short paragraphs
    parts:
      - name: Issue
        hint: the legal question in one sentence
        cues: ["the issue is", "the question is whether"]
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, field_validator

from expertune.config import StrictModel, validate
from expertune.yamlfile import read_yaml
from expertune.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from expertune.workspace import Workspace

TEMPLATES_DIR = "templates"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class TemplatePart(StrictModel):
    name: str = Field(min_length=1)
    hint: str = ""
    # Phrases that show the part is there even without a label ("in conclusion", "the rule is").
    cues: list[str] = Field(default_factory=list)

    @field_validator("cues")
    @classmethod
    def _no_empty_cue(cls, cues: list[str]) -> list[str]:
        if any(not c.strip() for c in cues):
            raise ValueError("a cue must not be empty")
        return [c.strip() for c in cues]


class StructureTemplate(StrictModel):
    name: str
    description: str = ""
    parts: list[TemplatePart] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("use lowercase letters, digits, '-' or '_' (e.g. irac-short)")
        return name

    @field_validator("parts")
    @classmethod
    def _distinct_parts(cls, parts: list[TemplatePart]) -> list[TemplatePart]:
        names = [p.name.casefold() for p in parts]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ValueError(f"part {dup!r} appears twice")
        return parts

    def guidance(self) -> str:
        """Instructions for the authoring model. Never part of the training text."""
        lines = [f"Structure the answer as {self.description or self.name}, with these parts in order:"]
        for i, part in enumerate(self.parts, 1):
            lines.append(f"{i}. {part.name}" + (f" — {part.hint}" if part.hint else ""))
        lines.append("Make each part recognisable (a short heading or an opening phrase); do not mention this structure.")
        return "\n".join(lines)


class StructureReport(BaseModel):
    template: str
    present: list[str]
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing


def builtin_templates() -> dict[str, StructureTemplate]:
    return {t.name: t for t in _BUILTINS}


def load_templates(ws: "Workspace | Path | None") -> dict[str, StructureTemplate]:
    """The builtins plus the workspace's `templates/*.yaml` (a user file may override a builtin)."""
    templates = builtin_templates()
    root = getattr(ws, "root", ws)
    folder = Path(root) / TEMPLATES_DIR if root is not None else None
    if folder is None or not folder.is_dir():
        return templates
    seen: dict[str, Path] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        data = read_yaml(path)
        data.setdefault("name", path.stem)
        template = validate(StructureTemplate, data, str(path))
        if template.name in seen:
            raise ConfigError(f"{path}: name: template {template.name!r} is already defined in {seen[template.name]}; rename one")
        seen[template.name] = path
        templates[template.name] = template
    return templates


def get_template(ws: "Workspace | Path | None", name: str) -> StructureTemplate:
    templates = load_templates(ws)
    if name not in templates:
        raise NotFound(f"no structure template {name!r}; known: {', '.join(sorted(templates))} "
                       f"(add one as {TEMPLATES_DIR}/{name}.yaml in the workspace)")
    return templates[name]


def check_structure(template: StructureTemplate, text: str) -> StructureReport:
    """Which parts of `template` the draft shows, by label or cue phrase."""
    present, missing = [], []
    for part in template.parts:
        (present if _part_pattern(part.name, tuple(part.cues)).search(text) else missing).append(part.name)
    return StructureReport(template=template.name, present=present, missing=missing)


@lru_cache(maxsize=256)
def _part_pattern(name: str, cues: tuple[str, ...]) -> re.Pattern[str]:
    # A label: the part name at the start of a line, after optional heading/list/bold marks, and
    # followed by a colon, a closing bold mark or the end of the line ("## Rule", "**Rule:**", "2. Rule:").
    label = (rf"^[ \t>]*(?:#{{1,6}}[ \t]+|(?:[-*+]|\d+[.)])[ \t]+)?(?:\*\*|__)?[ \t]*{_phrase(name)}"
             rf"[ \t]*(?::|\*\*|__|[ \t]*$)")
    alternatives = [label] + [rf"(?<!\w){_phrase(c)}(?!\w)" for c in cues]
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE | re.MULTILINE)


def _phrase(words: str) -> str:
    # Any run of whitespace in the phrase matches any run in the text (line breaks included).
    return r"\s+".join(re.escape(w) for w in words.split())


_BUILTINS = [
    StructureTemplate(
        name="irac",
        description="IRAC (Issue, Rule, Application, Conclusion)",
        parts=[
            TemplatePart(name="Issue", hint="the legal question the facts raise, in one sentence",
                         cues=["the issue is", "the question is whether", "the question here is", "at issue is"]),
            TemplatePart(name="Rule", hint="the governing rule, with its source (statute or leading case)",
                         cues=["the rule is", "the applicable rule", "the law provides", "the governing rule",
                               "under the rule", "the rule in"]),
            TemplatePart(name="Application", hint="the rule applied to these facts, element by element",
                         cues=["applying", "applied to these facts", "on these facts", "here,", "in this case,",
                               "analysis"]),
            TemplatePart(name="Conclusion", hint="the answer to the issue",
                         cues=["in conclusion", "therefore", "thus,", "accordingly", "it follows that"]),
        ],
    ),
    StructureTemplate(
        name="answer-then-reasons",
        description="the answer first, then the reasons for it",
        parts=[
            TemplatePart(name="Answer", hint="the direct answer in the first sentence or two",
                         cues=["in short", "short answer", "the answer is", "yes,", "no,"]),
            TemplatePart(name="Reasons", hint="the reasons, each with its support",
                         cues=["because", "the reason", "reasons", "this is because", "first,", "since"]),
        ],
    ),
    StructureTemplate(
        name="step-by-step",
        description="numbered steps leading to the result",
        parts=[
            TemplatePart(name="Steps", hint="numbered steps, one action or inference each",
                         cues=["step 1", "first,", "1."]),
            TemplatePart(name="Result", hint="the outcome the steps lead to",
                         cues=["result", "finally", "so the answer", "therefore", "in the end"]),
        ],
    ),
]
