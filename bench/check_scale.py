"""Curation checks at scale: 100,000 responses in 20,000 prompt groups, with planted problems.

Generates the data (pseudo-words with a Zipf-like frequency, answers of 40-160 words), plants exact
duplicates, near-duplicates (inside groups and across groups), leaked prompts, contaminated
prompts, personal data and chat-export labels, imports it with `import_file`, then runs every
check except confidence (the gate's set) and prints seconds per check and in total. Target on a
2-core machine: total <= 60 s.

Then it measures near-duplicate recall against brute force: on a sample of 2,000 responses (1,000
planted pairs, so the sample holds many similar pairs), every pair's exact Jaccard of word 3-shingle
sets is computed (sparse matrix product); a pair with Jaccard >= 0.8 counts as found when the checks
put both responses in one near-duplicates or duplicates finding. Target: recall >= 0.95.

Last, the exam-sized case: 1,502 short multiple-choice records (bar-exam shaped: a 60-200 word
stem, four options, a letter answer, an area), imported and checked with `expertune check` as a user
runs it (a fresh process, default checks), timed as a whole command. Target: <= 10 s.

    .venv/bin/python bench/check_scale.py [--groups 20000] [--per-group 5] [--mcq 1502] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from expertune.curate.gate import gate_checks
from expertune.curate.runner import run_checks
from expertune.curate.dataset import load_data
from expertune.curate.text import words
from expertune.data.evalsets import add_evalset
from expertune.data.ingest import import_file
from expertune.data.splits import assign_splits
from expertune.workspace import Workspace

TOPICS = ["Formation", "Consideration", "Terms", "Vitiating factors", "Discharge", "Remedies"]
SYLLABLES = "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu " \
            "pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu".split()


class Text:
    """Pseudo-English: a 6,000-word vocabulary drawn with Zipf-like weights (a few very common words)."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd
        vocab = {"".join(rnd.choices(SYLLABLES, k=rnd.randint(1, 4))) for _ in range(9000)}
        self.vocab = sorted(vocab)[:6000]
        rnd.shuffle(self.vocab)
        self.cum_weights = list(itertools.accumulate(1 / (r + 10) for r in range(len(self.vocab))))

    def sentence(self, n: int) -> str:
        w = self.rnd.choices(self.vocab, cum_weights=self.cum_weights, k=n)
        return " ".join(w).capitalize() + "."

    def answer(self, n: int) -> str:
        parts, left = [], n
        while left > 0:
            k = min(left, self.rnd.randint(8, 20))
            parts.append(self.sentence(k))
            left -= k
        return " ".join(parts)


def mutate(rnd: random.Random, text: str, changes: int, gen: Text) -> str:
    w = text.split()
    for _ in range(changes):
        w[rnd.randrange(len(w))] = rnd.choice(gen.vocab)
    return " ".join(w)


