//! Server-side SigV4 verification of a request signed in its `Authorization`
//! header (what the AWS CLI, boto3, the AWS SDKs and `stepwise-sdk` send):
//! the canonical request is rebuilt from what arrived, the signing key is
//! derived from the secret of the key the request names, and the signature is
//! compared in constant time.
//!
//! Written on `hmac` + `sha2` (already dependencies) rather than
//! `scratchstack-aws-signature`, which brings `regex`, `derive_builder`,
//! `encoding_rs` and its own principal types for the same ~200 lines; the
//! tests check it against `aws-sigv4` (the SDK's signer) and CI against
//! botocore.

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

type HmacSha256 = Hmac<Sha256>;

/// How far a request's date may be from the server's clock (AWS: 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a request's signature was refused, one variant per AWS error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header is there but lacks a part, or the date is missing.
    #[error("{0}")]
    Incomplete(String),
    /// The access key id is not one of ours.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// The signature does not match, the scope is wrong, or the date is too far off.
    #[error("{0}")]
    Invalid(String),
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// `yyyymmdd` of the credential scope.
    pub date: &'a str,
    /// Region of the scope.
    pub region: &'a str,
    /// Service of the scope.
    pub service: &'a str,
    /// Lower-case header names, `;`-separated, as signed.
    pub signed_headers: &'a str,
    /// Hex signature.
    pub signature: &'a str,
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Parses the `Authorization` header.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigError> {
    let incomplete = |what: &str| {
        SigError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={value}"
        ))
    };
    let rest = value.trim_start();
    let Some(rest) = rest.strip_prefix(ALGORITHM) else {
        return Err(SigError::Incomplete(format!(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={value}"
        )));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=') {
            match k.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed = Some(v.trim()),
                "Signature" => signature = Some(v.trim()),
                _ => {}
            }
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed_headers = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let mut scope = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(SigError::Incomplete(format!(
            "Credential should be scoped to a valid region, a service and the terminator 'aws4_request'. Credential={credential}"
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("Credential"));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// What the verifier checks the scope against.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The coordinator's region.
    pub region: &'a str,
    /// Always `states`.
    pub service: &'a str,
    /// The server's clock.
    pub now: SystemTime,
}

/// Verifies a request whose header was parsed into `auth`, with `secret`.
pub fn verify(
    auth: &Authorization<'_>,
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    expect: &Expect<'_>,
) -> Result<(), SigError> {
    let names: Vec<&str> = auth.signed_headers.split(';').collect();
    if !names.iter().any(|n| *n == "host" || *n == ":authority") {
        return Err(SigError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let amz_date = match headers.get("x-amz-date").and_then(|v| v.to_str().ok()) {
        Some(d) => d.to_owned(),
        None => match headers.get("date").and_then(|v| v.to_str().ok()) {
            Some(d) => http_date_to_amz(d).ok_or_else(|| {
                SigError::Incomplete(format!("Date header is not a valid HTTP date: {d}"))
            })?,
            None => {
                return Err(SigError::Incomplete(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                        .into(),
                ));
            }
        },
    };
    let time = parse_amz_date(&amz_date).ok_or_else(|| {
        SigError::Incomplete(format!(
            "X-Amz-Date must be in the ISO8601 Long Format (yyyyMMdd'T'HHmmss'Z'): {amz_date}"
        ))
    })?;
    check_skew(&amz_date, time, expect.now)?;
    if auth.date != &amz_date[..8] {
        return Err(SigError::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8]
        )));
    }
    if auth.service != expect.service {
        return Err(SigError::Invalid(format!(
            "Credential should be scoped to correct service: '{}'. ",
            expect.service
        )));
    }
    if auth.region != expect.region {
        return Err(SigError::Invalid(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            auth.region
        )));
    }
    let canonical = canonical_request(method, uri, headers, &names, body)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret, auth.date, auth.region, auth.service);
    let given = unhex(auth.signature).ok_or_else(mismatch)?;
    let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| mismatch())?;
    mac.update(to_sign.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&given).map_err(|_| mismatch())
}

fn mismatch() -> SigError {
    SigError::Invalid(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
            .into(),
    )
}

fn check_skew(amz_date: &str, time: SystemTime, now: SystemTime) -> Result<(), SigError> {
    let fmt = |t: SystemTime| format_amz_date(t);
    if time + MAX_SKEW < now {
        return Err(SigError::Invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            fmt(now - MAX_SKEW),
            fmt(now)
        )));
    }
    if time > now + MAX_SKEW {
        return Err(SigError::Invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            fmt(now + MAX_SKEW),
            fmt(now)
        )));
    }
    Ok(())
}

/// The canonical request of SigV4 (non-S3 rules: the path encoded again).
fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed: &[&str],
    body: &[u8],
) -> Result<String, SigError> {
    let mut out = String::with_capacity(256);
    out.push_str(method.as_str());
    out.push('\n');
    let path = uri.path();
    out.push_str(&if path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(path, false)
    });
    out.push('\n');
    out.push_str(&canonical_query(uri.query().unwrap_or("")));
    out.push('\n');
    for name in signed {
        let values: Vec<String> = if *name == "host" && !headers.contains_key("host") {
            // HTTP/2 carries the host as `:authority`, which hyper puts in the URI.
            uri.authority()
                .map(|a| vec![a.as_str().to_owned()])
                .unwrap_or_default()
        } else {
            headers
                .get_all(*name)
                .iter()
                .map(|v| collapse(&String::from_utf8_lossy(v.as_bytes())))
                .collect()
        };
        if values.is_empty() {
            return Err(mismatch());
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    out.push_str(&hex(&Sha256::digest(body)));
    Ok(out)
}

fn collapse(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_query(q: &str) -> String {
    if q.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// AWS's URI encoding: everything but `A-Za-z0-9-_.~` (and `/` in paths).
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !encode_slash)
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let step = |key: &[u8], data: &str| -> Vec<u8> {
        match HmacSha256::new_from_slice(key) {
            Ok(mut m) => {
                m.update(data.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            // HMAC takes keys of any length.
            Err(_) => Vec::new(),
        }
    };
    let k = step(format!("AWS4{secret}").as_bytes(), date);
    let k = step(&k, region);
    let k = step(&k, service);
    step(&k, "aws4_request")
}

fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok()?;
    let secs = t.and_utc().timestamp();
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn http_date_to_amz(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc2822(s).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y%m%dT%H%M%SZ")
            .to_string(),
    )
}

fn format_amz_date(t: SystemTime) -> String {
    let d: chrono::DateTime<chrono::Utc> = t.into();
    d.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_header() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/states/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
        )
        .unwrap();
        assert_eq!(a.access_key_id, "AKID");
        assert_eq!(a.date, "20231114");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.service, "states");
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(a.signature, "abcd");
        assert!(matches!(
            parse_authorization("garbage"),
            Err(SigError::Incomplete(_))
        ));
        assert!(matches!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/states/aws4_request"
            ),
            Err(SigError::Incomplete(_))
        ));
        assert!(matches!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=AKID/20231114, SignedHeaders=host, Signature=ab"
            ),
            Err(SigError::Incomplete(_))
        ));
    }

    #[test]
    fn encodings() {
        assert_eq!(uri_encode("/a b/c~", false), "/a%20b/c~");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(collapse("  a   b  "), "a b");
        assert_eq!(unhex("0aff"), Some(vec![10, 255]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(
            parse_amz_date("20231114T221320Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            format_amz_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "20231114T221320Z"
        );
    }

    /// AWS's published example key derivation (SigV4 documentation).
    #[test]
    fn signing_key_matches_the_documentation() {
        let k = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
