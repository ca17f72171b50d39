"""Shared fixtures: start the real `gatehouse` binary (and moto's server) on free loopback ports."""
import json
import os
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
            if line.startswith("listening on http://"):
                self.port = int(line.rsplit(":", 1)[1])
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