def make_file(path: Path, groups: int, per_group: int, seed: int = 0) -> dict:
    rnd = random.Random(seed)
    gen = Text(rnd)
    prompts = [f"{gen.sentence(rnd.randint(10, 30))[:-1]}?" for _ in range(groups)]
    answers = [[gen.answer(rnd.randint(40, 160)) for _ in range(per_group)] for _ in range(groups)]
    planted = {"exact_copies": 0, "variants": 0, "cross_group": 0, "pairs": []}
    n = groups * per_group
    # Near-duplicates: 1% variants inside a group, 1% copies to another group; 1-8 words changed.
    for _ in range(n // 100):
        g = rnd.randrange(groups)
        answers[g][1] = mutate(rnd, answers[g][0], rnd.randint(1, 8), gen)
        planted["variants"] += 1
        planted["pairs"].append(((g, 0), (g, 1)))
        h = rnd.randrange(groups)
        if h != g:
            answers[h][2] = mutate(rnd, answers[g][3], rnd.randint(1, 8), gen)
            planted["cross_group"] += 1
            planted["pairs"].append(((g, 3), (h, 2)))
    # Exact copies (after normalisation: case and punctuation differ) across groups: 0.5%.
    for _ in range(n // 200):
        g, h = rnd.randrange(groups), rnd.randrange(groups)
        if g != h:
            answers[h][3] = answers[g][4].upper().replace(".", "!")
            planted["exact_copies"] += 1
            planted["pairs"].append(((g, 4), (h, 3)))
    # Chat-export labels and personal data in a few hundred answers.
    for _ in range(300):
        g = rnd.randrange(groups)
        answers[g][0] = "Assistant: " + answers[g][0]
        h = rnd.randrange(groups)
        answers[h][1] += f" Call me on 020 7946 0{rnd.randint(100, 999)} or mail x{h}@example.com."
    with path.open("w", encoding="utf-8") as f:
        for g in range(groups):
            context = []
            if g % 7 == 0:
                context = [{"role": "user", "content": gen.sentence(12)},
                           {"role": "assistant", "content": gen.answer(30)}]
            for k in range(per_group):
                row = {"messages": [{"role": "system", "content": "You are a careful contract-law tutor."}, *context,
                                    {"role": "user", "content": prompts[g]},
                                    {"role": "assistant", "content": answers[g][k]}],
                       "topic": TOPICS[g % len(TOPICS)]}
                f.write(json.dumps(row) + "\n")
    # An eval set: 500 fresh prompts, 50 of them pasted into training answers.
    evals = [gen.sentence(rnd.randint(15, 30)) for _ in range(500)]
    planted["prompts"], planted["evals"] = prompts, evals
    return planted


def make_mcq_file(path: Path, n: int, seed: int = 3) -> None:
    rnd = random.Random(seed)
    gen = Text(rnd)
    areas = ["Contracts", "Torts", "Evidence", "Property", "Civil Procedure", "Criminal Law", "Constitutional Law"]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            stem = gen.answer(rnd.randint(60, 200))
            row = {"question": f"{stem} Which is most likely?", "options": [gen.sentence(rnd.randint(4, 14)) for _ in range(4)],
                   "answer": "ABCD"[rnd.randrange(4)], "area": areas[i % len(areas)]}
            f.write(json.dumps(row) + "\n")


def time_cli_check(root: Path, n: int) -> None:
    """`expertune import` then `expertune check` (defaults) on n exam records, each a fresh process."""
    data = root / "mcq.jsonl"
    make_mcq_file(data, n)
    ws = root / "mcq-ws"
    cli = [sys.executable, "-m", "expertune", "--workspace", str(ws)]
    subprocess.run([sys.executable, "-m", "expertune", "init", str(ws)], check=True, capture_output=True)
    t = time.perf_counter()
    subprocess.run([*cli, "import", str(data)], check=True, capture_output=True)
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    done = subprocess.run([*cli, "check", "--json"], capture_output=True, text=True)
    check_s = time.perf_counter() - t
    if done.returncode not in (0, 1):  # 1: the check found problems to review
        sys.exit(f"expertune check failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    print(f"\n{n} multiple-choice records: `expertune import` {import_s:.1f} s, `expertune check` {check_s:.1f} s "
          f"as a whole command ({len(report.get('checks', report.get('results', [])))} checks)   (target <= 10 s)")


def plant_contamination(path: Path, evals: list[str], out: Path, rnd: random.Random) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for e in evals[:50]:
        i = rnd.randrange(len(lines))
        row = json.loads(lines[i])
        row["messages"][-1]["content"] += " " + e
        lines[i] = json.dumps(row)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def brute_force_recall(report, data, planted: dict, sample_pairs: int = 1000, threshold: float = 0.8) -> dict:
    """Recall of the checks against exact Jaccard over all pairs of a 2,000-response sample."""
    from scipy import sparse

    index = {}
    for i, it in enumerate(data.items):
        g = data.groups[it.group]
        index.setdefault(g.prompt, []).append(i)
    # Responses are ordered by id inside a group, and ids follow file order.
    prompts = planted["prompts"]
    rnd = random.Random(1)
    pairs = rnd.sample(planted["pairs"], min(sample_pairs, len(planted["pairs"])))
    sample = sorted({index[prompts[g]][k] for pair in pairs for g, k in pair})
    while len(sample) < 2 * sample_pairs:
        sample = sorted(set(sample) | {rnd.randrange(len(data.items))})

    shingles, rows, cols = {}, [], []
    for r, i in enumerate(sample):
        w = words(data.items[i].text)
        grams = {tuple(w[j : j + 3]) for j in range(len(w) - 2)} or {tuple(w)}
        for s in grams:
            rows.append(r)
            cols.append(shingles.setdefault(s, len(shingles)))
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sample), len(shingles)))
    inter = (m @ m.T).tocoo()
    size = np.asarray(m.sum(axis=1)).ravel()
    keep = inter.row < inter.col
    a, b, x = inter.row[keep], inter.col[keep], inter.data[keep]
    jac = x / (size[a] + size[b] - x)
    truth = [(sample[i], sample[j]) for i, j in zip(a[jac >= threshold], b[jac >= threshold])]

    together = set()
    for f in report.findings:
        if f.check in ("near-duplicates", "duplicates") and f.response_ids:
            members = sorted(data.item_index[r] for r in f.response_ids)
            together.update((p, q) for k, p in enumerate(members) for q in members[k + 1 :])
    found = sum(1 for p in truth if p in together)
    return {"sample": len(sample), "pairs_checked": len(sample) * (len(sample) - 1) // 2,
            "true_pairs": len(truth), "found": found, "recall": found / max(len(truth), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=20_000)
    ap.add_argument("--per-group", type=int, default=5)
    ap.add_argument("--mcq", type=int, default=1502, help="exam records for the whole-command case (0: skip)")
    ap.add_argument("--keep", type=Path, help="Build the workspace here and keep it (default: a temp folder).")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t = time.perf_counter()
        raw = root / "raw.jsonl"
        root.mkdir(parents=True, exist_ok=True)
        planted = make_file(raw, args.groups, args.per_group)
        data_file = root / "data.jsonl"
        plant_contamination(raw, planted["evals"], data_file, random.Random(2))
        (root / "evals.jsonl").write_text("".join(json.dumps({"prompt": e}) + "\n" for e in planted["evals"]))
        print(f"generated {args.groups * args.per_group} responses in {args.groups} groups "
              f"({planted['variants']} variants, {planted['cross_group']} cross-group near-duplicates, "
              f"{planted['exact_copies']} exact copies planted) in {time.perf_counter() - t:.1f} s")

        ws = Workspace.init(root / "ws")
        t = time.perf_counter()
        report = import_file(ws, data_file)
        assign_splits(ws, val=0.1, test=0.1)
        add_evalset(ws, root / "evals.jsonl", name="heldout-prompts")
        print(f"import + split + eval set: {time.perf_counter() - t:.1f} s ({report.imported_responses} responses)")

        t = time.perf_counter()
        data = load_data(ws)
        load_s = time.perf_counter() - t
        result = run_checks(ws, only=gate_checks(), data=data)
        print(f"\n{'check':<16}{'seconds':>9}{'findings':>10}")
        print(f"{'(load data)':<16}{load_s:>9.2f}")
        for r in result.results:
            print(f"{r.check:<16}{r.seconds:>9.2f}{len(r.findings):>10}")
        total = load_s + sum(r.seconds for r in result.results)
        print(f"{'total':<16}{total:>9.2f}   (target <= 60 s)")
        length = next(r for r in result.results if r.check == "length").stats
        print(f"length: {length['exact_counts']} exact token counts, {length['estimated_counts']} estimated")

        recall = brute_force_recall(result, data, planted)
        print(f"\nnear-duplicate recall at Jaccard >= 0.8 on {recall['sample']} responses "
              f"({recall['pairs_checked']} pairs brute-forced): {recall['found']}/{recall['true_pairs']} = "
              f"{recall['recall']:.3f}   (target >= 0.95)")
        if args.mcq:
            time_cli_check(root, args.mcq)


if __name__ == "__main__":
    main()
