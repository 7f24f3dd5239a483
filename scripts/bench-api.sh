#!/usr/bin/env bash
# Times `evalgate check` on two rf: evals served by scripts/fake-api.py on loopback, against
# the floor: two parallel curls of the same map-results URLs. Needs hyperfine and curl.
#
#   scripts/bench-api.sh [CLASSES] [DELAY_MS]      (defaults: 1000 classes, 0 ms)
set -euo pipefail
cd "$(dirname "$0")/.."
classes=${1:-1000}
delay=${2:-0}
port=${PORT:-8765}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --locked -q
scripts/gen-evals.py --classes "$classes" --seed 1 -o "$work/base.json"
scripts/gen-evals.py --classes "$classes" --seed 1 --degrade 0.02 -o "$work/cand.json"
printf 'version: 1\nsplits:\n  "*":\n    map50_95: {max_drop: 0.01}\n    classes:\n      "*":\n        map50: {max_drop: 0.05}\n' > "$work/policy.yaml"
scripts/fake-api.py --port "$port" --delay-ms "$delay" --eval "base=$work/base.json" --eval "cand=$work/cand.json" &
server=$!
scripts/wait-for-api.sh "$port"

export ROBOFLOW_API_KEY=bench ROBOFLOW_API_URL="http://127.0.0.1:$port"
url="http://127.0.0.1:$port/ws/model-evals"
hyperfine -N --warmup 2 --runs "${RUNS:-10}" -i \
  -n "evalgate check (2 evals x 2 requests)" \
  "target/release/evalgate check --policy $work/policy.yaml --baseline rf:ws/base --candidate rf:ws/cand" \
  -n "2 parallel curls (floor)" \
  "bash -c 'curl -s -o /dev/null $url/base/map-results & curl -s -o /dev/null $url/cand/map-results & wait'"
