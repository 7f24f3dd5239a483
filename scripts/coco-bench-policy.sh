#!/usr/bin/env bash
# Writes the policy the COCO-val-sized benchmarks gate and calibrate under: a drop rule on
# map50, map50_95 and map75 at every scope (split, 3 sizes, every class, every class × size),
# noise-tested with RESAMPLES (default 1,000) resamples.
#
#   scripts/coco-bench-policy.sh FILE
set -euo pipefail
rule='{map50: {max_drop: 0.01}, map50_95: {max_drop: 0.01}, map75: {max_drop: 0.01}}'
cat > "$1" <<YAML
version: 1
statistics: {significance: 0.05, correction: holm, resamples: ${RESAMPLES:-1000}, seed: 1}
splits:
  test:
    map50: {max_drop: 0.01}
    map50_95: {max_drop: 0.01}
    map75: {max_drop: 0.01}
    sizes: {small: $rule, medium: $rule, large: $rule}
    classes:
      "*":
        map50: {max_drop: 0.01}
        map50_95: {max_drop: 0.01}
        map75: {max_drop: 0.01}
        sizes: {small: $rule, medium: $rule, large: $rule}
YAML
