"""The seed scenario end to end: account B's SAM template served by the real binary, called the
way state machine A's `apigateway:invoke` (AuthType RESOURCE_POLICY) calls it."""
import datetime
import json
import socket
import subprocess
from unittest import mock

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ALICE, CONF, SOURCE_ARN, STATES_A, Gateway, binary, execution_body, signed

DEST_ARN = "arn:aws:states:us-east-1:222222222222:stateMachine:DestinationStateMachine"


def api_id(gw):
    line = gw.route("route ")[0]
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)["api"]


def assert_gateway_error(r, status, error_type, body):
    assert r.status_code == status, r.text
    assert r.headers.get("x-amzn-ErrorType") == error_type
    assert r.json() == body
    assert r.headers.get("x-amzn-RequestId")


def test_start_up_prints_each_route(seed_gateway):
    routes = seed_gateway.route("route ")
    assert len(routes) == 1
    assert "stage=dev method=POST path=/execution auth=AWS_IAM" in routes[0]
    assert "integration=aws:states:StartExecution plugin=states" in routes[0]
    assert f"stateMachine arn={DEST_ARN}" in seed_gateway.lines


def test_signed_call_as_state_machine_a_starts_an_execution(seed_gateway):
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN),
               headers={"X-Amz-Source-Arn": SOURCE_ARN, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["executionArn"].startswith("arn:aws:states:us-east-1:222222222222:execution:DestinationStateMachine:")
    assert isinstance(out["startDate"], float)
    assert "E9" in r.text  # AWS prints startDate as a Java double: 1.486772644911E9
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Content-Length"] == str(len(r.content))


def test_unsigned_call_is_missing_authentication_token(seed_gateway):
    r = requests.post(seed_gateway.base + "/dev/execution", data=execution_body(DEST_ARN), timeout=10)
    assert_gateway_error(r, 403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})


@pytest.mark.parametrize("method,path", [
    ("POST", "/dev/nothing"), ("POST", "/prod/execution"), ("GET", "/dev/execution"), ("POST", "/"),
])
def test_unknown_stage_resource_or_method_is_missing_authentication_token(seed_gateway, method, path):
    r = signed(method, seed_gateway.base + path, b"{}", headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert_gateway_error(r, 403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})


def test_another_source_arn_is_denied_by_the_resource_policy(seed_gateway):
    other = "arn:aws:states:us-east-1:111111111111:stateMachine:SomeoneElse"
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN),
               headers={"X-Amz-Source-Arn": other})
    resource = f"arn:aws:execute-api:us-east-1:********2222:{api_id(seed_gateway)}/dev/POST/execution"
    assert_gateway_error(r, 403, "AccessDeniedException", {
        "Message": f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {resource}"})


def test_iam_user_not_named_by_the_policy_is_denied_with_its_arn(seed_gateway):
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN), creds=ALICE)
    resource = f"arn:aws:execute-api:us-east-1:********2222:{api_id(seed_gateway)}/dev/POST/execution"
    assert_gateway_error(r, 403, "AccessDeniedException", {
        "Message": f"User: arn:aws:iam::222222222222:user/alice is not authorized to perform: execute-api:Invoke on resource: {resource}"})


def test_wrong_secret_is_a_signature_mismatch(seed_gateway):
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN),
               creds=Credentials("AKIDSTATESA", "not-the-secret"), headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = r.json()["message"]
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "The Canonical String for this request should have been\n'POST\n/dev/execution\n" in message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


def test_unknown_access_key_is_unrecognized(seed_gateway):
    r = signed("POST", seed_gateway.base + "/dev/execution", b"{}", creds=Credentials("AKIDNOBODY", "x"))
    assert_gateway_error(r, 403, "UnrecognizedClientException",
                         {"message": "The security token included in the request is invalid."})


def test_malformed_authorization_header_is_an_incomplete_signature(seed_gateway):
    r = requests.post(seed_gateway.base + "/dev/execution", data=b"{}",
                      headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDSTATESA/20260101/us-east-1/execute-api/aws4_request"},
                      timeout=10)
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert "Authorization header requires 'Signature' parameter." in r.json()["message"]


