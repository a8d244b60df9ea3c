//! The standard AWS credentials chain, written small on the reqwest client we
//! already have: environment variables, the shared `credentials`/`config`
//! files with profiles, ECS container credentials, and EC2 instance metadata
//! (IMDSv2). Temporary credentials are cached and refreshed five minutes
//! before they expire.

use crate::client::{Credentials, Error};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// Refresh temporary credentials this long before they expire.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// Where the chain looks; defaults come from the environment.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// `AWS_PROFILE` (default `default`).
    pub profile: String,
    /// `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`).
    pub credentials_file: Option<PathBuf>,
    /// `AWS_CONFIG_FILE` (default `~/.aws/config`).
    pub config_file: Option<PathBuf>,
    /// The ECS container credentials URL, from `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
    /// (on 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub ecs_url: Option<String>,
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    pub ecs_token: Option<String>,
    /// The instance metadata endpoint (default `http://169.254.169.254`); `None` when
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub imds_endpoint: Option<String>,
}

impl ChainSettings {
    /// Settings from the environment, as the AWS SDKs read them.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let ecs_url = var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .map(|rel| format!("http://169.254.170.2{rel}"))
            .or_else(|| var("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
        let imds_disabled =
            var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Self {
            profile: var("AWS_PROFILE").unwrap_or_else(|| "default".into()),
            credentials_file: var("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials"))),
            config_file: var("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws/config"))),
            ecs_url,
            ecs_token: var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            imds_endpoint: (!imds_disabled).then(|| {
                var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                    .unwrap_or_else(|| "http://169.254.169.254".into())
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct Cached {
    creds: Credentials,
    expires: Option<SystemTime>,
}

/// Resolves credentials through the chain, caching temporary ones.
#[derive(Debug)]
pub struct CredentialsChain {
    settings: ChainSettings,
    http: reqwest::Client,
    /// The last answer of the chain and when it was fetched.
    cache: Mutex<Option<(Option<Cached>, std::time::Instant)>>,
}

impl CredentialsChain {
    /// A chain with these settings.
    pub fn new(settings: ChainSettings) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            cache: Mutex::new(None),
        })
    }

    /// Current credentials, or `None` when no source has any.
    pub async fn get(&self) -> Result<Option<Credentials>, Error> {
        let mut cache = self.cache.lock().await;
        match cache.as_ref() {
            Some((Some(c), _))
                if c.expires
                    .is_none_or(|t| SystemTime::now() + REFRESH_BEFORE < t) =>
            {
                return Ok(Some(c.creds.clone()));
            }
            // No source had credentials: do not probe again for a while.
            Some((None, at)) if at.elapsed() < REFRESH_BEFORE => return Ok(None),
            _ => {}
        }
        let found = self.resolve().await?;
        *cache = Some((found.clone(), std::time::Instant::now()));
        Ok(found.map(|c| c.creds))
    }

    async fn resolve(&self) -> Result<Option<Cached>, Error> {
        if let Some(c) = Credentials::from_env() {
            return Ok(Some(Cached {
                creds: c,
                expires: None,
            }));
        }
        if let Some(c) = self.shared_files() {
            return Ok(Some(Cached {
                creds: c,
                expires: None,
            }));
        }
        if let Some(url) = &self.settings.ecs_url {
            let mut req = self.http.get(url);
            if let Some(t) = &self.settings.ecs_token {
                req = req.header("Authorization", t);
            }
            let body: serde_json::Value = req
                .send()
                .await
                .map_err(|e| Error::Network(format!("ECS container credentials: {e}")))?
                .json()
                .await
                .map_err(|e| Error::Decode {
                    action: "ECS container credentials".into(),
                    message: e.to_string(),
                })?;
            return Ok(parse_temporary(&body));
        }
        if let Some(base) = &self.settings.imds_endpoint {
            // IMDSv2: a session token first, then the role's credentials. Off EC2
            // the endpoint does not answer: no credentials, not an error.
            let Ok(resp) = self
                .http
                .put(format!("{base}/latest/api/token"))
                .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
                .send()
                .await
            else {
                return Ok(None);
            };
            let Ok(token) = resp.error_for_status().map_err(|_| ()) else {
                return Ok(None);
            };
            let token = token.text().await.unwrap_or_default();
            let get = |path: String| {
                self.http
                    .get(format!("{base}{path}"))
                    .header("X-aws-ec2-metadata-token", token.clone())
                    .send()
            };
            let role = match get("/latest/meta-data/iam/security-credentials/".into()).await {
                Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
                _ => return Ok(None),
            };
            let role = role.lines().next().unwrap_or_default().trim().to_owned();
            if role.is_empty() {
                return Ok(None);
            }
            let body: serde_json::Value =
                get(format!("/latest/meta-data/iam/security-credentials/{role}"))
                    .await
                    .map_err(|e| Error::Network(format!("instance metadata: {e}")))?
                    .json()
                    .await
                    .map_err(|e| Error::Decode {
                        action: "instance metadata credentials".into(),
                        message: e.to_string(),
                    })?;
            return Ok(parse_temporary(&body));
        }
        Ok(None)
    }

    fn shared_files(&self) -> Option<Credentials> {
        let profile = &self.settings.profile;
        let read = |p: &Option<PathBuf>| {
            p.as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| parse_ini(&t))
        };
        let from = |section: Option<&HashMap<String, String>>| {
            let s = section?;
            Some(Credentials::new(
                s.get("aws_access_key_id")?.clone(),
                s.get("aws_secret_access_key")?.clone(),
                s.get("aws_session_token").cloned(),
            ))
        };
        if let Some(c) =
            read(&self.settings.credentials_file).and_then(|f| from(f.get(profile.as_str())))
        {
            return Some(c);
        }
        let config = read(&self.settings.config_file)?;
        let key = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        from(config.get(&key))
    }
}

