"""Import 100,000 responses (20,000 prompt groups) from JSONL into a fresh workspace and export them.

Prints seconds and rows/s for each step, next to Hugging Face `datasets` reading and writing the same
JSONL (no store, no dedup, no provenance) as a reference point. Targets on a 2-core machine:
import <= 60 s, export <= 30 s.

    .venv/bin/python bench/import_export.py [--groups 20000] [--per-group 5]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from expertune.data.export import export
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.workspace import Workspace

TOPICS = ["Formation", "Consideration", "Terms", "Vitiating factors", "Discharge", "Remedies"]
WORDS = ("contract offer acceptance consideration party breach damages term clause remedy court "
         "promise estoppel misrepresentation frustration performance condition warranty").split()


def make_file(path: Path, groups: int, per_group: int, seed: int = 0) -> int:
    rnd = random.Random(seed)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for g in range(groups):
            prompt = f"Case {g}: " + " ".join(rnd.choices(WORDS, k=rnd.randint(10, 40))) + "?"
            context = []
            if g % 5 == 0:
                context = [{"role": "user", "content": "Earlier question " + str(g)},
                           {"role": "assistant", "content": "Earlier answer " + " ".join(rnd.choices(WORDS, k=20))}]
            for k in range(per_group):
                answer = " ".join(rnd.choices(WORDS, k=rnd.randint(40, 200))) + f" ({k})."
                row = {"messages": [{"role": "system", "content": "You are a careful contract-law tutor."},
                                    *context,
                                    {"role": "user", "content": prompt},
                                    {"role": "assistant", "content": answer}],
                       "topic": TOPICS[g % len(TOPICS)], "meta": {"rating": rnd.randint(1, 5)}}
                f.write(json.dumps(row) + "\n")
                n += 1
    return n


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=20_000)
    ap.add_argument("--per-group", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "data.jsonl"
        rows = make_file(src, args.groups, args.per_group)
        print(f"input: {rows} responses in {args.groups} groups, {src.stat().st_size / 1e6:.1f} MB")
        ws = Workspace.init(tmp / "ws")

        report, t_import = timed(lambda: import_file(ws, src))
        assert report.imported_responses == rows, report
        assign_splits(ws)
        result, t_export = timed(lambda: export(ws, "messages", "all", tmp / "out.jsonl"))
        assert result["rows"] == rows, result
        again, t_reimport = timed(lambda: import_file(ws, src))
        assert again.duplicates == rows

        from datasets import disable_progress_bars, load_dataset

        disable_progress_bars()

        ds, t_hf_load = timed(lambda: load_dataset("json", data_files=str(src), split="train",
                                                   cache_dir=str(tmp / "hf-cache")))
        _, t_hf_write = timed(lambda: ds.to_json(str(tmp / "hf.jsonl")))

    print(f"{'step':<28}{'seconds':>9}{'rows/s':>11}{'target':>9}")
    for name, secs, target in (
        ("expertune import", t_import, "<= 60 s"),
        ("expertune export (messages)", t_export, "<= 30 s"),
        ("expertune re-import (no-op)", t_reimport, ""),
        ("datasets load_dataset json", t_hf_load, "ref"),
        ("datasets to_json", t_hf_write, "ref"),
    ):
        print(f"{name:<28}{secs:>9.2f}{rows / secs:>11,.0f}{target:>9}")
    print(f"ratio import / datasets load: {t_import / t_hf_load:.2f}   export / datasets to_json: {t_export / t_hf_write:.2f}")


if __name__ == "__main__":
    main()
