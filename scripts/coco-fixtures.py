#!/usr/bin/env python3
"""Writes the small COCO cases under tests/fixtures/coco/ (ground truth and predictions).

Deterministic: the same script writes the same bytes. Each case is built to be awkward for a
COCO evaluator in one way; scripts/coco-reference.py then runs pycocotools on every case and
writes the numbers evalgate must reproduce.

    pip install pycocotools numpy
    python3 scripts/coco-fixtures.py && python3 scripts/coco-reference.py
"""

import json
import random
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "coco"
W, H = 320, 240


def rect_poly(x, y, w, h):
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def gt_ann(i, img, cat, box, crowd=0, seg=None, area=None):
    x, y, w, h = box
    return {
        "id": i,
        "image_id": img,
        "category_id": cat,
        "bbox": [x, y, w, h],
        "area": area if area is not None else w * h,
        "iscrowd": crowd,
        "segmentation": seg if seg is not None else [rect_poly(x, y, w, h)],
    }


def images(n, start=1):
    return [{"id": i, "file_name": f"{i}.jpg", "width": W, "height": H} for i in range(start, start + n)]


def cats(names, start=1):
    return [{"id": start + k, "name": n, "supercategory": "thing"} for k, n in enumerate(names)]


def jitter(rng, box, amount):
    x, y, w, h = box
    dx, dy = rng.uniform(-amount, amount), rng.uniform(-amount, amount)
    dw, dh = rng.uniform(-amount, amount), rng.uniform(-amount, amount)
    return [round(x + dx, 2), round(y + dy, 2), round(max(1.0, w + dw), 2), round(max(1.0, h + dh), 2)]


def random_box(rng, lo=8, hi=120):
    w, h = rng.randint(lo, hi), rng.randint(lo, hi)
    return [rng.randint(0, W - w), rng.randint(0, H - h), w, h]


def det(img, cat, box, score):
    return {"image_id": img, "category_id": cat, "bbox": box, "score": score}


def write(case, gt, files):
    d = ROOT / case
    d.mkdir(parents=True, exist_ok=True)
    (d / "gt.json").write_text(json.dumps(gt, indent=None, separators=(",", ":")) + "\n")
    for name, preds in files.items():
        (d / name).write_text(json.dumps(preds, separators=(",", ":")) + "\n")


def scene(rng, n_images, names, per_image=(1, 5), start=1):
    """Ground truth of random boxes, and near-miss, shifted and spurious detections."""
    anns, preds, i = [], [], 1
    for img in range(start, start + n_images):
        for _ in range(rng.randint(*per_image)):
            cat = rng.randint(1, len(names))
            box = random_box(rng)
            anns.append(gt_ann(i, img, cat, box))
            i += 1
            if rng.random() < 0.85:
                preds.append(det(img, cat, jitter(rng, box, rng.choice([1, 4, 12])), round(rng.random(), 3)))
            if rng.random() < 0.3:
                other = rng.randint(1, len(names))
                preds.append(det(img, other, jitter(rng, box, 6), round(rng.random() * 0.6, 3)))
        for _ in range(rng.randint(0, 2)):
            preds.append(det(img, rng.randint(1, len(names)), random_box(rng), round(rng.random() * 0.5, 3)))
    return anns, preds


def ties():
    rng = random.Random(1)
    names = ["car", "person", "sign"]
    anns, preds = scene(rng, 12, names)
    # Scores from a coarse grid: many ties within an image and category, and across images.
    for p in preds:
        p["score"] = rng.choice([0.9, 0.5, 0.5, 0.3])
    gt = {"images": images(12), "annotations": anns, "categories": cats(names)}
    write("ties", gt, {"predictions.json": preds, "predictions-reversed.json": preds[::-1]})


