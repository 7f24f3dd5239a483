#!/usr/bin/env python3
"""The inputs of the mAP noise-test gate test (tests/fixtures/coco-gate/), and pycocotools'
numbers for them.

240 images of cars and trucks. The candidate is the baseline with two changes: it lost 40% of
its truck detections (a real regression, over many images) and, on two images, a car
detection moved off its object (a drop too small to tell from the choice of images). Each
detection of either model is its object's box, slightly jittered, and each image has one
low-scored false positive. One image's `file_name` is a number, which evalgate reads as no
name.

expected.json holds pycocotools' map50 and map50_95 of both models for every scope, so that
the gate's observed differences are checked against pycocotools, and the images whose truck
detections the candidate dropped.

Deterministic.

    pip install numpy pycocotools
    python3 scripts/coco-gate-fixture.py [DIR]    # default tests/fixtures/coco-gate
"""

import contextlib
import importlib.metadata
import io
import json
import sys
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

IMAGES = 240
CLASSES = ["car", "truck"]


def build(rng):
    images, annotations = [], []
    base, cand = [], []
    moved_cars = 0
    lost = {}
    for i in range(1, IMAGES + 1):
        name = 17 if i == 5 else f"frame-{i:04d}.jpg"
        images.append({"id": i, "file_name": name, "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 5))):
            cat = int(rng.integers(1, 3))
            # Sides from 10 to 200 pixels: every size range is populated.
            w, h = (float(v) for v in np.round(rng.uniform(10, 200, 2), 1))
            x, y = float(round(rng.uniform(0, 640 - w), 1)), float(round(rng.uniform(0, 480 - h), 1))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": cat,
                    "bbox": [x, y, w, h],
                    "area": round(w * h, 2),
                    "iscrowd": 0,
                }
            )
            jitter = rng.normal(0, 0.02, 2) * np.array([w, h])
            box = [round(x + jitter[0], 2), round(y + jitter[1], 2), w, h]
            score = round(float(rng.uniform(0.3, 1.0)), 4)
            det = {"image_id": i, "category_id": cat, "bbox": box, "score": score}
            base.append(det)
            if cat == 2 and rng.uniform() < 0.4:
                lost[i] = lost.get(i, 0) + 1
                continue
            if cat == 1 and moved_cars < 2 and i % 50 == 0:
                moved_cars += 1
                cand.append(dict(det, bbox=[round(x + 2 * w, 2), y, w, h]))
                continue
            cand.append(dict(det))
        fp = {
            "image_id": i,
            "category_id": int(rng.integers(1, 3)),
            "bbox": [1.0, 1.0, 30.0, 30.0],
            "score": round(float(rng.uniform(0.05, 0.3)), 4),
        }
        base.append(fp)
        cand.append(dict(fp))
    gt = {
        "info": {"year": "2026"},
        "images": images,
        "categories": [{"id": k + 1, "name": n} for k, n in enumerate(CLASSES)],
        "annotations": annotations,
    }
    return gt, base, cand, lost


def numbers(gt_path, dt_path):
    """pycocotools' summary means of each gated scope: key `class|size|metric`."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(dt_path))
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    areas = {"": 0, "small": 1, "medium": 2, "large": 3}
    out = {}
    for cls in ["", *CLASSES]:
        ks = [CLASSES.index(cls)] if cls else list(range(len(CLASSES)))
        for size, a in areas.items():
            for metric, ts in (("map50", [0]), ("map50_95", list(range(10)))):
                p = prec[np.ix_(ts, range(prec.shape[1]), ks, [a], [2])]
                p = p[p > -1]
                out[f"{cls}|{size}|{metric}"] = float(p.mean()) if p.size else None
    return out


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/coco-gate")
    out.mkdir(parents=True, exist_ok=True)
    gt, base, cand, lost = build(np.random.default_rng(15))
    (out / "gt.json").write_text(json.dumps(gt, separators=(",", ":")))
    (out / "baseline.json").write_text(json.dumps(base, separators=(",", ":")))
    (out / "candidate.json").write_text(json.dumps(cand, separators=(",", ":")))
    expected = {
        "pycocotools": importlib.metadata.version("pycocotools"),
        "baseline": numbers(out / "gt.json", out / "baseline.json"),
        "candidate": numbers(out / "gt.json", out / "candidate.json"),
        # Images whose truck detections the candidate dropped, and how many.
        "trucks_dropped": {str(i): n for i, n in sorted(lost.items())},
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    for key in ("|" "|map50", "car||map50", "truck||map50", "|small|map50_95"):
        b, c = expected["baseline"][key], expected["candidate"][key]
        print(f"{key}: {b:.4f} -> {c:.4f} ({c - b:+.4f})")


if __name__ == "__main__":
    main()
