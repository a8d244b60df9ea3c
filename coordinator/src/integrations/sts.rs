//! `Credentials.RoleArn`: a Task's calls are made with the credentials of an
//! assumed role (STS `AssumeRole`, signed with the coordinator's own
//! credentials), cached per role until five minutes before they expire.

use super::aws::{self, Call};
use super::endpoints::STS;
use super::{Integrations, encode_form};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use stepwise_asl::{StatesError, names};
use stepwise_sdk::Credentials;

/// Assumed roles' credentials, by role ARN.
#[derive(Debug, Default)]
pub(super) struct RoleCache {
    roles: Mutex<HashMap<String, (Credentials, SystemTime)>>,
}

impl RoleCache {
    fn get(&self, role: &str) -> Option<Credentials> {
        let roles = self.roles.lock().ok()?;
        let (c, until) = roles.get(role)?;
        (SystemTime::now() + Duration::from_secs(300) < *until).then(|| c.clone())
    }

    fn put(&self, role: &str, c: Credentials, until: SystemTime) {
        if let Ok(mut roles) = self.roles.lock() {
            roles.insert(role.to_owned(), (c, until));
        }
    }
}

/// The credentials of `role`, assumed with `base` (cached).
pub(super) async fn assume(
    ig: &Integrations,
    role: &str,
    region: &str,
    base: Credentials,
) -> Result<Credentials, StatesError> {
    if let Some(c) = ig.roles.get(role) {
        return Ok(c);
    }
    let form = [
        ("Action".to_owned(), "AssumeRole".to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
        ("RoleArn".to_owned(), role.to_owned()),
        ("RoleSessionName".to_owned(), "stepwise".to_owned()),
        ("DurationSeconds".to_owned(), "3600".to_owned()),
    ];
    let a = aws::send_signed(
        ig,
        Call {
            service: STS.into(),
            region,
            method: "POST",
            path: "/".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: encode_form(&form).into_bytes(),
        },
        &base,
    )
    .await?;
    let text = String::from_utf8_lossy(&a.body).into_owned();
    if !a.ok() {
        let message = aws::xml_text(&text, "Message").unwrap_or_default();
        return Err(StatesError::new(
            names::TASK_FAILED,
            format!(
                "Could not assume the role {role} given in Credentials: {message} (Status Code: {})",
                a.status
            ),
        ));
    }
    let field = |tag: &str| {
        aws::xml_text(&text, tag).ok_or_else(|| {
            StatesError::new(
                names::TASK_FAILED,
                format!("STS AssumeRole answered without {tag}"),
            )
        })
    };
    let c = Credentials::new(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        Some(field("SessionToken")?),
    );
    // An hour, as asked; the cache drops it five minutes early.
    ig.roles.put(
        role,
        c.clone(),
        SystemTime::now() + Duration::from_secs(3600),
    );
    Ok(c)
}
