"""HTML fragments for the report and the tasks' result sections: escaping, numbers, tables and
figures. Every text that reaches a page goes through `esc` (the one escaper of evaluate/).
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any, Iterable, Sequence


def esc(value: Any) -> str:
    """Text for an HTML page or attribute: escaped, None as empty (the one escaper of evaluate/)."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt_num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_pct(p: Any) -> str:
    """"62.5% [40.1–80.2]" from a proportion: a results.Proportion, or the proportion() dict of a
    block not typed yet."""
    if p is not None and not isinstance(p, dict):
        p = p.model_dump()
    if not p or p.get("value") is None:
        return "–"
    lo, hi = p["ci"]
    return f"{100 * p['value']:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}] (n={p['n']})"


def figure_img(fig: Any, alt: str) -> str:
    """An <img> with the figure inlined as a base64 PNG, so the report is one self-contained file."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}"/>'


def new_figure(width: float = 6.0, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless: reports are built on servers and in CI
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def interval(ci: Any) -> str:
    return "–" if not ci else f"[{pct(ci[0])}, {pct(ci[1])}]"


def table(header: Sequence[str] | None, rows: Iterable[Sequence[Any]], *, raw: bool = False,
          caption: str | None = None) -> str:
    """An HTML table; cells are escaped unless raw=True (then the caller escaped them). Without a
    header, the first cell of each row is its row's header (a table of fields and values)."""
    cell = (lambda v: str(v)) if raw else esc
    if header is None:
        body = "".join(f"<tr><th>{esc(row[0])}</th>" + "".join(f"<td>{cell(v)}</td>" for v in row[1:]) + "</tr>"
                       for row in rows)
        head = ""
    else:
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
        head = "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>"
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}{head}<tbody>{body}</tbody></table>"


def settings_text(settings: dict[str, Any]) -> str:
    """Settings as `key: value` pairs, whole (a cut-off value would misstate what ran)."""
    return "; ".join(f"{k}: {json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v}"
                     for k, v in sorted(settings.items()))


def img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">' if uri else ""
