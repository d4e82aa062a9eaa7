"""Render the studio's review list over 10,000 responses (2,500 prompt groups × 4).

Times a full GET of the review page (routing, the paged query, the template) through the real app
in-process, for the first page, a page in the middle, the last page and a filtered page, next to
the page's SQL alone (COUNT + one page of rows) as the reference. Target: <= 200 ms per page.

    .venv/bin/python bench/studio_review.py [--groups 2500] [--per-group 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from import_export import make_file  # noqa: E402  (the same synthetic contract-law data)

from expertune.data.ingest import import_file  # noqa: E402
from expertune.data.splits import assign_splits  # noqa: E402
from expertune.studio import create_app, review  # noqa: E402
from expertune.workspace import Workspace  # noqa: E402


def best_ms(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=2500)
    ap.add_argument("--per-group", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        n = make_file(Path(tmp) / "data.jsonl", args.groups, args.per_group)
        import_file(ws, Path(tmp) / "data.jsonl")
        assign_splits(ws)
        client = TestClient(create_app(ws, default_user="bench"))
        client.get("/")  # warm up: first template compile, first connection
        pages = -(-n // review.PER_PAGE)
        print(f"{n} responses, {pages} pages of {review.PER_PAGE}")
        print(f"{'page':<34}{'SQL alone (ms)':>16}{'full page (ms)':>16}{'ratio':>8}")
        for label, query in [("first", "page=1"), ("middle", f"page={pages // 2}"), ("last", f"page={pages}"),
                             ("filtered: topic + status", "topic=Remedies&status=accepted&page=3")]:
            params = dict(p.split("=") for p in query.split("&"))
            flt = review.ReviewFilter(topic=params.get("topic"), status=params.get("status"), page=int(params["page"]))

            def sql():
                with ws.session() as s:
                    review.list_page(s, flt)

            def full():
                r = client.get("/review?" + query)
                assert r.status_code == 200, r.text[:300]

            sql_best, _ = best_ms(sql, args.repeat)
            page_best, page_median = best_ms(full, args.repeat)
            verdict = "ok" if page_median <= 200 else "OVER 200 ms"
            print(f"{label:<34}{sql_best:>16.1f}{page_median:>16.1f}{page_median / sql_best:>8.1f}  {verdict}")


if __name__ == "__main__":
    main()
