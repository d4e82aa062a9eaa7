"""Index 1,000 Markdown files with `expertune docs add` (library call) and time queries against them.

Prints seconds for indexing and milliseconds per query (the first query of a fresh process loads the
index from disk; later ones use the loaded index), next to plain `bm25s` on the same passages
(tokenise + index in memory, no file reading, hashing, chunking or saving) as a reference, with the
ratios. Targets on a 2-core machine: indexing <= 10 s, a query <= 50 ms.

    .venv/bin/python bench/docs_index.py [--files 1000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from expertune.author import documents
from expertune.author.documents import add_documents, search_passages
from expertune.workspace import Workspace

WORDS = ("contract offer acceptance consideration party breach damages term clause remedy court promise estoppel "
         "misrepresentation frustration performance condition warranty lien bailment agency tender repudiation "
         "rescission rectification mistake duress undue influence illegality capacity minor privity assignment "
         "novation waiver forbearance quantum meruit restitution injunction specific remoteness mitigation penalty "
         "liquidated exclusion indemnity guarantee surety mortgage charge pledge title possession").split()


def make_files(folder: Path, n: int, seed: int = 0) -> int:
    """n Markdown files of 3-8 sections, 2-4 paragraphs of 30-90 words each (~600-2,500 words a file)."""
    rnd = random.Random(seed)
    total = 0
    for i in range(n):
        parts = [f"# Note {i}: {' '.join(rnd.choices(WORDS, k=3))}\n"]
        for s in range(rnd.randint(3, 8)):
            parts.append(f"## Section {s} on {rnd.choice(WORDS)}\n")
            for _ in range(rnd.randint(2, 4)):
                parts.append(" ".join(rnd.choices(WORDS, k=rnd.randint(30, 90))) + ".\n")
        text = "\n".join(parts)
        total += len(text.split())
        (folder / f"note-{i:04d}.md").write_text(text, encoding="utf-8")
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rnd = random.Random(1)
    queries = [" ".join(rnd.choices(WORDS, k=rnd.randint(3, 12))) for _ in range(args.queries)]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        words = make_files(root / "docs", args.files)
        ws = Workspace.init(root / "ws")

        t = time.perf_counter()
        report = add_documents(ws, [root / "docs"])
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        again = add_documents(ws, [root / "docs"])
        readd_s = time.perf_counter() - t
        assert len(again.unchanged) == args.files

        documents._Index._cache.clear()  # the first query of a new process loads the index
        t = time.perf_counter()
        search_passages(ws, queries[0])
        cold_ms = (time.perf_counter() - t) * 1000
        ours = []
        for q in queries:
            t = time.perf_counter()
            hits = search_passages(ws, q, k=5)
            ours.append((time.perf_counter() - t) * 1000)
        assert hits

        # Reference: plain bm25s on the same passages, in memory.
        import bm25s
        import Stemmer

        texts = _passages(ws)
        stemmer = Stemmer.Stemmer("english")
        t = time.perf_counter()
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
        ref = bm25s.BM25()
        ref.index(tokens, show_progress=False)
        ref_index_s = time.perf_counter() - t
        plain = []
        for q in queries:
            t = time.perf_counter()
            ref.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False), k=5,
                         show_progress=False)
            plain.append((time.perf_counter() - t) * 1000)

    def p95(xs):
        return statistics.quantiles(xs, n=20)[-1]

    print(f"corpus: {args.files} Markdown files, {words:,} words -> {report.chunks:,} passages")
    print(f"{'':34}{'expertune':>12}{'plain bm25s':>14}{'ratio':>8}")
    print(f"{'index (s)':34}{index_s:12.2f}{ref_index_s:14.2f}{index_s / ref_index_s:8.1f}   target <= 10 s")
    print(f"{'re-add unchanged (s)':34}{readd_s:12.2f}")
    print(f"{'first query, loads index (ms)':34}{cold_ms:12.1f}")
    med_ours, med_plain = statistics.median(ours), statistics.median(plain)
    print(f"{'query median (ms)':34}{med_ours:12.2f}{med_plain:14.2f}{med_ours / med_plain:8.1f}   target <= 50 ms")
    print(f"{'query p95 (ms)':34}{p95(ours):12.2f}{p95(plain):14.2f}{p95(ours) / p95(plain):8.1f}")


def _passages(ws: Workspace):
    index = documents._Index.open(documents.documents_dir(ws))
    return [index.row(i)["text"] for i in range(len(index.offsets))]


if __name__ == "__main__":
    main()
