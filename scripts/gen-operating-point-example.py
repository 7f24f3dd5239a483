#!/usr/bin/env python3
"""Writes examples/evals/operating-point-{baseline,candidate}.json: two saved evals (format 2)
that policies/operating-point.yaml gates, with what it reads at confidence 0.40 on split
`valid`: the confidence sweep, the confusion matrix and the per-image predictions of 300
images, beside the map-results body.

    python3 scripts/gen-operating-point-example.py          (from the repository root)

Deterministic: the same script writes the same bytes. Both evals see the same images and the
same ground truth; each object gets one uniform draw, found by a model whose recall for its
class is above the draw, so the pairing is as it is with two models on one split. The
candidate misses more pedestrians (recall 0.93 → 0.80); every other class is as good as the
baseline's. The sweep's values at 0.40, the matrix and the per-image counts all come from the
same detections, so they agree; the other thresholds of the sweep are illustrative.
"""
import json
import random

CLASSES = ["car", "pedestrian", "cyclist", "truck"]
IMAGES = 300
CONFIDENCE = 40
# Objects per image (a range per class) and each model's chance to find one.
OBJECTS = {"car": (0, 3), "pedestrian": (0, 2), "cyclist": (0, 1), "truck": (0, 1)}
TRUCK_EVERY = 15  # trucks are rare: under min_support 25, so not gated on chance
FOUND = {
    "baseline": {"car": 0.92, "pedestrian": 0.93, "cyclist": 0.86, "truck": 0.80},
    "candidate": {"car": 0.92, "pedestrian": 0.80, "cyclist": 0.86, "truck": 0.80},
}
# Chance of a false positive of each class on an image (predicted from background).
FALSE_POSITIVE = {"car": 0.08, "pedestrian": 0.05, "cyclist": 0.03, "truck": 0.01}


def ground_truth(rng):
    """Per image: a list of (class index, draw) for each object, and FP draws."""
    images = []
    for k in range(IMAGES):
        objects = []
        for c, name in enumerate(CLASSES):
            lo, hi = OBJECTS[name]
            n = rng.randint(lo, hi)
            if name == "truck" and k % TRUCK_EVERY:
                n = 0
            objects += [(c, rng.random()) for _ in range(n)]
        fp = [rng.random() for _ in CLASSES]
        images.append((f"img{k:04d}-{rng.getrandbits(32):08x}", f"frame_{k:04d}.jpg", objects, fp))
    return images


def outcomes(images, model):
    n = len(CLASSES)
    out = []
    for image_id, name, objects, fp in images:
        cells = {}
        for c, draw in objects:
            found = draw < FOUND[model][CLASSES[c]]
            key = (c, c) if found else (c, n)
            cells[key] = cells.get(key, 0) + 1
        for c, draw in enumerate(fp):
            if draw < FALSE_POSITIVE[CLASSES[c]]:
                cells[(n, c)] = cells.get((n, c), 0) + 1
        tp = sum(v for (a, p), v in cells.items() if a == p)
        fn = sum(v for (a, p), v in cells.items() if a < n and a != p)
        fpos = sum(v for (a, p), v in cells.items() if p < n and a != p)
        out.append({
            "imageId": image_id,
            "imageName": name,
            "split": "valid",
            "stats": {
                "truePositives": tp,
                "falsePositives": fpos,
                "falseNegatives": fn,
                "precision": round(tp / (tp + fpos), 4) if tp + fpos else None,
                "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            },
            "confusion": [[a, p, v] for (a, p), v in sorted(cells.items())],
        })
    return out


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def shifted(m, t):
    """Illustrative values away from 0.40: precision rises and recall falls with t."""
    d = t - CONFIDENCE / 100
    p = min(1.0, m["precision"] + 0.3 * d)
    r = min(1.0, max(0.0, m["recall"] - 0.4 * d - 0.5 * d * d))
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def curve(at40, optimal):
    per = {}
    for i in range(0, 100, 5):
        t = i / 100
        per[f"{t:.2f}"] = at40 if i == CONFIDENCE else shifted(at40, t)
    return {"perThreshold": per, "optimalThreshold": optimal,
            "optimalMetrics": per.get(f"{optimal:.2f}", at40)}


def eval_file(model, images, optimal, map5095):
    n = len(CLASSES)
    rows = outcomes(images, model)
    matrix = [[0] * (n + 1) for _ in range(n + 1)]
    for row in rows:
        for a, p, v in row["confusion"]:
            matrix[a][p] += v
    tp = sum(matrix[c][c] for c in range(n))
    fp = sum(matrix[a][p] for a in range(n + 1) for p in range(n) if a != p)
    fn = sum(matrix[a][p] for a in range(n) for p in range(n + 1) if a != p)
    sweep = curve(prf(tp, fp, fn), optimal)
    per_class = {}
    for c, name in enumerate(CLASSES):
        ctp = matrix[c][c]
        cfp = sum(matrix[a][c] for a in range(n + 1)) - ctp
        cfn = sum(matrix[c]) - ctp
        per_class[name] = curve(prf(ctp, cfp, cfn), optimal)
    sweep["perClass"] = per_class
    recall = {name: per_class[name]["perThreshold"]["0.40"]["recall"] for name in CLASSES}
    map_classes = {
        name: {"map50": round(0.5 + 0.45 * recall[name], 4),
               "map50_95": round(0.3 + 0.4 * recall[name], 4),
               "map75": round(0.4 + 0.42 * recall[name], 4)}
        for name in CLASSES
    }
    return {
        "evalgate": {"format": 2, "workspace": "acme", "evalId": f"example-{model}",
                     "project": "street-scenes", "versionId": "3"},
        "confidenceSweep": {"splits": {"valid": sweep}},
        "confusionMatrix": {"valid": [{
            "split": "valid", "confidenceThreshold": CONFIDENCE / 100,
            "classes": CLASSES + ["background"], "matrix": matrix}]},
        "imagePredictions": {"valid": [{
            "split": "valid", "confidenceThreshold": CONFIDENCE / 100,
            "totalImages": len(rows), "offset": 0, "limit": 1000, "images": rows}]},
        "taskType": "object-detection-like",
        "splits": {"valid": {"map50": 0.91, "map50_95": map5095, "map75": 0.8,
                             "perClass": map_classes}},
    }


def write(path, doc):
    # One image per line: small, and a diff shows which image changed.
    text = json.dumps(doc, separators=(",", ":"))
    images = doc["imagePredictions"]["valid"][0]["images"]
    head = json.dumps({k: v for k, v in doc.items() if k != "imagePredictions"}, indent=1)
    pages = ",\n".join(json.dumps(im, separators=(",", ":")) for im in images)
    page = dict(doc["imagePredictions"]["valid"][0])
    page.pop("images")
    meta = json.dumps(page, separators=(",", ":"))[:-1]
    body = (head[:-2] + ',\n "imagePredictions": {"valid": [' + meta + ',"images":[\n'
            + pages + "\n]}]}\n}\n")
    assert json.loads(body) == json.loads(text)
    with open(path, "w") as f:
        f.write(body)


def main():
    images = ground_truth(random.Random(20261201))
    write("examples/evals/operating-point-baseline.json",
          eval_file("baseline", images, 0.40, 0.642))
    write("examples/evals/operating-point-candidate.json",
          eval_file("candidate", images, 0.45, 0.638))


if __name__ == "__main__":
    main()
