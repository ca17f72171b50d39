"""Resource policies and identity policies decided by a running gateway, as API Gateway's
decision table has it: signed requests from different principals (same account, another
account, a role session, a service asserting its source ARN), source addresses from several
loopback addresses (127.0.0.x), TLS, the current time, and a trusted proxy. The same questions
asked of `gatehouse policy evaluate` get the same answers."""
import http.client
import json
import re
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import Gateway, binary, tls_conf

FIXTURES = Path(__file__).parent / "fixtures"
API = FIXTURES / "policies-api.yaml"
CREDS = FIXTURES / "policies-credentials.yaml"
SOURCE_ARN = "arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"

KEYS = {entry["accessKeyId"]: entry for entry in yaml.safe_load(CREDS.read_text())["credentials"]}


def creds(key):
    e = KEYS[key]
    return Credentials(key, e["secretAccessKey"], e.get("sessionToken"))


def api_id(gw):
    return next(re.search(r"api=(\w+)", l).group(1) for l in gw.lines if l.startswith("route "))


def call(port, method, path, key=None, source="127.0.0.1", headers=None, body=b"", tls_ca=None):
    """One request from `source` (a loopback address), signed by `key` when given."""
    headers = dict(headers or {})
    scheme = "https" if tls_ca else "http"
    url = f"{scheme}://127.0.0.1:{port}{path}"
    if key:
        req = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(creds(key), "execute-api", "us-east-1").add_auth(req)
        headers = dict(req.prepare().headers)
    if tls_ca:
        ctx = ssl.create_default_context(cafile=str(tls_ca))
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10, source_address=(source, 0))
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    c.request(method, path, body=body or None, headers=headers)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


@pytest.fixture(scope="module")
def gw():
    g = Gateway(["--template", str(API), "--credentials", str(CREDS), "--account-id", "222222222222",
                 "--access-log", "off"])
    yield g
    assert g.stop() == 0


def denial(gw, caller, route, explicit):
    arn = f"arn:aws:execute-api:us-east-1:********2222:{api_id(gw)}/test/{route}"
    text = f"User: {caller} is not authorized to perform: execute-api:Invoke on resource: {arn}"
    return {"Message": text + (" with an explicit deny" if explicit else "")}


# (key, method, path, expected status, explicit deny?) — the decision table through the gateway.
SIGNED_CASES = [
    # Same account: the identity policy alone allows (resource policy silent on /iam for alice).
    ("AKIDALICE", "GET", "/test/iam", 200, None),
    # Same account, neither policy allows.
    ("AKIDBOB", "GET", "/test/iam", 403, False),
    # Another account: the identity policy and the resource policy both allow.
    ("AKIDMALLORY", "GET", "/test/iam", 200, None),
    # Another account, identity allows but the resource policy is silent.
    ("AKIDCAROL", "GET", "/test/iam", 403, False),
    # Another account, the resource policy allows but there is no identity policy.
    ("AKIDOSCAR", "GET", "/test/iam", 403, False),
    # A tag on the principal meets the resource policy's explicit deny.
    ("AKIDERIN", "GET", "/test/iam", 403, True),
    # The identity policy's own explicit deny wins over its allow.
    ("AKIDDAN", "GET", "/test/iam", 403, True),
    ("AKIDDAN", "GET", "/test/role", 200, None),
    # A role ARN in Principal covers the role's sessions.
    ("AKIDDEPLOY", "GET", "/test/role", 200, None),
    ("AKIDDEPLOY", "GET", "/test/iam", 403, False),
    # ${aws:username}: bob may read his own user, not alice's.
    ("AKIDBOB", "GET", "/test/users/bob", 200, None),
    ("AKIDBOB", "GET", "/test/users/alice", 403, False),
    # aws:PrincipalType, aws:PrincipalAccount, aws:userid, aws:username, aws:PrincipalArn.
    ("AKIDBOB", "GET", "/test/whoami", 200, None),
    ("AKIDDEPLOY", "GET", "/test/whoami", 403, False),   # an AssumedRole, no username or userid
    ("AKIDOSCAR", "GET", "/test/whoami", 403, False),    # another account
]


@pytest.mark.parametrize("key,method,path,status,explicit", SIGNED_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in SIGNED_CASES])
def test_signed_callers(gw, key, method, path, status, explicit):
    got, headers, body = call(gw.port, method, path, key=key)
    assert got == status, body
    if status == 403:
        arn = KEYS[key]["principal"]["arn"]
        route = method + path[len("/test"):]
        assert json.loads(body) == denial(gw, arn, route, explicit)
        assert headers["x-amzn-errortype"] == "AccessDeniedException"
    else:
        assert json.loads(body) == {"ok": True}


@pytest.mark.parametrize("source,status", [("127.0.0.2", 200), ("127.0.0.3", 200), ("127.0.0.1", 403), ("127.0.0.4", 403)])
def test_source_ip_from_the_socket(gw, source, status):
    got, headers, body = call(gw.port, "GET", "/test/open", source=source)
    assert got == status, body
    if status == 403:
        assert json.loads(body) == denial(gw, "anonymous", "GET/open", False)


