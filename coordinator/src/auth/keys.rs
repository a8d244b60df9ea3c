//! The keys file (`--auth-file`): who may call, and what they may do.
//!
//! ```toml
//! [[key]]
//! access_key_id = "AKIDADMIN"
//! secret_access_key = "..."
//! allow = ["*"]
//!
//! [[key]]
//! name = "billing-worker"            # shown in the audit log (default: the key id)
//! access_key_id = "AKIDWORKER"
//! secret_access_key = "..."
//! allow = ["GetActivityTask", "SendTask*"]
//! resources = ["arn:aws:states:*:*:activity:charge-*"]
//! ```

use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// Why the keys file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// It could not be read or parsed.
    #[error("auth file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: config::ConfigError,
    },
    /// An entry is wrong.
    #[error("auth file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What to fix.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    key: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    name: Option<String>,
    allow: Vec<String>,
    #[serde(default)]
    resources: Option<Vec<String>>,
}

/// One key: its secret and what it may do.
#[derive(Clone)]
pub struct Key {
    /// Who this is in the audit log and in `AccessDeniedException` messages.
    pub name: String,
    /// The secret access key.
    pub secret: String,
    allow: Vec<String>,
    resources: Option<Vec<String>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("allow", &self.allow)
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key allowing `allow` on `resources` (`None`: on any resource).
    pub fn new(
        name: impl Into<String>,
        secret: impl Into<String>,
        allow: Vec<String>,
        resources: Option<Vec<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            secret: secret.into(),
            allow: allow
                .into_iter()
                .map(|a| a.strip_prefix("states:").unwrap_or(&a).to_owned())
                .collect(),
            resources,
        }
    }

    /// Whether this key may call `action` on all of `resources` (the ARNs the
    /// request names). A key limited to resources may only make calls that
    /// name one; calls that carry a task token (`SendTask*`) are checked by
    /// action only, the token being itself the capability.
    pub fn allows(&self, action: &str, resources: &[&str]) -> bool {
        if !self.allow.iter().any(|p| glob(p, action)) {
            return false;
        }
        match &self.resources {
            None => true,
            Some(_) if action.starts_with("SendTask") => true,
            Some(patterns) => {
                !resources.is_empty()
                    && resources
                        .iter()
                        .all(|r| patterns.iter().any(|p| glob(p, r)))
            }
        }
    }
}

/// The keys, by access key id.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, Key>,
}

