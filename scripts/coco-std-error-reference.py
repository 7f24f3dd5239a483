#!/usr/bin/env python3
"""The NumPy reference for the bootstrap standard error of one evaluation's mAP
(evalgate::stats::map::std_errors), which `evalgate calibrate` turns into a detectable drop.

Reads the case scripts/coco-bootstrap-reference.py wrote (tests/fixtures/coco/bootstrap-*.json)
and the replicates' image weights in its bootstrap-reference.json, and writes
tests/fixtures/coco/std-error-reference.json: for each evaluation (baseline, candidate) and
every scope and metric, np.std(ddof=1) of the value over the replicates, those where the
scope has no ground truth left out; "undefined" where it has none at unit weights, "too few
replicates" where fewer than two replicates hold it, "no spread" where the replicates agree to
1e-12.

It also writes the normal quantiles of calibrate's detectable drop, (z₁₋α + z₀.₈) · SE · √(2(1 − ρ)),
for α = 0.05 / m, m = 1…12 (Holm's first rejection over m tested rules), from scipy.

The weighted accumulation is the bootstrap reference's own (pycocotools' matching and
accumulate, each image counted w times).

    pip install numpy scipy pycocotools
    python3 scripts/coco-std-error-reference.py
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
from scipy.stats import norm

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("bootstrap_reference", HERE / "coco-bootstrap-reference.py")
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def main():
    root = ref.ROOT
    weights = json.loads((root / "bootstrap-reference.json").read_text())["weights"]
    out = {}
    for side in ("baseline", "candidate"):
        ev = ref.evaluated(root / "bootstrap-gt.json", root / f"bootstrap-{side}.json")
        images = len(ev.params.imgIds)
        observed = ref.summaries(ev, ref.weighted_precision(ev, np.ones(images, dtype=np.int64)))
        per_replicate = [ref.summaries(ev, ref.weighted_precision(ev, np.array(w, dtype=np.int64))) for w in weights]
        found = {}
        for key, value in observed.items():
            if value is None:
                found[key] = {"untestable": "undefined"}
                continue
            usable = np.array([r[key] for r in per_replicate if r[key] is not None])
            if len(usable) < 2:
                found[key] = {"untestable": "too few replicates"}
                continue
            se = float(np.std(usable, ddof=1))
            # Replicates that agree to rounding (one image holds the whole scope, found every
            # time) measure no noise: evalgate calls a spread of at most 1e-12 none.
            if se <= 1e-12:
                found[key] = {"untestable": "no spread"}
                continue
            found[key] = {"value": value, "std_error": se, "resamples": int(len(usable))}
        out[side] = found
    doc = {
        "source": "scripts/coco-std-error-reference.py (pycocotools matching, NumPy weighted accumulate), "
                  "on the weights of bootstrap-reference.json",
        "std_errors": out,
        "z_power_0.8": float(norm.ppf(0.8)),
        "z_one_minus_level": {str(m): float(norm.ppf(1 - 0.05 / m)) for m in range(1, 13)},
    }
    (root / "std-error-reference.json").write_text(json.dumps(doc, indent=1) + "\n")
    n = sum("std_error" in e for side in out.values() for e in side.values())
    print(f"{n} standard errors over {len(weights)} replicates")


if __name__ == "__main__":
    main()
