#!/usr/bin/env bash
# The paired mAP bootstrap on a COCO-val-sized synthetic set (scripts/coco-bench-set.py, with a
# second model from scripts/coco-bench-candidate.py): 1,000 resamples of every scope evalgate
# writes (split, sizes, classes, classes × sizes; map50, map50_95, map75), on 2 threads by
# default. Prints each stage's time, then the peak memory (GNU time's maximum resident set).
#
#   scripts/bench-map-bootstrap.sh [DIR]      (default /tmp/evalgate-coco-bench; made if missing)
#   RESAMPLES=1000 THREADS=2 scripts/bench-map-bootstrap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/evalgate-coco-bench}
py=${PYTHON:-python3}
[ -f "$dir/predictions.json" ] || "$py" scripts/coco-bench-set.py "$dir"
[ -f "$dir/candidate.json" ] || "$py" scripts/coco-bench-candidate.py "$dir"

cargo build --release -q --manifest-path bench/Cargo.toml --bin map-bootstrap
/usr/bin/time -f "peak memory: %M kB" bench/target/release/map-bootstrap \
  "$dir/gt.json" "$dir/predictions.json" "$dir/candidate.json" "${RESAMPLES:-1000}" "${THREADS:-2}"
