"""The embedded workflow engine behind its own Step Functions API listener (`--states-listen`).

Real clients only: the AWS CLI and boto3 talk AWS JSON 1.0 to the listener, and the same state
machine definitions are run on moto's server in its executing mode to compare results."""
import json
import os
import re
import subprocess
import time

import boto3
import pytest
import requests

from conftest import Gateway, Upstream

ROLE = "arn:aws:iam::123456789012:role/sfn"
SM_PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"


@pytest.fixture(scope="module")
def states_gateway():
    gw = Gateway(["--states-listen", "127.0.0.1:0", "--workers", "1", "--access-log", "off"])
    # The states listener prints its line before the gateway's own listener line.
    line = next(l for l in gw.lines if l.startswith("states API listening on "))
    gw.states_url = "http://" + re.search(r"http://([^ ]+)$", line).group(1)
    yield gw
    assert gw.stop() == 0


def client(url):
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDLOCAL", aws_secret_access_key="local-secret")


def run_to_end(sfn, definition, payload, name, timeout=15):
    """Creates (or reuses) a machine for `definition`, runs it on `payload`, and returns
    DescribeExecution once the execution has closed."""
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="e-" + name, input=json.dumps(payload))["executionArn"]
    return run_until_closed(sfn, execution, timeout)


def run_until_closed(sfn, execution_arn, timeout=15):
    """DescribeExecution once the execution has closed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=execution_arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still RUNNING after {timeout} s")


def aws_cli(url, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDLOCAL", AWS_SECRET_ACCESS_KEY="local-secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    out = subprocess.run(["aws", "stepfunctions", "--endpoint-url", url, *args, "--output", "json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def test_aws_cli_creates_starts_describes_and_reads_history(states_gateway):
    url = states_gateway.states_url
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
        "Big": {"Type": "Pass", "Parameters": {"msg.$": "States.Format('big {}', $.n)"}, "End": True},
        "Small": {"Type": "Succeed"}}}
    created = aws_cli(url, "create-state-machine", "--name", "cli", "--role-arn", ROLE, "--definition", json.dumps(definition))
    assert created["stateMachineArn"] == SM_PREFIX + "cli"
    started = aws_cli(url, "start-execution", "--state-machine-arn", SM_PREFIX + "cli", "--name", "first", "--input", '{"n": 5}')
    assert started["executionArn"].endswith(":execution:cli:first")
    # The Wait state holds the execution RUNNING for a second, then the loop's timer wakes it.
    assert aws_cli(url, "describe-execution", "--execution-arn", started["executionArn"])["status"] == "RUNNING"
    time.sleep(1.5)
    described = aws_cli(url, "describe-execution", "--execution-arn", started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"msg": "big 5"}
    assert described["stopDate"] - described["startDate"] >= 1.0
    events = aws_cli(url, "get-execution-history", "--execution-arn", started["executionArn"])["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ChoiceStateEntered", "ChoiceStateExited",
        "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert events[2]["timestamp"] - events[1]["timestamp"] >= 1.0
    listed = aws_cli(url, "list-state-machines")
    assert [m["name"] for m in listed["stateMachines"]] == ["cli"]
    described_machine = aws_cli(url, "describe-state-machine", "--state-machine-arn", SM_PREFIX + "cli")
    assert json.loads(described_machine["definition"]) == definition


def test_invalid_definition_is_refused_with_aws_shape(states_gateway):
    r = requests.post(states_gateway.states_url, headers={
        "X-Amz-Target": "AWSStepFunctions.CreateStateMachine", "Content-Type": "application/x-amz-json-1.0"},
        data=json.dumps({"name": "bad", "roleArn": ROLE,
                         "definition": json.dumps({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": []}}})}))
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert r.headers["x-amzn-RequestId"]
    body = r.json()
    assert body["__type"] == "com.amazonaws.swf.service.v2.model#InvalidDefinition"
    assert body["message"].startswith("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ")
    sfn = client(states_gateway.states_url)
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name="bad2", definition="{not json", roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="bad name", definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), roleArn=ROLE)


# Definitions whose results moto's executing engine computes as Step Functions does: each is
# run on both, and status and output must agree. (Where moto's engine departs from AWS — it
# reports States.Runtime for States.NoChoiceMatched and treats a missing Choice variable as no
# match — the Swift unit suites hold the AWS behaviour instead. moto also writes a bare string
# output unquoted, so the cases' outputs are objects.)
CASES = [
    ("pass-result-path", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": [1, 2]}, "ResultPath": "$.r", "End": True}}},
     {"a": 1}),
    ("pass-parameters", {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.in",
                                                          "Parameters": {"v.$": "$.x", "k": "s", "n": {"m.$": "$.y[1]"}}, "OutputPath": "$.n", "End": True}}},
     {"in": {"x": 7, "y": [0, "z"]}}),
    ("choice-numeric", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20}, {"Variable": "$.v", "NumericLessThan": 30}], "Next": "Twenties"},
            {"Not": {"Variable": "$.t", "StringEquals": "Private"}, "Next": "Public"}], "Default": "Other"},
        "Twenties": {"Type": "Pass", "Result": {"took": "twenties"}, "End": True},
        "Public": {"Type": "Pass", "Result": {"took": "public"}, "End": True},
        "Other": {"Type": "Pass", "Result": {"took": "other"}, "End": True}}},
     {"v": 22, "t": "Private"}),
    ("choice-not", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.t", "StringEquals": "Private"}, "Next": "Public"}], "Default": "Other"},
        "Public": {"Type": "Pass", "Result": {"took": "public"}, "End": True},
        "Other": {"Type": "Pass", "Result": {"took": "other"}, "End": True}}},
     {"t": "Open"}),
    ("choice-string-and-bool", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.s", "StringLessThan": "m", "Next": "A"},
            {"Variable": "$.b", "BooleanEquals": True, "Next": "B"}], "Default": "D"},
        "A": {"Type": "Pass", "Result": {"took": "A"}, "End": True},
        "B": {"Type": "Pass", "Result": {"took": "B"}, "End": True},
        "D": {"Type": "Pass", "Result": {"took": "D"}, "End": True}}},
     {"s": "z", "b": True}),
    ("choice-matches-and-types", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.f", "StringMatches": "log-*.txt"}, {"Variable": "$.n", "IsNumeric": True},
                     {"Variable": "$.gone", "IsPresent": False}, {"Variable": "$.z", "IsNull": True}], "Next": "Y"}], "Default": "N"},
        "Y": {"Type": "Pass", "Result": {"took": "yes"}, "End": True},
        "N": {"Type": "Pass", "Result": {"took": "no"}, "End": True}}},
     {"f": "log-01.txt", "n": 1.5, "z": None}),
    ("choice-timestamp-path", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.a", "TimestampLessThanPath": "$.b", "Next": "Y"}], "Default": "N"},
        "Y": {"Type": "Pass", "Result": {"took": "yes"}, "End": True},
        "N": {"Type": "Pass", "Result": {"took": "no"}, "End": True}}},
     {"a": "2020-01-01T00:00:00Z", "b": "2021-01-01T00:00:00Z"}),
    ("intrinsics", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "format.$": "States.Format('Hello, {} and {}', $.name, $.n)",
        "json.$": "States.StringToJson($.s)",
        "text.$": "States.JsonToString($.o)",
        "array.$": "States.Array('Foo', 2020, $.o)",  # moto drops a null argument; AWS keeps it
        "partition.$": "States.ArrayPartition($.list, 4)",
        "contains.$": "States.ArrayContains($.list, 5)",
        "range.$": "States.ArrayRange(1, 9, 2)",
        "item.$": "States.ArrayGetItem($.list, 5)",
        "length.$": "States.ArrayLength($.list)",
        "unique.$": "States.ArrayUnique($.dups)",
        "b64.$": "States.Base64Encode('Data to encode')",
        "unb64.$": "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
        "hash.$": "States.Hash('input data', 'SHA-1')",
        "merged.$": "States.JsonMerge($.o, $.o2, false)",
        "sum.$": "States.MathAdd(111, -1)",
        "split.$": "States.StringSplit('1,2,3', ',')"}, "End": True}}},
     {"name": "Arnav", "n": 3, "s": "{\"foo\": \"bar\"}", "o": {"a": 1, "b": {"c": 2}}, "o2": {"b": 3},
      "list": [1, 2, 3, 4, 5, 6, 7, 8, 9], "dups": [1, 2, 2, 3, 1]}),
    ("wait-then-pass", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"done.$": "$.x"}, "End": True}}},
     {"x": "ok"}),
    ("fail", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Custom.Error", "Cause": "because"}}}, {}),
    ("paths-null-and-context", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"dropped": True}, "ResultPath": None, "Next": "B"},
        "B": {"Type": "Pass", "InputPath": None, "Parameters": {"name.$": "$$.Execution.Name", "sm.$": "$$.StateMachine.Name",
                                                               "state.$": "$$.State.Name"}, "ResultPath": "$.ctx", "Next": "C"},
        "C": {"Type": "Pass", "OutputPath": "$.ctx", "End": True}}}, {"keep": 1}),
    ("choice-or-timestamps", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Or": [{"Variable": "$.t", "TimestampGreaterThan": "2030-01-01T00:00:00Z"},
                    {"And": [{"Variable": "$.n", "NumericLessThanEquals": 5}, {"Variable": "$.s", "StringGreaterThanEquals": "b"}]}],
             "Next": "Y"}], "Default": "N"},
        "Y": {"Type": "Pass", "Result": {"took": "Y"}, "End": True},
        "N": {"Type": "Pass", "Result": {"took": "N"}, "End": True}}}, {"t": "2020-06-01T12:00:00+02:00", "n": 5, "s": "c"}),
    ("intrinsics-2", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "split.$": "States.StringSplit($.csv, ',')",
        "range.$": "States.ArrayRange(0, 10, 3)",   # (moto parses no negative literal)
        "nested.$": "States.ArrayLength(States.ArrayUnique(States.Array(1, 1, 2)))",
        "fmt.$": "States.Format('{} has {} items', $.who, States.ArrayLength($.items))",
        "b64.$": "States.Base64Decode(States.Base64Encode($.who))"}, "End": True}}},
     {"csv": "x,y,,z", "who": "list", "items": [1, 2, 3]}),
    ("wildcards", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        # (A negative index is left out: moto makes [-1] a list, Jayway one node; AWS's choice is unrecorded.)
        "names.$": "$.people[*].name", "count.$": "States.ArrayLength($.people[*])", "all.$": "$.people[*]"},
        "End": True}}}, {"people": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
]


# Parallel and Map: moto runs branches and iterations on threads, so the order of their events
# in the history varies from run to run; these compare the executions' results only (the Swift
# suite ParallelMapTests holds the history).
OUTCOME_CASES = [
    ("parallel", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"a": 1}, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"b.$": "$.x"}, "End": True}}}],
        "ResultPath": "$.r", "End": True}}}, {"x": 5}),
    ("map", {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericEquals": 0, "Next": "First"}], "Default": "Rest"},
            "First": {"Type": "Pass", "Parameters": {"first.$": "$.v"}, "End": True},
            "Rest": {"Type": "Pass", "End": True}}}, "End": True}}}, {"items": ["a", "b", "c"]}),
    ("parallel-fails", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Error", "Cause": "no"}}}], "End": True}}}, {}),
    # Waits inside branches and iterations: each branch waits on its own clock.
    ("parallel-waits", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "A"},
                                    "A": {"Type": "Pass", "Result": "slow", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"quick.$": "$.x"}, "End": True}}}],
        "ResultSelector": {"both.$": "$"}, "End": True}}}, {"x": 2}),
    ("map-waits", {"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$.items",
        "ItemSelector": {"s.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"},
                                                     "D": {"Type": "Pass", "Parameters": {"waited.$": "$.s"}, "End": True}}},
        "ResultPath": "$.r", "End": True}}}, {"items": [1, 0, 1]}),
    ("map-wait-then-fail-caught", {"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}], "Default": "OK"},
            "F": {"Type": "Fail", "Error": "Item.Bad", "Cause": "two"},
            "OK": {"Type": "Succeed"}}},
        "Catch": [{"ErrorEquals": ["Item.Bad"], "ResultPath": "$", "Next": "Caught"}], "Next": "Done"},
        "Caught": {"Type": "Pass", "End": True}, "Done": {"Type": "Pass", "End": True}}}, [1, 2, 3]),
    # A branch that waits and then fails: the Parallel is retried once, whole, then caught.
    ("parallel-retry-then-catch", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                                    "F": {"Type": "Fail", "Error": "Branch.Late", "Cause": "after a wait"}}},
        {"StartAt": "OK", "States": {"OK": {"Type": "Pass", "Result": "fine", "End": True}}}],
        "Retry": [{"ErrorEquals": ["Branch.Late"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Done"}], "Next": "Done"},
        "Done": {"Type": "Pass", "End": True}}}, {"n": 1}),
    # Iterations one at a time (MaxConcurrency 1), each waiting, inside a Parallel branch.
    ("map-in-parallel-sequential", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        {"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "Next": "D"},
                                                         "D": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, 10)"}, "End": True}}},
            "End": True}}}], "OutputPath": "$[0]", "End": True}}}, {"items": [1, 2, 3]}),
]


@pytest.mark.parametrize("name,definition,payload", OUTCOME_CASES, ids=[c[0] for c in OUTCOME_CASES])
def test_same_outcome_as_moto(states_gateway, moto_server, name, definition, payload):
    ours = outcome(run_to_end(client(states_gateway.states_url), definition, payload, name))
    requests.post(moto_server + "/moto-api/reset", timeout=10)
    requests.post(moto_server + "/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    theirs = outcome(run_to_end(client(moto_server), definition, payload, name))
    assert ours == theirs


def outcome(d):
    return (d["status"], json.loads(d["output"]) if "output" in d else None, d.get("error"), d.get("cause"))


def history(sfn, execution_arn):
    """The execution's events without their timestamps, inputs and outputs parsed."""
    events = []
    for e in sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]:
        key = next(k for k in e if k.endswith("EventDetails"))
        details = dict(e[key])
        for k in ("input", "output"):
            if k in details:
                details[k] = json.loads(details[k])
        events.append((e["id"], e["previousEventId"], e["type"], details))
    return events


