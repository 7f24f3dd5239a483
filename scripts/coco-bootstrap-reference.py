#!/usr/bin/env python3
"""The NumPy reference for evalgate's paired mAP bootstrap (src/coco/bootstrap.rs).

Writes a small COCO case, tests/fixtures/coco/bootstrap-{gt,baseline,candidate}.json, and
tests/fixtures/coco/bootstrap-reference.json: the replicates' image weights (drawn here, with
NumPy) and, for every scope and metric, the paired bootstrap of Δ = candidate − baseline.

The matching is pycocotools' own (COCOeval.evaluate, its evalImgs). The accumulation is
pycocotools' accumulate with each image's detections and ground truth counted w times, w the
image's multiplicity in the replicate: cumulative TP/FP of w, recall over Σ w·(non-ignored
ground truth), the precision envelope, searchsorted at recThrs; then summarize's means. At unit
weights it must give pycocotools' summarize numbers, which the script asserts.

The interval is the 2.5th and 97.5th percentiles (np.percentile, linear), the standard error
np.std(ddof=1), p = Φ(Δ/SE) and p_percentile = (#{Δ* ≥ 0} + 1) / (B + 1), replicates where a
scope has no ground truth left out, as evalgate's Estimate documents; a replicate's Δ within
1e-12 of zero (equal mAPs summed in another order) counts as zero, as evalgate counts it.

    pip install numpy scipy pycocotools
    python3 scripts/coco-bootstrap-reference.py
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy.special import ndtr

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "coco"
IMAGES, REPLICATES, SEED = 40, 200, 15
W, H = 320, 240
CLASSES = ["cat", "dog", "heron", "yak"]  # yak has no ground truth
SIZES = ["small", "medium", "large"]
AREAS = ["all"] + SIZES


def dataset(rng):
    images = [{"id": i + 1, "width": W, "height": H, "file_name": f"{i + 1}.jpg"} for i in range(IMAGES)]
    categories = [{"id": k + 1, "name": n} for k, n in enumerate(CLASSES)]
    anns = []
    for img in images:
        for _ in range(rng.integers(0, 5)):
            # heron is rare, so some replicates hold none of it in some size.
            cat = int(rng.choice([1, 2, 3], p=[0.5, 0.42, 0.08]))
            side = float(rng.choice([rng.uniform(8, 30), rng.uniform(34, 90), rng.uniform(100, 200)]))
            w, h = round(side, 2), round(side * rng.uniform(0.6, 1.2), 2)
            x, y = round(rng.uniform(0, W - w), 2), round(rng.uniform(0, max(H - h, 1)), 2)
            anns.append({
                "id": len(anns) + 1, "image_id": img["id"], "category_id": cat,
                "bbox": [x, y, w, h], "area": round(w * h, 4), "iscrowd": 0,
            })
    return {"images": images, "categories": categories, "annotations": anns}


def predictions(rng, gt, jitter, miss, background):
    out = []
    for a in gt["annotations"]:
        if rng.uniform() < miss:
            continue
        x, y, w, h = a["bbox"]
        d = rng.normal(0, jitter, 4) * np.array([w, h, w, h])
        box = [round(float(v), 2) for v in (x + d[0], y + d[1], max(w + d[2], 1), max(h + d[3], 1))]
        out.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": box,
                    "score": round(float(rng.uniform(0.3, 1.0)), 6)})
    for img in gt["images"]:
        for _ in range(rng.poisson(background)):
            w, h = float(rng.uniform(10, 150)), float(rng.uniform(10, 150))
            out.append({"image_id": img["id"], "category_id": int(rng.integers(1, 5)),
                        "bbox": [round(float(rng.uniform(0, W - w)), 2), round(float(rng.uniform(0, H - h)), 2),
                                 round(w, 2), round(h, 2)],
                        "score": round(float(rng.uniform(0.0, 0.7)), 6)})
    return out


def evaluated(gt_path, dt_path):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(dt_path))
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def weighted_precision(ev, weights):
    """pycocotools' accumulate (its code path, maxDets[-1]) with image multiplicities."""
    p = ev.params
    T, R, K, A, I = len(p.iouThrs), len(p.recThrs), len(p.catIds), len(p.areaRng), len(p.imgIds)
    max_det = p.maxDets[-1]
    precision = -np.ones((T, R, K, A))
    img_pos = {img: i for i, img in enumerate(p.imgIds)}
    for k in range(K):
        for a in range(A):
            E = [ev.evalImgs[k * A * I + a * I + i] for i in range(I)]
            E = [e for e in E if e is not None]
            if not E:
                continue
            w_img = [weights[img_pos[e["image_id"]]] for e in E]
            scores = np.concatenate([e["dtScores"][0:max_det] for e in E])
            w_det = np.concatenate([np.full(len(e["dtScores"][0:max_det]), w) for e, w in zip(E, w_img)])
            inds = np.argsort(-scores, kind="mergesort")
            dtm = np.concatenate([e["dtMatches"][:, 0:max_det] for e in E], axis=1)[:, inds]
            dt_ig = np.concatenate([e["dtIgnore"][:, 0:max_det] for e in E], axis=1)[:, inds]
            w_det = w_det[inds]
            npig = sum(w * int(np.count_nonzero(e["gtIgnore"] == 0)) for e, w in zip(E, w_img))
            if npig == 0:
                continue
            tps = np.logical_and(dtm, np.logical_not(dt_ig)) * w_det
            fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig)) * w_det
            tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
            fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
            for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                nd = len(tp)
                rc = tp / npig
                pr = tp / (fp + tp + np.spacing(1))
                q = np.zeros((R,))
                pr = pr.tolist()
                q = q.tolist()
                for i in range(nd - 1, 0, -1):
                    if pr[i] > pr[i - 1]:
                        pr[i - 1] = pr[i]
                found = np.searchsorted(rc, p.recThrs, side="left")
                for ri, pi in enumerate(found):
                    if pi < nd:
                        q[ri] = pr[pi]
                precision[t, :, k, a] = np.array(q)
    return precision


