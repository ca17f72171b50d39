"""HTTP, HTTP_PROXY and MOCK integrations against a real upstream on loopback."""
import json
import socket
import time

import requests

from conftest import Gateway, Upstream


def test_routes_name_their_plugins(proxy_gateway):
    routes = proxy_gateway.route("route ")
    assert any("path=/{proxy+}" in r and "plugin=http" in r for r in routes)
    assert any("path=/mock " in r and "plugin=mock" in r for r in routes)


def test_http_proxy_passes_method_path_query_headers_and_body(proxy_gateway, upstream):
    r = requests.put(proxy_gateway.base + "/test/echo/a%20b/c?x=1&x=2&y=",
                     data=b'{"k": "v"}', headers={"X-Custom": "one", "Content-Type": "application/json",
                                                  "X-Forwarded-For": "10.0.0.1"}, timeout=10)
    assert r.status_code == 200
    seen = r.json()
    assert seen["method"] == "PUT"
    assert seen["path"] == "/echo/a%20b/c?x=1&x=2&y="
    assert seen["body"] == '{"k": "v"}'
    assert seen["headers"]["X-Custom"] == "one"
    assert seen["headers"]["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    assert seen["headers"]["Host"] == f"127.0.0.1:{upstream.port}"
    assert "Connection" not in seen["headers"] or seen["headers"]["Connection"].lower() != "close"
    # The upstream's headers come back; the ones API Gateway sets itself are remapped.
    assert r.headers["X-Upstream"] == "yes"
    assert r.headers["x-amzn-Remapped-WWW-Authenticate"] == "Basic realm=up"
    assert "x-amzn-RequestId" in r.headers


def test_http_proxy_passes_upstream_status_through(proxy_gateway):
    r = requests.get(proxy_gateway.base + "/test/status/404", timeout=10)
    # /status/{code} is an HTTP (non-proxy) route: its 4xx pattern gives 400.
    assert r.status_code == 400
    # The greedy proxy route passes the upstream's status through untouched.
    r = requests.get(proxy_gateway.base + "/test/other/status/503", timeout=10)
    assert r.status_code == 503
    r = requests.delete(proxy_gateway.base + "/test/x/status/409", timeout=10)
    assert r.status_code == 409
    # A resource that matches without the method is not retried on the greedy route: AWS
    # answers Missing Authentication Token (403) there too.
    r = requests.delete(proxy_gateway.base + "/test/status/409", timeout=10)
    assert r.status_code == 403


def test_http_integration_maps_parameters_and_stage_variables(proxy_gateway):
    r = requests.get(proxy_gateway.base + "/test/items/42?q=hello%20world&other=no",
                     headers={"X-Not-Mapped": "1"}, timeout=10)
    assert r.status_code == 200
    seen = r.json()
    assert seen["path"] == "/echo/items/42?q=hello%20world"
    assert seen["headers"]["X-Color"] == "blue"
    assert seen["headers"]["X-Static"] == "fixed"
    assert seen["headers"]["X-Request-Id"] == r.headers["x-amzn-RequestId"]
    # Any $context variable can be a source, as in templates (one request scope serves both).
    assert seen["headers"]["X-Source-Ip"] == "127.0.0.1"
    assert seen["headers"]["X-Resource"] == "/items/{id}"
    assert abs(int(seen["headers"]["X-Epoch"]) - time.time() * 1000) < 60_000
    assert "X-Not-Mapped" not in seen["headers"]
    assert seen["headers"]["User-Agent"].startswith("AmazonAPIGateway_")
    assert r.headers["Content-Type"] == "application/json"


def test_mock_integration_answers_from_the_templates(proxy_gateway):
    r = requests.post(proxy_gateway.base + "/test/mock", json={"a": 1}, timeout=10)
    assert (r.status_code, r.json()) == (200, {"mocked": True})
    r = requests.get(proxy_gateway.base + "/test/mock-teapot", timeout=10)
    assert (r.status_code, r.json()) == (418, {"teapot": True})


def test_upstream_timeout_is_504_endpoint_request_timed_out(proxy_gateway):
    t = time.time()
    r = requests.get(proxy_gateway.base + "/test/slow", timeout=10)
    assert time.time() - t < 2.5
    assert r.status_code == 504
    assert r.json() == {"message": "Endpoint request timed out"}


def test_refused_upstream_is_502_internal_server_error(proxy_gateway):
    r = requests.get(proxy_gateway.base + "/test/down", timeout=10)
    assert r.status_code == 502
    assert r.text == '{"message": "Internal server error"}'
    assert r.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


def test_reset_upstream_is_502(proxy_gateway):
    r = requests.get(proxy_gateway.base + "/test/reset", timeout=10)
    assert r.status_code == 502


def test_upstream_connections_are_kept_alive_and_reused(upstream):
    fresh = Upstream()
    gw = Gateway(["--template", str(__import__("pathlib").Path(__file__).parent / "fixtures" / "proxy-api.yaml"),
                  "--parameter-overrides", f"UpstreamUrl={fresh.url}"])
    try:
        with requests.Session() as s:
            for i in range(50):
                assert s.get(gw.base + f"/test/echo/{i}", timeout=10).status_code == 200
        assert len(fresh.requests) == 50
        assert fresh.connections == 1
    finally:
        assert gw.stop() == 0
        fresh.stop()


class RawUpstream:
    """An upstream that answers every request with fixed bytes, keeping the connection open."""

    def __init__(self, answer):
        import threading
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if b"\r\n\r\n" in data:
                    conn.sendall(self.answer)

    def stop(self):
        self.sock.close()


def _proxy_through(answer):
    from pathlib import Path
    up = RawUpstream(answer)
    gw = Gateway(["--template", str(Path(__file__).parent / "fixtures" / "proxy-api.yaml"),
                  "--parameter-overrides", f"UpstreamUrl={up.url}"])
    return up, gw


def test_an_interim_1xx_answer_is_not_taken_for_the_response():
    up, gw = _proxy_through(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal")
    try:
        with requests.Session() as s:
            for _ in range(3):  # and the kept-alive connection stays in step
                r = s.get(gw.base + "/test/x", timeout=5)
                assert (r.status_code, r.text, r.headers.get("X-Final")) == (200, "final", "yes")
    finally:
        assert gw.stop() == 0
        up.stop()


def test_a_chunked_answer_with_trailers_keeps_its_head_whole():
    # The trailers come after the body; they are dropped, and the client's head keeps the
    # gateway's framing (a trailer must not end the head early), request after request.
    up, gw = _proxy_through(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                            b"2\r\nok\r\n0\r\nX-Sum: a\r\nX-Other: b\r\n\r\n")
    try:
        with requests.Session() as s:
            for _ in range(3):
                r = s.get(gw.base + "/test/t", timeout=5)
                assert (r.status_code, r.text, r.headers.get("Content-Type")) == (200, "ok", "text/plain")
                assert r.headers.get("Content-Length") == "2"
                assert "X-Sum" not in r.headers and "X-Other" not in r.headers
    finally:
        assert gw.stop() == 0
        up.stop()


def test_an_upstream_answer_over_10_mb_is_502_not_an_empty_success():
    up, gw = _proxy_through(b"HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n" + b"x" * 1000)
    try:
        r = requests.get(gw.base + "/test/big", timeout=5)
        assert r.status_code == 502
        assert r.text == '{"message": "Internal server error"}'
    finally:
        assert gw.stop() == 0
        up.stop()
