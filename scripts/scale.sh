#!/usr/bin/env bash
# How `evalgate check` scales with the number of classes: wall time (hyperfine, mean of 10)
# and peak memory (GNU time) for two synthetic evals of N classes × 3 splits, gated under
# a policy with split, size and per-class rules. Needs hyperfine and GNU time.
#
#   scripts/scale.sh [N ...]        (default: 10 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
((${#sizes[@]})) || sizes=(10 1000 10000 100000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q
bin=target/release/evalgate
cp bench/scale-policy.yaml "$work/policy.yaml"

printf '| classes | eval size | checks | wall, no reports | wall, all three reports | peak memory, all reports |\n|---:|---:|---:|---:|---:|---:|\n'
for n in "${sizes[@]}"; do
  scripts/gen-evals.py --classes "$n" --seed 1 -o "$work/base.json"
  scripts/gen-evals.py --classes "$n" --seed 1 --degrade 0.02 -o "$work/cand.json"
  args=(check --policy "$work/policy.yaml" --baseline "$work/base.json" --candidate "$work/cand.json" --max-body 1GiB)
  reports=(--json "$work/r.json" --junit "$work/r.xml" --markdown "$work/r.md")
  mean() {
    hyperfine -N -i --warmup 2 --runs 10 --export-json "$work/h.json" "$*" >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.0f ms" % (json.load(open(sys.argv[1]))["results"][0]["mean"] * 1000))' "$work/h.json"
  }
  bare=$(mean "$bin" "${args[@]}")
  full=$(mean "$bin" "${args[@]}" "${reports[@]}")
  # The synthetic candidate regressed on purpose: evalgate exits 1.
  peak=$( { /usr/bin/time -f '%M' "$bin" "${args[@]}" "${reports[@]}" >/dev/null || true; } 2>&1 | tail -n 1)
  checks=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["total"])' "$work/r.json")
  size=$(du -k "$work/base.json" | cut -f1)
  printf '| %s | %s KiB | %s | %s | %s | %s MiB |\n' "$n" "$size" "$checks" "$bare" "$full" "$((peak / 1024))"
done
