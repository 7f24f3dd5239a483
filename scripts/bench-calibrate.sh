#!/usr/bin/env bash
# `evalgate calibrate` of one coco: eval on the COCO-val-sized set of
# scripts/bench-map-bootstrap.sh, under the policy of scripts/bench-map-gate.sh: a drop rule
# on map50, map50_95 and map75 at every scope (split, 3 sizes, 80 classes, 240 class × size
# cells: 972 rules), 1,000 resamples. Prints GNU time's wall, CPU and peak memory.
#
#   scripts/bench-calibrate.sh [DIR]      (default /tmp/evalgate-coco-bench; made if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/evalgate-coco-bench}
py=${PYTHON:-python3}
[ -f "$dir/predictions.json" ] || "$py" scripts/coco-bench-set.py "$dir"

scripts/coco-bench-policy.sh "$dir/calibrate-policy.yaml"

cargo build --release --locked -q --bin evalgate
set +e
/usr/bin/time -f "wall %e s, user %U s, system %S s, peak memory %M kB" target/release/evalgate calibrate \
  --policy "$dir/calibrate-policy.yaml" --ground-truth "$dir/gt.json" \
  --eval "coco:$dir/predictions.json" --format json > "$dir/calibrate.json"
echo "exit $?"
set -e
"$py" -c "import json,sys; r=json.load(open(sys.argv[1]))['rules']; print(len(r), 'rules,', sum(x['std_error'] is not None for x in r), 'with a standard error')" "$dir/calibrate.json"
