"""The same evaluation with pycocotools (or faster-coco-eval with --faster), for
scripts/bench-coco.sh: load, loadRes, evaluate, accumulate, summarize.

With --write-eval FILE, also writes every scope's AP in the shape `evalgate eval` writes (the
split under "test"), through scripts/coco-reference.py's own summary, so the two can be
compared number by number (outside the timed runs)."""

import importlib.util
import json
import sys
from pathlib import Path


def main():
    args = sys.argv[1:]
    faster = "--faster" in args
    args = [a for a in args if a != "--faster"]
    out = None
    if "--write-eval" in args:
        i = args.index("--write-eval")
        out = args[i + 1]
        del args[i : i + 2]
    gt_path, dt_path = args[0], args[1]
    iou = args[2] if len(args) > 2 else "bbox"
    if faster:
        from faster_coco_eval import COCO, COCOeval_faster as COCOeval
    else:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    gt = COCO(gt_path)
    dt = gt.loadRes(dt_path)
    ev = COCOeval(gt, dt, iou)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    if out:
        path = Path(__file__).resolve().parents[2] / "scripts" / "coco-reference.py"
        spec = importlib.util.spec_from_file_location("coco_reference", path)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        names = {c["id"]: c["name"] for c in gt.dataset["categories"]}
        doc = {"taskType": "object-detection-like", "splits": {"test": ref.split_json(ev, names)}}
        Path(out).write_text(json.dumps(doc))


if __name__ == "__main__":
    main()