@pytest.mark.parametrize("name,definition,payload", CASES, ids=[c[0] for c in CASES])
def test_same_result_as_moto(states_gateway, moto_server, name, definition, payload):
    ours = outcome(run_to_end(client(states_gateway.states_url), definition, payload, name))
    # moto executes one new execution per server state; reset it before each case.
    requests.post(moto_server + "/moto-api/reset", timeout=10)
    requests.post(moto_server + "/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    theirs = outcome(run_to_end(client(moto_server), definition, payload, name))
    assert ours == theirs
    # The histories agree event by event: types, ids, the event each follows, and details.
    arn = f"arn:aws:states:us-east-1:123456789012:execution:{name}:e-{name}"
    assert history(client(states_gateway.states_url), arn) == history(client(moto_server), arn)


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
INVOKE = "arn:aws:states:::apigateway:invoke"


@pytest.fixture(scope="module")
def task_gateway():
    """An API for Task states to call, and the states listener, in one Gatehouse."""
    upstream = Upstream()
    gw = Gateway(["--template", os.path.join(FIXTURES, "states-task-api.yaml"),
                  "--parameter-overrides", f"UpstreamUrl={upstream.url}",
                  "--credentials", os.path.join(FIXTURES, "states-task-credentials.yaml"),
                  "--states-listen", "127.0.0.1:0", "--workers", "2", "--access-log", "off"])
    line = next(l for l in gw.lines if l.startswith("states API listening on "))
    gw.states_url = "http://" + re.search(r"http://([^ ]+)$", line).group(1)
    gw.api_host = re.search(r"route api=(\w+)", gw.route("route ")[0]).group(1) + ".execute-api.us-east-1.amazonaws.com"
    gw.upstream = upstream
    yield gw
    assert gw.stop() == 0
    upstream.stop()


def invoke_machine(api_host, path, method="POST", auth="NO_AUTH", extra=None, retry=None, catch=None):
    params = {"ApiEndpoint": api_host, "Method": method, "Stage": "dev", "Path": path, "AuthType": auth}
    params.update(extra or {})
    task = {"Type": "Task", "Resource": INVOKE, "Parameters": params, "End": True}
    if retry:
        task["Retry"] = retry
    if catch:
        task["Catch"] = catch
        task["Next"] = "Done"
        del task["End"]
    states = {"T": task}
    if catch:
        states["Done"] = {"Type": "Pass", "End": True}
    return {"StartAt": "T", "States": states}


def test_task_calls_an_api_through_the_gateway(task_gateway):
    sfn = client(task_gateway.states_url)
    definition = invoke_machine(task_gateway.api_host, "/echo", extra={
        "Headers": {"X-Custom": ["one"]}, "QueryParameters": {"q": ["a b"]},
        "RequestBody": {"k.$": "$.v", "gone": None}})
    definition["States"]["T"]["Parameters"]["RequestBody"] = {"k.$": "$.v", "gone": None}
    d = run_to_end(sfn, definition, {"v": [1, 2]}, "echo")
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["StatusCode"] == 200
    assert out["StatusText"] == "OK"
    echoed = out["ResponseBody"]          # what reached the upstream behind the API
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo?q=a%20b"
    assert echoed["headers"]["X-Custom"] == "one"
    assert echoed["headers"]["Host"] != task_gateway.api_host   # the upstream's own Host
    assert echoed["headers"]["Content-Type"] == "application/json"
    # Null members of RequestBody are left out unless AllowNullValues is true.
    assert json.loads(echoed["body"]) == {"k": [1, 2]}
    assert out["Headers"]["x-amzn-RequestId"][0]
    events = sfn.get_execution_history(executionArn=d["executionArn"])["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                                          "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    scheduled = events[2]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"], scheduled["region"]) == ("apigateway", "invoke", "us-east-1")


def test_a_failing_api_is_retried_then_caught(task_gateway):
    sfn = client(task_gateway.states_url)
    definition = invoke_machine(task_gateway.api_host, "/fail", method="GET",
                                retry=[{"ErrorEquals": ["ApiGateway.500"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1}],
                                catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Done"}])
    d = run_to_end(sfn, definition, {"a": 1}, "fail")
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"a": 1, "error": {"Error": "ApiGateway.500", "Cause": '{"message": "boom"}'}}
    types = [e["type"] for e in sfn.get_execution_history(executionArn=d["executionArn"])["events"]]
    assert types.count("TaskScheduled") == 2 and types.count("TaskFailed") == 2


def test_a_map_calls_the_api_for_each_item_side_by_side(task_gateway):
    """Task states inside a Map: the iterations' calls go through the gateway at the same time
    (MaxConcurrency 3), and the results come back in item order."""
    sfn = client(task_gateway.states_url)
    call = invoke_machine(task_gateway.api_host, "/echo", extra={"RequestBody": {"n.$": "$"}})["States"]["T"]
    call["ResultSelector"] = {"sent.$": "$.ResponseBody.body", "code.$": "$.StatusCode"}
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 3,
        "ItemProcessor": {"StartAt": "T", "States": {"T": call}}, "End": True}}}
    d = run_to_end(sfn, definition, [1, 2, 3, 4, 5], "map-echo")
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == [{"sent": json.dumps({"n": n}, separators=(",", ":")), "code": 200} for n in range(1, 6)]
    events = sfn.get_execution_history(executionArn=d["executionArn"], maxResults=1000)["events"]
    types = [e["type"] for e in events]
    assert types.count("TaskScheduled") == 5 and types.count("MapIterationSucceeded") == 5
    # Three iterations were started before the first call's answer came back.
    first_answer = types.index("TaskSucceeded")
    assert types[:first_answer].count("MapIterationStarted") == 3


