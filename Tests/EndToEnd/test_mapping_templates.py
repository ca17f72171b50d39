"""Mapping templates through a running gateway: a request template builds the StartExecution
body for a real Step Functions-compatible server (moto) and the execution's input equals the
client's JSON; response templates, selectionPattern, responseOverride, passthroughBehavior."""
import json
import subprocess
from pathlib import Path

import boto3
import pytest
import requests

from conftest import Gateway, binary, upstream  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def target(moto_server):
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id="AKIDTEMPLATES", aws_secret_access_key="templates-secret")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="TemplateTarget", definition=definition,
                                   roleArn="arn:aws:iam::123456789012:role/R")["stateMachineArn"]
    return sfn, arn


@pytest.fixture(scope="module")
def gw(moto_server, target):
    _, arn = target
    g = Gateway(["--template", str(FIXTURES / "templates-api.yaml"), "--parameter-overrides", f"TargetArn={arn}",
                 "--credentials", str(FIXTURES / "templates-credentials.yaml"), "--states-endpoint", moto_server,
                 "--access-log", "off"])
    yield g
    assert g.stop() == 0


def test_request_template_builds_start_execution_and_input_equals_the_body(gw, target):
    sfn, arn = target
    payload = {"someKey": "someValue", "nested": {"list": [1, 2.5, True, None], "url": "http://a/b"},
               "text": "line\nbreak \"quoted\" café ☃"}
    r = requests.post(gw.base + "/dev/start", data=json.dumps(payload),
                      headers={"Content-Type": "application/json", "X-Trace": "t-42"}, timeout=10)
    assert r.status_code == 200, r.text
    out = r.json()
    # The response template mapped StartExecution's answer.
    assert out["stage"] == "dev" and out["trace"] == "t-42" and out["env"] == "test"
    assert out["arn"].startswith(arn.replace(":stateMachine:", ":execution:"))
    described = sfn.describe_execution(executionArn=out["arn"])
    assert json.loads(described["input"]) == payload


