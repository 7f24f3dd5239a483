"""The same evaluation with pycocotools (or faster-coco-eval with --faster), for
scripts/bench-coco.sh: load, loadRes, evaluate, accumulate, summarize."""

import sys


def main():
    args = sys.argv[1:]
    faster = "--faster" in args
    args = [a for a in args if a != "--faster"]
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


if __name__ == "__main__":
    main()