def summaries(ev, precision):
    """summarize's means for every scope: {key: value or None}."""
    p = ev.params
    t50 = int(np.where(p.iouThrs == 0.5)[0][0])
    t75 = int(np.where(p.iouThrs == 0.75)[0][0])
    metrics = {"map50": [t50], "map50_95": list(range(len(p.iouThrs))), "map75": [t75]}
    out = {}
    for scope, ks in [("", list(range(len(p.catIds))))] + [(n, [k]) for k, n in enumerate(CLASSES)]:
        for size in [""] + SIZES:
            a = AREAS.index(size or "all")
            for name, ts in metrics.items():
                s = precision[ts][:, :, ks, a]
                v = s[s > -1]
                out[f"{scope}|{size}|{name}"] = float(np.mean(v)) if v.size else None
    return out


def estimate(b, c, deltas):
    d = np.array([x for x in deltas if x is not None])
    delta = c - b
    if len(d) < 2:
        return {"untestable": "too few replicates"}
    se = float(np.std(d, ddof=1))
    if se > 0:
        p_value = float(ndtr(delta / se))
    elif delta >= 0:
        p_value = 1.0
    else:
        return {"untestable": "no spread"}
    lo, hi = np.percentile(d, [2.5, 97.5])
    return {
        "baseline": b, "candidate": c, "delta": delta,
        "ci_low": float(lo), "ci_high": float(hi), "std_error": se, "p_value": p_value,
        "p_percentile": float((np.sum(d >= 0) + 1) / (len(d) + 1)), "resamples": int(len(d)),
    }


def main():
    rng = np.random.default_rng(SEED)
    gt = dataset(rng)
    files = {
        "gt": gt,
        "baseline": predictions(rng, gt, jitter=0.08, miss=0.15, background=1.5),
        "candidate": predictions(rng, gt, jitter=0.11, miss=0.2, background=1.8),
    }
    paths = {}
    for name, doc in files.items():
        paths[name] = ROOT / f"bootstrap-{name}.json"
        paths[name].write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
    evs = {side: evaluated(paths["gt"], paths[side]) for side in ("baseline", "candidate")}

    ones = np.ones(IMAGES, dtype=np.int64)
    observed = {}
    for side, ev in evs.items():
        observed[side] = summaries(ev, weighted_precision(ev, ones))
        # At unit weights this is pycocotools' own accumulate: its summarize numbers.
        own = summaries(ev, ev.eval["precision"][:, :, :, :, -1])
        for key, v in own.items():
            assert (v is None) == (observed[side][key] is None) and (v is None or abs(v - observed[side][key]) < 1e-15), key

    wrng = np.random.default_rng(SEED + 1)
    weights = [wrng.multinomial(IMAGES, np.ones(IMAGES) / IMAGES).tolist() for _ in range(REPLICATES)]
    deltas = {key: [] for key in observed["baseline"]}
    for w in weights:
        wv = np.array(w, dtype=np.int64)
        b = summaries(evs["baseline"], weighted_precision(evs["baseline"], wv))
        c = summaries(evs["candidate"], weighted_precision(evs["candidate"], wv))
        for key in deltas:
            if b[key] is None or c[key] is None:
                deltas[key].append(None)
            else:
                # Equal mAPs summed in another order differ in the last bits: no difference.
                d = c[key] - b[key]
                deltas[key].append(0.0 if abs(d) <= 1e-12 else d)

    estimates = {}
    for key, ds in deltas.items():
        b, c = observed["baseline"][key], observed["candidate"][key]
        estimates[key] = {"untestable": "undefined"} if b is None or c is None else estimate(b, c, ds)
    doc = {
        "source": "scripts/coco-bootstrap-reference.py (pycocotools matching, NumPy weighted accumulate)",
        "images": IMAGES,
        "weights": weights,
        "estimates": estimates,
    }
    (ROOT / "bootstrap-reference.json").write_text(json.dumps(doc, indent=1) + "\n")
    testable = sum("delta" in e for e in estimates.values())
    print(f"{len(estimates)} quantities, {testable} testable, {REPLICATES} replicates")


if __name__ == "__main__":
    main()
