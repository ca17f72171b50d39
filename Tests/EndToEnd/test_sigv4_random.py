"""Randomized SigV4: requests signed by botocore (SigV4Auth and SigV4QueryAuth, service
execute-api) over random methods, paths with reserved and non-ASCII characters, repeated query
keys, empty values, odd header whitespace and bodies are all accepted; the same requests with
one byte of a signed part changed are all refused with 403."""
import http.client
import random
import urllib.parse
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import Gateway

FIXTURES = Path(__file__).parent / "fixtures"
CREDS = Credentials("AKIDFUZZ", "fuzz-secret")
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
# Characters a path segment or query value is drawn from: unreserved, reserved, space, and
# non-ASCII (two-, three- and four-byte UTF-8).
ALPHABET = "abcXYZ019-._~!$&'()*+,;=:@ %é日🙂/?#[]"
SEGMENT_SAFE = "-._~!$&'()*+,;=:@"


@pytest.fixture(scope="module")
def signed_gateway():
    gw = Gateway(["--template", str(FIXTURES / "sigv4-api.yaml"),
                  "--credentials", str(FIXTURES / "sigv4-credentials.yaml"),
                  "--access-log", "off"])
    yield gw
    assert gw.stop() == 0


def random_text(rnd, low=1, high=8):
    return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(low, high)))


def random_request(rnd, port, with_body=True):
    """A random request as botocore would be asked to sign it: method, URL, headers, body."""
    segments = []
    for _ in range(rnd.randint(1, 4)):
        seg = random_text(rnd).replace("/", "")
        if seg in ("", ".", ".."):
            seg = "s" + seg
        segments.append(urllib.parse.quote(seg, safe=SEGMENT_SAFE))
    path = "/test/" + "/".join(segments)
    query = []
    for _ in range(rnd.randint(0, 4)):
        key = rnd.choice(["a", "b", "k" + str(rnd.randint(0, 2)), random_text(rnd, 1, 4)])
        value = rnd.choice(["", random_text(rnd, 0, 6)])
        query.append((key, value))
        if rnd.random() < 0.3:
            query.append((key, random_text(rnd, 0, 3)))  # a repeated key
    url = f"http://127.0.0.1:{port}{path}"
    if query:
        url += "?" + "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                              for k, v in query)
    method = rnd.choice(METHODS)
    headers = {}
    for i in range(rnd.randint(0, 3)):
        # Odd whitespace: leading, trailing and repeated inner spaces and tabs (SigV4 trims and
        # folds). Header values stay ASCII: an SDK sends a str header as Latin-1 bytes but signs
        # its UTF-8, so a non-ASCII header value cannot be signed consistently by any client.
        headers[f"X-Fuzz-{i}"] = rnd.choice(["  a   b  ", "plain", "x\ty", " lead", "trail ", "a \t  b", "v,w"])
    body = b""
    if with_body and method in ("POST", "PUT", "PATCH") and rnd.random() < 0.8:
        body = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 300)))
        headers["Content-Type"] = rnd.choice(["application/json", "application/octet-stream", "text/plain"])
    return method, url, headers, body


def sign(method, url, headers, body, presign):
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    if presign:
        SigV4QueryAuth(CREDS, "execute-api", "us-east-1", expires=300).add_auth(req)
    else:
        SigV4Auth(CREDS, "execute-api", "us-east-1").add_auth(req)
    prepared = req.prepare()
    headers = dict(prepared.headers)
    if not any(k.lower() == "host" for k in headers):
        # botocore signs the Host the HTTP client will send; send exactly that.
        headers["Host"] = urllib.parse.urlsplit(prepared.url).netloc
    return prepared.method, prepared.url, headers, body


