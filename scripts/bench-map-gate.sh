#!/usr/bin/env bash
# The whole `evalgate check` of two coco: sources on the COCO-val-sized set of
# scripts/bench-map-bootstrap.sh, with a statistics policy that noise-tests a drop rule on
# map50, map50_95 and map75 at every scope (split, 3 sizes, 80 classes, 240 class × size
# cells: 972 checks) with 1,000 resamples. Prints GNU time's wall, CPU and peak memory.
#
#   scripts/bench-map-gate.sh [DIR]      (default /tmp/evalgate-coco-bench; made if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/evalgate-coco-bench}
py=${PYTHON:-python3}
[ -f "$dir/predictions.json" ] || "$py" scripts/coco-bench-set.py "$dir"
[ -f "$dir/candidate.json" ] || "$py" scripts/coco-bench-candidate.py "$dir"

scripts/coco-bench-policy.sh "$dir/gate-policy.yaml"

cargo build --release --locked -q --bin evalgate
set +e
/usr/bin/time -f "wall %e s, user %U s, system %S s, peak memory %M kB" target/release/evalgate check \
  --policy "$dir/gate-policy.yaml" --ground-truth "$dir/gt.json" \
  --baseline "coco:$dir/predictions.json" --candidate "coco:$dir/candidate.json" \
  --json "$dir/gate-report.json" > /dev/null
echo "exit $?"
set -e
"$py" - "$dir/gate-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
checks = r["checks"]
tested = [c for c in checks if c.get("statistics")]
print(f"{len(checks)} checks, {len(tested)} noise-tested, summary {r['summary']}")
PY
