#!/usr/bin/env python3
"""Precision, recall and F1 at a confidence from pycocotools' own matching, for every case under
tests/fixtures/coco/, as operating.json there.

For each case (gt.json and its predictions*.json) and IoU type, runs pycocotools' COCOeval
(evaluate) and reads its per-image records, `evalImgs`, at area range "all", maxDet 100 and IoU
index 0 (0.5): a detection is a true positive when matched and not ignored, a false positive
when unmatched and not ignored, and neither when ignored (matched to a crowd region); a
ground truth counts when not ignored. A detection counts at confidence c when its score >= c.
Written, per split (all classes pooled) and per class:
- `support`: each class's counted ground truth;
- `grid`: TP, FP and FN at every percent 0.00 to 0.99 (c = percent / 100);
- `at`: TP/FP/FN and precision, recall, F1 at a few confidences, one of them (0.3) a score
  that several detections share in the `ties` case;
- `optimal`: the F1-optimal threshold over that grid (the lowest percent reaching the highest
  F1, F1s compared as exact fractions) and the values there;
- `images`: per image (ground-truth order) TP/FP/FN at 0.5, of the split and per class.
The same for examples/coco (both models' predictions), as tests/fixtures/coco/example-operating.json,
for the end-to-end tests of `evalgate check` on `coco:` sources.
A ratio whose denominator is 0 is null: precision without detections, recall without ground
truth, F1 without either. `cargo test` never runs this script.

    pip install pycocotools numpy   # written with pycocotools 2.0.11
    python3 scripts/coco-operating-reference.py
    python3 scripts/coco-operating-reference.py GT.json PREDICTIONS.json   # print the split's
                                                # values at 0.0, 0.5, 0.9 (bbox) for any set

Inputs are adapted as scripts/coco-reference.py adapts them (an empty results list; ground-truth
ids shifted by one when one is 0, so that pycocotools can match that object).
"""

import copy
import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path

from importlib.metadata import version

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("coco_reference", HERE / "coco-reference.py")
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

CONFIDENCES = [0.0, 0.25, 0.3, 0.5, 0.9]
IMAGE_CONFIDENCE = 0.5
GRID = [p / 100 for p in range(100)]


def ratio(num, den):
    return None if den == 0 else num / den


def prf(tp, fp, fn):
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }


def matching(ev):
    """(detections, ground truth): [(score, image, category, tp)], {(image, category): n}."""
    p = ev.params
    assert abs(p.iouThrs[0] - 0.5) < 1e-12 and p.maxDets[-1] == 100
    dets, gts = [], {}
    for e in ev.evalImgs:
        if e is None or e["aRng"] != p.areaRng[p.areaRngLbl.index("all")] or e["maxDet"] != 100:
            continue
        n = int(sum(1 for g in e["gtIgnore"] if not g))
        if n:
            gts[(e["image_id"], e["category_id"])] = n
        for d, score in enumerate(e["dtScores"]):
            if e["dtIgnore"][0][d]:
                continue
            dets.append((float(score), e["image_id"], e["category_id"], bool(e["dtMatches"][0][d] != 0)))
    return dets, gts


def counts(dets, gts, c, keep=lambda image, cat: True):
    tp = sum(1 for s, i, k, m in dets if s >= c and m and keep(i, k))
    fp = sum(1 for s, i, k, m in dets if s >= c and not m and keep(i, k))
    n = sum(v for (i, k), v in gts.items() if keep(i, k))
    return tp, fp, n - tp


def optimal(grid):
    best = None
    for pct, (tp, fp, fn) in enumerate(grid):
        den = 2 * tp + fp + fn
        if den == 0:
            continue
        f1 = Fraction(2 * tp, den)
        if best is None or f1 > best[0]:
            best = (f1, pct)
    if best is None:
        return None
    pct = best[1]
    return {"threshold": pct / 100, **prf(*grid[pct])}


def scope(dets, gts, keep):
    grid = [counts(dets, gts, c, keep) for c in GRID]
    return {
        "grid": {name: [g[i] for g in grid] for i, name in enumerate(["tp", "fp", "fn"])},
        "at": {f"{c}": prf(*counts(dets, gts, c, keep)) for c in CONFIDENCES},
        "optimal": optimal(grid),
    }


def operating(ev, dataset):
    dets, gts = matching(ev)
    cats = sorted(ev.params.catIds)
    names = {c["id"]: c["name"] for c in dataset["categories"]}
    out = {
        "classes": [names[k] for k in cats],
        "support": {names[k]: sum(v for (i, kk), v in gts.items() if kk == k) for k in cats},
        "split": scope(dets, gts, lambda i, k: True),
        "perClass": {names[k]: scope(dets, gts, lambda i, kk, k=k: kk == k) for k in cats},
    }
    images = []
    for im in dataset["images"]:
        row = {"id": im["id"], "file_name": im.get("file_name", "")}
        tp, fp, fn = counts(dets, gts, IMAGE_CONFIDENCE, lambda i, k, im=im["id"]: i == im)
        row.update(tp=tp, fp=fp, fn=fn)
        row["perClass"] = {}
        for k in cats:
            c = counts(dets, gts, IMAGE_CONFIDENCE, lambda i, kk, im=im["id"], k=k: i == im and kk == k)
            if any(c):
                row["perClass"][names[k]] = list(c)
        images.append(row)
    out["images"] = images
    return out


def write(path, expected):
    doc = {
        "pycocotools": version("pycocotools"),
        "confidences": CONFIDENCES,
        "image_confidence": IMAGE_CONFIDENCE,
        "expected": expected,
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def run(dataset, results, iou):
    shifted = copy.deepcopy(dataset)
    if any(a["id"] == 0 for a in dataset["annotations"]):
        for a in shifted["annotations"]:
            a["id"] += 1
    gt = ref.load_gt(shifted)
    dt = ref.load_res(gt, results)
    ev = ref.COCOeval(gt, dt, iou)
    ref.quiet(ev.evaluate)
    return operating(ev, dataset)


def main():
    example = HERE.parent / "examples" / "coco"
    dataset = json.loads((example / "gt.json").read_text())
    expected = {}
    for side in ["baseline", "candidate"]:
        name = f"{side}-predictions.json"
        expected[name] = {"bbox": run(dataset, json.loads((example / name).read_text()), "bbox")}
    write(ref.ROOT / "example-operating.json", expected)
    for case in sorted(d for d in ref.ROOT.iterdir() if d.is_dir()):
        dataset = json.loads((case / "gt.json").read_text())
        expected = {}
        for preds in sorted(case.glob("predictions*.json")):
            results = json.loads(preds.read_text())
            expected[preds.name] = {iou: run(dataset, results, iou) for iou in ref.iou_types(dataset)}
        write(case / "operating.json", expected)
        print(f"{case.name}: {', '.join(f'{k} {sorted(v)}' for k, v in expected.items())}", file=sys.stderr)


def one(gt_path, preds_path):
    dataset = json.loads(Path(gt_path).read_text())
    shifted = copy.deepcopy(dataset)
    if any(a["id"] == 0 for a in dataset["annotations"]):
        for a in shifted["annotations"]:
            a["id"] += 1
    gt = ref.load_gt(shifted)
    ev = ref.COCOeval(gt, ref.load_res(gt, json.loads(Path(preds_path).read_text())), "bbox")
    ref.quiet(ev.evaluate)
    dets, gts = matching(ev)
    for c in [0.0, 0.5, 0.9]:
        print(c, json.dumps(prf(*counts(dets, gts, c))))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        one(sys.argv[1], sys.argv[2])
    else:
        main()
