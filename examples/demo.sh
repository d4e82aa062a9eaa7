#!/usr/bin/env bash
# The main job on the bundled sample: build the curated dataset, then (as later stages land)
# train on the embedded default model and evaluate. Safe to re-run: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
WS=${DEMO_WORKSPACE:-demo-workspace}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. create the workspace ($WS)"
expertune init "$WS"

step "2. import the bundled contract-law sample"
expertune -w "$WS" import examples/contracts.jsonl

step "3. assign grouped train/val/test splits (stable; whole prompt groups)"
expertune -w "$WS" split --val 0.15 --test 0.15 --stratify topic

step "4. dataset statistics"
expertune -w "$WS" stats

step "5. snapshot an immutable dataset version"
expertune -w "$WS" snapshot --name demo
