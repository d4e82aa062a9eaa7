"""CLI start-up: `expertune --help` and `expertune stats` next to bare Python and `import torch`.

Each command runs --runs times in a fresh interpreter (the same one running this script); the
median wall time is reported, with its ratio to `python -c pass` and to `python -c "import torch"`
(what a command that loaded the model stack at start-up would pay at least). `stats` runs on a
workspace holding the bundled 92 contract-law records. Target: <= 0.3 s for both.

The package's bytecode is compiled first (as `pip install` does): with PYTHONDONTWRITEBYTECODE
set, a source checkout would otherwise be recompiled on every run. Which modules a command
imports is tests/cli/test_startup_imports.py's job; `python -X importtime -m expertune --help`
shows where the time goes.

    .venv/bin/python bench/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import expertune

    compileall.compile_dir(Path(expertune.__file__).parent, quiet=1)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([py, "-m", "expertune", "init", str(ws)], check=True, capture_output=True)
        subprocess.run([py, "-m", "expertune", "-w", str(ws), "import", str(ROOT / "examples" / "contracts.jsonl")],
                       check=True, capture_output=True)
        cases = {
            "python -c pass": [py, "-c", "pass"],
            'python -c "import torch"': [py, "-c", "import torch"],
            "expertune --help": [py, "-m", "expertune", "--help"],
            "expertune stats": [py, "-m", "expertune", "-w", str(ws), "stats"],
        }
        print(f"{args.runs} runs each, median wall time · python {sys.version.split()[0]} · {expertune.__file__}")
        results = {name: median_seconds(argv, args.runs) for name, argv in cases.items()}
    bare, torch_ = results["python -c pass"], results['python -c "import torch"']
    for name, seconds in results.items():
        print(f"{name:28s} {seconds:6.3f} s   {seconds / bare:5.1f}x bare python   {seconds / torch_:4.2f}x import torch")
    for name in ("expertune --help", "expertune stats"):
        verdict = "met" if results[name] <= 0.3 else "NOT met"
        print(f"{name}: {results[name]:.3f} s (target <= 0.3 s: {verdict})")


if __name__ == "__main__":
    main()
