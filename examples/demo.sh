#!/usr/bin/env bash
# The main job on the bundled contract-law sample, on the embedded default model (no GPU, no key):
# curate -> check -> train (LoRA) -> evaluate base vs tuned -> report. Safe to re-run: data steps
# are idempotent, training registers a new adapter version, evaluation reuses cached work.
set -euo pipefail
cd "$(dirname "$0")/.."
WS=${DEMO_WORKSPACE:-demo-workspace}
OUT="$WS/exports"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. create the workspace ($WS)"
expertune init "$WS"

step "2. import the bundled contract-law sample (30 prompts, 2-4 accepted answers each, one rejected)"
expertune -w "$WS" import examples/contracts.jsonl examples/preferences.jsonl

step "3. register the evaluation sets (kept out of training; checked for contamination)"
expertune -w "$WS" evalsets add examples/exam.jsonl
expertune -w "$WS" evalsets add examples/classify.jsonl
expertune -w "$WS" evalsets add examples/out_of_domain.jsonl

step "4. assign grouped train/val/test splits (whole prompt groups, stable)"
expertune -w "$WS" split --val 0.15 --test 0.15 --stratify topic

step "5. dataset statistics"
expertune -w "$WS" stats

step "6. quality checks (the same gate runs before training), HTML report and data card"
expertune -w "$WS" check --with-model --html "$OUT/check-report.html"  # --with-model: also the confidence check
expertune -w "$WS" datacard -o "$OUT/DATACARD.md" --licence "CC BY 4.0"

step "7. snapshot an immutable dataset version"
expertune -w "$WS" snapshot --name demo

step "8. train a LoRA adapter on the embedded SmolLM2-135M (recipe cpu-quick)"
expertune -w "$WS" train audit cpu-quick -n 1
expertune -w "$WS" train cpu-quick --set adapter_name=demo
expertune -w "$WS" adapters list

step "9. evaluate base vs tuned: blind pairwise judging in both orders, the exam, perplexity, refusals"
expertune -w "$WS" eval run examples/eval.yaml
RUN=$(expertune -w "$WS" eval list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')

step "10. the report"
expertune -w "$WS" report "$RUN" -o "$OUT/report.html"

step "11. what the evidence says (base vs tuned; the report opens with the same summary)"
expertune -w "$WS" eval stats "$RUN" --evidence
expertune eval plan --effect 0.1
echo "open $OUT/report.html (evaluation), $OUT/check-report.html (data checks), $OUT/DATACARD.md"