def send(port, method, target, headers, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            c.putheader(k, v)
        if (body or method in ("POST", "PUT", "PATCH")) and not any(k.lower() == "content-length" for k in headers):
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def target_of(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def mutate(rnd, method, target, headers, body, presign):
    """One byte of one signed part changed to another printable byte, or None if none fits."""
    choices = ["path"]
    if "?" in target:
        choices.append("query")
    if body and not presign:
        choices.append("body")
    signed_names = []
    if presign:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        signed_names = q.get("X-Amz-SignedHeaders", [""])[0].split(";")
    else:
        auth = headers.get("Authorization", "")
        if "SignedHeaders=" in auth:
            signed_names = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        choices.append("authorization")
    signed_present = [k for k in headers if k.lower() in signed_names and headers[k].strip()]
    if signed_present:
        choices.append("header")
    what = rnd.choice(choices)
    printable = [c for c in range(0x21, 0x7F) if chr(c) not in "%#?&=/+ "]

    def flip(data, start=0):
        data = bytearray(data)
        i = rnd.randrange(start, len(data))
        data[i] = rnd.choice([c for c in printable if c != data[i]])
        return bytes(data)

    if what == "path":
        path, _, query = target.partition("?")
        new = flip(path.encode("latin-1"), len("/test/")).decode("latin-1")
        return method, new + ("?" + query if query else ""), headers, body, what
    if what == "query":
        path, _, query = target.partition("?")
        return method, path + "?" + flip(query.encode("latin-1")).decode("latin-1"), headers, body, what
    if what == "body":
        return method, target, headers, flip(body), what
    if what == "authorization":
        h = dict(headers)
        h["Authorization"] = flip(h["Authorization"].encode("latin-1")).decode("latin-1")
        return method, target, h, body, what
    name = rnd.choice(signed_present)
    h = dict(headers)
    value = h[name].encode("latin-1")
    stripped = value.strip()
    if not stripped:
        return None
    start = value.index(stripped[:1])
    new = bytearray(value)
    i = rnd.randrange(start, start + len(stripped))
    new[i] = rnd.choice([c for c in printable if c != new[i]])
    h[name] = bytes(new).decode("latin-1")
    return method, target, h, body, what + ":" + name


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_random_signed_requests_pass_and_one_byte_changes_fail(signed_gateway, presign):
    rnd = random.Random(0x51C4 + presign)
    port = signed_gateway.port
    accepted, refused, failures = 0, 0, []
    n = 600  # per form: 1200 signed requests in all, and as many mutations
    for _ in range(n):
        # A presigned URL carries no body: botocore's SigV4QueryAuth would try to move a body
        # into the query string (the query-protocol convention).
        method, url, headers, body = sign(*random_request(rnd, port, with_body=not presign), presign)
        target = target_of(url)
        status = send(port, method, target, headers, body)
        if status == 200:
            accepted += 1
        else:
            failures.append(("signed", status, method, target, headers))
            continue
        m = mutate(rnd, method, target, headers, body, presign)
        if m is None:
            continue
        status = send(port, m[0], m[1], m[2], m[3])
        if status == 403:
            refused += 1
        else:
            failures.append(("mutated " + m[4], status, m[0], m[1], m[2]))
    print(f"{'presigned' if presign else 'header'}: {accepted} signed accepted, {refused} mutated refused")
    assert not failures, f"{len(failures)} failures, first: {failures[:3]}"
    assert accepted == n
    assert refused >= n * 0.95  # a mutation is skipped only when a signed header is blank


def _signed_at(url, when=None, region="us-east-1", service="execute-api", presign_expires=None):
    """A GET signed by botocore as of `when` (default now), for a region and service."""
    import datetime
    from unittest import mock
    req = AWSRequest(method="GET", url=url, data=b"", headers={})
    auth = (SigV4QueryAuth(CREDS, service, region, expires=presign_expires) if presign_expires
            else SigV4Auth(CREDS, service, region))
    if when is None:
        auth.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            auth.add_auth(req)
    p = req.prepare()
    headers = dict(p.headers)
    headers.setdefault("Host", urllib.parse.urlsplit(p.url).netloc)
    c = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(url).port, timeout=10)
    c.putrequest("GET", target_of(p.url), skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    import json as _json
    body = _json.loads(r.read() or b"{}")
    return r.status, r.getheader("x-amzn-ErrorType"), body.get("message", "")


def test_future_dated_signature_is_not_yet_current(signed_gateway):
    import datetime
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    status, kind, message = _signed_at(signed_gateway.base + "/test/x", when=future)
    assert (status, kind) == (403, "InvalidSignatureException")
    assert message.startswith("Signature not yet current: " + future.strftime("%Y%m%dT%H%M%SZ") + " is still later than ")
    assert message.endswith(" + 5 min.)")


@pytest.mark.parametrize("region,service,expected", [
    ("eu-west-1", "execute-api", "Credential should be scoped to a valid region. "),
    ("us-east-1", "states", "Credential should be scoped to correct service: 'execute-api'. "),
])
def test_wrong_credential_scope_is_refused(signed_gateway, region, service, expected):
    status, kind, message = _signed_at(signed_gateway.base + "/test/x", region=region, service=service)
    assert (status, kind) == (403, "InvalidSignatureException")
    assert message == expected


def test_presigned_url_is_refused_once_expired(signed_gateway):
    import datetime
    url = signed_gateway.base + "/test/presigned"
    assert _signed_at(url, presign_expires=60)[0] == 200
    # Signed 2 minutes ago for 60 seconds: replaying it now is too late.
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=2)
    status, kind, message = _signed_at(url, when=past, presign_expires=60)
    assert (status, kind) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired: " + past.strftime("%Y%m%dT%H%M%SZ") + " is now earlier than ")
    # The window is X-Amz-Expires, written as AWS writes durations (whole minutes as "min").
    assert message.endswith(" - 1 min.)")


def test_presigned_url_over_a_week_is_refused(signed_gateway):
    status, kind, message = _signed_at(signed_gateway.base + "/test/x", presign_expires=604801)
    assert status == 403
    assert "X-Amz-Expires must be less than a week" in message


def test_temporary_credentials_work_until_they_expire(tmp_path):
    creds_file = tmp_path / "creds.yaml"
    creds_file.write_text("""credentials:
  - accessKeyId: ASIAFRESH
    secretAccessKey: fresh-secret
    sessionToken: fresh-token
    expiration: "2999-01-01T00:00:00Z"
    principal: { arn: "arn:aws:iam::123456789012:user/fuzz" }
  - accessKeyId: ASIASTALE
    secretAccessKey: stale-secret
    sessionToken: stale-token
    expiration: "2020-01-01T00:00:00Z"
    principal: { arn: "arn:aws:iam::123456789012:user/fuzz" }
""")
    gw = Gateway(["--template", str(FIXTURES / "sigv4-api.yaml"), "--credentials", str(creds_file)])
    try:
        def call(creds):
            req = AWSRequest(method="GET", url=gw.base + "/test/t", data=b"", headers={})
            SigV4Auth(creds, "execute-api", "us-east-1").add_auth(req)
            p = req.prepare()
            r = __import__("requests").get(p.url, headers=dict(p.headers), timeout=5)
            return r.status_code, r.headers.get("x-amzn-ErrorType"), r.json()
        assert call(Credentials("ASIAFRESH", "fresh-secret", "fresh-token"))[0] == 200
        assert call(Credentials("ASIASTALE", "stale-secret", "stale-token")) == (
            403, "ExpiredTokenException", {"message": "The security token included in the request is expired"})
        # The session token is part of the credential: without it, or with another, no entry.
        assert call(Credentials("ASIAFRESH", "fresh-secret"))[0] == 403
        assert call(Credentials("ASIAFRESH", "fresh-secret", "other-token"))[0] == 403
    finally:
        assert gw.stop() == 0