impl KeyRing {
    /// Reads and checks a keys file.
    pub fn load(path: &Path) -> Result<Self, KeysError> {
        let shown = path.display().to_string();
        let file: File = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|source| KeysError::Read {
                path: shown.clone(),
                source,
            })?;
        let invalid = |message: String| KeysError::Invalid {
            path: shown.clone(),
            message,
        };
        if file.key.is_empty() {
            return Err(invalid(
                "no [[key]] entries: with no keys nobody could call".into(),
            ));
        }
        let mut keys = HashMap::new();
        for (i, e) in file.key.into_iter().enumerate() {
            let at = format!("key #{} ({})", i + 1, e.access_key_id);
            if e.access_key_id.is_empty() || e.access_key_id.contains(['/', ' ', ',']) {
                return Err(invalid(format!(
                    "{at}: access_key_id must be non-empty, without '/', ',' or spaces"
                )));
            }
            if e.secret_access_key.len() < 8 {
                return Err(invalid(format!(
                    "{at}: secret_access_key must be at least 8 characters"
                )));
            }
            if e.allow.is_empty() {
                return Err(invalid(format!(
                    "{at}: allow is empty; list actions such as \"*\", \"GetActivityTask\", \"Send*\""
                )));
            }
            for a in &e.allow {
                let a = a.strip_prefix("states:").unwrap_or(a);
                if a.is_empty() || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '*') {
                    return Err(invalid(format!(
                        "{at}: allow entry '{a}' is not an action name or pattern (letters and '*')"
                    )));
                }
            }
            if let Some(r) = &e.resources
                && r.is_empty()
            {
                return Err(invalid(format!(
                    "{at}: resources is empty; leave it out to allow every resource"
                )));
            }
            let name = e.name.unwrap_or_else(|| e.access_key_id.clone());
            let key = Key::new(name, e.secret_access_key, e.allow, e.resources);
            if keys.insert(e.access_key_id.clone(), key).is_some() {
                return Err(invalid(format!(
                    "access_key_id '{}' appears twice",
                    e.access_key_id
                )));
            }
        }
        Ok(Self { keys })
    }

    /// The key with this id.
    pub fn get(&self, access_key_id: &str) -> Option<&Key> {
        self.keys.get(access_key_id)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// `*` matches any run of characters (including none); everything else is literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*", "GetActivityTask"));
        assert!(glob("Send*", "SendTaskSuccess"));
        assert!(!glob("Send*", "StartExecution"));
        assert!(glob("Describe*", "DescribeExecution"));
        assert!(glob("GetActivityTask", "GetActivityTask"));
        assert!(!glob("GetActivityTask", "GetActivityTasks"));
        assert!(glob("*Task*", "SendTaskHeartbeat"));
        assert!(glob(
            "arn:aws:states:*:*:activity:charge-*",
            "arn:aws:states:us-east-1:123456789012:activity:charge-card"
        ));
        assert!(!glob(
            "arn:aws:states:*:*:activity:charge-*",
            "arn:aws:states:us-east-1:123456789012:activity:refund"
        ));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }

    #[test]
    fn scopes() {
        let worker = Key::new(
            "w",
            "secretsecret",
            vec!["GetActivityTask".into(), "states:SendTask*".into()],
            Some(vec!["arn:aws:states:*:*:activity:charge".into()]),
        );
        let act = "arn:aws:states:us-east-1:123456789012:activity:charge";
        assert!(worker.allows("GetActivityTask", &[act]));
        assert!(!worker.allows(
            "GetActivityTask",
            &["arn:aws:states:us-east-1:1:activity:x"]
        ));
        assert!(!worker.allows("GetActivityTask", &[]));
        assert!(worker.allows("SendTaskSuccess", &[]));
        assert!(!worker.allows("CreateStateMachine", &[act]));
        let admin = Key::new("a", "secretsecret", vec!["*".into()], None);
        assert!(admin.allows("CreateStateMachine", &[]));
        assert!(admin.allows("ListActivities", &[]));
    }

    #[test]
    fn loads_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys.toml");
        std::fs::write(
            &p,
            r#"
[[key]]
access_key_id = "AKIDADMIN"
secret_access_key = "admin-secret"
allow = ["*"]

[[key]]
name = "worker"
access_key_id = "AKIDWORKER"
secret_access_key = "worker-secret"
allow = ["GetActivityTask", "SendTask*"]
resources = ["arn:aws:states:*:*:activity:*"]
"#,
        )
        .unwrap();
        let ring = KeyRing::load(&p).unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.get("AKIDWORKER").unwrap().name, "worker");
        assert_eq!(ring.get("AKIDADMIN").unwrap().secret, "admin-secret");
        assert!(ring.get("nope").is_none());

        for (text, needle) in [
            ("", "no [[key]]"),
            (
                "[[key]]\naccess_key_id='A'\nsecret_access_key='12345678'\nallow=[]\n",
                "allow is empty",
            ),
            (
                "[[key]]\naccess_key_id='A'\nsecret_access_key='short'\nallow=['*']\n",
                "at least 8",
            ),
            (
                "[[key]]\naccess_key_id='A'\nsecret_access_key='12345678'\nallow=['Get Activity']\n",
                "not an action",
            ),
            (
                "[[key]]\naccess_key_id='A'\nsecret_access_key='12345678'\nallow=['*']\nresource=['x']\n",
                "resource",
            ),
            (
                "[[key]]\naccess_key_id='A'\nsecret_access_key='12345678'\nallow=['*']\n[[key]]\naccess_key_id='A'\nsecret_access_key='12345678'\nallow=['*']\n",
                "twice",
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = KeyRing::load(&p).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        assert!(KeyRing::load(&dir.path().join("missing.toml")).is_err());
    }
}
