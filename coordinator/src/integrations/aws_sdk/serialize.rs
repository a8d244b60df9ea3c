//! A task's `Parameters`/`Arguments` (PascalCase members, as Step Functions
//! takes them) as the HTTP request the service's protocol wants: `json`
//! (1.0/1.1), `rest-json`, `rest-xml`, `query` and `ec2`.
//!
//! Written here because no crate does it from a model at run time: the AWS
//! SDK for Rust generates one client per service at build time, and its
//! protocol crates (`aws-smithy-*`) serve that generated code.

use super::model::{Model, Protocol, Shape, ShapeRef};
use super::{encode, pascal};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The request to send (its path includes the query string).
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The value of a member in the task's parameters: `Bucket` for `Bucket`,
/// `StateMachineArn` for `stateMachineArn` (the member name as written also works).
pub fn member<'a>(params: &'a Map<String, Value>, name: &str, r: &ShapeRef) -> Option<&'a Value> {
    params
        .get(&r.pascal)
        .or_else(|| params.get(name))
        .filter(|v| !v.is_null())
}

/// Checks that every key of the parameters names a member of the input
/// shape, at every depth; the error names the field and its path.
pub fn check_fields(
    model: &Model,
    shape: &str,
    params: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    match model.shape(shape) {
        Some(s) if s.kind == "structure" && !s.document => {
            check_struct(model, shape, s, params, path)
        }
        _ => Ok(()),
    }
}