def test_a_client_header_does_not_change_the_source_ip(gw):
    # Without trustedProxies, X-Forwarded-For is the client's word and counts for nothing.
    got, _, _ = call(gw.port, "GET", "/test/open", source="127.0.0.1", headers={"X-Forwarded-For": "127.0.0.2"})
    assert got == 403


def test_source_arn_asserted_by_a_service(gw):
    body = b'{"x": 1}'
    ok = call(gw.port, "POST", "/test/execution", key="AKIDSTATES", body=body,
              headers={"Content-Type": "application/json", "X-Amz-Source-Arn": SOURCE_ARN})
    assert ok[0] == 200, ok[2]
    other = SOURCE_ARN.replace("SourceStateMachine", "Other")
    denied = call(gw.port, "POST", "/test/execution", key="AKIDSTATES", body=body,
                  headers={"Content-Type": "application/json", "X-Amz-Source-Arn": other})
    assert denied[0] == 403
    assert json.loads(denied[2]) == denial(gw, "anonymous", "POST/execution", False)
    # Without a source ARN the condition's key is absent: ArnEquals does not match.
    bare = call(gw.port, "POST", "/test/execution", key="AKIDSTATES", body=body,
                headers={"Content-Type": "application/json"})
    assert bare[0] == 403


@pytest.mark.parametrize("headers,status", [
    ({"User-Agent": "policy-test/1", "Referer": "https://example.com/page"}, 200),
    ({"User-Agent": "policy-test/2", "Referer": "https://example.com/page"}, 403),
    ({"User-Agent": "policy-test/1", "Referer": "https://evil.example/page"}, 403),
    ({"User-Agent": "policy-test/1"}, 403),
])
def test_user_agent_referer_and_epoch_time(gw, headers, status):
    assert call(gw.port, "GET", "/test/headers", headers=headers)[0] == status


def test_current_time_is_set(gw):
    got, _, body = call(gw.port, "GET", "/test/expired")
    assert got == 403
    assert json.loads(body) == denial(gw, "anonymous", "GET/expired", True)


def test_secure_transport_false_over_plain_http(gw):
    got, _, body = call(gw.port, "GET", "/test/secure")
    assert got == 403
    assert json.loads(body) == denial(gw, "anonymous", "GET/secure", True)


@pytest.fixture(scope="module")
def proxied_gw(certs, tmp_path_factory):
    """The same API behind TLS, trusting 127.0.0.5 as a proxy."""
    conf = tmp_path_factory.mktemp("policy-conf") / "gatehouse.yaml"
    conf.write_text(f"template: {API}\ncredentialsFile: {CREDS}\naccountId: '222222222222'\n"
                    f"trustedProxies: ['127.0.0.5']\naccessLog: {{destination: 'off'}}\n" + tls_conf(certs))
    g = Gateway(["--conf", str(conf)])
    yield g
    assert g.stop() == 0


def test_secure_transport_true_over_tls(proxied_gw, certs):
    got, _, body = call(proxied_gw.tls_port, "GET", "/test/secure", tls_ca=certs / "cert.pem")
    assert got == 200, body
    # The same listener set's plain port still refuses it.
    assert call(proxied_gw.port, "GET", "/test/secure")[0] == 403


def test_trusted_proxy_names_the_client(proxied_gw):
    # From the trusted proxy: the right-most untrusted X-Forwarded-For entry is the client.
    assert call(proxied_gw.port, "GET", "/test/open", source="127.0.0.5",
                headers={"X-Forwarded-For": "127.0.0.2"})[0] == 200
    assert call(proxied_gw.port, "GET", "/test/open", source="127.0.0.5",
                headers={"X-Forwarded-For": "127.0.0.2, 127.0.0.9"})[0] == 403
    # From anyone else the header is ignored.
    assert call(proxied_gw.port, "GET", "/test/open", source="127.0.0.6",
                headers={"X-Forwarded-For": "127.0.0.2"})[0] == 403
    # The proxy itself, without the header, is the client (and not allowed).
    assert call(proxied_gw.port, "GET", "/test/open", source="127.0.0.5")[0] == 403