/// `{AccessKeyId, SecretAccessKey, Token, Expiration}` as ECS and IMDS answer.
fn parse_temporary(body: &serde_json::Value) -> Option<Cached> {
    let creds = Credentials::new(
        body["AccessKeyId"].as_str()?,
        body["SecretAccessKey"].as_str()?,
        body["Token"].as_str().map(str::to_owned),
    );
    let expires = body["Expiration"]
        .as_str()
        .and_then(chrono_like_rfc3339)
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    Some(Cached { creds, expires })
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (the form AWS uses here).
fn chrono_like_rfc3339(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

/// A small INI reader for the shared files: `[section]` and `key = value`.
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ChainSettings {
        ChainSettings {
            profile: "default".into(),
            credentials_file: None,
            config_file: None,
            ecs_url: None,
            ecs_token: None,
            imds_endpoint: None,
        }
    }

    #[test]
    fn rfc3339_expiration() {
        assert_eq!(chrono_like_rfc3339("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(
            chrono_like_rfc3339("2023-11-14T22:13:20Z"),
            Some(1_700_000_000)
        );
        assert_eq!(chrono_like_rfc3339("bad"), None);
    }

    #[tokio::test]
    async fn shared_files_with_profiles() {
        if Credentials::from_env().is_some() {
            return; // the environment wins; nothing to test here
        }
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n",
        )
        .unwrap();
        std::fs::write(&config, "[profile ops]\naws_access_key_id=AKIDOPS\naws_secret_access_key=s2\naws_session_token=t\n").unwrap();
        let mut s = settings();
        s.credentials_file = Some(creds.clone());
        s.config_file = Some(config.clone());
        let c = CredentialsChain::new(s.clone())
            .unwrap()
            .get()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.access_key_id, "AKIDDEFAULT");
        s.profile = "ops".into();
        let c = CredentialsChain::new(s)
            .unwrap()
            .get()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref()),
            ("AKIDOPS", Some("t"))
        );
    }

    async fn serve(app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn ecs_container_credentials_refresh_before_expiry() {
        if Credentials::from_env().is_some() {
            return;
        }
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = calls.clone();
        let app = axum::Router::new().route(
            "/creds",
            axum::routing::get(move |h: axum::http::HeaderMap| {
                let n = c2.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert_eq!(h.get("authorization").and_then(|v| v.to_str().ok()), Some("secret"));
                    // Already expired: inside the refresh window, so every get refetches.
                    serde_json::json!({"AccessKeyId": format!("AKID{n}"), "SecretAccessKey": "s", "Token": "t",
                        "Expiration": "2000-01-01T00:00:00Z"}).to_string()
                }
            }),
        );
        let base = serve(app).await;
        let mut s = settings();
        s.ecs_url = Some(format!("{base}/creds"));
        s.ecs_token = Some("secret".into());
        let chain = CredentialsChain::new(s).unwrap();
        assert_eq!(chain.get().await.unwrap().unwrap().access_key_id, "AKID0");
        assert_eq!(chain.get().await.unwrap().unwrap().access_key_id, "AKID1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn imds_v2() {
        if Credentials::from_env().is_some() {
            return;
        }
        let app = axum::Router::new()
            .route("/latest/api/token", axum::routing::put(|| async { "tok" }))
            .route(
                "/latest/meta-data/iam/security-credentials/",
                axum::routing::get(|h: axum::http::HeaderMap| async move {
                    assert_eq!(h.get("x-aws-ec2-metadata-token").and_then(|v| v.to_str().ok()), Some("tok"));
                    "my-role"
                }),
            )
            .route(
                "/latest/meta-data/iam/security-credentials/my-role",
                axum::routing::get(|| async {
                    r#"{"AccessKeyId": "AKIDEC2", "SecretAccessKey": "s", "Token": "t", "Expiration": "2999-01-01T00:00:00Z"}"#
                }),
            );
        let base = serve(app).await;
        let mut s = settings();
        s.imds_endpoint = Some(base);
        let c = CredentialsChain::new(s)
            .unwrap()
            .get()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.access_key_id, "AKIDEC2");
        // No metadata service: no credentials, no error.
        let mut s = settings();
        s.imds_endpoint = Some("http://127.0.0.1:1".into());
        assert!(
            CredentialsChain::new(s)
                .unwrap()
                .get()
                .await
                .unwrap()
                .is_none()
        );
    }
}
