"""Operating a running gateway: workers, SIGHUP reload, SIGTERM drain, access logs, metrics."""
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import Gateway, Upstream, free_port

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = (FIXTURES / "proxy-api.yaml").read_text()

JSON_FORMAT = ('{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
               '"caller":"$context.identity.caller", "user":"$context.identity.user", '
               '"requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod", '
               '"resourcePath":"$context.resourcePath", "status":"$context.status", '
               '"protocol":"$context.protocol", "responseLength":"$context.responseLength" }')


def template_with(stage_extra=""):
    """The proxy fixture with extra stage properties (indented under Properties)."""
    return TEMPLATE.replace("      StageName: test\n", "      StageName: test\n" + stage_extra)


def start(tmp_path, upstream, template_text, extra_conf="", args=()):
    t = tmp_path / "api.yaml"
    t.write_text(template_text)
    conf = tmp_path / "gatehouse.yaml"
    conf.write_text(f"template: {t}\nparameterOverrides:\n  UpstreamUrl: {upstream.url}\n" + extra_conf)
    return Gateway(["--conf", str(conf), *args]), t


def wait_for(pred, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_workers_flag_starts_that_many_loops_on_one_port(tmp_path, upstream):
    gw, _ = start(tmp_path, upstream, TEMPLATE, args=["--workers", "3"])
    try:
        assert any(l.endswith("workers=3") for l in gw.lines)
        with requests.Session() as s:
            for i in range(30):
                assert s.get(gw.base + f"/test/echo/{i}", timeout=5).status_code == 200
        # Fresh connections are spread by the kernel; all of them are served.
        for i in range(30):
            assert requests.get(gw.base + f"/test/echo/n{i}", timeout=5, headers={"Connection": "close"}).status_code == 200
    finally:
        assert gw.stop() == 0


def test_sighup_reloads_and_a_bad_config_is_refused_while_the_old_one_serves(tmp_path, upstream):
    gw, t = start(tmp_path, upstream, TEMPLATE)
    try:
        r = requests.get(gw.base + "/test/items/1", timeout=5)
        assert r.json()["headers"]["X-Color"] == "blue"
        t.write_text(TEMPLATE.replace("color: blue", "color: green"))
        gw.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any(l.startswith("reloaded") for l in gw.lines))
        assert wait_for(lambda: requests.get(gw.base + "/test/items/1", timeout=5).json()["headers"]["X-Color"] == "green")
        # A broken template: refused with a line naming the fault, and green keeps serving.
        t.write_text(TEMPLATE.replace("type: http_proxy", "type: not_a_type", 1))
        gw.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any(l.startswith("reload refused") and "not_a_type" in l for l in gw.lines))
        assert requests.get(gw.base + "/test/items/1", timeout=5).json()["headers"]["X-Color"] == "green"
    finally:
        assert gw.stop() == 0


def test_sigterm_drains_requests_in_flight_then_exits_0(tmp_path, upstream):
    gw, _ = start(tmp_path, upstream, TEMPLATE)
    results = {}

    def slow():
        # /{proxy+} passes /x/slow to the upstream, which answers after 3 s.
        results["r"] = requests.get(gw.base + "/test/x/slow", timeout=10)

    th = threading.Thread(target=slow)
    th.start()
    assert wait_for(lambda: any("/slow" in r["path"] for r in upstream.requests))
    idle = socket.create_connection(("127.0.0.1", gw.port))  # an idle keep-alive client
    t0 = time.time()
    gw.proc.send_signal(signal.SIGTERM)
    # Not accepting any more: a new connection is refused (or closed unanswered).
    time.sleep(0.3)
    with pytest.raises((requests.ConnectionError, requests.ReadTimeout)):
        requests.get(gw.base + "/test/echo/late", timeout=2)
    # The idle connection is closed at once.
    idle.settimeout(2)
    assert idle.recv(1) == b""
    th.join()
    assert results["r"].status_code == 200
    assert results["r"].headers.get("Connection", "").lower() == "close"
    assert gw.proc.wait(timeout=10) == 0
    assert time.time() - t0 < 6
    # The reader thread may still be taking the last lines from the pipe after the exit.
    assert wait_for(lambda: any(l == "stopped" for l in gw.lines), timeout=3), gw.lines[-5:]


def test_drain_is_bounded_by_the_drain_timeout(tmp_path, upstream):
    gw, _ = start(tmp_path, upstream, TEMPLATE, extra_conf="limits:\n  drainTimeoutMillis: 500\n")
    outcome = {}

    def slow():
        try:
            outcome["status"] = requests.get(gw.base + "/test/y/slow", timeout=10).status_code
        except requests.ConnectionError:
            outcome["status"] = "closed"

    th = threading.Thread(target=slow, daemon=True)
    th.start()
    assert wait_for(lambda: any("/y/slow" in r["path"] for r in upstream.requests))
    t0 = time.time()
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(timeout=10) == 0
    assert time.time() - t0 < 2.5
    th.join(5)
    # Past the deadline the unfinished request's connection is closed unanswered.
    assert outcome["status"] == "closed"


