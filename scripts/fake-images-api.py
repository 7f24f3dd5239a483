#!/usr/bin/env python3
"""scripts/fake-api.py with image-predictions too, for the per-image fetch benchmark.

    scripts/fake-images-api.py --images 5000 --port 8767 --delay-ms 200 --eval base=base.json --eval cand=cand.json

Serves everything fake-api.py serves, and image-predictions?split=S&confidence=N&limit=L&offset=K
over --images images per split in the documented shape: `limit` 200 by default and at most
1000, `totalImages`, ids the same for every eval, one ground-truth object per image whose
`confusion` triples index the classes of the split's confusion matrix (the values are
synthetic). Each request after the given delay; loopback only.
"""
import argparse
import importlib.util
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("fake_api", os.path.join(here, "fake-api.py"))
fake_api = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_api)


def image_page(classes, split, confidence, limit, offset, total, skill):
    n = len(classes)
    miss = 0.1 + 0.2 * confidence / 100 - skill
    images = []
    for k in range(offset, min(total, offset + limit)):
        c = k % max(n, 1)
        found = (k * 7919 % 100) / 100 >= miss
        confusion = [[c, c, 1] if found else [c, n, 1]]
        fp = k % 10 == 0
        if fp:
            confusion.append([n, c, 1])
        images.append({"imageId": f"img-{k:06d}", "imageName": f"img-{k:06d}.jpg", "split": split,
                       "augmentations": 0, "cluster": {"id": k % 7, "embedding2D": [0.5, -1.5]},
                       "stats": {"truePositives": int(found), "falsePositives": int(fp),
                                 "falseNegatives": int(not found)},
                       "confusion": confusion})
    return {"split": split, "confidenceThreshold": confidence / 100, "totalImages": total,
            "offset": offset, "limit": limit, "images": images}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8767)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--eval", action="append", default=[], metavar="ID=FILE")
    args = ap.parse_args()
    bodies, docs = fake_api.read_evals(args.eval)
    names = {eval_id: fake_api.class_names(doc) for eval_id, doc in docs.items()}
    panels = fake_api.panel_route(docs)
    cache = {}

    def images(eval_id, query):
        split = query.get("split", ["all"])[0]
        confidence = query.get("confidence", ["20"])[0]
        if not confidence.isdigit() or int(confidence) > 100:
            return 400, b'{"error": "invalid_confidence", "message": "out of range"}'
        limit = max(1, min(1000, int(query.get("limit", ["200"])[0])))
        offset = int(query.get("offset", ["0"])[0])
        key = (eval_id, split, confidence, limit, offset)
        if key not in cache:
            skill = 0.0 if eval_id == sorted(bodies)[0] else -0.03
            page = image_page(names[eval_id].get(split, []), split, int(confidence), limit, offset,
                              args.images, skill)
            cache[key] = (200, json.dumps(page).encode())
        return cache[key]

    def route(eval_id, rest, query):
        if rest == ["image-predictions"]:
            return images(eval_id, query)
        return panels(eval_id, rest, query)

    fake_api.serve(args.port, args.delay_ms, bodies, route)


if __name__ == "__main__":
    sys.exit(main())
