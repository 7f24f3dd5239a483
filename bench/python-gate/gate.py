#!/usr/bin/env python3
"""The peer for evalgate's speed target: a hand-written Python gate of the kind teams write
before they adopt a tool (requests + PyYAML + junit-xml). Benchmarks only; never run by the
tests.

    gate.py --api URL --workspace WS --policy P.yaml --baseline ID --candidate ID \
            --junit out.xml --markdown out.md

It fetches both evals' map-results from the API, applies the policy's split, size and
per-class rules (min, max, max_drop, max_drop_rel; "*" for every split and class), writes
JUnit and Markdown, and exits 1 when a rule failed. It implements the subset of evalgate's
policy that scripts/bench-python.sh uses, the way such scripts usually do.
"""
import argparse
import os
import sys

import requests
import yaml
from junit_xml import TestCase, TestSuite, to_xml_report_string

FIELDS = ("min", "max", "max_drop", "max_drop_rel")


def fetch(api, workspace, eval_id, key):
    headers = {"Authorization": f"Bearer {key}"}
    record = requests.get(f"{api}/{workspace}/model-evals/{eval_id}", headers=headers, timeout=60)
    record.raise_for_status()
    if record.json().get("status") != "done":
        sys.exit(f"{eval_id} is not finished")
    r = requests.get(f"{api}/{workspace}/model-evals/{eval_id}/map-results", headers=headers, timeout=60)
    r.raise_for_status()
    return r.json()


def judge(field, t, base, cand):
    if cand is None:
        return False, "no value"
    if field == "min":
        return cand >= t - 1e-9, f"{cand:.4f} vs min {t}"
    if field == "max":
        return cand <= t + 1e-9, f"{cand:.4f} vs max {t}"
    if base is None:
        return None, "no baseline"
    drop = base - cand if field == "max_drop" else ((base - cand) / base if base > 0 else 0.0)
    return drop <= t + 1e-9, f"{base:.4f} -> {cand:.4f}, {field} {t}"


def rules_checks(rules, scope, base, cand, cases, failures):
    for metric, rule in (rules or {}).items():
        if metric in ("sizes", "classes"):
            continue
        if not isinstance(rule, dict):
            rule = {"min": rule}
        for field in FIELDS:
            if field not in rule:
                continue
            ok, msg = judge(field, rule[field], (base or {}).get(metric), (cand or {}).get(metric))
            case = TestCase(f"{metric} {field}", classname=scope)
            if ok is None:
                case.add_skipped_info(msg)
            elif not ok:
                case.add_failure_info(msg)
                failures.append((scope, metric, field, msg))
            cases.append(case)


def sizes_checks(sizes, scope, base, cand, cases, failures):
    for size, rules in (sizes or {}).items():
        b = ((base or {}).get("byObjectSize") or {}).get(size)
        c = ((cand or {}).get("byObjectSize") or {}).get(size)
        rules_checks(rules, f"{scope} / {size}", b, c, cases, failures)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--junit", required=True)
    ap.add_argument("--markdown", required=True)
    args = ap.parse_args()
    key = os.environ["ROBOFLOW_API_KEY"]
    with open(args.policy) as f:
        policy = yaml.safe_load(f)
    base = fetch(args.api, args.workspace, args.baseline, key)
    cand = fetch(args.api, args.workspace, args.candidate, key)

    suites, failures = [], []
    for split in sorted(set(base["splits"]) | set(cand["splits"])):
        rules = policy["splits"].get(split) or policy["splits"].get("*") or {}
        b, c = base["splits"].get(split), cand["splits"].get(split)
        cases = []
        rules_checks(rules, split, b, c, cases, failures)
        sizes_checks(rules.get("sizes"), split, b, c, cases, failures)
        star = (rules.get("classes") or {}).get("*")
        for name in sorted(set((b or {}).get("perClass", {})) | set((c or {}).get("perClass", {}))):
            cb = (b or {}).get("perClass", {}).get(name)
            cc = (c or {}).get("perClass", {}).get(name)
            class_rules = (rules.get("classes") or {}).get(name, star)
            if class_rules is None:
                continue
            scope = f"{split} / {name}"
            rules_checks(class_rules, scope, cb, cc, cases, failures)
            sizes_checks(class_rules.get("sizes"), scope, cb, cc, cases, failures)
        suites.append(TestSuite(split, cases))

    with open(args.junit, "w") as f:
        f.write(to_xml_report_string(suites))
    total = sum(len(s.test_cases) for s in suites)
    lines = [f"## {'failed' if failures else 'passed'}", "", f"{len(failures)} of {total} checks failed.", ""]
    if failures:
        lines += ["| Scope | Metric | Rule | Detail |", "|---|---|---|---|"]
        for scope, metric, field, msg in failures[:200]:
            lines.append(f"| {scope} | {metric} | {field} | {msg} |")
    with open(args.markdown, "w") as f:
        f.write("\n".join(lines) + "\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
