#!/usr/bin/env bash
# Parsing speed on the eval that scripts/gen-evals.py writes (N classes × 3 splits, default
# 10,000), with the stage benchmark crate.
#
#   scripts/bench-parse.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/gen-evals.py --classes "$n" --seed 1 -o "$work/eval.json"
echo "eval: $n classes × 3 splits, $(wc -c <"$work/eval.json") bytes"
EVALGATE_BENCH_EVAL="$work/eval.json" \
  cargo bench --manifest-path bench/Cargo.toml --locked --bench stages -- parse