def test_expired_signature_is_refused_with_aws_message(seed_gateway):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN),
                   headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = r.json()["message"]
    assert message.startswith("Signature expired: " + past.strftime("%Y%m%dT%H%M%SZ") + " is now earlier than ")
    assert message.endswith(" - 5 min.)")


def test_source_arn_header_that_is_not_signed_is_refused(seed_gateway):
    url = seed_gateway.base + "/dev/execution"
    req = AWSRequest(method="POST", url=url, data=execution_body(DEST_ARN))
    SigV4Auth(STATES_A, "execute-api", "us-east-1").add_auth(req)
    headers = dict(req.prepare().headers)
    headers["X-Amz-Source-Arn"] = SOURCE_ARN  # added after signing
    r = requests.post(url, data=execution_body(DEST_ARN), headers=headers, timeout=10)
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "SignedHeaders" in r.text


@pytest.mark.parametrize("creds,source", [
    (ALICE, SOURCE_ARN),  # a key with no mayAssertSourceArn
    (STATES_A, "arn:aws:states:us-east-1:222222222222:stateMachine:DestinationStateMachine"),  # outside the pattern
])
def test_source_arn_the_key_may_not_assert_is_refused(seed_gateway, creds, source):
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN), creds=creds,
               headers={"X-Amz-Source-Arn": source})
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "may not assert source ARN" in r.json()["message"]


def test_host_and_localstack_forms_reach_the_api(seed_gateway):
    apid = api_id(seed_gateway)
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(DEST_ARN),
               headers={"X-Amz-Source-Arn": SOURCE_ARN, "Host": f"{apid}.execute-api.us-east-1.amazonaws.com"})
    assert r.status_code == 200, r.text
    r = signed("POST", seed_gateway.base + f"/restapis/{apid}/dev/_user_request_/execution", execution_body(DEST_ARN),
               headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert r.status_code == 200, r.text
    r = signed("POST", seed_gateway.base + "/restapis/nosuchapi/dev/_user_request_/execution", execution_body(DEST_ARN),
               headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert r.status_code == 403


def test_step_functions_errors_come_back_as_200_with_the_service_body(seed_gateway):
    # The integration response `default` maps every backend status to 200, as on AWS.
    missing = "arn:aws:states:us-east-1:222222222222:stateMachine:Nope"
    r = signed("POST", seed_gateway.base + "/dev/execution", execution_body(missing),
               headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert r.status_code == 200
    assert r.json() == {"__type": "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist",
                        "message": f"State Machine Does Not Exist: '{missing}'"}


def test_reused_execution_name_of_a_closed_execution_already_exists(seed_gateway):
    body = json.dumps({"input": "{}", "name": "once-only", "stateMachineArn": DEST_ARN}).encode()
    first = signed("POST", seed_gateway.base + "/dev/execution", body, headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert first.status_code == 200 and "executionArn" in first.json(), first.text
    import time
    time.sleep(0.2)  # the embedded engine runs the Pass state on the loop's next turn
    again = signed("POST", seed_gateway.base + "/dev/execution", body, headers={"X-Amz-Source-Arn": SOURCE_ARN})
    assert again.status_code == 200
    assert again.json()["__type"] == "com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists"


def raw_request(req):
    p = req.prepare()
    from urllib.parse import urlsplit
    url = urlsplit(p.url)
    headers = {k: v for k, v in p.headers.items() if k.lower() != "content-length"}
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = url.netloc
    head = f"{p.method} {url.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode(), p.body or b""


def read_responses(sock, count):
    data = b""
    out = []
    sock.settimeout(10)
    while len(out) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
            if len(rest) < length:
                break
            out.append((head.decode(), rest[:length]))
            data = rest[length:]
    return out


def test_pipelined_requests_are_answered_in_order_on_one_connection(seed_gateway):
    url = seed_gateway.base + "/dev/execution"
    body = execution_body(DEST_ARN)
    req = AWSRequest(method="POST", url=url, data=body, headers={"X-Amz-Source-Arn": SOURCE_ARN})
    SigV4Auth(STATES_A, "execute-api", "us-east-1").add_auth(req)
    head, payload = raw_request(req)
    good = head + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
    bad = f"GET /dev/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", seed_gateway.port)) as s:
        s.sendall(bad + good + bad)
        responses = read_responses(s, 3)
    assert [r[0].split(" ")[1] for r in responses] == ["403", "200", "403"]
    assert b"executionArn" in responses[1][1]


def test_chunked_request_body_is_accepted(seed_gateway):
    url = seed_gateway.base + "/dev/execution"
    body = execution_body(DEST_ARN)
    req = AWSRequest(method="POST", url=url, data=body, headers={"X-Amz-Source-Arn": SOURCE_ARN})
    SigV4Auth(STATES_A, "execute-api", "us-east-1").add_auth(req)
    head, payload = raw_request(req)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 7]), payload[i:i + 7]) for i in range(0, len(payload), 7))
    with socket.create_connection(("127.0.0.1", seed_gateway.port)) as s:
        s.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        (status_head, resp_body), = read_responses(s, 1)
    assert status_head.startswith("HTTP/1.1 200"), resp_body
    assert b"executionArn" in resp_body


