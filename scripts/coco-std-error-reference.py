#!/usr/bin/env python3
"""The NumPy reference for the bootstrap standard error of one evaluation's mAP
(evalgate::stats::map::std_errors), which `evalgate calibrate` turns into a detectable drop.

Reads the case scripts/coco-bootstrap-reference.py wrote (tests/fixtures/coco/bootstrap-*.json)
and the replicates' image weights in its bootstrap-reference.json, and writes
tests/fixtures/coco/std-error-reference.json: for each evaluation (baseline, candidate) and
every scope and metric, np.std(ddof=1) of the value over the replicates, those where the
scope has no ground truth left out; "undefined" where it has none at unit weights, "too few
replicates" where fewer than two replicates hold it.

The weighted accumulation is the bootstrap reference's own (pycocotools' matching and
accumulate, each image counted w times).

    pip install numpy scipy pycocotools
    python3 scripts/coco-std-error-reference.py
"""

import importlib.util
import json
from pathlib import Path

import numpy as np

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
            found[key] = {"value": value, "std_error": float(np.std(usable, ddof=1)), "resamples": int(len(usable))}
        out[side] = found
    doc = {
        "source": "scripts/coco-std-error-reference.py (pycocotools matching, NumPy weighted accumulate), "
                  "on the weights of bootstrap-reference.json",
        "std_errors": out,
    }
    (root / "std-error-reference.json").write_text(json.dumps(doc, indent=1) + "\n")
    n = sum("std_error" in e for side in out.values() for e in side.values())
    print(f"{n} standard errors over {len(weights)} replicates")


if __name__ == "__main__":
    main()