def wait_for_event(sfn, execution_arn, event_type, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]:
            if e["type"] == event_type:
                return e
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} in {execution_arn} after {timeout} s")


def test_callback_tasks_wait_for_their_token(task_gateway):
    """apigateway:invoke.waitForTaskToken calls the API with `$$.Task.Token` and waits; a worker
    keeps it alive with SendTaskHeartbeat and ends it with SendTaskSuccess (boto3 here, the AWS
    CLI for the heartbeat). startExecution.waitForTaskToken hands the token to a child."""
    sfn = client(task_gateway.states_url)
    call = invoke_machine(task_gateway.api_host, "/echo", extra={"RequestBody": {"token.$": "$$.Task.Token"}})["States"]["T"]
    call["Resource"] = INVOKE + ".waitForTaskToken"
    call["HeartbeatSeconds"] = 30
    arn = sfn.create_state_machine(name="callback", definition=json.dumps({"StartAt": "T", "States": {"T": call}}),
                                   roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="cb", input="{}")["executionArn"]
    # The API got the token (the echo upstream sends back what reached it): TaskSubmitted.
    submitted = wait_for_event(sfn, execution, "TaskSubmitted")
    echoed = json.loads(submitted["taskSubmittedEventDetails"]["output"])["ResponseBody"]
    token = json.loads(echoed["body"])["token"]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    aws_cli(task_gateway.states_url, "send-task-heartbeat", "--task-token", token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    d = run_until_closed(sfn, execution)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"]) == {"approved": True}
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_failure(taskToken="made-up", error="E")

    # The child gets the token in its input; SendTaskFailure fails the parent's task.
    child = sfn.create_state_machine(name="cb-child", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}))["stateMachineArn"]
    parent = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                                               "Parameters": {"StateMachineArn": child, "Input": {"token.$": "$$.Task.Token"}},
                                               "End": True}}}
    parent_arn = sfn.create_state_machine(name="cb-parent", definition=json.dumps(parent), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=parent_arn, name="p", input="{}")["executionArn"]
    child_arn = json.loads(wait_for_event(sfn, execution, "TaskSubmitted")["taskSubmittedEventDetails"]["output"])["ExecutionArn"]
    token = json.loads(sfn.describe_execution(executionArn=child_arn)["input"])["token"]
    sfn.send_task_failure(taskToken=token, error="Child.Said.No", cause="because")
    d = run_until_closed(sfn, execution)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "Child.Said.No", "because")


