#!/usr/bin/env python3
"""Rebuilds corpus.jsonl: the hand-written templates and the seeded random ones, each with the
output of the Apache Velocity oracle (../../../../shared/oracle/vtl, API Gateway's `aws` profile).
Run it when the generator or the hand-written list changes; the differential test reads the file."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generate  # noqa: E402
import handwritten as h  # noqa: E402

ORACLE = os.environ.get("VTL_ORACLE") or os.path.join(HERE, "..", "..", "..", "..", "shared", "oracle", "vtl", "vtl-oracle")
SEEDS = [(1, 1000), (2, 1500)]


def cases():
    out = []
    for i, (template, body) in enumerate(h.T):
        out.append({"id": "hand-%d" % i, "template": template, "body": h.BODY if body is None else body})
    for seed, count in SEEDS:
        for c in generate.cases(seed, count, h.PARAMS, h.CONTEXT, h.STAGE):
            out.append({"id": c["id"], "template": c["template"], "body": c["body"]})
    return out


def full(c):
    return dict(c, params=h.PARAMS, context=h.CONTEXT, stageVariables=h.STAGE)


def main():
    cs = cases()
    data = "".join(json.dumps(full(c)) + "\n" for c in cs).encode()
    p = subprocess.run([ORACLE, "--batch"], input=data, capture_output=True, check=True)
    results = {}
    for line in p.stdout.decode().splitlines():
        r = json.loads(line)
        results[r["id"]] = r
    with open(os.path.join(HERE, "corpus.jsonl"), "w") as f:
        for c in cs:
            r = results[c["id"]]
            # The error's first line: the test compares only whether each side failed.
            error = None if r["error"] is None else r["error"].split("\n")[0][:160]
            rec = dict(c, output=r["output"] if r["error"] is None else None, error=error)
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print("%d cases written" % len(cs), file=sys.stderr)


if __name__ == "__main__":
    main()
