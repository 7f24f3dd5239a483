#!/usr/bin/env bash
# Times `evalgate check` with policies that need the panels (confidence sweep, performance by
# class, confusion matrices) of three splits, on two rf: evals served by scripts/fake-api.py
# on loopback with a latency per request, against the floor: one curl of one request.
# Needs hyperfine and curl.
#
#   scripts/bench-panels.sh [DELAY_MS] [CLASSES]      (defaults: 200 ms, 100 classes)
set -euo pipefail
cd "$(dirname "$0")/.."
delay=${1:-200}
classes=${2:-100}
port=${PORT:-8766}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --locked -q
scripts/gen-evals.py --classes "$classes" --splits train,valid,test --seed 1 -o "$work/base.json"
scripts/gen-evals.py --classes "$classes" --splits train,valid,test --seed 1 --degrade 0.02 -o "$work/cand.json"
printf 'version: 1\nsplits:\n  "*":\n    map50_95: {max_drop: 0.01}\n' > "$work/map-results.yaml"
# Named splits at a fixed confidence: the sweep and a matrix per split, all in one round trip.
{
  printf 'version: 1\ntask: object-detection\noperating_point: {confidence: 0.40}\nsplits:\n'
  for s in train valid test; do
    printf '  %s:\n    map50_95: {max_drop: 0.01}\n    recall: {max_drop: 0.02}\n    classes:\n      "*":\n        min_support: 25\n        recall: {max_drop: 0.05}\n' "$s"
  done
  printf 'confusions:\n'
  for s in train valid test; do
    printf '  - {split: %s, actual: "*", predicted: background, max_rise: 0.02}\n' "$s"
  done
} > "$work/fixed.yaml"
# At `optimal`: performance by class too, and each matrix at a threshold only the sweep
# gives, so a second round trip.
sed 's/{confidence: 0.40}/{confidence: optimal}/' "$work/fixed.yaml" > "$work/optimal.yaml"
scripts/fake-api.py --port "$port" --delay-ms "$delay" --eval "base=$work/base.json" --eval "cand=$work/cand.json" &
server=$!
scripts/wait-for-api.sh "$port"

export ROBOFLOW_API_KEY=bench ROBOFLOW_API_URL="http://127.0.0.1:$port"
check="target/release/evalgate check --baseline rf:ws/base --candidate rf:ws/cand --report-only --policy"
hyperfine -N --warmup 2 --runs "${RUNS:-10}" -i \
  -n "1 curl of one request (floor)" \
  "curl -s -o /dev/null http://127.0.0.1:$port/ws/model-evals/base" \
  -n "1 curl of the sweep" \
  "curl -s -o /dev/null http://127.0.0.1:$port/ws/model-evals/base/confidence-sweep" \
  -n "check, map-results only (2 evals x 2 requests)" "$check $work/map-results.yaml" \
  -n "check, 3 named splits at 0.40 (2 evals x 6 requests)" "$check $work/fixed.yaml" \
  -n "check, 3 named splits at optimal (2 evals x 9 requests)" "$check $work/optimal.yaml" \
  -n "fetch, every panel (1 eval, 12 requests)" \
  "target/release/evalgate fetch rf:ws/base -o $work/saved.json"
