#!/usr/bin/env bash
# Times the per-image fetch of a noise-tested gate: two rf: evals whose split `valid` has
# 5,000 images (5 pages of 1,000 each), served by scripts/fake-images-api.py on loopback
# with a latency per request, against the floor (one curl of one request) and the same gate
# without statistics (no image requested). Target: the pages cost one round trip more than
# the panels, about 2 round trips per eval in all, both evals in parallel. Needs hyperfine
# and curl.
#
#   scripts/bench-images.sh [DELAY_MS] [IMAGES]      (defaults: 200 ms, 5000 images)
set -euo pipefail
cd "$(dirname "$0")/.."
delay=${1:-200}
images=${2:-5000}
port=${PORT:-8767}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --locked -q
scripts/gen-evals.py --classes 20 --splits valid --seed 1 -o "$work/base.json"
scripts/gen-evals.py --classes 20 --splits valid --seed 1 --degrade 0.02 -o "$work/cand.json"
cat > "$work/noise.yaml" <<'YAML'
version: 1
task: object-detection
operating_point: {confidence: 0.40}
statistics: {significance: 0.05, correction: holm, resamples: 2000, seed: 1}
splits:
  valid:
    recall: {max_drop: 0.02}
    classes:
      "*":
        recall: {max_drop: 0.05}
YAML
grep -v '^statistics' "$work/noise.yaml" > "$work/fixed.yaml"
scripts/fake-images-api.py --images "$images" --port "$port" --delay-ms "$delay" \
  --eval "base=$work/base.json" --eval "cand=$work/cand.json" &
server=$!
scripts/wait-for-api.sh "$port"
# Every page once, so that the server's own serialisation is not timed.
for eval in base cand; do
  for ((offset = 0; offset < images; offset += 1000)); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/ws/model-evals/$eval/image-predictions?split=valid&confidence=40&limit=1000&offset=$offset"
  done
done

export ROBOFLOW_API_KEY=bench ROBOFLOW_API_URL="http://127.0.0.1:$port"
bin=target/release/evalgate
hyperfine -N --warmup 2 --runs "${RUNS:-10}" -i \
  -n "1 curl of one request (floor)" \
  "curl -s -o /dev/null http://127.0.0.1:$port/ws/model-evals/base" \
  -n "check at 0.40, no statistics (2 evals x 3 requests)" \
  "$bin check --report-only --policy $work/fixed.yaml --baseline rf:ws/base --candidate rf:ws/cand" \
  -n "check at 0.40, noise-tested ($images images; 2 evals x (5 + $(( (images + 999) / 1000 - 1 ))) requests in 2 round trips)" \
  "$bin check --report-only --policy $work/noise.yaml --baseline rf:ws/base --candidate rf:ws/cand" \
  -n "fetch --policy, noise-tested (1 eval)" \
  "$bin fetch --policy $work/noise.yaml rf:ws/base -o $work/saved.json"
# The same gate offline, from the saved files: what the noise test itself costs.
$bin fetch --policy "$work/noise.yaml" rf:ws/cand -o "$work/saved-cand.json"
hyperfine -N --warmup 1 --runs "${RUNS:-10}" -i \
  -n "check offline, noise-tested (saved files)" \
  "$bin check --report-only --policy $work/noise.yaml --baseline $work/saved.json --candidate $work/saved-cand.json"