def crowd():
    rng = random.Random(2)
    names = ["person", "bike"]
    anns, preds = scene(rng, 8, names)
    i = len(anns) + 1
    for img in range(1, 9):
        box = random_box(rng, 60, 150)
        x, y, w, h = box
        # Crowd regions as uncompressed RLE, the way COCO writes them.
        m = np.zeros((H, W), dtype=np.uint8, order="F")
        m[y : y + h, x : x + w] = 1
        rle = mask_utils.encode(m)
        counts = rle_counts(m)
        anns.append(gt_ann(i, img, 1, box, crowd=1, seg={"size": [H, W], "counts": counts}, area=int(mask_utils.area(rle))))
        i += 1
        # Several detections inside the crowd: none is a false positive.
        for k in range(3):
            sub = [x + k * w // 4, y + h // 4, max(4, w // 4), max(4, h // 2)]
            preds.append(det(img, 1, sub, round(0.4 + 0.1 * k, 2)))
    # `ignore: 1` without `iscrowd` counts as a normal object (pycocotools overwrites it).
    anns[0]["ignore"] = 1
    gt = {"images": images(8), "annotations": anns, "categories": cats(names)}
    write("crowd", gt, {"predictions.json": preds})


def rle_counts(m):
    """Uncompressed RLE counts of a mask, column-major as COCO stores them."""
    flat = m.flatten(order="F")
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return [int(c) for c in counts]


def empty():
    rng = random.Random(3)
    names = ["a", "b"]
    anns, preds = scene(rng, 10, names)
    # Images 11-13 have no ground truth; 11 and 12 have detections (all false positives).
    preds += [det(11, 1, random_box(rng), 0.8), det(12, 2, random_box(rng), 0.7), det(12, 1, random_box(rng), 0.2)]
    # Images 3 and 7 keep their ground truth but lose every detection.
    preds = [p for p in preds if p["image_id"] not in (3, 7)]
    gt = {"images": images(13), "annotations": anns, "categories": cats(names)}
    write("empty", gt, {"predictions.json": preds, "predictions-none.json": []})


def absent_category():
    rng = random.Random(4)
    names = ["cat", "dog", "bird", "fish"]
    anns, preds = scene(rng, 10, names[:2])
    # Detections of bird (never in the ground truth) and of dog on images without dogs.
    for img in range(1, 11):
        preds.append(det(img, 3, random_box(rng), round(rng.random(), 3)))
        if not any(a["image_id"] == img and a["category_id"] == 2 for a in anns):
            preds.append(det(img, 2, random_box(rng), round(rng.random(), 3)))
    # fish has neither ground truth nor detections.
    gt = {"images": images(10), "annotations": anns, "categories": cats(names)}
    write("absent-category", gt, {"predictions.json": preds})


def many():
    rng = random.Random(5)
    names = ["dot", "blob"]
    anns, preds, i = [], [], 1
    for img in range(1, 4):
        for _ in range(40):
            box = random_box(rng, 6, 40)
            cat = rng.randint(1, 2)
            anns.append(gt_ann(i, img, cat, box))
            i += 1
            # Three detections per object, so an image-category holds well over 100.
            for k in range(3):
                preds.append(det(img, cat, jitter(rng, box, 2 + 4 * k), round(rng.random(), 4)))
        for _ in range(60):
            preds.append(det(img, 1, random_box(rng, 6, 40), round(rng.random(), 4)))
    gt = {"images": images(3), "annotations": anns, "categories": cats(names)}
    write("many", gt, {"predictions.json": preds})


def borders():
    # Areas exactly at 32² and 96², where pycocotools' ranges overlap (inclusive at both ends).
    names = ["sq"]
    anns, preds, i = [], [], 1
    sides = [31, 32, 33, 95, 96, 97]
    for img, side in enumerate(sides, start=1):
        anns.append(gt_ann(i, img, 1, [10, 10, side, side]))
        i += 1
        anns.append(gt_ann(i, img, 1, [150, 100, 64, 16], area=float(side * side)))
        i += 1
        preds.append(det(img, 1, [10, 10, side, side], 0.9))
        preds.append(det(img, 1, [151, 100, 64, 16], 0.8))
        # A false positive whose own w*h sits on the border.
        preds.append(det(img, 1, [200, 10, 32, 32] if side < 90 else [200, 10, 96, 96], 0.95))
    # A zero-area detection: w*h = 0 is in "small" ([0, 32²]).
    preds.append(det(1, 1, [5, 5, 0, 10], 0.99))
    gt = {"images": images(len(sides)), "annotations": anns, "categories": cats(names)}
    write("borders", gt, {"predictions.json": preds})


def masks():
    rng = random.Random(6)
    names = ["blob", "ring"]
    anns, boxed, rles = [], [], []
    i = 1
    for img in range(1, 7):
        for _ in range(3):
            cat = rng.randint(1, 2)
            cx, cy, r = rng.randint(50, W - 50), rng.randint(50, H - 50), rng.randint(12, 45)
            k = rng.randint(5, 9)
            poly = []
            for j in range(k):
                a = 2 * np.pi * j / k
                rr = r * rng.uniform(0.6, 1.0)
                poly += [round(cx + rr * np.cos(a), 2), round(cy + rr * np.sin(a), 2)]
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], H, W))
            box = [float(v) for v in mask_utils.toBbox(rle)]
            area = float(mask_utils.area(rle))
            if i % 3 == 0:
                # Ground truth as a compressed RLE.
                seg = {"size": [H, W], "counts": rle["counts"].decode()}
            elif i % 5 == 0:
                # Two polygons for one object.
                seg = [poly, rect_poly(cx - 4, cy - 4, 6, 6)]
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, H, W))
                area = float(mask_utils.area(rle))
                box = [float(v) for v in mask_utils.toBbox(rle)]
            else:
                seg = [poly]
            anns.append({"id": i, "image_id": img, "category_id": cat, "bbox": box, "area": area, "iscrowd": 0, "segmentation": seg})
            i += 1
            # A prediction: the mask moved a little, as an RLE; with a box (Detectron2 writes
            # both) and without (then the box and area come from the mask).
            dx, dy = rng.randint(-6, 6), rng.randint(-6, 6)
            moved = [v + (dx if j % 2 == 0 else dy) for j, v in enumerate(poly)]
            prle = mask_utils.merge(mask_utils.frPyObjects([moved], H, W))
            score = round(rng.random(), 3)
            pseg = {"size": [H, W], "counts": prle["counts"].decode()}
            pbox = [round(float(v), 2) for v in mask_utils.toBbox(prle)]
            boxed.append({"image_id": img, "category_id": cat, "bbox": pbox, "segmentation": pseg, "score": score})
            rles.append({"image_id": img, "category_id": cat, "segmentation": pseg, "score": score})
        # A spurious mask.
        fp = mask_utils.merge(mask_utils.frPyObjects([rect_poly(5, 5, 30, 20)], H, W))
        seg = {"size": [H, W], "counts": fp["counts"].decode()}
        boxed.append({"image_id": img, "category_id": 1, "bbox": [5.0, 5.0, 30.0, 20.0], "segmentation": seg, "score": 0.05})
        rles.append({"image_id": img, "category_id": 1, "segmentation": seg, "score": 0.05})
    gt = {"images": images(6), "annotations": anns, "categories": cats(names)}
    write("masks", gt, {"predictions.json": boxed, "predictions-rle.json": rles})