def test_passthrough_never_refuses_other_content_types(gw):
    r = requests.post(gw.base + "/dev/start", data="x", headers={"Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 415
    assert r.json() == {"message": "Unsupported Media Type"}


def test_mock_status_from_the_request_template_and_body_from_integration_responses(gw):
    ok = requests.post(gw.base + "/dev/mock/abc?q=a%20b", json={"ok": True}, timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"id": "abc", "q": "a b", "items": [1, 2, 3]}
    assert ok.headers["X-Items"] == "abc"
    bad = requests.post(gw.base + "/dev/mock/xyz", json={"ok": False}, timeout=10)
    assert bad.status_code == 400
    body = bad.json()
    assert body["error"] == "bad request for xyz"
    assert body["requestId"] == bad.headers["x-amzn-RequestId"]


def test_a_template_that_does_not_parse_answers_500(gw):
    r = requests.post(gw.base + "/dev/broken", json={}, timeout=10)
    assert r.status_code == 500
    assert r.json() == {"message": "Internal server error"}


def test_render_command_prints_what_the_gateway_would(tmp_path):
    case = {"template": "{\"input\": \"$util.escapeJavaScript($input.json('$'))\"}", "body": "{\"a\": \"x/y\"}"}
    r = subprocess.run([binary(), "render"], input=json.dumps(case), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"input": "{\\"a\\":\\"x\\/y\\"}"}'
    bad = subprocess.run([binary(), "render"], input=json.dumps({"template": "#if($x"}), capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("ERROR ")


@pytest.fixture(scope="module")
def http_gw(upstream):
    g = Gateway(["--template", str(FIXTURES / "mapping-http-api.yaml"), "--parameter-overrides", f"UpstreamUrl={upstream.url}",
                 "--access-log", "off"])
    yield g
    assert g.stop() == 0


def test_http_integration_request_and_response_templates(http_gw, upstream):
    r = requests.post(http_gw.base + "/test/echo?q=a%20b", json={"name": "Ada", "extra": 1},
                      headers={"X-Client": "c"}, timeout=10)
    assert r.status_code == 200, r.text
    sent = upstream.requests[-1]
    # Only the rendered body reached the upstream, and no client header (non-proxy HTTP).
    assert json.loads(sent["body"]) == {"name": "Ada", "q": "a b", "stage": "test"}
    assert "X-Client" not in sent["headers"]
    out = r.json()
    assert out["method"] == "POST"
    assert json.loads(out["upstreamSaw"]) == {"name": "Ada", "q": "a b", "stage": "test"}
    # responseParameters: a header, a body path, a static value, $context and a stage variable.
    assert r.headers["X-From-Upstream"] == "yes"
    assert r.headers["X-Method"] == "POST"
    assert r.headers["X-Static"] == "static value"
    assert r.headers["X-Stage"] == "test"
    assert r.headers["X-Env"] == "staging"


def test_request_override_from_the_template_wins_over_request_parameters(http_gw, upstream):
    r = requests.post(http_gw.base + "/test/override", json={"extra": "e-1"}, timeout=10)
    assert r.status_code == 200, r.text
    sent = upstream.requests[-1]
    assert sent["headers"]["X-Mapped"] == "from-template"
    assert sent["headers"]["X-Extra"] == "e-1"
    assert sent["path"] == "/echo/override?mode=override"
    assert json.loads(sent["body"]) == {"ok": True}


def test_binary_body_converted_to_text_for_the_template(http_gw, upstream):
    payload = bytes(range(256))
    r = requests.post(http_gw.base + "/test/binary", data=payload,
                      headers={"Content-Type": "application/octet-stream"}, timeout=10)
    assert r.status_code == 200, r.text
    import base64
    assert json.loads(upstream.requests[-1]["body"]) == {"b64": base64.b64encode(payload).decode()}


def test_response_converted_to_binary(http_gw):
    r = requests.get(http_gw.base + "/test/decoded", timeout=10)
    assert r.status_code == 200
    assert r.content == b"hello binary"


def test_response_template_chosen_by_accept(http_gw):
    xml = requests.get(http_gw.base + "/test/negotiated", headers={"Accept": "application/xml"}, timeout=10)
    assert xml.status_code == 200
    assert xml.text == '<format stage="test">xml</format>'
    assert xml.headers["Content-Type"] == "application/xml"
    js = requests.get(http_gw.base + "/test/negotiated", timeout=10)
    assert js.json() == {"format": "json", "stage": "test"}
    assert js.headers["Content-Type"] == "application/json"


def test_selection_pattern_on_the_backend_status(http_gw):
    r = requests.get(http_gw.base + "/test/status/404", timeout=10)
    assert r.status_code == 404 and r.json() == {"notFound": True}
    ok = requests.get(http_gw.base + "/test/status/201", timeout=10)
    assert ok.status_code == 200
    # A backend 400 with only a default integration response reaches the client as 200.
    d = requests.get(http_gw.base + "/test/only-default", timeout=10)
    assert d.status_code == 200


def test_invalid_response_parameter_is_refused_at_load(tmp_path):
    bad = tmp_path / "api.yaml"
    bad.write_text((FIXTURES / "mapping-http-api.yaml").read_text().replace(
        "method.response.header.X-Static", "method.response.body.X-Static"))
    r = subprocess.run([binary(), "validate", "--template", str(bad), "--parameter-overrides", "UpstreamUrl=http://x"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Invalid mapping expression specified: method.response.body.X-Static" in r.stderr


def test_validate_warns_about_a_template_that_does_not_parse(moto_server, target):
    _, arn = target
    r = subprocess.run([binary(), "validate", "--template", str(FIXTURES / "templates-api.yaml"),
                        "--parameter-overrides", f"TargetArn={arn}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stderr.splitlines() if l.startswith("warning:")]
    assert len(warnings) == 1 and "POST /broken" in warnings[0] and "does not parse" in warnings[0], warnings


def test_a_template_over_300_kb_is_refused_at_load(tmp_path):
    big = tmp_path / "api.yaml"
    big.write_text((FIXTURES / "templates-api.yaml").read_text().replace(
        "application/json: '#if($x'", "application/json: '" + "x" * (300 * 1024 + 1) + "'"))
    r = subprocess.run([binary(), "validate", "--template", str(big), "--parameter-overrides", "TargetArn=arn:aws:states:us-east-1:1:stateMachine:x"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "300 KB" in r.stderr
