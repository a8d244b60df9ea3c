#!/usr/bin/env python3
"""A boto3 round trip against a running coordinator: machine, execution,
activity task, history, errors. Usage: boto3_roundtrip.py http://127.0.0.1:8083"""
import json
import sys
import threading
import time

import boto3
from botocore.config import Config

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8083"
sfn = boto3.client(
    "stepfunctions",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(inject_host_prefix=False, read_timeout=70),
)
role = "arn:aws:iam::123456789012:role/boto3"
suffix = str(int(time.time() * 1000))

act = sfn.create_activity(name=f"boto3-act-{suffix}")["activityArn"]
definition = {
    "StartAt": "Greet",
    "States": {
        "Greet": {"Type": "Pass", "Parameters": {"msg.$": "States.Format('hi {}', $.who)"}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": act, "ResultPath": "$.work", "End": True},
    },
}
sm = sfn.create_state_machine(name=f"boto3-{suffix}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
ex = sfn.start_execution(stateMachineArn=sm, input=json.dumps({"who": "boto3"}))["executionArn"]


def worker():
    task = sfn.get_activity_task(activityArn=act, workerName="boto3-worker")
    payload = json.loads(task["input"])
    sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"echo": payload["msg"]}))


t = threading.Thread(target=worker)
t.start()
t.join(timeout=30)
deadline = time.time() + 30
while True:
    d = sfn.describe_execution(executionArn=ex)
    if d["status"] != "RUNNING" or time.time() > deadline:
        break
    time.sleep(0.05)
assert d["status"] == "SUCCEEDED", d
assert json.loads(d["output"]) == {"msg": "hi boto3", "work": {"echo": "hi boto3"}}, d["output"]
events = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
assert events[0] == "ExecutionStarted" and events[-1] == "ExecutionSucceeded", events
assert "ActivityStarted" in events, events

try:
    sfn.describe_execution(executionArn=sm.replace(":stateMachine:", ":execution:") + ":missing")
    raise SystemExit("expected ExecutionDoesNotExist")
except sfn.exceptions.ExecutionDoesNotExist:
    pass
try:
    sfn.create_state_machine(name=f"bad-{suffix}", definition="{}", roleArn=role)
    raise SystemExit("expected InvalidDefinition")
except sfn.exceptions.InvalidDefinition as e:
    assert "StartAt" in str(e), e
try:
    sfn.send_task_success(taskToken="forged", output="{}")
    raise SystemExit("expected InvalidToken")
except sfn.exceptions.InvalidToken:
    pass

sfn.delete_state_machine(stateMachineArn=sm)
sfn.delete_activity(activityArn=act)
print("boto3 round trip: ok")
