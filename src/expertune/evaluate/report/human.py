"""The report's "Human judgments and judge validity" section.

It says what the experts decided (win rates with prompt-clustered intervals) and which LLM judges
can stand in for them on this domain, and how much (kappa with its interval; human_stats.validity).
"""

from __future__ import annotations

from expertune.evaluate.pairwise.human_stats import MIN_SHARED, human_summary
from expertune.evaluate.registry import report_section
from expertune.evaluate.report.html import esc, interval, num, pct, table
from expertune.evaluate.report.sections import ReportContext


def _kappa_ci(ci) -> str:
    return "–" if not ci else f"[{num(ci[0])}, {num(ci[1])}]"


@report_section("human", title="Human judgments and judge validity", before="reliability")
def human_section(ctx: ReportContext) -> str | None:
    summary = human_summary(ctx.ws, ctx.run.id)
    if not summary["humans"]:
        return None
    parts = []
    for pair in summary["pairs"]:
        rows = [[name, h["n"], h["prompts"], h["wins"], h["ties"], h["losses"], pct(h["win_rate"]), interval(h["ci"]), h["notes"]]
                for name, h in pair["humans"].items()]
        p = pair["pooled"]
        rows.append(["all humans (mean per comparison)", p["n"], p["prompts"], "", "", "", pct(p["win_rate"]), interval(p["ci"]), ""])
        validity = [[j["judge"], j["n"], pct(j["raw_agreement"]), interval(j["raw_ci"]), num(j["kappa"]), _kappa_ci(j["kappa_ci"]),
                     j["validity"]] for j in pair["judge_validity"]]
        between = [[" × ".join(a["humans"]), a["n"], pct(a["raw_agreement"]), num(a["kappa"]), _kappa_ci(a["kappa_ci"])]
                   for a in pair["human_agreement"]]
        parts.append(
            f"<h3>{esc(pair['candidate'])} vs {esc(pair['baseline'])}: human blind judgments</h3>"
            "<p class=note>Each human judged a comparison once, blind, in a randomly chosen order. Win rate counts ties "
            "half; the interval resamples prompts.</p>"
            + table(["human", "comparisons", "prompts", "wins", "ties", "losses", "win rate", "95% interval", "notes"], rows)
            + "<h3>Judge validity</h3>"
            f"<p class=note>Each LLM judge's counted verdict against the humans' on the comparisons both judged. κ corrects "
            f"for chance; intervals resample prompts. Trusted: κ ≥ 0.6 even at the interval's low end; at least "
            f"{MIN_SHARED} shared comparisons for any verdict.</p>"
            + table(["LLM judge", "shared", "raw agreement", "95% interval", "κ", "κ 95% interval", "validity"], validity)
            + ("<h3>Agreement between humans</h3>"
               + table(["humans", "shared", "raw agreement", "κ", "κ 95% interval"], between) if between else ""))
    return "".join(parts)
