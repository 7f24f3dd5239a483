#!/usr/bin/env python3
"""pycocotools' numbers for every case under tests/fixtures/coco/, as expected.json there.

For each case directory (gt.json and one or more predictions*.json) and each IoU type the
case supports, runs pycocotools' COCOeval (evaluate, accumulate, summarize) and writes, in the
map-results shape `evalgate eval` writes, the AP of the split, of each object size, of each
class and of each class x size: the mean of the precision entries > -1 over the slice, as
pycocotools' summarize takes it, and null where there is none. The tests compare every number
evalgate writes with these, within 1e-9. `cargo test` never runs this script.

    pip install pycocotools numpy   # written with pycocotools 2.0.11
    python3 scripts/coco-reference.py

Two inputs pycocotools cannot take as they are, adapted here, and said so in docs/coco.md:
- An empty results list: loadRes reads its first record to decide the kind, so the results
  set is built the way loadRes builds it, with no annotations.
- A ground-truth annotation whose id is 0 (Roboflow numbers from 0): pycocotools stores the
  matched ground-truth id per detection and reads 0 as "unmatched", so that object can never
  be found and the detection that hits it counts as a false positive. evalgate, as hotcoco,
  matches it like any other; the reference shifts the ids by one, which changes nothing else,
  and prints what pycocotools gives as is.
"""

import contextlib
import copy
import io
import json
import sys
from pathlib import Path

import numpy as np
from importlib.metadata import version
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "coco"
SIZES = ["small", "medium", "large"]


def quiet(f, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*args)


def load_gt(dataset):
    gt = COCO()
    gt.dataset = copy.deepcopy(dataset)
    quiet(gt.createIndex)
    return gt


def load_res(gt, results):
    if results:
        return quiet(gt.loadRes, copy.deepcopy(results))
    res = COCO()
    res.dataset["images"] = list(gt.dataset["images"])
    res.dataset["categories"] = copy.deepcopy(gt.dataset["categories"])
    res.dataset["annotations"] = []
    quiet(res.createIndex)
    return res


def evaluate(dataset, results, iou_type):
    gt = load_gt(dataset)
    dt = load_res(gt, results)
    ev = COCOeval(gt, dt, iou_type)
    quiet(ev.evaluate)
    quiet(ev.accumulate)
    quiet(ev.summarize)
    return ev


def split_json(ev, names):
    p = ev.params
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    m = p.maxDets.index(100)
    t50 = int(np.where(np.isclose(p.iouThrs, 0.5))[0][0])
    t75 = int(np.where(np.isclose(p.iouThrs, 0.75))[0][0])
    area = {label: i for i, label in enumerate(p.areaRngLbl)}

    def mean(s):
        s = s[s > -1]
        return None if s.size == 0 else float(np.mean(s))

    def metrics(ks, a):
        s = prec[:, :, ks, a, m]
        return {"map50": mean(s[t50]), "map50_95": mean(s), "map75": mean(s[t75])}

    def scope(ks):
        out = metrics(ks, area["all"])
        out["byObjectSize"] = {size: metrics(ks, area[size]) for size in SIZES}
        return out

    out = scope(list(range(len(p.catIds))))
    # summarize's own numbers, to be sure the slices above are pycocotools'.
    stats = [out["map50_95"], out["map50"], out["map75"]] + [out["byObjectSize"][s]["map50_95"] for s in SIZES]
    for mine, theirs in zip(stats, ev.stats[:6]):
        assert (mine is None and theirs == -1) or abs(mine - theirs) < 1e-15, (mine, theirs)
    out["perClass"] = {names[c]: scope([k]) for k, c in enumerate(p.catIds)}
    return out


def iou_types(dataset):
    segms = [a.get("segmentation") for a in dataset["annotations"]]
    if any(s is None or s == [] for s in segms):
        return ["bbox"]
    return ["bbox", "segm"]


def main():
    for case in sorted(d for d in ROOT.iterdir() if d.is_dir()):
        dataset = json.loads((case / "gt.json").read_text())
        names = {c["id"]: c["name"] for c in dataset["categories"]}
        shifted = copy.deepcopy(dataset)
        if any(a["id"] == 0 for a in dataset["annotations"]):
            for a in shifted["annotations"]:
                a["id"] += 1
        expected = {}
        for preds in sorted(case.glob("predictions*.json")):
            results = json.loads(preds.read_text())
            expected[preds.name] = {}
            for iou in iou_types(dataset):
                expected[preds.name][iou] = split_json(evaluate(shifted, results, iou), names)
                if shifted != dataset:
                    as_is = float(evaluate(dataset, results, iou).stats[0])
                    print(f"{case.name}/{preds.name} {iou}: map50_95 {expected[preds.name][iou]['map50_95']!r} with ids shifted, {as_is!r} as is (id 0)")
        doc = {"pycocotools": version("pycocotools"), "expected": expected}
        (case / "expected.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"{case.name}: {', '.join(f'{k} {sorted(v)}' for k, v in expected.items())}", file=sys.stderr)


if __name__ == "__main__":
    main()