def test_access_log_uses_the_stage_format_from_the_template(tmp_path, upstream):
    fmt = JSON_FORMAT.replace('"', '\\"')
    gw, _ = start(tmp_path, upstream, template_with(f'      AccessLogSetting:\n        DestinationArn: arn:aws:logs:us-east-1:123456789012:log-group:x\n        Format: "{fmt}"\n'))
    try:
        r = requests.get(gw.base + "/test/items/7?q=1", timeout=5, headers={"User-Agent": "t"})
        rid = r.headers["x-amzn-RequestId"]
        assert wait_for(lambda: any(rid in l for l in gw.lines))
        line = next(l for l in gw.lines if rid in l)
        entry = json.loads(line)
        assert entry["requestId"] == rid
        assert entry["ip"] == "127.0.0.1"
        assert entry["caller"] == "-" and entry["user"] == "-"
        assert entry["httpMethod"] == "GET"
        assert entry["resourcePath"] == "/items/{id}"
        assert entry["status"] == "200"
        assert entry["protocol"] == "HTTP/1.1"
        assert entry["responseLength"] == str(len(r.content))
        assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", entry["requestTime"])
    finally:
        assert gw.stop() == 0


def test_default_access_log_is_aws_clf_and_can_go_to_a_file(tmp_path, upstream):
    log = tmp_path / "access.log"
    gw, _ = start(tmp_path, upstream, TEMPLATE, extra_conf=f"accessLog:\n  destination: {log}\n")
    try:
        r = requests.post(gw.base + "/test/mock", json={}, timeout=5)
        rid = r.headers["x-amzn-RequestId"]
        assert wait_for(lambda: log.exists() and rid in log.read_text())
        line = next(l for l in log.read_text().splitlines() if rid in l)
        assert re.fullmatch(r'127\.0\.0\.1 - - \[[^\]]+\]"POST /mock HTTP/1\.1" 200 16 ' + rid, line)
    finally:
        assert gw.stop() == 0


def test_every_response_carries_x_amzn_request_id(proxy_gateway):
    for method, path in [("GET", "/test/echo/a"), ("GET", "/nostage"), ("POST", "/test/mock"), ("GET", "/test/down")]:
        r = requests.request(method, proxy_gateway.base + path, timeout=5)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            r.headers["x-amzn-RequestId"]), (method, path)
    with socket.create_connection(("127.0.0.1", proxy_gateway.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
        head = s.recv(4096).decode()
        assert head.startswith("HTTP/1.1 400") and "x-amzn-RequestId: " in head


def test_metrics_on_the_admin_listener(tmp_path, upstream):
    gw, _ = start(tmp_path, upstream, TEMPLATE, args=["--admin-listen", "127.0.0.1:0"])
    try:
        line = next(l for l in gw.lines if l.startswith("admin listening on"))
        admin = line.split(" on ")[1]
        for _ in range(3):
            requests.get(gw.base + "/test/items/1", timeout=5)
        requests.get(gw.base + "/test/down", timeout=5)
        text = requests.get(admin + "/metrics", timeout=5).text
        assert 'gatehouse_requests_total{api_id="' in text
        assert re.search(r'gatehouse_requests_total\{api_id="\w+",stage="test",resource="/items/\{id\}",method="GET",status="200"\} 3', text)
        assert re.search(r'gatehouse_requests_total\{[^}]*resource="/down",method="GET",status="502"\} 1', text)
        assert re.search(r'gatehouse_request_duration_seconds_bucket\{[^\n]*resource="/items/\{id\}"[^\n]*status="200",le="\+Inf"\} 3', text)
        assert requests.get(admin + "/other", timeout=5).status_code == 404
        # The API port does not serve /metrics.
        assert requests.get(gw.base + "/metrics", timeout=5).status_code == 403
    finally:
        assert gw.stop() == 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/deps.sh installs it)")
def test_sighup_under_load_loses_no_request(tmp_path):
    up = Upstream()
    gw, t = start(tmp_path, up, TEMPLATE)
    try:
        wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d4s", gw.base + "/test/echo/load"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        for color in ["red", "green", "blue"]:
            t.write_text(TEMPLATE.replace("color: blue", f"color: {color}"))
            gw.proc.send_signal(signal.SIGHUP)
            time.sleep(0.7)
        out = wrk.communicate(timeout=30)[0]
        assert sum(1 for l in gw.lines if l.startswith("reloaded")) == 3
        done = int(re.search(r"(\d+) requests in", out).group(1))
        assert done > 100, out
        assert "Non-2xx" not in out, out
        assert "Socket errors" not in out, out
    finally:
        assert gw.stop() == 0
        up.stop()


@pytest.mark.parametrize("conf", ["gatehouse.yaml", "proxy.yaml"])
def test_the_confs_in_conf_load(conf):
    from conftest import CONF, binary
    out = subprocess.run([binary(), "validate", "--conf", str(CONF / conf)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert any(l.startswith("route ") for l in out.stdout.splitlines())


def test_the_proxy_conf_serves_its_mock_and_proxies(tmp_path):
    from conftest import CONF
    up = Upstream()
    conf = tmp_path / "proxy.yaml"
    text = (CONF / "proxy.yaml").read_text()
    text = text.replace("template: proxy-api.yaml", f"template: {CONF / 'proxy-api.yaml'}")
    text = text.replace("http://127.0.0.1:9000", up.url).replace("adminListen: 127.0.0.1:9090", "adminListen: 127.0.0.1:0")
    conf.write_text(text)
    gw = Gateway(["--conf", str(conf)])
    try:
        assert requests.get(gw.base + "/live/health", timeout=5).json() == {"status": "ok"}
        r = requests.get(gw.base + "/live/some/where?x=1", timeout=5)
        assert r.status_code == 200 and r.json()["path"] == "/some/where?x=1"
        rid = r.headers["x-amzn-RequestId"]
        assert wait_for(lambda: any(rid in l for l in gw.lines))
        entry = json.loads(next(l for l in gw.lines if rid in l))
        assert entry["path"] == "/live/some/where" and entry["status"] == "200"
    finally:
        assert gw.stop() == 0
        up.stop()