def roboflow():
    rng = random.Random(7)
    # Roboflow's export: info.year as a string, a parent category 0 with no annotations,
    # ids from 0, "segmentation": [] on box datasets, extra keys.
    names = ["cars-parent", "car", "truck"]
    anns, preds, i = [], [], 0
    imgs = []
    for img in range(0, 8):
        imgs.append({"id": img, "license": 1, "file_name": f"img{img}_jpg.rf.abc.jpg", "height": H, "width": W, "date_captured": "2024-05-01T10:00:00+00:00", "extra": {"name": f"img{img}.jpg"}})
        for _ in range(rng.randint(1, 4)):
            cat = rng.randint(1, 2)
            box = random_box(rng)
            a = gt_ann(i, img, cat, box)
            a["segmentation"] = []
            anns.append(a)
            i += 1
            # The object with id 0 is always found: pycocotools cannot count that match.
            if a["id"] == 0 or rng.random() < 0.8:
                preds.append(det(img, cat, jitter(rng, box, rng.choice([2, 8])), round(rng.random(), 3)))
        preds.append(det(img, rng.randint(1, 2), random_box(rng), round(rng.random() * 0.4, 3)))
    gt = {
        "info": {"year": "2024", "version": "3", "description": "Exported from roboflow.com", "contributor": "", "url": "https://public.roboflow.com/object-detection/undefined", "date_created": "2024-05-01T10:00:00+00:00"},
        "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}],
        "categories": [{"id": 0, "name": names[0], "supercategory": "none"}] + [{"id": k, "name": n, "supercategory": names[0]} for k, n in enumerate(names[1:], start=1)],
        "images": imgs,
        "annotations": anns,
    }
    write("roboflow", gt, {"predictions.json": preds})


def example():
    """examples/coco/: a small test split and two models' predictions on it. The candidate
    finds trucks worse than the baseline does (it drops a third of its truck detections)."""
    rng = random.Random(8)
    names = ["car", "truck", "person"]
    anns, base, i = [], [], 1
    for img in range(1, 21):
        for _ in range(rng.randint(2, 5)):
            cat = rng.randint(1, 3)
            box = random_box(rng, 10, 140)
            anns.append(gt_ann(i, img, cat, box))
            i += 1
            if rng.random() < 0.9:
                base.append(det(img, cat, jitter(rng, box, rng.choice([1, 3, 8])), round(rng.uniform(0.3, 1.0), 3)))
        base.append(det(img, rng.randint(1, 3), random_box(rng), round(rng.random() * 0.4, 3)))
    cand = []
    for p in base:
        if p["category_id"] == 2 and rng.random() < 0.35:
            continue
        q = dict(p)
        # Elsewhere a little more confident, and the boxes a little tighter.
        q["score"] = round(min(1.0, p["score"] * 1.05), 3)
        cand.append(q)
    d = ROOT.parent.parent.parent / "examples" / "coco"
    d.mkdir(parents=True, exist_ok=True)
    gt = {"info": {"year": "2024", "description": "evalgate example"}, "images": images(20), "annotations": anns, "categories": cats(names)}
    (d / "gt.json").write_text(json.dumps(gt, separators=(",", ":")) + "\n")
    (d / "baseline-predictions.json").write_text(json.dumps(base, separators=(",", ":")) + "\n")
    (d / "candidate-predictions.json").write_text(json.dumps(cand, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    for make in (ties, crowd, empty, absent_category, many, borders, masks, roboflow, example):
        make()