def test_resource_policy_names_the_calling_state_machine(task_gateway):
    """AuthType RESOURCE_POLICY signs as states.amazonaws.com and asserts the state machine's
    ARN: the API's policy lets `allowed` in and leaves `denied` with ApiGateway.403."""
    sfn = client(task_gateway.states_url)
    ok = run_to_end(sfn, invoke_machine(task_gateway.api_host, "/guarded", auth="RESOURCE_POLICY"), {}, "allowed")
    assert ok["status"] == "SUCCEEDED", ok
    assert json.loads(ok["output"])["ResponseBody"] == {"guarded": "passed"}
    denied = run_to_end(sfn, invoke_machine(task_gateway.api_host, "/guarded", auth="RESOURCE_POLICY"), {}, "denied")
    assert denied["status"] == "FAILED"
    assert denied["error"] == "ApiGateway.403"
    assert "not authorized" in denied["cause"]
    # Without a signature the method's AWS_IAM refuses the call outright.
    bare = run_to_end(sfn, invoke_machine(task_gateway.api_host, "/guarded"), {}, "unsigned")
    assert (bare["error"], json.loads(bare["cause"])) == ("ApiGateway.403", {"message": "Missing Authentication Token"})


def test_forbidden_header_fails_the_task(task_gateway):
    sfn = client(task_gateway.states_url)
    d = run_to_end(sfn, invoke_machine(task_gateway.api_host, "/echo", extra={"Headers": {"X-Amz-Date": ["x"]}}), {}, "badheader")
    assert d["status"] == "FAILED"
    assert "X-Amz-Date" in d["cause"]


