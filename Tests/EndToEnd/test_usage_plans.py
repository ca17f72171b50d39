"""API keys, usage plans (throttle and quota) and the account throttle, as API Gateway answers."""
import time
from pathlib import Path

import pytest
import requests

from conftest import Gateway

FIXTURES = Path(__file__).parent / "fixtures"
THROTTLED = "throttled-key-0123456789"
QUOTA = "quota-key-0123456789abc"
DISABLED = "disabled-key-0123456789"
OTHER_STAGE = "other-stage-key-0123456789"


def conf(tmp_path, extra=""):
    c = tmp_path / "gatehouse.yaml"
    c.write_text(f"""template: {FIXTURES / 'keys-api.yaml'}
workers: 2
accessLog: {{destination: "off"}}
apiKeys:
  - {{name: throttled, value: {THROTTLED}}}
  - {{name: quota, value: {QUOTA}}}
  - {{name: disabled, value: {DISABLED}, enabled: false}}
  - {{name: other, value: {OTHER_STAGE}}}
usagePlans:
  - name: fast
    apiStages: [{{apiId: KeysApi, stage: test}}]
    throttle: {{rateLimit: 20, burstLimit: 5}}
    keys: [throttled, disabled]
  - name: small
    apiStages: [{{apiId: KeysApi, stage: test}}]
    quota: {{limit: 3, period: DAY}}
    keys: [quota]
  - name: elsewhere
    apiStages: [{{apiId: KeysApi, stage: prod}}]
    keys: [other]
""" + extra)
    return c


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory):
    gw = Gateway(["--conf", str(conf(tmp_path_factory.mktemp("keys")))])
    yield gw
    assert gw.stop() == 0


@pytest.mark.parametrize("key", [None, "no-such-key-0123456789", DISABLED, OTHER_STAGE])
def test_a_key_that_is_missing_unknown_disabled_or_for_another_stage_is_forbidden(keyed_gateway, key):
    r = requests.get(keyed_gateway.base + "/test/keyed", headers={"x-api-key": key} if key else {}, timeout=5)
    assert r.status_code == 403
    assert r.json() == {"message": "Forbidden"}
    assert r.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_a_route_without_api_key_required_ignores_keys(keyed_gateway):
    assert requests.get(keyed_gateway.base + "/test/open", timeout=5).status_code == 200


def test_usage_plan_throttle_answers_429_at_the_configured_rate_and_recovers(keyed_gateway):
    ok, throttled = 0, 0
    with requests.Session() as s:
        start = time.monotonic()
        while time.monotonic() - start < 3.0:
            r = s.get(keyed_gateway.base + "/test/keyed", headers={"x-api-key": THROTTLED}, timeout=5)
            if r.status_code == 200:
                ok += 1
            else:
                assert r.status_code == 429
                assert r.json() == {"message": "Too Many Requests"}
                assert r.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
                throttled += 1
        elapsed = time.monotonic() - start
    expected = 5 + 20 * elapsed  # the burst, then the rate
    assert throttled > 0
    assert abs(ok - expected) <= 0.1 * expected, (ok, expected, throttled)
    time.sleep(0.5)  # ten tokens back
    assert requests.get(keyed_gateway.base + "/test/keyed", headers={"x-api-key": THROTTLED}, timeout=5).status_code == 200


def test_usage_plan_quota_answers_limit_exceeded(keyed_gateway):
    statuses = [requests.get(keyed_gateway.base + "/test/keyed", headers={"x-api-key": QUOTA}, timeout=5) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    assert statuses[3].json() == {"message": "Limit Exceeded"}
    assert statuses[3].headers["x-amzn-ErrorType"] == "LimitExceededException"


def test_account_throttle_applies_to_every_route(tmp_path):
    gw = Gateway(["--conf", str(conf(tmp_path, "throttle: {rateLimit: 10, burstLimit: 3}\n"))])
    try:
        with requests.Session() as s:
            codes = [s.get(gw.base + "/test/open", timeout=5).status_code for _ in range(20)]
        assert codes[:3] == [200, 200, 200]
        assert 429 in codes
        assert codes.count(200) <= 3 + 10 * 1.0  # at most the burst plus a second of refill
        time.sleep(0.3)
        assert requests.get(gw.base + "/test/open", timeout=5).status_code == 200
    finally:
        assert gw.stop() == 0


def test_bad_usage_settings_are_refused_at_start(tmp_path):
    import subprocess
    from conftest import binary
    c = tmp_path / "bad.yaml"
    c.write_text(f"template: {FIXTURES / 'keys-api.yaml'}\napiKeys:\n  - {{name: short, value: tooshort}}\n")
    out = subprocess.run([binary(), "validate", "--conf", str(c)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "apiKeys[0].value: must be at least 20 characters" in out.stderr


def test_keys_and_plans_declared_in_the_template():
    gw = Gateway(["--template", str(FIXTURES / "keys-template-api.yaml")])
    try:
        url = gw.base + "/test/keyed"
        partner = {"x-api-key": "partner-key-0123456789abcdef"}
        assert [requests.get(url, headers=partner, timeout=5).status_code for _ in range(3)] == [200, 200, 429]
        # An AWS::ApiGateway::ApiKey without Enabled is disabled, as CloudFormation makes it.
        r = requests.get(url, headers={"x-api-key": "disabled-by-default-0123456789"}, timeout=5)
        assert r.status_code == 403
        assert not any("resources Gatehouse does not run" in l and "ApiKey" in l for l in gw.lines)
    finally:
        assert gw.stop() == 0


def test_stage_method_settings_throttle_one_method():
    gw = Gateway(["--template", str(FIXTURES / "keys-template-api.yaml")])
    try:
        with requests.Session() as s:
            codes = [s.get(gw.base + "/test/open", timeout=5).status_code for _ in range(10)]
        # Burst 2 at 5 a second: the first two pass, most of the rest are throttled.
        assert codes[:2] == [200, 200] and codes.count(429) >= 6, codes
        r = requests.get(gw.base + "/test/open", timeout=5)
        assert r.status_code in (200, 429)
        time.sleep(0.5)
        assert requests.get(gw.base + "/test/open", timeout=5).status_code == 200
    finally:
        assert gw.stop() == 0
