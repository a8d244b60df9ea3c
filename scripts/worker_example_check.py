#!/usr/bin/env python3
"""Drives the minimal worker (examples/worker) through a coordinator:
a charge succeeds, a charge above the limit fails with Payment.Declined.
Usage: worker_example_check.py ENDPOINT (the worker must be running against it)."""
import json
import sys
import time

import boto3
from botocore.config import Config

endpoint = sys.argv[1]
sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="ci", aws_secret_access_key="ci",
                   config=Config(inject_host_prefix=False))
act = sfn.create_activity(name="charge-card")["activityArn"]
definition = {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": act, "End": True}}}
sm = sfn.create_state_machine(name=f"worker-check-{int(time.time()*1000)}", definition=json.dumps(definition),
                              roleArn="arn:aws:iam::123456789012:role/ci")["stateMachineArn"]


def run(amount):
    arn = sfn.start_execution(stateMachineArn=sm, input=json.dumps({"amount": amount}))["executionArn"]
    deadline = time.time() + 60
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.time() > deadline:
            return d
        time.sleep(0.05)


ok = run(10)
assert ok["status"] == "SUCCEEDED" and json.loads(ok["output"]) == {"charged": 10.0}, ok
declined = run(5000)
assert declined["status"] == "FAILED" and declined["error"] == "Payment.Declined", declined
print("minimal worker: ok")
