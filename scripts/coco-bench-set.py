#!/usr/bin/env python3
"""A COCO-val-sized synthetic set for scripts/bench-coco.sh: 5,000 images, 80 categories, about
36,000 ground-truth boxes, and 100 detections per image (near misses of the objects, class
confusions and background boxes, with scores that favour the near misses).

Deterministic for a seed. Not for the repository: it is about 47 MB.

    python3 scripts/coco-bench-set.py [DIR]     # default /tmp/evalgate-coco-bench
"""

import json
import sys
from pathlib import Path

import numpy as np

IMAGES, CATEGORIES, BOXES, PER_IMAGE = 5000, 80, 36000, 100
W, H = 640, 480


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/evalgate-coco-bench")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2017)
    counts = rng.multinomial(BOXES, np.ones(IMAGES) / IMAGES)
    images = [{"id": i + 1, "file_name": f"{i + 1:012d}.jpg", "width": W, "height": H} for i in range(IMAGES)]
    categories = [{"id": k + 1, "name": f"class-{k + 1:02d}", "supercategory": "thing"} for k in range(CATEGORIES)]
    anns, dets = [], []
    ann_id = 1
    for i in range(IMAGES):
        n = int(counts[i])
        # Sizes spread over COCO's small, medium and large ranges.
        w = np.clip(rng.lognormal(3.6, 0.9, n), 2, W - 1)
        h = np.clip(w * rng.lognormal(0, 0.3, n), 2, H - 1)
        x = rng.uniform(0, W - w)
        y = rng.uniform(0, H - h)
        cats = rng.integers(1, CATEGORIES + 1, n)
        crowd = rng.random(n) < 0.01
        for j in range(n):
            box = [round(float(x[j]), 2), round(float(y[j]), 2), round(float(w[j]), 2), round(float(h[j]), 2)]
            anns.append({"id": ann_id, "image_id": i + 1, "category_id": int(cats[j]), "bbox": box,
                         "area": round(box[2] * box[3], 2), "iscrowd": int(crowd[j]), "segmentation": []})
            ann_id += 1
        # 100 detections: up to two near misses per object, then background boxes.
        near = []
        for j in range(n):
            for _ in range(2):
                s = rng.normal(0, 0.08, 4)
                bw, bh = w[j] * (1 + s[2]), h[j] * (1 + s[3])
                c = int(cats[j]) if rng.random() < 0.85 else int(rng.integers(1, CATEGORIES + 1))
                near.append(([x[j] + s[0] * w[j], y[j] + s[1] * h[j], max(bw, 1.0), max(bh, 1.0)], c, rng.beta(5, 2)))
        near = near[:PER_IMAGE]
        rest = PER_IMAGE - len(near)
        bw = np.clip(rng.lognormal(3.4, 1.0, rest), 2, W - 1)
        bh = np.clip(bw * rng.lognormal(0, 0.3, rest), 2, H - 1)
        bx, by = rng.uniform(0, W - bw), rng.uniform(0, H - bh)
        bc = rng.integers(1, CATEGORIES + 1, rest)
        bs = rng.beta(1.5, 6, rest)
        for box, c, s in near:
            dets.append({"image_id": i + 1, "category_id": c, "bbox": [round(float(v), 2) for v in box], "score": round(float(s), 4)})
        for j in range(rest):
            dets.append({"image_id": i + 1, "category_id": int(bc[j]),
                         "bbox": [round(float(bx[j]), 2), round(float(by[j]), 2), round(float(bw[j]), 2), round(float(bh[j]), 2)],
                         "score": round(float(bs[j]), 4)})
    gt = {"info": {"year": 2017, "description": "evalgate benchmark set"}, "images": images, "annotations": anns, "categories": categories}
    (out / "gt.json").write_text(json.dumps(gt, separators=(",", ":")))
    (out / "predictions.json").write_text(json.dumps(dets, separators=(",", ":")))
    print(f"{out}: {len(images)} images, {len(categories)} categories, {len(anns)} boxes, {len(dets)} detections")


if __name__ == "__main__":
    main()
