"""TLS termination on a listener, and HTTPS upstreams verified against a CA."""
import http.client
import http.server
import json
import socket
import socketserver
import ssl
import threading
from pathlib import Path

import pytest

from conftest import Gateway, Upstream, tls_conf

FIXTURES = Path(__file__).parent / "fixtures"


def write_conf(tmp_path, upstream_url, extra):
    conf = tmp_path / "gatehouse.yaml"
    conf.write_text(f"template: {FIXTURES / 'proxy-api.yaml'}\n"
                    f"parameterOverrides:\n  UpstreamUrl: {upstream_url}\n" + extra)
    return conf


@pytest.fixture(scope="module")
def tls_gateway(certs, upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tlsconf")
    conf = write_conf(tmp, upstream.url, tls_conf(certs))
    gw = Gateway(["--conf", str(conf)])
    yield gw
    assert gw.stop() == 0


def https_get(port, path, ca, **kw):
    ctx = ssl.create_default_context(cafile=str(ca))
    for k, v in kw.items():
        setattr(ctx, k, v)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, dict(r.getheaders()), r.read(), c


def test_tls_listener_serves_the_api_with_tls_1_2_or_later(tls_gateway, certs, upstream):
    status, headers, body, conn = https_get(tls_gateway.tls_port, "/test/echo/tls", certs / "cert.pem")
    assert status == 200
    seen = json.loads(body)
    assert seen["path"] == "/echo/tls"
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert "x-amzn-RequestId" in headers
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    # Keep-alive works over TLS too.
    conn.request("GET", "/test/echo/again")
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["path"] == "/echo/again"
    conn.close()


def test_plain_http_keeps_working_on_the_other_listener(tls_gateway):
    c = http.client.HTTPConnection("127.0.0.1", tls_gateway.port, timeout=10)
    c.request("GET", "/test/echo/plain")
    r = c.getresponse()
    assert r.status == 200
    assert json.loads(r.read())["headers"]["X-Forwarded-Proto"] == "http"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_client_is_refused(tls_gateway, certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(certs / "cert.pem"))
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this Python/OpenSSL cannot offer TLS 1.1 at all")
    with socket.create_connection(("127.0.0.1", tls_gateway.tls_port), timeout=5) as raw:
        # The server's own alert (protocol_version), not a client-side refusal.
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_plain_http_on_the_tls_port_is_closed_and_the_server_goes_on(tls_gateway, certs):
    with socket.create_connection(("127.0.0.1", tls_gateway.tls_port), timeout=5) as s:
        s.sendall(b"GET /test/echo/x HTTP/1.1\r\nHost: a\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        assert b"HTTP/1.1 200" not in data
    status, _, _, _ = https_get(tls_gateway.tls_port, "/test/echo/after", certs / "cert.pem")
    assert status == 200


class TLSUpstream(Upstream):
    def __init__(self, certs):
        super().__init__()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(certs / "cert.pem"), str(certs / "key.pem"))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.port}"


def test_https_upstream_verified_against_the_configured_ca(certs, tmp_path):
    up = TLSUpstream(certs)
    gw = Gateway(["--conf", str(write_conf(tmp_path, up.url, f"upstreamCAFile: {certs / 'cert.pem'}\n"))])
    try:
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        for i in range(3):
            c.request("GET", f"/test/echo/{i}")
            r = c.getresponse()
            assert r.status == 200
            assert json.loads(r.read())["path"] == f"/echo/{i}"
        assert up.connections == 1  # the TLS connection is kept alive and reused
    finally:
        assert gw.stop() == 0
        up.stop()


def test_https_upstream_with_an_untrusted_certificate_is_502(certs, tmp_path):
    up = TLSUpstream(certs)
    gw = Gateway(["--conf", str(write_conf(tmp_path, up.url, ""))])
    try:
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        c.request("GET", "/test/echo/x")
        r = c.getresponse()
        assert r.status == 502
        assert r.read() == b'{"message": "Internal server error"}'
        assert up.requests == []
    finally:
        assert gw.stop() == 0
        up.stop()
