#!/usr/bin/env python3
"""Writes deterministic synthetic map-results evals, for benchmarks and scale tests.

    scripts/gen-evals.py --classes 10000 --splits train,valid,test --seed 1 -o base.json
    scripts/gen-evals.py --classes 10000 --seed 1 --degrade 0.02 -o cand.json

The same seed gives the same class names and values; --degrade lowers every value by up to
that amount (deterministically), so a candidate made from the same seed is a mild regression.
"""
import argparse
import json
import random


def metrics(rng, degrade):
    m50 = rng.uniform(0.55, 0.99)
    m5095 = m50 * rng.uniform(0.6, 0.85)
    m75 = (m50 + m5095) / 2
    out = {"map50": m50, "map50_95": m5095, "map75": m75}
    if degrade:
        out = {k: max(0.0, v - rng.uniform(0, degrade)) for k, v in out.items()}
    return {k: round(v, 6) for k, v in out.items()}


def split(rng, classes, degrade):
    def with_sizes():
        m = metrics(rng, degrade)
        m["byObjectSize"] = {s: metrics(rng, degrade) for s in ("small", "medium")}
        m["byObjectSize"]["large"] = None
        return m

    out = with_sizes()
    out["perClass"] = {name: with_sizes() for name in classes}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--splits", default="train,valid,test")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--degrade", type=float, default=0.0)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    names = [f"class-{i:06d}" for i in range(args.classes)]
    body = {"taskType": "object-detection-like", "splits": {}}
    for i, s in enumerate(args.splits.split(",")):
        # Values depend on the seed and the split only, so --degrade compares like with like.
        body["splits"][s] = split(random.Random(args.seed * 1000 + i), names, 0.0)
        if args.degrade:
            base = body["splits"][s]
            rng = random.Random(args.seed * 7919 + i)
            body["splits"][s] = degrade(base, rng, args.degrade)
    with open(args.output, "w") as f:
        json.dump(body, f, separators=(",", ":"))


def degrade(node, rng, amount):
    if isinstance(node, dict):
        return {k: degrade(v, rng, amount) for k, v in node.items()}
    if isinstance(node, float):
        return round(max(0.0, node - rng.uniform(0, amount)), 6)
    return node


if __name__ == "__main__":
    main()