def states_gateway_with_db(db):
    gw = Gateway(["--states-listen", "127.0.0.1:0", "--states-db", str(db), "--workers", "2", "--access-log", "off"])
    line = next(l for l in gw.lines if l.startswith("states API listening on "))
    gw.states_url = "http://" + re.search(r"http://([^ ]+)$", line).group(1)
    return gw


def test_kill_9_loses_no_acknowledged_start(tmp_path):
    """500 named StartExecution calls from 8 threads; Gatehouse is killed with SIGKILL midway.
    After a restart on the same store, every call that got a 200 has its execution, none is
    listed twice, and the RUNNING ones (in a Wait) go on to SUCCEEDED."""
    import threading
    db = tmp_path / "states.db"
    gw = states_gateway_with_db(db)
    sfn = client(gw.states_url)
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                                             "P": {"Type": "Pass", "Result": {"done": True}, "End": True}}}
    arn = sfn.create_state_machine(name="k9", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    acknowledged, lock = set(), threading.Lock()
    names = iter(range(500))
    killed = threading.Event()

    def worker():
        from botocore.config import Config
        c = boto3.client("stepfunctions", endpoint_url=gw.states_url, region_name="us-east-1",
                         aws_access_key_id="AKIDLOCAL", aws_secret_access_key="local-secret",
                         config=Config(retries={"max_attempts": 0}))
        while not killed.is_set():
            with lock:
                i = next(names, None)
            if i is None:
                return
            try:
                c.start_execution(stateMachineArn=arn, name=f"e{i}", input=json.dumps({"i": i}))
            except Exception:
                continue            # refused or cut off: not acknowledged
            with lock:
                acknowledged.add(f"e{i}")
                if len(acknowledged) == 250 and not killed.is_set():
                    killed.set()
                    gw.proc.kill()  # SIGKILL: no drain, no flush

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gw.proc.wait(timeout=10)
    assert killed.is_set() and gw.proc.returncode == -9
    assert 250 <= len(acknowledged) < 500

    again = states_gateway_with_db(db)
    try:
        sfn = client(again.states_url)
        time.sleep(2.5)        # before any call: the driver must resume restored executions by itself
        running = [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
                   for e in page["executions"]]
        assert not running, f"{len(running)} restored executions did not resume"
        listed = [e["name"] for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
                  for e in page["executions"]]
        assert len(listed) == len(set(listed)), "an execution is listed twice"
        missing = acknowledged - set(listed)
        assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
        some = sorted(acknowledged)[0]
        d = sfn.describe_execution(executionArn=f"arn:aws:states:us-east-1:123456789012:execution:k9:{some}")
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"done": True}
        assert json.loads(d["input"]) == {"i": int(some[1:])}
    finally:
        assert again.stop() == 0


