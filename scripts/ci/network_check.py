"""boto3 against a coordinator started with --auth-file (scripts/ci/network.sh):
the right key works, and a wrong key, no signature, a stale date and a key
whose `allow` lacks the action get AWS's errors."""
import datetime
import json
import sys

import boto3
import botocore.auth
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
verify = sys.argv[2] if len(sys.argv) > 2 else None
ROLE = "arn:aws:iam::123456789012:role/ci"


def client(key_id=None, secret=None, **cfg):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        verify=verify,
        config=Config(retries={"max_attempts": 1}, **cfg),
    )


def expect_error(code, fn, contains=""):
    try:
        fn()
    except ClientError as e:
        got = e.response["Error"]["Code"]
        msg = e.response["Error"].get("Message", "")
        assert got == code, f"expected {code}, got {got}: {msg}"
        assert contains in msg, f"{code}: {msg!r} lacks {contains!r}"
        print(f"ok: {code}: {msg[:90]}")
        return
    raise AssertionError(f"expected {code}, the call succeeded")


admin = client("AKIDADMIN", "admin-secret-key")
worker = client("AKIDWORKER", "worker-secret-key")

act = admin.create_activity(name="charge")["activityArn"]
definition = {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": act, "End": True}}}
sm = admin.create_state_machine(name="pay", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
ex = admin.start_execution(stateMachineArn=sm, input='{"amount": 3}')["executionArn"]
task = worker.get_activity_task(activityArn=act)
assert json.loads(task["input"]) == {"amount": 3}, task
worker.send_task_success(taskToken=task["taskToken"], output='{"paid": true}')
for _ in range(400):
    status = admin.describe_execution(executionArn=ex)["status"]
    if status != "RUNNING":
        break
assert status == "SUCCEEDED", status
print("ok: the admin key and the worker key ran an execution")

expect_error("InvalidSignatureException", lambda: client("AKIDADMIN", "wrong-secret-key").list_activities(),
             "signature we calculated does not match")
expect_error("UnrecognizedClientException", lambda: client("AKIDNOBODY", "x" * 16).list_activities())
expect_error("MissingAuthenticationTokenException",
             lambda: client(signature_version=UNSIGNED).list_activities())
expect_error("AccessDeniedException",
             lambda: worker.create_state_machine(name="evil", definition=json.dumps(definition), roleArn=ROLE),
             "is not authorized to perform: states:CreateStateMachine")

real_now = botocore.auth.get_current_datetime
botocore.auth.get_current_datetime = lambda: datetime.datetime(2001, 1, 1)
try:
    expect_error("InvalidSignatureException", lambda: admin.list_activities(), "Signature expired")
finally:
    botocore.auth.get_current_datetime = real_now
print("network_check: ok")