fn check_struct(
    model: &Model,
    shape: &str,
    s: &Shape,
    o: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    for (k, x) in o {
        match s
            .members
            .iter()
            .find(|(name, r)| r.pascal == *k || *name == k)
        {
            Some((_, r)) => check_value(model, &r.shape, x, &format!("{path}.{k}"))?,
            None => {
                let known: Vec<&str> = s.members.values().map(|r| r.pascal.as_str()).collect();
                return Err(format!(
                    "The field '{k}' at {path} is not a member of {shape} (members: {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn check_value(model: &Model, shape: &str, v: &Value, path: &str) -> Result<(), String> {
    let Some(s) = model.shape(shape) else {
        return Ok(());
    };
    match (s.kind.as_str(), v) {
        ("structure", Value::Object(o)) if !s.document => check_struct(model, shape, s, o, path),
        ("list", Value::Array(a)) => {
            let Some(item) = &s.member else { return Ok(()) };
            for (i, x) in a.iter().enumerate() {
                check_value(model, &item.shape, x, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        ("map", Value::Object(o)) => {
            let Some(value) = &s.value else { return Ok(()) };
            for (k, x) in o {
                check_value(model, &value.shape, x, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Builds the request for `op` with `params`.
pub fn build(
    model: &Model,
    protocol: Protocol,
    op: &super::model::Operation,
    params: &Map<String, Value>,
) -> Result<Request, String> {
    let input = op.input.as_ref().and_then(|r| model.shape(&r.shape));
    let empty = Map::new();
    match protocol {
        Protocol::Json => {
            let body = match input {
                Some(s) => json_struct(model, s, params)?,
                None => Value::Object(empty),
            };
            let target = format!(
                "{}.{}",
                model.metadata.target_prefix.as_deref().unwrap_or_default(),
                op.name
            );
            let version = model.metadata.json_version.as_deref().unwrap_or("1.0");
            Ok(Request {
                method: "POST".into(),
                path: "/".into(),
                headers: vec![
                    (
                        "content-type".into(),
                        format!("application/x-amz-json-{version}"),
                    ),
                    ("x-amz-target".into(), target),
                ],
                body: serde_json::to_vec(&body).map_err(|e| e.to_string())?,
            })
        }
        Protocol::Query | Protocol::Ec2 => {
            let mut pairs = vec![
                ("Action".to_owned(), op.name.clone()),
                ("Version".to_owned(), model.metadata.api_version.clone()),
            ];
            if let Some(s) = input {
                query_struct(model, protocol == Protocol::Ec2, "", s, params, &mut pairs)?;
            }
            Ok(Request {
                method: "POST".into(),
                path: "/".into(),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                body: form(&pairs).into_bytes(),
            })
        }
        Protocol::RestJson | Protocol::RestXml => rest(model, protocol, op, input, params),
    }
}

fn rest(
    model: &Model,
    protocol: Protocol,
    op: &super::model::Operation,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Request, String> {
    // The URI's own query (`?delete`, `?list-type=2`) stays as written.
    let mut path = op.http.request_uri.clone();
    let mut query: Vec<(String, String)> = Vec::new();
    let mut headers = Vec::new();
    let mut body = Vec::new();
    let mut body_members = Map::new();
    let mut has_body_members = false;
    if let Some(s) = input {
        for (name, r) in &s.members {
            let wire = r.location_name.as_deref().unwrap_or(name);
            let v = member(params, name, r);
            match r.location.as_deref() {
                Some("uri") => {
                    let text =
                        v.map(|v| scalar_text(model, r, v, "iso8601"))
                            .ok_or_else(|| {
                                format!(
                                    "The field '{}' is required (it is in the URL)",
                                    pascal(name)
                                )
                            })??;
                    let greedy = format!("{{{wire}+}}");
                    path = if path.contains(&greedy) {
                        let enc: Vec<String> = text.split('/').map(encode).collect();
                        path.replace(&greedy, &enc.join("/"))
                    } else {
                        path.replace(&format!("{{{wire}}}"), &encode(&text))
                    };
                }
                Some("querystring") => match (v, model.shape(&r.shape).map(|s| s.kind.as_str())) {
                    (Some(Value::Array(a)), _) => {
                        for x in a {
                            query.push((wire.to_owned(), scalar_text(model, r, x, "iso8601")?));
                        }
                    }
                    (Some(Value::Object(o)), Some("map")) => {
                        for (k, x) in o {
                            query.push((k.clone(), text_of(x)));
                        }
                    }
                    (Some(x), _) => {
                        query.push((wire.to_owned(), scalar_text(model, r, x, "iso8601")?))
                    }
                    (None, _) => {}
                },
                Some("header") => match v {
                    // A list in a header is its items, comma-separated.
                    Some(Value::Array(a)) => {
                        let items: Vec<String> = a.iter().map(text_of).collect();
                        headers.push((wire.to_lowercase(), items.join(",")));
                    }
                    Some(x) => {
                        headers.push((wire.to_lowercase(), scalar_text(model, r, x, "rfc822")?))
                    }
                    None => {}
                },
                Some("headers") => {
                    if let Some(Value::Object(o)) = v {
                        for (k, x) in o {
                            headers.push((format!("{}{k}", wire.to_lowercase()), text_of(x)));
                        }
                    }
                }
                _ if s.payload.as_deref() == Some(name.as_str()) => {
                    let Some(x) = v else { continue };
                    let ps = model.shape(&r.shape);
                    match ps.map(|p| p.kind.as_str()) {
                        Some("blob") | Some("string") => body = blob_bytes(x),
                        _ if protocol == Protocol::RestJson => {
                            let ps = ps.ok_or("broken model")?;
                            body = serde_json::to_vec(&json_value(model, r, ps, x)?)
                                .map_err(|e| e.to_string())?;
                            headers.push(("content-type".into(), "application/json".into()));
                        }
                        _ => {
                            let ps = ps.ok_or("broken model")?;
                            let mut xml = String::new();
                            xml_value(model, wire, r, ps, x, &mut xml, true)?;
                            body = xml.into_bytes();
                            headers.push(("content-type".into(), "application/xml".into()));
                        }
                    }
                }
                _ => {
                    has_body_members = s.payload.is_none();
                    if let Some(x) = v {
                        body_members.insert(name.clone(), x.clone());
                    }
                }
            }
        }
        if has_body_members {
            if protocol == Protocol::RestJson {
                body = serde_json::to_vec(&json_struct(model, s, &body_members)?)
                    .map_err(|e| e.to_string())?;
                headers.push(("content-type".into(), "application/json".into()));
            } else if !body_members.is_empty() {
                let root = op
                    .input
                    .as_ref()
                    .and_then(|r| r.location_name.clone())
                    .unwrap_or_else(|| {
                        op.input
                            .as_ref()
                            .map(|r| r.shape.clone())
                            .unwrap_or_default()
                    });
                let mut xml = String::new();
                let r = op.input.as_ref().ok_or("broken model")?;
                xml_value(
                    model,
                    &root,
                    r,
                    s,
                    &Value::Object(body_members),
                    &mut xml,
                    true,
                )?;
                body = xml.into_bytes();
                headers.push(("content-type".into(), "application/xml".into()));
            }
        }
    }
    if !query.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&form(&query));
    }
    if op.needs_checksum() {
        use md5::Digest as _;
        let digest = md5::Md5::digest(&body);
        headers.push((
            "content-md5".into(),
            base64::engine::general_purpose::STANDARD.encode(digest),
        ));
    }
    Ok(Request {
        method: op.http.method.clone(),
        path,
        headers,
        body,
    })
}

/// A JSON value as text (strings as they are).
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A blob's bytes: a string's UTF-8, anything else as JSON text.
fn blob_bytes(v: &Value) -> Vec<u8> {
    text_of(v).into_bytes()
}

/// A timestamp given as ISO-8601 text or epoch seconds, in seconds.
fn epoch(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".into()),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis() as f64 / 1000.0)
            .or_else(|_| s.parse::<f64>())
            .map_err(|_| format!("'{s}' is not a timestamp (ISO-8601 or epoch seconds)")),
        other => Err(format!("{other} is not a timestamp")),
    }
}

fn timestamp_text(v: &Value, format: &str) -> Result<String, String> {
    let secs = epoch(v)?;
    let millis = (secs * 1000.0).round() as i64;
    let t = chrono::DateTime::from_timestamp_millis(millis).ok_or("timestamp out of range")?;
    Ok(match format {
        "rfc822" => t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        "unixTimestamp" => {
            if millis % 1000 == 0 {
                (millis / 1000).to_string()
            } else {
                format!("{secs}")
            }
        }
        _ => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// A scalar as the text a URL, header or form takes.
fn scalar_text(model: &Model, r: &ShapeRef, v: &Value, ts_default: &str) -> Result<String, String> {
    let s = model.shape(&r.shape);
    match s.map(|s| s.kind.as_str()) {
        Some("timestamp") => {
            let f = r
                .timestamp_format
                .as_deref()
                .or(s.and_then(|s| s.timestamp_format.as_deref()))
                .unwrap_or(ts_default);
            timestamp_text(v, f)
        }
        Some("blob") => Ok(base64::engine::general_purpose::STANDARD.encode(blob_bytes(v))),
        Some("boolean") => Ok(match v {
            Value::Bool(b) => b.to_string(),
            other => text_of(other),
        }),
        _ => Ok(text_of(v)),
    }
}

fn json_struct(model: &Model, s: &Shape, params: &Map<String, Value>) -> Result<Value, String> {
    let mut out = Map::new();
    for (name, r) in &s.members {
        if r.location.is_some() {
            continue;
        }
        let Some(v) = member(params, name, r) else {
            continue;
        };
        let ms = model.shape(&r.shape).ok_or("broken model")?;
        let wire = r.location_name.as_deref().unwrap_or(name);
        out.insert(wire.to_owned(), json_value(model, r, ms, v)?);
    }
    Ok(Value::Object(out))
}

/// A value for a JSON body (`json`, `rest-json`).
fn json_value(model: &Model, r: &ShapeRef, s: &Shape, v: &Value) -> Result<Value, String> {
    Ok(match (s.kind.as_str(), v) {
        (_, _) if s.document => v.clone(),
        ("structure", Value::Object(o)) => json_struct(model, s, o)?,
        ("list", Value::Array(a)) => {
            let item = s.member.as_ref().ok_or("broken model")?;
            let is = model.shape(&item.shape).ok_or("broken model")?;
            Value::Array(
                a.iter()
                    .map(|x| json_value(model, item, is, x))
                    .collect::<Result<_, _>>()?,
            )
        }
        ("map", Value::Object(o)) => {
            let item = s.value.as_ref().ok_or("broken model")?;
            let is = model.shape(&item.shape).ok_or("broken model")?;
            let mut out = Map::new();
            for (k, x) in o {
                out.insert(k.clone(), json_value(model, item, is, x)?);
            }
            Value::Object(out)
        }
        ("timestamp", _) => {
            let f = r
                .timestamp_format
                .as_deref()
                .or(s.timestamp_format.as_deref())
                .unwrap_or("unixTimestamp");
            if f == "unixTimestamp" {
                serde_json::Number::from_f64(epoch(v)?).map_or(Value::Null, Value::Number)
            } else {
                Value::String(timestamp_text(v, f)?)
            }
        }
        ("blob", _) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(blob_bytes(v)))
        }
        ("integer" | "long", Value::String(t)) => t
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("'{t}' is not an integer"))?,
        ("float" | "double", Value::String(t)) => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{t}' is not a number"))?,
        ("boolean", Value::String(t)) => Value::Bool(t == "true"),
        ("string", Value::String(_)) => v.clone(),
        ("string", other) => Value::String(other.to_string()),
        _ => v.clone(),
    })
}

/// `query`/`ec2` form pairs for a structure.
fn query_struct(
    model: &Model,
    ec2: bool,
    prefix: &str,
    s: &Shape,
    params: &Map<String, Value>,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (name, r) in &s.members {
        let Some(v) = member(params, name, r) else {
            continue;
        };
        let wire = if ec2 {
            r.query_name
                .clone()
                .or_else(|| r.location_name.as_deref().map(pascal))
                .unwrap_or_else(|| r.pascal.clone())
        } else {
            r.location_name.clone().unwrap_or_else(|| name.clone())
        };
        let key = if prefix.is_empty() {
            wire
        } else {
            format!("{prefix}.{wire}")
        };
        query_value(model, ec2, &key, r, v, out)?;
    }
    Ok(())
}

fn query_value(
    model: &Model,
    ec2: bool,
    key: &str,
    r: &ShapeRef,
    v: &Value,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let s = model.shape(&r.shape).ok_or("broken model")?;
    match (s.kind.as_str(), v) {
        ("structure", Value::Object(o)) => query_struct(model, ec2, key, s, o, out),
        ("list", Value::Array(a)) => {
            let item = s.member.as_ref().ok_or("broken model")?;
            if a.is_empty() && !ec2 {
                out.push((key.to_owned(), String::new()));
            }
            let base = if ec2 || r.flattened || s.flattened {
                key.to_owned()
            } else {
                format!(
                    "{key}.{}",
                    item.location_name.as_deref().unwrap_or("member")
                )
            };
            for (i, x) in a.iter().enumerate() {
                query_value(model, ec2, &format!("{base}.{}", i + 1), item, x, out)?;
            }
            Ok(())
        }
        ("map", Value::Object(o)) => {
            let (kr, vr) = (
                s.key.as_ref().ok_or("broken model")?,
                s.value.as_ref().ok_or("broken model")?,
            );
            let base = if r.flattened || s.flattened {
                key.to_owned()
            } else {
                format!("{key}.entry")
            };
            let kn = kr.location_name.as_deref().unwrap_or("key");
            let vn = vr.location_name.as_deref().unwrap_or("value");
            for (i, (k, x)) in o.iter().enumerate() {
                out.push((format!("{base}.{}.{kn}", i + 1), k.clone()));
                query_value(model, ec2, &format!("{base}.{}.{vn}", i + 1), vr, x, out)?;
            }
            Ok(())
        }
        _ => {
            out.push((key.to_owned(), scalar_text(model, r, v, "iso8601")?));
            Ok(())
        }
    }
}

fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// A `rest-xml` element `<name>` for a value of shape `s`.
fn xml_value(
    model: &Model,
    name: &str,
    r: &ShapeRef,
    s: &Shape,
    v: &Value,
    out: &mut String,
    root: bool,
) -> Result<(), String> {
    let _ = write!(out, "<{name}");
    if let Some(ns) = &r.xml_namespace {
        let (prefix, uri) = match ns {
            super::model::XmlNamespace::Uri(u) => (None, u),
            super::model::XmlNamespace::Full { prefix, uri } => (prefix.as_deref(), uri),
        };
        match prefix {
            Some(p) => {
                let _ = write!(out, " xmlns:{p}=\"");
            }
            None => out.push_str(" xmlns=\""),
        }
        xml_escape(uri, out);
        out.push('"');
    }
    let _ = root;
    match (s.kind.as_str(), v) {
        ("structure", Value::Object(o)) => {
            for (mname, mr) in s.members.iter().filter(|(_, m)| m.xml_attribute) {
                if let Some(x) = member(o, mname, mr) {
                    let an = mr.location_name.as_deref().unwrap_or(mname);
                    let _ = write!(out, " {an}=\"");
                    xml_escape(&text_of(x), out);
                    out.push('"');
                }
            }
            out.push('>');
            for (mname, mr) in s.members.iter().filter(|(_, m)| !m.xml_attribute) {
                let Some(x) = member(o, mname, mr) else {
                    continue;
                };
                let ms = model.shape(&mr.shape).ok_or("broken model")?;
                let mn = mr.location_name.as_deref().unwrap_or(mname);
                if ms.kind == "list" && (mr.flattened || ms.flattened) {
                    let item = ms.member.as_ref().ok_or("broken model")?;
                    let is = model.shape(&item.shape).ok_or("broken model")?;
                    let iname = item.location_name.as_deref().unwrap_or(mn);
                    for y in x.as_array().into_iter().flatten() {
                        xml_value(model, iname, item, is, y, out, false)?;
                    }
                } else {
                    xml_value(model, mn, mr, ms, x, out, false)?;
                }
            }
        }
        ("list", Value::Array(a)) => {
            out.push('>');
            let item = s.member.as_ref().ok_or("broken model")?;
            let is = model.shape(&item.shape).ok_or("broken model")?;
            let iname = item.location_name.as_deref().unwrap_or("member");
            for y in a {
                xml_value(model, iname, item, is, y, out, false)?;
            }
        }
        ("map", Value::Object(o)) => {
            out.push('>');
            let vr = s.value.as_ref().ok_or("broken model")?;
            let vs = model.shape(&vr.shape).ok_or("broken model")?;
            for (k, y) in o {
                out.push_str("<entry><key>");
                xml_escape(k, out);
                out.push_str("</key>");
                xml_value(model, "value", vr, vs, y, out, false)?;
                out.push_str("</entry>");
            }
        }
        _ => {
            out.push('>');
            xml_escape(&scalar_text(model, r, v, "iso8601")?, out);
        }
    }
    let _ = write!(out, "</{name}>");
    Ok(())
}

/// `k=v&...`, percent-encoded.
fn form(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::Models;
    use super::*;
    use serde_json::json;

    fn req(service: &str, action: &str, params: Value) -> Request {
        let models = Models::default();
        let m = models.get(service).unwrap();
        let op = m.operation(action).unwrap();
        let p = params.as_object().cloned().unwrap_or_default();
        build(&m, m.protocol().unwrap(), op, &p).unwrap()
    }

    #[test]
    fn json_protocol_targets_and_member_names() {
        let r = req(
            "sfn",
            "startExecution",
            json!({"StateMachineArn": "arn:x", "Input": "{}"}),
        );
        assert_eq!(r.path, "/");
        assert!(r.headers.contains(&(
            "x-amz-target".into(),
            "AWSStepFunctions.StartExecution".into()
        )));
        assert!(
            r.headers
                .contains(&("content-type".into(), "application/x-amz-json-1.0".into()))
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"stateMachineArn": "arn:x", "input": "{}"}));
        let r = req(
            "dynamodb",
            "putItem",
            json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}}),
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}})
        );
    }

    #[test]
    fn rest_xml_uri_labels_headers_and_blob_payloads() {
        let r = req(
            "s3",
            "putObject",
            json!({"Bucket": "b", "Key": "a dir/x.json", "Body": {"a": 1}, "ContentType": "application/json", "Metadata": {"k": "v"}}),
        );
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/b/a%20dir/x.json");
        assert_eq!(r.body, br#"{"a":1}"#);
        assert!(
            r.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
        assert!(r.headers.contains(&("x-amz-meta-k".into(), "v".into())));
        let r = req(
            "s3",
            "listObjectsV2",
            json!({"Bucket": "b", "Prefix": "p/", "MaxKeys": 5}),
        );
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/b?list-type=2&max-keys=5&prefix=p%2F");
        let r = req(
            "s3",
            "createBucket",
            json!({"Bucket": "b", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}),
        );
        let r2 = req(
            "s3",
            "deleteObjects",
            json!({"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}}),
        );
        assert_eq!(r2.path, "/b?delete");
        assert_eq!(
            String::from_utf8_lossy(&r2.body),
            r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>k</Key></Object></Delete>"#
        );
        assert!(r2.headers.iter().any(|(k, _)| k == "content-md5"));
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#
        );
    }

    #[test]
    fn rest_json_paths_and_bodies() {
        let r = req(
            "lambda",
            "invoke",
            json!({"FunctionName": "f", "Payload": {"x": 1}}),
        );
        assert_eq!(r.path, "/2015-03-31/functions/f/invocations");
        assert_eq!(r.body, br#"{"x":1}"#);
        let r = req(
            "batch",
            "submitJob",
            json!({"JobName": "j", "JobQueue": "q", "JobDefinition": "d"}),
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({"jobName": "j", "jobQueue": "q", "jobDefinition": "d"})
        );
    }

    #[test]
    fn query_and_ec2_forms() {
        let r = req(
            "sns",
            "publish",
            json!({"TopicArn": "arn:t", "Message": "hi", "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}}),
        );
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3At&Message=hi&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=v"
        );
        let r = req(
            "ec2",
            "describeInstances",
            json!({"InstanceIds": ["i-1", "i-2"], "Filters": [{"Name": "n", "Values": ["v"]}]}),
        );
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2&Filter.1.Name=n&Filter.1.Value.1=v"
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let models = Models::default();
        let m = models.get("sfn").unwrap();
        let e = check_fields(
            &m,
            "StartExecutionInput",
            json!({"StateMachineArn": "a", "Nope": 1})
                .as_object()
                .unwrap(),
            "$",
        )
        .unwrap_err();
        assert!(e.contains("'Nope'"), "{e}");
        assert!(
            check_fields(
                &m,
                "StartExecutionInput",
                json!({"StateMachineArn": "a"}).as_object().unwrap(),
                "$"
            )
            .is_ok()
        );
    }
}