def test_nested_executions_start_and_wait_for_a_child(states_gateway):
    """states:startExecution starts a child; .sync:2 waits for it and returns its output parsed,
    .sync as text; a failed child fails the parent's task."""
    sfn = client(states_gateway.states_url)
    child = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
                                        "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.fail", "IsPresent": True},
                                                                     {"Variable": "$.fail", "BooleanEquals": True}], "Next": "F"}],
                                              "Default": "P"},
                                        "P": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True},
                                        "F": {"Type": "Fail", "Error": "Child.Failed", "Cause": "asked to"}}}
    child_arn = sfn.create_state_machine(name="child", definition=json.dumps(child), roleArn=ROLE)["stateMachineArn"]

    def parent(resource, name):
        return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
                                                 "Parameters": {"StateMachineArn": child_arn, "Input.$": "$", "Name.$": "$.childName"},
                                                 "End": True}}}

    d = run_to_end(sfn, parent("arn:aws:states:::states:startExecution.sync:2", "p2"), {"n": 21, "childName": "c-sync2"}, "p-sync2")
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["Output"] == {"doubled": 42}
    assert out["Status"] == "SUCCEEDED"
    assert out["ExecutionArn"].endswith(":execution:child:c-sync2")
    assert out["StopDate"] - out["StartDate"] >= 1000        # epoch milliseconds; the child waited 1 s

    d = run_to_end(sfn, parent("arn:aws:states:::states:startExecution.sync", "p1"), {"n": 1, "childName": "c-sync"}, "p-sync")
    assert json.loads(json.loads(d["output"])["Output"]) == {"doubled": 2}
    events = sfn.get_execution_history(executionArn=d["executionArn"])["events"]
    assert [e["type"] for e in events][2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    submitted = events[4]["taskSubmittedEventDetails"]
    assert (submitted["resourceType"], submitted["resource"]) == ("states", "startExecution.sync")
    assert json.loads(submitted["output"])["ExecutionArn"].endswith(":execution:child:c-sync")

    d = run_to_end(sfn, parent("arn:aws:states:::states:startExecution", "p0"), {"n": 1, "childName": "c-start"}, "p-start")
    out = json.loads(d["output"])
    assert set(out) == {"ExecutionArn", "SdkHttpMetadata", "SdkResponseMetadata", "StartDate"}
    assert out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert sfn.describe_execution(executionArn=out["ExecutionArn"])["status"] in ("RUNNING", "SUCCEEDED")

    d = run_to_end(sfn, parent("arn:aws:states:::states:startExecution.sync:2", "pf"), {"n": 1, "fail": True, "childName": "c-fail"}, "p-fail")
    assert d["status"] == "FAILED"
    assert d["error"] == "States.TaskFailed"
    cause = json.loads(d["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Child.Failed", "asked to")

    d = run_to_end(sfn, {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                                                          "Parameters": {"StateMachineArn": SM_PREFIX + "nope"}, "End": True}}}, {}, "p-missing")
    assert (d["status"], d["error"]) == ("FAILED", "StepFunctions.StateMachineDoesNotExistException")


