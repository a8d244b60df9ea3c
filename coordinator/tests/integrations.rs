//! Service integrations against a real AWS-compatible server that is not
//! ours: moto's server (`pip install 'moto[server]'`, run as `moto_server`).
//! Every request-response integration, errors caught by `Catch` under the
//! names AWS gives them, a `.waitForTaskToken` answered from an SQS message
//! across a coordinator restart, the HTTP Task against a local server, a
//! Lambda function served by an activity worker, and mock files.
//!
//! Without `moto_server` on the PATH the moto tests say so and pass, except
//! under CI (`CI` set), where they fail: CI installs moto.

mod common;

use common::{ROLE, Server, wait_done};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts moto's server, with Lambda and Batch run without containers.
async fn moto() -> Option<Moto> {
    let port = free_port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server is required under CI: {e}"
            );
            eprintln!(
                "skipped: moto_server not found ({e}); pip install 'moto[server]' to run this test"
            );
            return None;
        }
    };
    let m = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .post(format!("{}/moto-api/config", m.url))
            .json(&json!({"lambda": {"use_docker": false}, "batch": {"use_docker": false}}))
            .send()
            .await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return Some(m);
        }
        assert!(Instant::now() < deadline, "moto_server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One signed call to moto, as the AWS SDKs make it.
async fn aws(
    moto: &Moto,
    service: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let url = format!("{}{path}", moto.url);
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let creds = stepwise_sdk::Credentials::new("test", "test", None);
    let signed = stepwise_sdk::sign_request(
        method,
        &url,
        service,
        "us-east-1",
        &creds,
        &headers,
        &body,
        SystemTime::now(),
    )
    .expect("sign");
    let mut req = reqwest::Client::new().request(method.parse().expect("method"), &url);
    for (k, v) in headers.iter().chain(&signed) {
        req = req.header(k, v);
    }
    let r = req.body(body).send().await.expect("moto answers");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

async fn json_api(moto: &Moto, service: &str, version: &str, target: &str, body: Value) -> Value {
    let ct = format!("application/x-amz-json-{version}");
    let (status, out) = aws(
        moto,
        service,
        "POST",
        "/",
        &[("content-type", &ct), ("x-amz-target", target)],
        body.to_string().into_bytes(),
    )
    .await;
    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
    assert!(status < 300, "{target}: {status} {v}");
    v
}

async fn query_api(moto: &Moto, service: &str, form: &str) -> String {
    let (status, out) = aws(
        moto,
        service,
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes().to_vec(),
    )
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(status < 300, "{form}: {status} {text}");
    text
}

/// An empty zip archive: moto stores a function's code without running it.
const EMPTY_ZIP: &str = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==";

async fn create_queue(moto: &Moto, name: &str) -> String {
    let v = json_api(
        moto,
        "sqs",
        "1.0",
        "AmazonSQS.CreateQueue",
        json!({"QueueName": name}),
    )
    .await;
    v["QueueUrl"].as_str().expect("queue url").to_owned()
}

async fn setup(moto: &Moto) -> (String, String) {
    let queue = create_queue(moto, "orders").await;
    let topic = query_api(
        moto,
        "sns",
        "Action=CreateTopic&Name=alerts&Version=2010-03-31",
    )
    .await;
    assert!(
        topic.contains("arn:aws:sns:us-east-1:123456789012:alerts"),
        "{topic}"
    );
    json_api(
        moto,
        "dynamodb",
        "1.0",
        "DynamoDB_20120810.CreateTable",
        json!({"TableName": "items", "BillingMode": "PAY_PER_REQUEST",
               "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}),
    )
    .await;
    query_api(
        moto,
        "iam",
        "Action=CreateRole&RoleName=fn&AssumeRolePolicyDocument=%7B%7D&Version=2010-05-08",
    )
    .await;
    let f = json!({"FunctionName": "echo", "Runtime": "python3.12", "Handler": "h.handler",
                   "Role": "arn:aws:iam::123456789012:role/fn", "Code": {"ZipFile": EMPTY_ZIP}});
    let (status, out) = aws(
        moto,
        "lambda",
        "POST",
        "/2015-03-31/functions",
        &[("content-type", "application/json")],
        f.to_string().into_bytes(),
    )
    .await;
    assert!(
        status < 300,
        "CreateFunction: {}",
        String::from_utf8_lossy(&out)
    );
    (
        queue,
        "arn:aws:sns:us-east-1:123456789012:alerts".to_owned(),
    )
}

async fn run(server: &Server, name: &str, definition: &Value, input: &str) -> (String, Value) {
    let c = server.client();
    let machine = c
        .create_state_machine()
        .name(name)
        .role_arn(ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .expect("create");
    let exec = c
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .input(input)
        .send()
        .await
        .expect("start");
    let d = wait_done(&c, exec.execution_arn(), Duration::from_secs(60)).await;
    let output = d
        .output()
        .map(|o| serde_json::from_str(o).expect("json output"))
        .unwrap_or(Value::Null);
    assert_eq!(
        d.status().as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        d.error(),
        d.cause()
    );
    (exec.execution_arn().to_owned(), output)
}

#[tokio::test(flavor = "multi_thread")]
async fn request_response_integrations_and_their_errors_against_moto() {
    let Some(moto) = moto().await else { return };
    let (queue, topic) = setup(&moto).await;
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let server = Server::start_env(None, &[], &env);
    let def = json!({"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "echo", "Payload": {"n.$": "$.n"}},
            "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode", "version.$": "$.ExecutedVersion"},
            "ResultPath": "$.invoke", "Next": "Function"},
        "Function": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
            "Parameters": {"direct.$": "$.n"}, "ResultPath": "$.function", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "items", "Item": {"id": {"S": "a"}, "n": {"N.$": "States.Format('{}', $.n)"}}},
            "ResultPath": null, "Next": "Update"},
        "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {"TableName": "items", "Key": {"id": {"S": "a"}},
                "UpdateExpression": "SET tag = :t", "ExpressionAttributeValues": {":t": {"S": "seen"}}},
            "ResultPath": null, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "items", "Key": {"id": {"S": "a"}}},
            "ResultSelector": {"item.$": "$.Item"}, "ResultPath": "$.get", "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem",
            "Parameters": {"TableName": "items", "Key": {"id": {"S": "a"}}}, "ResultPath": null, "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": topic, "Message": {"order.$": "$.n"},
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "order"}}},
            "ResultSelector": {"id.$": "$.MessageId"}, "ResultPath": "$.sns", "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": queue, "MessageBody": {"order.$": "$.n"}},
            "ResultSelector": {"md5.$": "$.MD5OfMessageBody"}, "ResultPath": "$.sqs", "Next": "Events"},
        "Events": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {"Entries": [{"Source": "shop", "DetailType": "order", "Detail": {"n.$": "$.n"}}]},
            "ResultSelector": {"failed.$": "$.FailedEntryCount"}, "ResultPath": "$.events", "Next": "NoTable"},
        "NoTable": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "missing", "Key": {"id": {"S": "a"}}},
            "Catch": [{"ErrorEquals": ["DynamoDB.ResourceNotFoundException"], "ResultPath": "$.ddb_error", "Next": "NoTopic"}],
            "End": true},
        "NoTopic": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:missing", "Message": "x"},
            "Catch": [{"ErrorEquals": ["SNS.NotFoundException"], "ResultPath": "$.sns_error", "Next": "NoFunction"}],
            "End": true},
        "NoFunction": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "http://127.0.0.1:1/123456789012/missing", "MessageBody": "x"},
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.sqs_error", "Next": "Done"}],
            "End": true},
        "Done": {"Type": "Succeed"}}});
    let (arn, out) = run(&server, "services", &def, r#"{"n": 7}"#).await;
    assert_eq!(
        out["invoke"],
        json!({"payload": {"n": 7}, "status": 200, "version": "$LATEST"})
    );
    assert_eq!(out["function"], json!({"direct": 7}));
    assert_eq!(
        out["get"]["item"],
        json!({"id": {"S": "a"}, "n": {"N": "7"}, "tag": {"S": "seen"}})
    );
    assert!(
        out["sns"]["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{out}"
    );
    // MD5 of the message body SQS received: the JSON text {"order":7}.
    assert_eq!(out["sqs"]["md5"], "4db405096ca2c297ffb21aeada277352");
    assert_eq!(out["events"], json!({"failed": 0}));
    assert_eq!(
        out["ddb_error"]["Error"],
        "DynamoDB.ResourceNotFoundException"
    );
    let cause = out["ddb_error"]["Cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains(
            "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException;"
        ),
        "{cause}"
    );
    assert_eq!(out["sns_error"]["Error"], "SNS.NotFoundException");
    assert!(
        out["sqs_error"]["Error"]
            .as_str()
            .is_some_and(|e| e.starts_with("SQS.")),
        "{out}"
    );
    // The message is in the queue, as SQS received it.
    let got = json_api(
        &moto,
        "sqs",
        "1.0",
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": queue}),
    )
    .await;
    assert_eq!(got["Messages"][0]["Body"], r#"{"order":7}"#);
    // The history AWS writes for service tasks.
    let types = common::event_types(&server.client(), &arn).await;
    let first: Vec<&str> = types.iter().take(6).map(String::as_str).collect();
    assert_eq!(
        first,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited"
        ]
    );
    assert!(types.iter().any(|t| t == "LambdaFunctionSucceeded"));
    assert_eq!(types.iter().filter(|t| *t == "TaskFailed").count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_task_token_answered_from_an_sqs_message_across_a_restart() {
    let Some(moto) = moto().await else { return };
    let queue = create_queue(&moto, "callbacks").await;
    let env = [
        ("AWS_ENDPOINT_URL_SQS", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_env(Some(dir.path()), &[], &env);
    let c = server.client();
    let def = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
            "End": true}}});
    let machine = c
        .create_state_machine()
        .name("callback")
        .role_arn(ROLE)
        .definition(def.to_string())
        .send()
        .await
        .expect("create");
    let exec = c
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .input(r#"{"order": 12}"#)
        .send()
        .await
        .expect("start");
    // The message arrives with the token in its body.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body: Value = loop {
        let got = json_api(
            &moto,
            "sqs",
            "1.0",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": queue, "WaitTimeSeconds": 1}),
        )
        .await;
        if let Some(b) = got["Messages"][0]["Body"].as_str() {
            break serde_json::from_str(b).expect("json body");
        }
        assert!(Instant::now() < deadline, "no message");
    };
    assert_eq!(body["order"], 12);
    let token = body["token"].as_str().expect("token").to_owned();
    // The coordinator restarts while the task waits: the call is not made again.
    let types = common::event_types(&c, exec.execution_arn()).await;
    assert_eq!(types.last().map(String::as_str), Some("TaskSubmitted"));
    server.terminate();
    let server = Server::start_env(Some(dir.path()), &[], &env);
    let c = server.client();
    c.send_task_success()
        .task_token(&token)
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .expect("send task success");
    let d = wait_done(&c, exec.execution_arn(), Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED");
    assert_eq!(d.output(), Some(r#"{"approved":true}"#));
    let again = json_api(
        &moto,
        "sqs",
        "1.0",
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": queue}),
    )
    .await;
    assert!(
        again
            .get("Messages")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "sent twice: {again}"
    );
}

/// The text of the first `<tag>` in an XML answer.
fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = xml[start..].find('<').map(|i| start + i).unwrap_or(start);
    xml[start..end].to_owned()
}

/// Calls ECS's JSON API on moto.
async fn ecs(moto: &Moto, target: &str, body: Value) -> Value {
    json_api(
        moto,
        "ecs",
        "1.1",
        &format!("AmazonEC2ContainerServiceV20141113.{target}"),
        body,
    )
    .await
}

/// An ECS cluster `work` with one container instance, and a task
/// definition `job`, on moto.
async fn ecs_cluster(moto: &Moto) {
    ecs(moto, "CreateCluster", json!({"clusterName": "work"})).await;
    ecs(
        moto,
        "RegisterTaskDefinition",
        json!({"family": "job", "containerDefinitions": [{"name": "main", "image": "busybox", "memory": 128}]}),
    )
    .await;
    let run = query_api(
        moto,
        "ec2",
        "Action=RunInstances&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&Version=2016-11-15",
    )
    .await;
    let instance = xml_field(&run, "instanceId");
    let doc = json!({"instanceId": instance, "region": "us-east-1", "availabilityZone": "us-east-1a",
                     "privateIp": "10.0.0.1", "instanceType": "t2.micro", "imageId": "ami-12c6146b",
                     "accountId": "123456789012"});
    ecs(
        moto,
        "RegisterContainerInstance",
        json!({"cluster": "work", "instanceIdentityDocument": doc.to_string()}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_run_task_sync_survives_a_restart_and_ends_when_the_task_stops() {
    let Some(moto) = moto().await else { return };
    ecs_cluster(&moto).await;
    let env = [
        ("ECS_ENDPOINT", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_env(Some(dir.path()), &[], &env);
    let c = server.client();
    let def = json!({"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Parameters": {"Cluster": "work", "TaskDefinition": "job"},
            "ResultSelector": {"status.$": "$.LastStatus", "exit.$": "$.Containers[0].ExitCode"},
            "End": true}}});
    let machine = c
        .create_state_machine()
        .name("ecs")
        .role_arn(ROLE)
        .definition(def.to_string())
        .send()
        .await
        .expect("create");
    let exec = c
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .send()
        .await
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::event_types(&c, exec.execution_arn())
        .await
        .last()
        .map(String::as_str)
        != Some("TaskSubmitted")
    {
        assert!(Instant::now() < deadline, "never submitted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Restart while the task runs: the wait resumes, the task is not run again.
    server.terminate();
    let server = Server::start_env(Some(dir.path()), &[], &env);
    let c = server.client();
    let tasks = ecs(&moto, "ListTasks", json!({"cluster": "work"})).await;
    let arns = tasks["taskArns"].as_array().cloned().unwrap_or_default();
    assert_eq!(arns.len(), 1, "{tasks}");
    ecs(
        &moto,
        "StopTask",
        json!({"cluster": "work", "task": arns[0]}),
    )
    .await;
    let d = wait_done(&c, exec.execution_arn(), Duration::from_secs(60)).await;
    assert_eq!(
        d.status().as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        d.error(),
        d.cause()
    );
    assert_eq!(d.output(), Some(r#"{"status":"STOPPED","exit":0}"#));
    let tasks = ecs(
        &moto,
        "ListTasks",
        json!({"cluster": "work", "desiredStatus": "STOPPED"}),
    )
    .await;
    assert_eq!(
        tasks["taskArns"].as_array().map(Vec::len),
        Some(1),
        "{tasks}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_submit_job_sync_and_an_error_caught() {
    let Some(moto) = moto().await else { return };
    let role = query_api(
        &moto,
        "iam",
        "Action=CreateRole&RoleName=batch&AssumeRolePolicyDocument=%7B%7D&Version=2010-05-08",
    )
    .await;
    let role = xml_field(&role, "Arn");
    let rest = |path: &'static str, body: Value| {
        let moto = &moto;
        async move {
            let (status, out) = aws(
                moto,
                "batch",
                "POST",
                path,
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            )
            .await;
            assert!(status < 300, "{path}: {}", String::from_utf8_lossy(&out));
            serde_json::from_slice::<Value>(&out).unwrap_or(Value::Null)
        }
    };
    let ce = rest(
        "/v1/createcomputeenvironment",
        json!({"computeEnvironmentName": "nightly-ce", "type": "UNMANAGED", "serviceRole": role}),
    )
    .await;
    rest(
        "/v1/createjobqueue",
        json!({"jobQueueName": "jobs", "state": "ENABLED", "priority": 1,
               "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}]}),
    )
    .await;
    rest(
        "/v1/registerjobdefinition",
        json!({"jobDefinitionName": "report", "type": "container",
               "containerProperties": {"image": "busybox", "vcpus": 1, "memory": 128}}),
    )
    .await;
    let env = [
        ("AWS_ENDPOINT_URL_BATCH", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let server = Server::start_env(None, &[], &env);
    let def = json!({"StartAt": "Submit", "States": {
        "Submit": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
            "Parameters": {"JobName": "nightly", "JobQueue": "jobs", "JobDefinition": "report",
                "Parameters": {"Day": "monday"}},
            "ResultSelector": {"status.$": "$.Status", "name.$": "$.JobName"}, "ResultPath": "$.job", "Next": "NoQueue"},
        "NoQueue": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob",
            "Parameters": {"JobName": "x", "JobQueue": "missing", "JobDefinition": "report"},
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Done"}], "End": true},
        "Done": {"Type": "Succeed"}}});
    let (_, out) = run(&server, "batch", &def, "{}").await;
    assert_eq!(
        out["job"],
        json!({"status": "SUCCEEDED", "name": "nightly"})
    );
    assert!(
        out["error"]["Error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Batch.")),
        "{out}"
    );
}

/// The task token a `.waitForTaskToken` task passed in its parameters (as
/// its `TaskScheduled` event shows them), once its call was made.
async fn submitted_token(c: &aws_sdk_sfn::Client, exec: &str, field: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = c
            .get_execution_history()
            .execution_arn(exec)
            .send()
            .await
            .expect("history");
        let events = h.events();
        let submitted = events
            .iter()
            .any(|e| e.r#type().as_str() == "TaskSubmitted");
        let params = events
            .iter()
            .rev()
            .find_map(|e| e.task_scheduled_event_details())
            .map(|d| d.parameters().to_owned());
        if let (true, Some(p)) = (submitted, params) {
            let v: Value = serde_json::from_str(&p).expect("json parameters");
            return v
                .pointer(field)
                .and_then(Value::as_str)
                .expect("token in the parameters")
                .to_owned();
        }
        assert!(Instant::now() < deadline, "never submitted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_task_token_with_lambda_sns_eventbridge_and_ecs() {
    let Some(moto) = moto().await else { return };
    let (_, topic) = setup(&moto).await;
    ecs_cluster(&moto).await;
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let server = Server::start_env(None, &[], &env);
    let c = server.client();
    let cases = [
        (
            "lambda",
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                   "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}}, "End": true}),
            "/Payload/token",
        ),
        (
            "sns",
            json!({"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                   "Parameters": {"TopicArn": topic, "Message": {"token.$": "$$.Task.Token"}}, "End": true}),
            "/Message/token",
        ),
        (
            "events",
            json!({"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                   "Parameters": {"Entries": [{"Source": "s", "DetailType": "d", "Detail": {"token.$": "$$.Task.Token"}}]},
                   "End": true}),
            "/Entries/0/Detail/token",
        ),
        (
            "ecs",
            json!({"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
                   "Parameters": {"Cluster": "work", "TaskDefinition": "job",
                       "Overrides": {"ContainerOverrides": [{"Name": "main",
                           "Environment": [{"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}]}]}},
                   "End": true}),
            "/Overrides/ContainerOverrides/0/Environment/0/Value",
        ),
    ];
    for (name, state, field) in cases {
        let def = json!({"StartAt": "Call", "States": {"Call": state}});
        let machine = c
            .create_state_machine()
            .name(format!("wait-{name}"))
            .role_arn(ROLE)
            .definition(def.to_string())
            .send()
            .await
            .expect("create");
        let exec = c
            .start_execution()
            .state_machine_arn(machine.state_machine_arn())
            .send()
            .await
            .expect("start")
            .execution_arn()
            .to_owned();
        let token = submitted_token(&c, &exec, field).await;
        c.send_task_success()
            .task_token(token)
            .output(json!({"from": name}).to_string())
            .send()
            .await
            .expect("answer");
        let d = wait_done(&c, &exec, Duration::from_secs(30)).await;
        assert_eq!(d.status().as_str(), "SUCCEEDED", "{name}: {:?}", d.cause());
        assert_eq!(d.output(), Some(json!({"from": name}).to_string().as_str()));
        let types = common::event_types(&c, &exec).await;
        let task: Vec<&str> = types
            .iter()
            .map(String::as_str)
            .filter(|t| {
                t.starts_with("Task") && *t != "TaskStateEntered" && *t != "TaskStateExited"
            })
            .collect();
        assert_eq!(
            task,
            [
                "TaskScheduled",
                "TaskStarted",
                "TaskSubmitted",
                "TaskSucceeded"
            ],
            "{name}"
        );
    }
}

/// `aws-sdk:*` Tasks, driven by AWS's service models: every call below (the
/// resources they use included) goes through the generic SDK caller, over
/// the json, rest-xml and query protocols, and each service's error is
/// caught under the name AWS gives it.
#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_tasks_against_moto_and_this_coordinator() {
    let Some(moto) = moto().await else { return };
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let server = Server::start_env(None, &[], &env);
    let c = server.client();
    let child = c
        .create_state_machine()
        .name("child")
        .role_arn(ROLE)
        .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#)
        .send()
        .await
        .expect("create child");
    let child_arn = child.state_machine_arn().to_owned();
    let sdk = |s: &str| format!("arn:aws:states:::aws-sdk:{s}");
    // One state per call: (name, resource, parameters, result selector or null, error caught).
    let steps: Vec<(&str, String, Value, Value, Option<&str>)> = vec![
        (
            "Bucket",
            sdk("s3:createBucket"),
            json!({"Bucket": "docs"}),
            Value::Null,
            None,
        ),
        (
            "PutObject",
            sdk("s3:putObject"),
            json!({"Bucket": "docs", "Key": "a/b.json", "Body": {"n.$": "$.n"}, "ContentType": "application/json"}),
            json!({"etag.$": "$.ETag"}),
            None,
        ),
        (
            "GetObject",
            sdk("s3:getObject"),
            json!({"Bucket": "docs", "Key": "a/b.json"}),
            json!({"body.$": "$.Body", "length.$": "$.ContentLength", "type.$": "$.ContentType"}),
            None,
        ),
        (
            "List",
            sdk("s3:listObjectsV2"),
            json!({"Bucket": "docs", "Prefix": "a/"}),
            json!({"keys.$": "$.Contents[*].Key", "count.$": "$.KeyCount"}),
            None,
        ),
        (
            "NoKey",
            sdk("s3:getObject"),
            json!({"Bucket": "docs", "Key": "missing"}),
            Value::Null,
            Some("S3.NoSuchKeyException"),
        ),
        (
            "DeleteObjects",
            sdk("s3:deleteObjects"),
            json!({"Bucket": "docs", "Delete": {"Objects": [{"Key": "a/b.json"}]}}),
            json!({"deleted.$": "$.Deleted[*].Key"}),
            None,
        ),
        (
            "Table",
            sdk("dynamodb:createTable"),
            json!({"TableName": "items", "BillingMode": "PAY_PER_REQUEST",
                   "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                   "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}),
            json!({"status.$": "$.TableDescription.TableStatus"}),
            None,
        ),
        (
            "PutItem",
            sdk("dynamodb:putItem"),
            json!({"TableName": "items", "Item": {"id": {"S": "a"}, "n": {"N": "7"}}}),
            Value::Null,
            None,
        ),
        (
            "GetItem",
            sdk("dynamodb:getItem"),
            json!({"TableName": "items", "Key": {"id": {"S": "a"}}}),
            json!({"item.$": "$.Item"}),
            None,
        ),
        (
            "NoTable",
            sdk("dynamodb:getItem"),
            json!({"TableName": "missing", "Key": {"id": {"S": "a"}}}),
            Value::Null,
            Some("DynamoDb.ResourceNotFoundException"),
        ),
        (
            "Queue",
            sdk("sqs:createQueue"),
            json!({"QueueName": "jobs"}),
            json!({"url.$": "$.QueueUrl"}),
            None,
        ),
        (
            "Send",
            sdk("sqs:sendMessage"),
            json!({"QueueUrl.$": "$.Queue.url", "MessageBody": "hello"}),
            json!({"md5.$": "$.MD5OfMessageBody"}),
            None,
        ),
        (
            "Receive",
            sdk("sqs:receiveMessage"),
            json!({"QueueUrl.$": "$.Queue.url"}),
            json!({"bodies.$": "$.Messages[*].Body"}),
            None,
        ),
        (
            "NoQueue",
            sdk("sqs:getQueueUrl"),
            json!({"QueueName": "missing"}),
            Value::Null,
            Some("Sqs.QueueDoesNotExistException"),
        ),
        (
            "Topic",
            sdk("sns:createTopic"),
            json!({"Name": "alerts"}),
            json!({"arn.$": "$.TopicArn"}),
            None,
        ),
        (
            "Publish",
            sdk("sns:publish"),
            json!({"TopicArn.$": "$.Topic.arn", "Message": "hi"}),
            json!({"id.$": "$.MessageId"}),
            None,
        ),
        (
            "NoTopic",
            sdk("sns:publish"),
            json!({"TopicArn": "arn:aws:sns:us-east-1:123456789012:missing", "Message": "x"}),
            Value::Null,
            Some("Sns.NotFoundException"),
        ),
        (
            "Events",
            sdk("eventbridge:putEvents"),
            json!({"Entries": [{"Source": "shop", "DetailType": "order", "Detail": "{\"n\":1}"}]}),
            json!({"failed.$": "$.FailedEntryCount"}),
            None,
        ),
        (
            "NoRule",
            sdk("eventbridge:describeRule"),
            json!({"Name": "missing"}),
            Value::Null,
            Some("EventBridge.ResourceNotFoundException"),
        ),
        (
            "Secret",
            sdk("secretsmanager:createSecret"),
            json!({"Name": "db", "SecretString": "s3cret"}),
            json!({"name.$": "$.Name"}),
            None,
        ),
        (
            "GetSecret",
            sdk("secretsmanager:getSecretValue"),
            json!({"SecretId": "db"}),
            json!({"value.$": "$.SecretString", "date.$": "$.CreatedDate"}),
            None,
        ),
        (
            "NoSecret",
            sdk("secretsmanager:getSecretValue"),
            json!({"SecretId": "missing"}),
            Value::Null,
            Some("SecretsManager.ResourceNotFoundException"),
        ),
        (
            "PutParam",
            sdk("ssm:putParameter"),
            json!({"Name": "/app/mode", "Value": "fast", "Type": "String"}),
            json!({"version.$": "$.Version"}),
            None,
        ),
        (
            "GetParam",
            sdk("ssm:getParameter"),
            json!({"Name": "/app/mode"}),
            json!({"value.$": "$.Parameter.Value"}),
            None,
        ),
        (
            "NoParam",
            sdk("ssm:getParameter"),
            json!({"Name": "/missing"}),
            Value::Null,
            Some("Ssm.ParameterNotFoundException"),
        ),
        (
            "Vpcs",
            sdk("ec2:describeVpcs"),
            json!({"Filters": [{"Name": "is-default", "Values": ["true"]}]}),
            json!({"default.$": "$.Vpcs[0].IsDefault"}),
            None,
        ),
        (
            "NoInstance",
            sdk("ec2:describeInstances"),
            json!({"InstanceIds": ["i-00000000000000000"]}),
            Value::Null,
            Some("Ec2.Ec2Exception"),
        ),
        (
            "Functions",
            sdk("lambda:listFunctions"),
            json!({"MaxItems": 5}),
            json!({"functions.$": "$.Functions"}),
            None,
        ),
        (
            "NoFunction",
            sdk("lambda:getFunction"),
            json!({"FunctionName": "missing"}),
            Value::Null,
            Some("Lambda.ResourceNotFoundException"),
        ),
        (
            "Caller",
            sdk("sts:getCallerIdentity"),
            json!({}),
            json!({"account.$": "$.Account"}),
            None,
        ),
        (
            "StartChild",
            sdk("sfn:startExecution"),
            json!({"StateMachineArn": child_arn, "Input": "{\"x\":1}"}),
            json!({"arn.$": "$.ExecutionArn", "started.$": "$.StartDate"}),
            None,
        ),
        (
            "ListChild",
            sdk("sfn:listExecutions"),
            json!({"StateMachineArn": child_arn}),
            json!({"arns.$": "$.Executions[*].ExecutionArn"}),
            None,
        ),
        (
            "NoExecution",
            sdk("sfn:describeExecution"),
            json!({"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:child:missing"}),
            Value::Null,
            Some("Sfn.ExecutionDoesNotExistException"),
        ),
    ];
    let mut states = serde_json::Map::new();
    for (i, (name, resource, params, selector, error)) in steps.iter().enumerate() {
        let next = steps.get(i + 1).map_or("Done", |s| s.0);
        let mut state = json!({"Type": "Task", "Resource": resource, "Parameters": params,
            "ResultPath": format!("$.{name}"), "Next": next});
        if !selector.is_null() {
            state["ResultSelector"] = selector.clone();
        }
        if let Some(e) = error {
            state["Catch"] =
                json!([{"ErrorEquals": [e], "ResultPath": format!("$.{name}"), "Next": next}]);
            state["ResultPath"] = Value::Null;
            state["Next"] = json!("Unexpected");
        }
        states.insert(name.to_string(), state);
    }
    states.insert("Done".into(), json!({"Type": "Succeed"}));
    states.insert(
        "Unexpected".into(),
        json!({"Type": "Fail", "Error": "Unexpected", "Cause": "an error was expected"}),
    );
    let def = json!({"StartAt": steps[0].0, "States": states});
    let (_, out) = run(&server, "sdk", &def, r#"{"n": 7}"#).await;
    assert_eq!(
        out["GetObject"],
        json!({"body": "{\"n\":7}", "length": 7, "type": "application/json"}),
        "{out}"
    );
    assert_eq!(out["List"], json!({"keys": ["a/b.json"], "count": 1}));
    assert_eq!(
        out["DeleteObjects"],
        json!({"deleted": ["a/b.json"]}),
        "{out}"
    );
    assert_eq!(out["Table"]["status"], "ACTIVE");
    assert_eq!(
        out["GetItem"]["item"],
        json!({"id": {"S": "a"}, "n": {"N": "7"}})
    );
    assert_eq!(out["Send"]["md5"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(out["Receive"]["bodies"], json!(["hello"]));
    assert!(
        out["Publish"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{out}"
    );
    assert_eq!(out["Events"]["failed"], 0);
    assert_eq!(out["GetSecret"]["value"], "s3cret");
    assert!(
        out["GetSecret"]["date"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z')),
        "{out}"
    );
    assert_eq!(out["GetParam"]["value"], "fast");
    assert_eq!(out["Vpcs"]["default"], true, "{out}");
    assert_eq!(out["Caller"]["account"], "123456789012", "{out}");
    assert_eq!(out["Functions"]["functions"], json!([]), "{out}");
    assert_eq!(out["PutParam"]["version"], 1);
    let started = out["StartChild"]["arn"].as_str().unwrap_or_default();
    assert!(started.contains(":execution:child:"), "{out}");
    assert!(
        out["StartChild"]["started"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z')),
        "{out}"
    );
    assert_eq!(out["ListChild"]["arns"], json!([started]));
    for (name, _, _, _, error) in &steps {
        if let Some(e) = error {
            assert_eq!(out[name]["Error"], *e, "{name}: {out}");
            assert!(
                out[name]["Cause"]
                    .as_str()
                    .is_some_and(|c| c.contains("(Service: ")),
                "{name}: {out}"
            );
        }
    }
    assert!(
        out["NoKey"]["Cause"]
            .as_str()
            .is_some_and(|c| c.contains("Status Code: 404")),
        "{out}"
    );
}
