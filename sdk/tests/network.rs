//! The SDK's signer against a coordinator that checks signatures
//! (`--auth-file`): the right key works (a Worker with a worker key runs a
//! workflow), a wrong key, no key, and a key whose `allow` lacks the action
//! get AWS's errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use stepwise_sdk::types::*;
use stepwise_sdk::{Client, Credentials, Error, TaskEvent, TaskFailure, Worker, service_fn};

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

const KEYS: &str = r#"
[[key]]
name = "admin"
access_key_id = "AKIDADMIN"
secret_access_key = "admin-secret-key"
allow = ["*"]

[[key]]
name = "charge-worker"
access_key_id = "AKIDWORKER"
secret_access_key = "worker-secret-key"
allow = ["GetActivityTask", "SendTask*"]
resources = ["arn:aws:states:*:*:activity:charge"]
"#;

fn client(url: &str, key: Option<(&str, &str)>) -> Client {
    let mut b = Client::builder().endpoint_url(url).max_retries(0);
    if let Some((id, secret)) = key {
        b = b.credentials(Credentials::new(id, secret, None));
    }
    b.build().unwrap()
}

fn code(e: &Error) -> String {
    e.code()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_else(|| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_signs_and_a_worker_key_runs_its_activity_only() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, KEYS).unwrap();
    let running = stepwise_coordinator::start(stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        auth_file: Some(keys),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!("http://{}", running.addr);
    let admin = client(&url, Some(("AKIDADMIN", "admin-secret-key")));
    let worker_client = client(&url, Some(("AKIDWORKER", "worker-secret-key")));

    let act = admin
        .create_activity(CreateActivityInput {
            name: "charge".into(),
            tags: vec![],
        })
        .await
        .unwrap()
        .activity_arn;
    let sm = admin
        .create_state_machine(CreateStateMachineInput {
            name: "pay".into(),
            definition: json!({"StartAt": "C", "States": {"C": {"Type": "Task", "Resource": act, "End": true}}})
                .to_string(),
            role_arn: ROLE.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .state_machine_arn;

    let worker = Worker::builder()
        .client(worker_client.clone())
        .activity(
            &act,
            service_fn(|e: TaskEvent<Value>| async move {
                Ok::<_, TaskFailure>(json!({"charged": e.payload["amount"]}))
            }),
        )
        .build()
        .await
        .unwrap();
    let stop = worker.shutdown_handle();
    let handle = tokio::spawn(worker.run());
    let exec = admin
        .start_execution(StartExecutionInput {
            state_machine_arn: sm.clone(),
            input: Some(r#"{"amount":5}"#.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .execution_arn;
    let deadline = Instant::now() + Duration::from_secs(30);
    let d = loop {
        let d = admin
            .describe_execution(ExecutionArnInput {
                execution_arn: exec.clone(),
            })
            .await
            .unwrap();
        if d.status != ExecutionStatus::Running || Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output.as_deref(), Some(r#"{"charged":5}"#));
    stop.initiate_shutdown();
    handle.await.unwrap();

    let e = worker_client
        .create_state_machine(CreateStateMachineInput {
            name: "evil".into(),
            definition: r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#.into(),
            role_arn: ROLE.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let list = PageInput::default();
    let e = client(&url, Some(("AKIDADMIN", "wrong-secret-key")))
        .list_activities(list.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");
    let e = client(&url, None)
        .list_activities(list.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MissingAuthenticationTokenException");
    running.shutdown().await;
}

/// A test CA and a certificate it signed for localhost and 127.0.0.1, as PEM
/// files in `dir`: (CA, certificate, key). The CA is `name`d so two differ.
fn certs(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Stepwise test CA {name}"),
    );
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_custom_ca_and_a_certificate_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, KEYS).unwrap();
    let (ca, cert, key) = certs(dir.path(), "one");
    let running = stepwise_coordinator::start(stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        auth_file: Some(keys),
        tls_cert: Some(cert.clone()),
        tls_key: Some(key.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!("https://localhost:{}", running.addr.port());
    let tls_client = |ca: &std::path::Path| {
        Client::builder()
            .endpoint_url(&url)
            .max_retries(0)
            .credentials(Credentials::new("AKIDADMIN", "admin-secret-key", None))
            .ca_bundle_pem(std::fs::read(ca).unwrap())
            .build()
            .unwrap()
    };
    let list = PageInput::default();
    tls_client(&ca).list_activities(list.clone()).await.unwrap();
    // By IP address too (the certificate names 127.0.0.1).
    Client::builder()
        .endpoint_url(format!("https://{}", running.addr))
        .max_retries(0)
        .credentials(Credentials::new("AKIDADMIN", "admin-secret-key", None))
        .ca_bundle_pem(std::fs::read(&ca).unwrap())
        .build()
        .unwrap()
        .list_activities(list.clone())
        .await
        .unwrap();
    // Without the CA the certificate is not trusted; plain HTTP is not served.
    let untrusted = Client::builder()
        .endpoint_url(&url)
        .max_retries(0)
        .credentials(Credentials::new("AKIDADMIN", "admin-secret-key", None))
        .build()
        .unwrap();
    assert!(matches!(
        untrusted.list_activities(list.clone()).await,
        Err(Error::Network(_))
    ));
    let plain = client(
        &format!("http://{}", running.addr),
        Some(("AKIDADMIN", "admin-secret-key")),
    );
    assert!(plain.list_activities(list.clone()).await.is_err());

    // A new certificate (another CA) in the same files, reloaded.
    let (ca2, cert2, key2) = certs(dir.path(), "two");
    std::fs::copy(&cert2, &cert).unwrap();
    std::fs::copy(&key2, &key).unwrap();
    running.reload_tls().unwrap();
    tls_client(&ca2)
        .list_activities(list.clone())
        .await
        .unwrap();
    assert!(tls_client(&ca).list_activities(list.clone()).await.is_err());
    // A broken file keeps the certificate in use.
    std::fs::write(&cert, "not a certificate").unwrap();
    assert!(running.reload_tls().is_err());
    tls_client(&ca2).list_activities(list).await.unwrap();
    running.shutdown().await;
}