def test_start_sync_execution_answers_when_the_express_execution_ends(states_gateway):
    from botocore.config import Config
    # StartSyncExecution's endpoint is sync-states.<region>.amazonaws.com; with a local
    # endpoint URL the SDK must not prepend `sync-` to the host.
    sfn = boto3.client("stepfunctions", endpoint_url=states_gateway.states_url, region_name="us-east-1",
                       aws_access_key_id="AKIDLOCAL", aws_secret_access_key="local-secret",
                       config=Config(inject_host_prefix=False))
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                                             "P": {"Type": "Pass", "Parameters": {"got.$": "$.v"}, "End": True}}}
    arn = sfn.create_state_machine(name="express", definition=json.dumps(definition), roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    started = time.time()
    r = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"v": 3}))
    assert time.time() - started >= 1.0          # answered only after the Wait
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["output"]) == {"got": 3}
    assert r["billingDetails"]["billedDurationInMilliseconds"] >= 1000
    assert (r["stopDate"] - r["startDate"]).total_seconds() >= 1.0
    failing = sfn.create_state_machine(name="express-fail", roleArn=ROLE, type="EXPRESS",
                                       definition=json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}))
    r = sfn.start_sync_execution(stateMachineArn=failing["stateMachineArn"])
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "E", "C")
    standard = sfn.create_state_machine(name="not-express", roleArn=ROLE,
                                        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=standard["stateMachineArn"])