def test_malformed_policy_is_refused_at_load(tmp_path):
    bad = tmp_path / "api.yaml"
    bad.write_text(API.read_text().replace("Effect: Deny", "Effect: Forbid", 1))
    r = subprocess.run([binary(), "validate", "--template", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "x-amazon-apigateway-policy" in r.stderr and "Effect" in r.stderr and "Forbid" in r.stderr


def test_validate_warns_before_serving(tmp_path):
    odd = tmp_path / "api.yaml"
    odd.write_text(API.read_text().replace("aws:UserAgent:", "aws:UserAgnet:")
                   .replace("Resource: execute-api:/test/GET/role", "Resource: arn:aws:execute-api:us-east-1:222222222222:otherapi/*"))
    r = subprocess.run([binary(), "validate", "--template", str(odd), "--account-id", "222222222222"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stderr.splitlines() if l.startswith("warning:")]
    assert any("aws:UserAgnet" in w and "unknown condition key" in w for w in warnings), warnings
    assert any("Statement[5]" in w and "no Resource matches" in w for w in warnings), warnings
    # The fixture itself is clean.
    clean = subprocess.run([binary(), "validate", "--template", str(API), "--account-id", "222222222222"],
                           capture_output=True, text=True)
    assert not [l for l in clean.stderr.splitlines() if l.startswith("warning:")], clean.stderr


def test_bad_trusted_proxy_is_refused_at_load(tmp_path):
    conf = tmp_path / "gatehouse.yaml"
    conf.write_text(f"template: {API}\ntrustedProxies: ['10.0.0.0/40']\n")
    r = subprocess.run([binary(), "validate", "--conf", str(conf)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "trustedProxies" in r.stderr and "10.0.0.0/40" in r.stderr


# --- gatehouse policy evaluate gives the gateway's answers --------------------------------

def policy_files(tmp_path):
    template = yaml.safe_load(API.read_text())
    policy = template["Resources"]["PolicyApi"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-policy"]
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(policy))
    return p


def evaluate(tmp_path, request, identity=()):
    req = tmp_path / "request.json"
    req.write_text(json.dumps(request))
    args = [binary(), "policy", "evaluate", "--policy", str(policy_files(tmp_path)), "--request", str(req)]
    for i, doc in enumerate(identity):
        f = tmp_path / f"identity{i}.json"
        f.write_text(json.dumps(doc))
        args += ["--identity-policy", str(f)]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    assert (r.returncode == 0) == (out["decision"] == "Allow")
    return out


@pytest.mark.parametrize("key,method,path,status,explicit", SIGNED_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in SIGNED_CASES])
def test_policy_evaluate_agrees_with_the_gateway(gw, tmp_path, key, method, path, status, explicit):
    entry = KEYS[key]
    resource = f"arn:aws:execute-api:us-east-1:222222222222:{api_id(gw)}/test/{method}{path[len('/test'):]}"
    context = {f"aws:PrincipalTag/{k}": v for k, v in (entry.get("tags") or {}).items()}
    if "userId" in entry:
        context["aws:userid"] = entry["userId"]
    out = evaluate(tmp_path, {"principal": {"arn": entry["principal"]["arn"]}, "resource": resource,
                              "authorizationType": "AWS_IAM", "context": context},
                   identity=entry.get("policies") or [])
    expected = "Allow" if status == 200 else ("ExplicitDeny" if explicit else "ImplicitDeny")
    assert out["decision"] == expected
    got = call(gw.port, method, path, key=key)
    assert got[0] == status
    if status == 403:
        assert json.loads(got[2])["Message"] == out["message"]
    else:
        assert out["statements"], "an allow names the statements that allowed it"


def test_policy_evaluate_names_the_deciding_statements(gw, tmp_path):
    resource = f"arn:aws:execute-api:us-east-1:222222222222:{api_id(gw)}/test/GET/open"
    allowed = evaluate(tmp_path, {"principal": {"anonymous": True}, "resource": resource, "authorizationType": "NONE",
                                  "context": {"aws:SourceIp": "127.0.0.3"}})
    assert allowed == {"decision": "Allow", "statements": [
        {"policy": "resource", "index": 0, "sid": "OpenFromTwoAddresses", "effect": "Allow"}]}
    denied = evaluate(tmp_path, {"principal": {"arn": "arn:aws:iam::222222222222:user/erin"}, "resource": resource,
                                 "authorizationType": "AWS_IAM", "context": {"aws:PrincipalTag/team": "blocked"}})
    assert denied["decision"] == "ExplicitDeny"
    assert denied["statements"] == [{"policy": "resource", "index": 3, "sid": "DenyBlockedTeam", "effect": "Deny"}]
    assert denied["message"].endswith("with an explicit deny")
    # A Lambda authorizer is never asked after the resource policy's explicit deny.
    custom = evaluate(tmp_path, {"principal": {"anonymous": True}, "resource": resource, "authorizationType": "CUSTOM",
                                 "authorizer": "Allow", "context": {"aws:PrincipalTag/team": "blocked"}})
    assert custom["decision"] == "ExplicitDeny" and custom.get("deniedBeforeAuthorizer") is True


def test_policy_evaluate_refuses_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": {"Effect": "Permit", "Principal": "*", "Action": "*", "Resource": "*"}}')
    req = tmp_path / "req.json"
    req.write_text('{"resource": "arn:aws:execute-api:us-east-1:1:a/s/GET/x"}')
    r = subprocess.run([binary(), "policy", "evaluate", "--policy", str(bad), "--request", str(req)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Statement.Effect" in r.stderr and "Permit" in r.stderr
