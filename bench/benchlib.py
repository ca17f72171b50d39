#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library, plus botocore for `sign`).

  ports N                      print N free loopback TCP ports
  sign --url U --credentials F --out F [--key ID] [--body B] [--region R]
                               SigV4-sign one POST (service execute-api) and write it in the
                               request-file format bench/wrk.lua reads
  check --url U [--request F]  send one request; exit 0 when the answer is 200
  idle --port P --count N --ready F
                               open N idle connections (sending nothing), write how many
                               connected to F, then hold them until SIGTERM/SIGINT
  report --results F [--failures F]
                               the median-of-rounds table, with ratios to the references
"""

import argparse
import http.client
import os
import re
import resource
import signal
import socket
import statistics
import sys
import time
import urllib.parse


def cmd_ports(a):
    socks = []
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def read_key(path, key_id):
    """(accessKeyId, secretAccessKey) from a Gatehouse credentials file.

    Uses PyYAML when present; otherwise reads the `accessKeyId:` / `secretAccessKey:` lines,
    which is all the bench credentials file holds."""
    text = open(path, encoding="utf-8").read()
    pairs = []
    try:
        import yaml  # type: ignore

        doc = yaml.safe_load(text) or {}
        for e in doc.get("credentials") or []:
            pairs.append((str(e["accessKeyId"]), str(e["secretAccessKey"])))
    except ImportError:
        ids = re.findall(r"accessKeyId:\s*['\"]?([^'\"\s#]+)", text)
        secrets = re.findall(r"secretAccessKey:\s*['\"]?([^'\"\s#]+)", text)
        pairs = list(zip(ids, secrets))
    for kid, secret in pairs:
        if key_id is None or kid == key_id:
            return kid, secret
    sys.exit(f"benchlib: no key {key_id or ''} in {path}")


def cmd_sign(a):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    kid, secret = read_key(a.credentials, a.key)
    host = urllib.parse.urlsplit(a.url).netloc
    headers = {"Host": host, "Content-Type": "application/json"}
    for h in a.header or []:
        name, _, value = h.partition(":")
        headers[name.strip()] = value.strip()
    req = AWSRequest(method="POST", url=a.url, data=a.body.encode(), headers=headers)
    SigV4Auth(Credentials(kid, secret), "execute-api", a.region).add_auth(req)
    with open(a.out, "wb") as f:
        f.write(b"POST\n")
        for name, value in req.headers.items():
            f.write(f"{name}: {value}\n".encode())
        f.write(b"\n")
        f.write(a.body.encode())


def read_request_file(path):
    with open(path, "rb") as f:
        data = f.read()
    head, _, body = data.partition(b"\n\n")
    lines = head.decode().split("\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name] = value.lstrip(" ")
    return lines[0], headers, body


def cmd_check(a):
    u = urllib.parse.urlsplit(a.url)
    method, headers, body = "GET", {}, None
    if a.request:
        method, headers, body = read_request_file(a.request)
    path = u.path + (("?" + u.query) if u.query else "")
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        text = r.read(300).decode("utf-8", "replace").replace("\n", " ")
        print(f"{r.status} {text}")
        sys.exit(0 if r.status == 200 else 1)
    except OSError as e:
        print(f"no answer: {e}")
        sys.exit(1)


def cmd_idle(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    socks, failed, first_error = [], 0, ""
    deadline = time.monotonic() + a.timeout
    for _ in range(a.count):
        if stop or time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((a.host, a.port))
            socks.append(s)
        except OSError as e:
            failed += 1
            first_error = first_error or str(e)
            s.close()
    with open(a.ready + ".tmp", "w") as f:
        f.write(f"{len(socks)} {failed} {first_error}\n")
    os.rename(a.ready + ".tmp", a.ready)
    while not stop:
        time.sleep(0.2)
    for s in socks:
        s.close()


# contestant id -> (label, reference id)
CONTESTANTS = {
    "gatehouse-proxy": ("gatehouse HTTP_PROXY", "nginx-proxy"),
    "nginx-proxy": ("nginx proxy_pass", "nginx-proxy"),
    "haproxy": ("haproxy", "nginx-proxy"),
    "gatehouse-pipeline": ("gatehouse SigV4+policy+MOCK", "nginx-return"),
    "nginx-return": ("nginx return 200", "nginx-return"),
}
ORDER = list(CONTESTANTS)


def cmd_report(a):
    runs = {}  # (id, workers) -> list of dicts
    with open(a.results) as f:
        for line in f:
            if not line.strip():
                continue
            cid, workers, rnd, rest = line.split(None, 3)
            kv = dict(item.split("=", 1) for item in rest.split())
            runs.setdefault((cid, int(workers)), []).append(kv)
    failures = {}
    if a.failures and os.path.exists(a.failures):
        with open(a.failures) as f:
            for line in f:
                if line.strip():
                    cid, workers, reason = line.rstrip("\n").split(" ", 2)
                    failures[(cid, int(workers))] = reason

    med = {}
    for key, rs in runs.items():
        ok = [r for r in rs if "rps" in r]
        if not ok:
            continue
        med[key] = {
            "rps": statistics.median(float(r["rps"]) for r in ok),
            "p50": statistics.median(float(r["p50_ms"]) for r in ok),
            "p99": statistics.median(float(r["p99_ms"]) for r in ok),
            "rounds": len(ok),
            "status": sum(int(r["status"]) for r in ok),
            "socket": sum(int(r[k]) for r in ok for k in ("connect", "read", "write", "timeout")),
            "wrk_failed": len(rs) - len(ok),
        }

    keys = sorted(set(runs) | set(failures), key=lambda k: (k[1], ORDER.index(k[0]) if k[0] in ORDER else 99))
    header = ["contestant", "workers", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs ref", "p99 vs ref", "ref"]
    rows, flagged = [], False
    for cid, w in keys:
        label, ref = CONTESTANTS.get(cid, (cid, cid))
        if (cid, w) in failures and (cid, w) not in med:
            rows.append([label, str(w), "FAILED", "-", "-", "-", "-", "-", failures[(cid, w)]])
            flagged = True
            continue
        m = med[(cid, w)]
        errs = f"{m['status']}/{m['socket']}"
        if m["status"] or m["socket"] or m["wrk_failed"]:
            errs += " !"
            flagged = True
        r = med.get((ref, w))
        if cid == ref:
            rr, pr, refname = "1.00", "1.00", "(reference)"
        elif r:
            rr = f"{m['rps'] / r['rps']:.2f}" if r["rps"] else "-"
            pr = f"{m['p99'] / r['p99']:.2f}" if r["p99"] else "-"
            refname = f"{CONTESTANTS[ref][0]} x{w}"
        else:
            rr, pr, refname = "-", "-", f"{CONTESTANTS[ref][0]} x{w} not run"
        rows.append([label, str(w), f"{m['rps']:.0f}", f"{m['p50']:.3f}", f"{m['p99']:.3f}", errs, rr, pr, refname])

    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    right = {1, 2, 3, 4, 6, 7}

    def fmt(cells):
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    print(fmt(header))
    print(fmt(["-" * w for w in widths]))
    for r in rows:
        print(fmt(r))
    print()
    print("req/s, p50, p99: median over rounds; errors: HTTP status>=400 / socket errors (connect+read+write+timeout),")
    print("summed over rounds; ratios: this row's median / the reference's median at the same worker count.")
    if flagged:
        print("! = this contestant had errors or failed: its numbers are not comparable.")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("ports")
    s.add_argument("count", type=int)
    s.set_defaults(fn=cmd_ports)

    s = sub.add_parser("sign")
    s.add_argument("--url", required=True)
    s.add_argument("--credentials", required=True)
    s.add_argument("--key")
    s.add_argument("--body", default='{"bench":true}')
    s.add_argument("--header", action="append", help="an extra signed header, NAME:VALUE (repeatable)")
    s.add_argument("--region", default="us-east-1")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_sign)

    s = sub.add_parser("check")
    s.add_argument("--url", required=True)
    s.add_argument("--request")
    s.set_defaults(fn=cmd_check)

    s = sub.add_parser("idle")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=10000)
    s.add_argument("--ready", required=True)
    s.add_argument("--timeout", type=float, default=120)
    s.set_defaults(fn=cmd_idle)

    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--failures")
    s.set_defaults(fn=cmd_report)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