def test_http_invoke_calls_any_endpoint(task_gateway):
    sfn = client(task_gateway.states_url)
    up = task_gateway.upstream.url

    def machine(params, catch=False):
        task = {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": params, "End": True}
        if catch:
            task["Catch"] = [{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.err", "Next": "Done"}]
            task["Next"] = "Done"
            del task["End"]
            return {"StartAt": "T", "States": {"T": task, "Done": {"Type": "Pass", "End": True}}}
        return {"StartAt": "T", "States": {"T": task}}

    d = run_to_end(sfn, machine({"ApiEndpoint": up + "/echo/h", "Method": "POST",
                                 "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/c/1"},
                                 "Headers": {"X-Custom": "v"}, "QueryParameters": {"q": "1 2"},
                                 "RequestBody": {"k.$": "$.k"}}), {"k": "v"}, "http-post")
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert (out["StatusCode"], out["StatusText"]) == (200, "OK")
    echoed = out["ResponseBody"]
    assert (echoed["method"], echoed["path"], echoed["headers"]["X-Custom"]) == ("POST", "/echo/h?q=1%202", "v")
    assert json.loads(echoed["body"]) == {"k": "v"}

    d = run_to_end(sfn, machine({"ApiEndpoint": up + "/echo/form", "Method": "PUT", "RequestBody": {"a": "x y", "b": 2},
                                 "Transform": {"RequestBodyEncoding": "URL_ENCODED"}}), {}, "http-form")
    echoed = json.loads(d["output"])["ResponseBody"]
    assert echoed["body"] == "a=x%20y&b=2"
    assert echoed["headers"]["Content-Type"] == "application/x-www-form-urlencoded"

    d = run_to_end(sfn, machine({"ApiEndpoint": up + "/status/404", "Method": "GET"}, catch=True), {}, "http-404")
    err = json.loads(d["output"])["err"]
    assert err["Error"] == "States.Http.StatusCode.404"
    assert json.loads(err["Cause"])["StatusCode"] == 404


def test_iam_role_signs_with_the_state_machines_role(task_gateway):
    """AuthType IAM_ROLE signs with the keys the credentials file gives the machine's role; the
    API's policy names the role, so its sessions get in. Without keys for the role the task
    fails with States.Runtime before any call."""
    sfn = client(task_gateway.states_url)
    d = run_to_end(sfn, invoke_machine(task_gateway.api_host, "/role", auth="IAM_ROLE"), {}, "with-role")
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"])["ResponseBody"] == {"role": "arn:aws:sts::123456789012:assumed-role/sfn/execution"}
    other = sfn.create_state_machine(name="other-role", roleArn="arn:aws:iam::123456789012:role/unknown",
                                     definition=json.dumps(invoke_machine(task_gateway.api_host, "/role", auth="IAM_ROLE")))
    e = sfn.start_execution(stateMachineArn=other["stateMachineArn"], name="r")["executionArn"]
    deadline = time.time() + 10
    while sfn.describe_execution(executionArn=e)["status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    d = sfn.describe_execution(executionArn=e)
    assert (d["status"], d["error"]) == ("FAILED", "States.Runtime")
    assert "arn:aws:iam::123456789012:role/unknown" in d["cause"]


def test_an_api_answers_with_a_synchronous_express_workflow():
    """states:action/StartSyncExecution behind an API: the worker's request waits while the
    engine's driver runs the EXPRESS execution (its Wait included) and answers with its result."""
    gw = Gateway(["--template", os.path.join(FIXTURES, "states-sync-api.yaml"), "--workers", "2", "--access-log", "off"])
    try:
        machine = next(l for l in gw.lines if l.startswith("stateMachine arn=")).split("=", 1)[1]
        started = time.time()
        r = requests.post(gw.base + "/dev/sync", json={"stateMachineArn": machine, "input": json.dumps({"a": 1})}, timeout=30)
        assert r.status_code == 200, r.text
        assert time.time() - started >= 1.0
        body = r.json()
        assert body["status"] == "SUCCEEDED"
        assert json.loads(body["output"]) == {"echo": {"a": 1}}
        assert body["billingDetails"]["billedDurationInMilliseconds"] >= 1000
        # Several at once, over both workers: each gets its own answer.
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: requests.post(gw.base + "/dev/sync", json={
                "stateMachineArn": machine, "input": json.dumps({"i": i})}, timeout=30).json(), range(8)))
        assert [json.loads(a["output"])["echo"]["i"] for a in answers] == list(range(8))
    finally:
        assert gw.stop() == 0
