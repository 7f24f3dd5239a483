#!/usr/bin/env bash
# Local COCO evaluation, side by side in one hyperfine run, on a COCO-val-sized synthetic set
# (scripts/coco-bench-set.py: 5,000 images, 80 categories, 36,000 boxes, 100 detections per
# image): `evalgate eval` as a whole process, a bare hotcoco run of the same evaluation
# (bench/src/bin/hotcoco-eval.rs), pycocotools, and faster-coco-eval when it is installed
# (`pip install -r bench/python-coco/requirements.txt`; PYTHON picks the interpreter). Then the
# peak memory of each (GNU time's maximum resident set size), one run each.
#
#   scripts/bench-coco.sh [DIR]      (default /tmp/evalgate-coco-bench; made if missing)
#   RUNS=5 PY_RUNS=1 scripts/bench-coco.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/evalgate-coco-bench}
py=${PYTHON:-python3}
[ -f "$dir/predictions.json" ] || "$py" scripts/coco-bench-set.py "$dir"

cargo build --release --locked -q
cargo build --release -q --manifest-path bench/Cargo.toml --bin hotcoco-eval
evalgate=target/release/evalgate
hotcoco=bench/target/release/hotcoco-eval
gt=$dir/gt.json preds=$dir/predictions.json

# The two Rust runs first, many times; the Python runs are slow, so fewer.
hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-markdown "$dir/rust.md" \
  -n "evalgate eval" "$evalgate eval --ground-truth $gt --predictions $preds -o $dir/eval.json" \
  -n "hotcoco (bare)" "$hotcoco $gt $preds"
python_cmds=(-n "pycocotools" "$py bench/python-coco/pycocotools_eval.py $gt $preds")
if "$py" -c "import faster_coco_eval" 2>/dev/null; then
  python_cmds+=(-n "faster-coco-eval" "$py bench/python-coco/pycocotools_eval.py --faster $gt $preds")
fi
hyperfine -N --runs "${PY_RUNS:-2}" --export-markdown "$dir/python.md" \
  -n "evalgate eval" "$evalgate eval --ground-truth $gt --predictions $preds -o $dir/eval.json" \
  "${python_cmds[@]}"

echo
echo "peak memory (max RSS):"
peak() {
  local name=$1; shift
  /usr/bin/time -f "%M" -o "$dir/rss" "$@" >/dev/null 2>&1
  printf '  %-18s %6d MB\n' "$name" $(( $(cat "$dir/rss") / 1024 ))
}
peak "evalgate eval" "$evalgate" eval --ground-truth "$gt" --predictions "$preds" -o "$dir/eval.json"
peak "hotcoco (bare)" "$hotcoco" "$gt" "$preds"
peak "pycocotools" "$py" bench/python-coco/pycocotools_eval.py "$gt" "$preds"
if "$py" -c "import faster_coco_eval" 2>/dev/null; then
  peak "faster-coco-eval" "$py" bench/python-coco/pycocotools_eval.py --faster "$gt" "$preds"
fi

# Not timed: every number evalgate wrote against pycocotools' on this set.
"$py" bench/python-coco/pycocotools_eval.py "$gt" "$preds" --write-eval "$dir/pycocotools.json" >/dev/null
"$py" - "$dir/eval.json" "$dir/pycocotools.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["splits"]["test"] for p in sys.argv[1:3])
diffs, nulls = [], 0
def walk(x, y, path):
    global nulls
    if isinstance(y, dict):
        assert sorted(x) == sorted(y), path
        for k in y:
            walk(x[k], y[k], f"{path}.{k}")
    elif y is None:
        assert x is None, path
        nulls += 1
    else:
        diffs.append(abs(x - y))
walk(a, b, "test")
print(f"\nevalgate vs pycocotools: {len(diffs)} numbers, largest difference {max(diffs):.3g}, {nulls} nulls alike")
PY
