#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a short time; fails on any crash,
# hang, leak or out-of-memory. The corpus is seeded from the fixtures on every run and kept in
# fuzz/corpus/ (not committed), so later runs start from what earlier ones found.
#
#   scripts/fuzz-smoke.sh                          # every target, 20 s each (what .ci/run does)
#   FUZZ_SECONDS=600 scripts/fuzz-smoke.sh render  # a long run of one target
#
# Extra libFuzzer options go in FUZZ_ARGS (e.g. FUZZ_ARGS="-jobs=2 -workers=2").
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
if (($#)); then targets=("$@"); else targets=(parse_eval parse_policy render); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked cargo-fuzz@0.13.2
fi
export RUSTC_BOOTSTRAP=1

cd fuzz
# The fuzz crate keeps its own (sanitizer-instrumented) build in fuzz/target.
export CARGO_TARGET_DIR="$PWD/target"
if (($#)); then
  for t in "${targets[@]}"; do cargo fuzz build "$t"; done
else
  cargo fuzz build
fi

seed() {
  local target=$1 dir=corpus/$1
  mkdir -p "$dir"
  case $target in
    parse_policy) cp ../policies/*.yaml "$dir"/ ;;
    *) cp ../tests/fixtures/roboflow/*.json ../examples/evals/*.json "$dir"/ ;;
  esac
}

dict() {
  case $1 in
    parse_policy) echo dict/yaml.dict ;;
    *) echo dict/json.dict ;;
  esac
}

for t in "${targets[@]}"; do
  seed "$t"
  log=$(mktemp)
  echo "fuzzing $t for ${seconds}s"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
  if ! cargo fuzz run "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -dict="$(dict "$t")" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t failed (a build error above, or a crash: its input is in fuzz/artifacts/$t/;" \
      "replay it with: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t artifacts/$t/<file>)" >&2
    rm -f "$log"
    exit 1
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
  corpus=$(find "corpus/$t" -type f | wc -l)
  echo "fuzz $t: ${runs:-?} executions in ${seconds}s, ${cov:-cov: ?}, corpus ${corpus} inputs, no crash"
  rm -f "$log"
done
