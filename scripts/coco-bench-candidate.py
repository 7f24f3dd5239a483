#!/usr/bin/env python3
"""A second model for the COCO-val-sized set of scripts/coco-bench-set.py: the same detections
with every score jittered and one in twenty boxes shifted, so the paired mAP bootstrap of
scripts/bench-map-bootstrap.sh compares two models that differ a little everywhere.

Deterministic for a seed.

    python3 scripts/coco-bench-candidate.py [DIR]     # default /tmp/evalgate-coco-bench
"""

import json
import sys
from pathlib import Path

import numpy as np


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/evalgate-coco-bench")
    dets = json.loads((out / "predictions.json").read_text())
    rng = np.random.default_rng(2018)
    jitter = rng.normal(0, 0.05, len(dets))
    shift = rng.uniform(size=len(dets)) < 0.05
    for d, j, s in zip(dets, jitter, shift):
        d["score"] = round(float(np.clip(d["score"] + j, 0.001, 1.0)), 5)
        if s:
            d["bbox"][0] = round(d["bbox"][0] + 0.3 * d["bbox"][2], 2)
    (out / "candidate.json").write_text(json.dumps(dets, separators=(",", ":")))
    print(f"{out}/candidate.json: {len(dets)} detections")


if __name__ == "__main__":
    main()
