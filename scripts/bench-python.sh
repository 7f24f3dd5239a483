#!/usr/bin/env bash
# evalgate against its peer, a hand-written Python gate (bench/python-gate/gate.py: requests,
# PyYAML, junit-xml), in one hyperfine run: both fetch the same two N-class × 3-split evals
# from scripts/fake-api.py on loopback and write JUnit and Markdown. Needs hyperfine, curl and
# a Python with the three packages (`pip install -r bench/python-gate/requirements.txt`; set
# PYTHON to use a virtual environment's interpreter).
#
#   scripts/bench-python.sh [CLASSES]        (default: 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
classes=${1:-10000}
port=${PORT:-8766}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --locked -q
scripts/gen-evals.py --classes "$classes" --seed 1 -o "$work/base.json"
scripts/gen-evals.py --classes "$classes" --seed 1 --degrade 0.02 -o "$work/cand.json"
cp bench/scale-policy.yaml "$work/policy.yaml"
scripts/fake-api.py --port "$port" --eval "base=$work/base.json" --eval "cand=$work/cand.json" &
server=$!
scripts/wait-for-api.sh "$port"

export ROBOFLOW_API_KEY=bench ROBOFLOW_API_URL="http://127.0.0.1:$port"
hyperfine -N --warmup 2 --runs "${RUNS:-10}" -i --export-json "${EXPORT:-/dev/null}" \
  -n "evalgate check" \
  "target/release/evalgate check --policy $work/policy.yaml --baseline rf:ws/base --candidate rf:ws/cand --junit $work/e.xml --markdown $work/e.md" \
  -n "Python gate" \
  "${PYTHON:-python3} bench/python-gate/gate.py --api http://127.0.0.1:$port --workspace ws --policy $work/policy.yaml --baseline base --candidate cand --junit $work/p.xml --markdown $work/p.md"
