"""Shared fixtures: start the real `gatehouse` binary (and moto's server) on free loopback ports."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
SOURCE_ARN = "arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"
STATES_A = Credentials("AKIDSTATESA", "states-secret-a")
ALICE = Credentials("AKIDALICE", "alice-secret")


def binary() -> str:
    path = os.environ.get("GATEHOUSE_BIN") or str(ROOT / ".build" / "release" / "gatehouse")
    if not os.path.exists(path):
        pytest.fail(f"gatehouse binary not found at {path}: build it first (swift build -c release)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """A running `gatehouse serve`, its port and its output lines."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen(
            [binary(), "serve", *args, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            m = re.match(r"listening on http://[^ ]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("gatehouse did not start:\n" + "\n".join(self.lines))
        self.base = f"http://127.0.0.1:{self.port}"
        # Keep reading the access log, so a full pipe never blocks the server.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def tls_port(self):
        """The port of the TLS listener, from its `listening on https://…` line."""
        line = next(l for l in self.lines if l.startswith("listening on https://"))
        return int(re.search(r":(\d+)$", line).group(1))

    def route(self, prefix):
        return [l for l in self.lines if l.startswith(prefix)]

    def stop(self):
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return code


def signed(method, url, body=b"", creds=STATES_A, headers=None, region="us-east-1", service="execute-api"):
    """Sign with botocore's SigV4Auth, as an AWS SDK would, and send with requests."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(creds, service, region).add_auth(req)
    prepared = req.prepare()
    return requests.request(method, url, data=body, headers=dict(prepared.headers), timeout=10)


def execution_body(state_machine_arn, payload=None):
    return json.dumps({
        "input": json.dumps(payload if payload is not None else {"someKey": "someValue"}),
        "stateMachineArn": state_machine_arn,
    }).encode()


@pytest.fixture(scope="module")
def seed_gateway():
    gw = Gateway(["--conf", str(CONF / "gatehouse.yaml")])
    yield gw
    assert gw.stop() == 0


@pytest.fixture(scope="module")
def moto_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            requests.get(url + "/moto-api/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


class Upstream:
    """A real HTTP/1.1 keep-alive upstream on loopback that records what reaches it.

    GET/POST/... /echo/... answer 200 with a JSON echo of the request; /slow waits 3 s;
    a path with /status/NNN answers NNN; /reset closes the connection without answering."""

    def __init__(self):
        import http.server
        import socketserver

        upstream = self
        self.requests = []
        self.connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                upstream.connections += 1

            def log_message(self, *args):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                upstream.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers.items()), "body": body})
                if "/slow" in self.path:
                    time.sleep(3)
                if self.path.startswith("/reset"):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status = 200
                if "/status/" in self.path:
                    status = int(self.path.split("/status/")[1][:3])
                out = json.dumps({"method": self.command, "path": self.path,
                                  "headers": dict(self.headers.items()),
                                  "body": body.decode("utf-8", "replace")}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.send_header("X-Upstream", "yes")
                self.send_header("WWW-Authenticate", "Basic realm=up")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def proxy_gateway(upstream):
    gw = Gateway(["--template", str(Path(__file__).parent / "fixtures" / "proxy-api.yaml"),
                  "--parameter-overrides", f"UpstreamUrl={upstream.url}"])
    yield gw
    assert gw.stop() == 0


def tls_conf(certs):
    """The conf lines of a TLS listener on a free port with the test certificate."""
    return (f"tls:\n  listen: 127.0.0.1:0\n  certificateFile: {certs / 'cert.pem'}\n"
            f"  privateKeyFile: {certs / 'key.pem'}\n")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    d = tmp_path_factory.mktemp("certs")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return d