def test_body_over_10_mb_is_413_with_aws_body(seed_gateway):
    with socket.create_connection(("127.0.0.1", seed_gateway.port)) as s:
        s.sendall(b"POST /dev/execution HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n")
        (head, body), = read_responses(s, 1)
    assert head.startswith("HTTP/1.1 413")
    assert json.loads(body) == {"message": "Request Too Long"}


def test_headers_over_the_limit_are_431(seed_gateway):
    with socket.create_connection(("127.0.0.1", seed_gateway.port)) as s:
        s.sendall(b"GET /dev/execution HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 11000 + b"\r\n\r\n")
        (head, _), = read_responses(s, 1)
    assert head.startswith("HTTP/1.1 431")


def test_malformed_request_is_400_and_connection_closes(seed_gateway):
    with socket.create_connection(("127.0.0.1", seed_gateway.port)) as s:
        # (An unknown method token is not malformed: RFC 9110 allows extension methods, and
        # API Gateway answers one it has no route for with 403. A request line with a third
        # space is malformed.)
        s.sendall(b"POST /dev/execution HTTP/1.1 x\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        responses = read_responses(s, 2)
    assert len(responses) == 1 and responses[0][0].startswith("HTTP/1.1 400")


def test_the_same_call_against_moto_passes_the_input_through(moto_server, tmp_path):
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id="AKIDAPIGATEWAYB", aws_secret_access_key="apigateway-secret-b")
    definition = json.dumps({"StartAt": "Task 1", "States": {"Task 1": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="DestinationStateMachine", definition=definition,
                                   roleArn="arn:aws:iam::123456789012:role/StepFunctionsRole")["stateMachineArn"]
    gw = Gateway(["--conf", str(CONF / "gatehouse.yaml"), "--states-endpoint", moto_server])
    try:
        payload = {"someKey": "someValue", "nested": {"list": [1, 2.5, "é"]}}
        body = execution_body(arn, payload)
        r = signed("POST", gw.base + "/dev/execution", body, headers={"X-Amz-Source-Arn": SOURCE_ARN})
        assert r.status_code == 200, r.text
        execution_arn = r.json()["executionArn"]
        described = sfn.describe_execution(executionArn=execution_arn)
        assert described["input"] == json.loads(body)["input"]
        assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == [execution_arn]
    finally:
        assert gw.stop() == 0


def test_bad_template_parameter_is_refused_at_start(tmp_path):
    import subprocess
    from conftest import binary
    r = subprocess.run([binary(), "validate", "--template", str(CONF / "account-b.yaml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "Parameters: [SourceStateMachineArn] must have values" in r.stderr


def test_slow_request_head_and_idle_connection_are_closed(tmp_path):
    conf = tmp_path / "gatehouse.yaml"
    conf.write_text((CONF / "gatehouse.yaml").read_text()
                    .replace("template: account-b.yaml", f"template: {CONF / 'account-b.yaml'}")
                    .replace("credentialsFile: credentials.yaml", f"credentialsFile: {CONF / 'credentials.yaml'}")
                    + "limits: { headerTimeoutMillis: 300, idleTimeoutMillis: 600 }\n")
    gw = Gateway(["--conf", str(conf)])
    try:
        import time
        with socket.create_connection(("127.0.0.1", gw.port)) as slow:
            slow.sendall(b"GET /dev/execution HTTP/1.1\r\nHost: x\r\n")  # head never finished
            slow.settimeout(5)
            started = time.time()
            assert slow.recv(100) == b""  # closed, without an answer
            assert time.time() - started < 3
        with socket.create_connection(("127.0.0.1", gw.port)) as idle:
            idle.sendall(b"GET /dev/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            (head, _), = read_responses(idle, 1)
            assert head.startswith("HTTP/1.1 403")
            idle.settimeout(5)
            assert idle.recv(100) == b""  # idle keep-alive connection closed after 600 ms
    finally:
        assert gw.stop() == 0


def test_template_flags_and_parameter_overrides_load_the_seed_unchanged():
    import subprocess
    from conftest import binary
    r = subprocess.run([binary(), "validate", "--template", str(CONF / "account-b.yaml"),
                        "--account-id", "444444444444", "--region", "eu-west-1",
                        "--parameter-overrides", f"SourceStateMachineArn={SOURCE_ARN}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "stage=dev method=POST path=/execution auth=AWS_IAM integration=aws:states:StartExecution" in r.stdout
    assert "stateMachine arn=arn:aws:states:eu-west-1:444444444444:stateMachine:DestinationStateMachine" in r.stdout
    assert r.stderr == ""  # every resource of the seed is understood: no warning


def test_unknown_resource_types_are_listed_at_start(tmp_path):
    import subprocess
    from conftest import binary
    t = tmp_path / "t.yaml"
    t.write_text((CONF / "account-b.yaml").read_text()
                 .replace("\nOutputs:", "\n    Bucket:\n      Type: AWS::S3::Bucket\n\nOutputs:"))
    r = subprocess.run([binary(), "validate", "--template", str(t),
                        "--parameter-overrides", f"SourceStateMachineArn={SOURCE_ARN}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "Bucket (AWS::S3::Bucket)" in r.stderr


def test_nothing_after_connection_close_is_answered(seed_gateway):
    req = b"GET /dev/nothing HTTP/1.1\r\nHost: x\r\n"
    with socket.create_connection(("127.0.0.1", seed_gateway.port)) as s:
        s.sendall(req + b"Connection: close\r\n\r\n" + req + b"\r\n")
        responses = read_responses(s, 2)
    assert len(responses) == 1
    assert "Connection: close" in responses[0][0]


def test_mutated_requests_get_400_or_403_and_the_server_keeps_serving(seed_gateway):
    """A bounded, seeded mutation run over raw requests: every answer is a 4xx, none crashes."""
    import random
    rnd = random.Random(2)
    seeds = [b"POST /dev/execution HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
             b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
             b"GET /dev/execution HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n"]
    seen = set()
    for _ in range(1000):
        data = bytearray(rnd.choice(seeds) * rnd.randint(1, 3))
        for _ in range(rnd.randint(0, 6)):
            pos = rnd.randrange(len(data))
            op = rnd.random()
            if op < 0.4:
                data[pos] = rnd.randrange(256)
            elif op < 0.7:
                del data[pos]
            else:
                data[pos:pos] = bytes([rnd.randrange(256)]) * rnd.randint(1, 40)
        with socket.create_connection(("127.0.0.1", seed_gateway.port), timeout=5) as s:
            try:
                s.sendall(bytes(data))
                s.shutdown(socket.SHUT_WR)
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
            except (ConnectionResetError, BrokenPipeError):
                continue
        seen.update(line[9:12] for line in got.split(b"\r\n") if line.startswith(b"HTTP/1.1 "))
    # 505 is the answer to a mutated major version (HTTP/2.1 on an HTTP/1 connection).
    assert seen <= {b"400", b"403", b"413", b"414", b"431", b"505"}, seen
    assert {b"400", b"403"} <= seen
    r = requests.get(seed_gateway.base + "/dev/nothing", timeout=5)
    assert r.status_code == 403


def test_gatehouse_curl_signs_as_state_machine_a(seed_gateway):
    import subprocess
    from conftest import binary
    body = execution_body(DEST_ARN).decode()
    ok = subprocess.run([binary(), "curl", "-i", "-X", "POST", "--access-key", "AKIDSTATESA", "--secret-key", "states-secret-a",
                         "--source-arn", SOURCE_ARN, "-d", body, seed_gateway.base + "/dev/execution"],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("HTTP/1.1 200 OK")
    assert '"executionArn":"arn:aws:states:us-east-1:222222222222:execution:DestinationStateMachine:' in ok.stdout
    denied = subprocess.run([binary(), "curl", "-i", "-X", "POST", "--access-key", "AKIDSTATESA", "--secret-key", "states-secret-a",
                             "--source-arn", SOURCE_ARN.replace("SourceStateMachine", "Other"), "-d", body,
                             seed_gateway.base + "/dev/execution"], capture_output=True, text=True, timeout=30)
    assert denied.stdout.startswith("HTTP/1.1 403 Forbidden")
    assert "is not authorized to perform: execute-api:Invoke" in denied.stdout


def test_demo_runs_the_whole_seed_on_one_machine():
    """`gatehouse demo`: A calls B's API (apigateway:invoke, RESOURCE_POLICY) and starts B; A'
    is refused with ApiGateway.403. This is what ./scripts/run-seed.sh runs."""
    r = subprocess.run([binary(), "demo", "--conf", str(CONF / "seed.yaml")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "   A: SUCCEEDED  arn:aws:states:us-east-1:111111111111:execution:SourceStateMachine:" in "\n".join(lines)
    a_output = json.loads(next(l for l in lines if l.startswith("   A output: ")).split(": ", 1)[1])
    b_arn = a_output["ResponseBody"]["executionArn"]
    assert b_arn.startswith("arn:aws:states:us-east-1:222222222222:execution:DestinationStateMachine:")
    assert a_output["StatusCode"] == 200
    assert f"   B: SUCCEEDED  {b_arn}" in lines
    assert '   B output: {"someKey":"someValue"}' in lines
    assert "   A' error: ApiGateway.403" in lines
    assert lines[-2:] == ["demo: ok (B SUCCEEDED; A' failed with ApiGateway.403)", "stopped"]


def test_demo_fails_when_the_policy_names_another_source(tmp_path):
    """The same demo against a B whose policy names some other state machine: A is refused too,
    B never runs, and the demo says so with exit code 1."""
    conf = tmp_path / "seed.yaml"
    conf.write_text((CONF / "seed.yaml").read_text()
                    .replace("template: account-a.yaml", f"template: {CONF / 'account-a.yaml'}")
                    .replace("template: account-b.yaml", f"template: {CONF / 'account-b.yaml'}")
                    .replace("credentialsFile: credentials.yaml", f"credentialsFile: {CONF / 'credentials.yaml'}")
                    .replace("stateMachine:SourceStateMachine", "stateMachine:SomeoneElse"))
    r = subprocess.run([binary(), "demo", "--conf", str(conf)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "   A: FAILED  arn:aws:states:us-east-1:111111111111:execution:SourceStateMachine:" in r.stdout
    assert "   A error: ApiGateway.403" in r.stdout
    assert "demo: FAILED (expected B SUCCEEDED and A' ApiGateway.403)" in r.stdout
