"""The rubric judges score by: criteria on a 1-5 scale and the two neutral labels they see. A leaf
module, so the judge prompt (pairwise/verdicts.py) and the judge kinds use it without importing the
whole eval config."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from expertune.config import StrictModel

DEFAULT_CRITERIA = [
    ("Creativity", "Original, insightful framing rather than generic boilerplate."),
    ("Coherence", "Logically organised, consistent and easy to follow."),
    ("Depth", "Substantive, accurate detail and reasoning appropriate to the question."),
    ("Engagement", "Speaks to the user's actual need in an engaging, useful way."),
    ("Quality", "Overall quality: correct, clear, complete and well written."),
]


class Criterion(StrictModel):
    name: str = Field(min_length=1, max_length=60)
    description: str = ""


class Rubric(StrictModel):
    criteria: list[Criterion] = Field(default_factory=lambda: [Criterion(name=n, description=d) for n, d in DEFAULT_CRITERIA])
    scale_min: int = 1
    scale_max: int = 5
    labels: list[str] = Field(default_factory=lambda: ["A", "B"])  # the neutral names judges see
    instructions: str | None = None  # extra guidance appended to the judge prompt

    @field_validator("labels")
    @classmethod
    def _two_labels(cls, labels: list[str]) -> list[str]:
        labels = [str(x).strip() for x in labels]
        if len(labels) != 2 or len(set(x.lower() for x in labels)) != 2 or not all(labels):
            raise ValueError("exactly two distinct, non-empty labels, e.g. [A, B]")
        if any(x.lower() == "tie" for x in labels) or any(len(x) > 20 for x in labels):
            raise ValueError("labels must not be 'tie' and at most 20 characters")
        return labels

    @model_validator(mode="after")
    def _scale(self) -> "Rubric":
        if not 0 <= self.scale_min < self.scale_max <= 9:
            raise ValueError("scale_min < scale_max, both single digits (default 1-5)")
        names = [c.name.lower() for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be unique")
        return self
