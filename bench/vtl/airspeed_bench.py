#!/usr/bin/env python3
"""The same template and body rendered by airspeed (a Velocity engine in Python, from PyPI), with
$input/$util/$context emulated just enough for this template. Prints microseconds per render.
   python3 bench/vtl/airspeed_bench.py bench/vtl/case.json [iterations]"""
import json
import sys
import time

import airspeed


class Input:
    def __init__(self, body, params):
        self._body = body
        self._params = params
        self._doc = None

    def _read(self, path):
        if self._doc is None:
            self._doc = json.loads(self._body)
        node = self._doc
        for part in path.lstrip("$").strip(".").split(".") if path != "$" else []:
            node = node[part]
        return node

    def path(self, p):
        return self._read(p)

    def json(self, p):
        return json.dumps(self._read(p), separators=(",", ":"))

    def params(self, name=None):
        if name is None:
            return self._params
        for section in ("path", "querystring", "header"):
            if name in self._params.get(section, {}):
                return self._params[section][name]
        return ""


class Util:
    def escapeJavaScript(self, s):
        out = []
        for ch in str(s):
            if ch in "'\"\\/":
                out.append("\\" + ch)
            elif ord(ch) < 32 or ord(ch) > 126:
                out.append("\\u%04X" % ord(ch))
            else:
                out.append(ch)
        return "".join(out)


def main():
    case = json.load(open(sys.argv[1]))
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    template = airspeed.Template(case["template"])
    def render():
        return template.merge({"input": Input(case["body"], case["params"]), "util": Util(),
                               "context": case["context"], "stageVariables": case.get("stageVariables", {})})
    render()
    best = None
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            render()
        per = (time.perf_counter() - t) / n * 1e6
        best = per if best is None else min(best, per)
    print("airspeed render: %.1f us per render (best of 3 runs of %d)" % (best, n))


if __name__ == "__main__":
    main()
