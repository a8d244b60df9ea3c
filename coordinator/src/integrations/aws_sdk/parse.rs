//! A service's answer as the JSON Step Functions gives a task: the output
//! shape's members in PascalCase, timestamps as ISO-8601 text, a blob payload
//! (S3's `Body`) as text, other blobs as the service's base64; and an error
//! answer's code and message.

use super::model::{Model, Protocol, Shape, ShapeRef};
use crate::integrations::aws::Answer;
use serde_json::{Map, Value};

/// The answer to `op` as the task's result.
pub(in crate::integrations) fn output(
    model: &Model,
    protocol: Protocol,
    op: &super::model::Operation,
    a: &Answer,
) -> Result<Value, String> {
    let Some(r) = &op.output else {
        return Ok(Value::Object(Map::new()));
    };
    let s = model.shape(&r.shape).ok_or("broken model")?;
    match protocol {
        Protocol::Json => Ok(from_json(model, None, s, &body_json(a)?)),
        Protocol::Query | Protocol::Ec2 => {
            let text = String::from_utf8_lossy(&a.body);
            let doc = roxmltree::Document::parse(&text).map_err(|e| e.to_string())?;
            let root = doc.root_element();
            let node = match &r.result_wrapper {
                Some(w) => root.children().find(|n| n.has_tag_name(w.as_str())),
                None => Some(root),
            };
            Ok(node.map_or_else(
                || Value::Object(Map::new()),
                |n| from_xml(model, None, s, n),
            ))
        }
        Protocol::RestJson | Protocol::RestXml => rest(model, protocol, s, a),
    }
}

fn body_json(a: &Answer) -> Result<Value, String> {
    if a.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&a.body).map_err(|e| format!("the answer is not JSON: {e}"))
}

fn rest(model: &Model, protocol: Protocol, s: &Shape, a: &Answer) -> Result<Value, String> {
    let mut out = Map::new();
    let mut body_done = false;
    for (name, r) in &s.members {
        let wire = r.location_name.as_deref().unwrap_or(name);
        let ms = model.shape(&r.shape).ok_or("broken model")?;
        match r.location.as_deref() {
            Some("header") => {
                if let Some(h) = a.header(wire) {
                    out.insert(r.pascal.clone(), scalar(model, Some(r), ms, h));
                }
            }
            Some("headers") => {
                let prefix = wire.to_lowercase();
                let mut m = Map::new();
                for (k, v) in &a.headers {
                    if let Some(rest) = k.to_lowercase().strip_prefix(&prefix) {
                        m.insert(rest.to_owned(), Value::String(v.clone()));
                    }
                }
                out.insert(r.pascal.clone(), Value::Object(m));
            }
            Some("statusCode") => {
                out.insert(r.pascal.clone(), Value::from(a.status));
            }
            _ if s.payload.as_deref() == Some(name.as_str()) => {
                body_done = true;
                match ms.kind.as_str() {
                    "blob" | "string" => {
                        out.insert(
                            r.pascal.clone(),
                            Value::String(String::from_utf8_lossy(&a.body).into_owned()),
                        );
                    }
                    _ if a.body.is_empty() => {}
                    _ if protocol == Protocol::RestJson => {
                        out.insert(
                            r.pascal.clone(),
                            from_json(model, Some(r), ms, &body_json(a)?),
                        );
                    }
                    _ => {
                        let text = String::from_utf8_lossy(&a.body);
                        let doc = roxmltree::Document::parse(&text).map_err(|e| e.to_string())?;
                        out.insert(
                            r.pascal.clone(),
                            from_xml(model, Some(r), ms, doc.root_element()),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    if !body_done && s.payload.is_none() && !a.body.is_empty() {
        let body = if protocol == Protocol::RestJson {
            from_json(model, None, s, &body_json(a)?)
        } else {
            let text = String::from_utf8_lossy(&a.body);
            let doc = roxmltree::Document::parse(&text).map_err(|e| e.to_string())?;
            from_xml(model, None, s, doc.root_element())
        };
        if let Value::Object(b) = body {
            for (k, v) in b {
                out.entry(k).or_insert(v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// ISO-8601 text (milliseconds, `Z`) of epoch seconds.
fn iso(secs: f64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A timestamp of the wire (epoch seconds, ISO-8601 or an HTTP date) as ISO-8601 text.
fn timestamp(v: &str) -> Value {
    let t = v
        .parse::<f64>()
        .ok()
        .and_then(iso)
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(v)
                .ok()
                .map(|d| d.timestamp_millis() as f64 / 1000.0)
                .and_then(iso)
        })
        .or_else(|| {
            chrono::DateTime::parse_from_rfc2822(v)
                .ok()
                .map(|d| d.timestamp() as f64)
                .and_then(iso)
        });
    Value::String(t.unwrap_or_else(|| v.to_owned()))
}

/// A scalar given as text (XML, headers).
fn scalar(_model: &Model, _r: Option<&ShapeRef>, s: &Shape, text: &str) -> Value {
    match s.kind.as_str() {
        "integer" | "long" => text
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        "float" | "double" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        "boolean" => Value::Bool(text.trim() == "true"),
        "timestamp" => timestamp(text.trim()),
        _ => Value::String(text.to_owned()),
    }
}

/// A JSON body's value as Step Functions shows it.
pub fn from_json(model: &Model, r: Option<&ShapeRef>, s: &Shape, v: &Value) -> Value {
    if s.document {
        return v.clone();
    }
    match (s.kind.as_str(), v) {
        ("structure", Value::Object(o)) => {
            let mut out = Map::new();
            for (name, mr) in &s.members {
                let wire = mr.location_name.as_deref().unwrap_or(name);
                let (Some(x), Some(ms)) = (o.get(wire), model.shape(&mr.shape)) else {
                    continue;
                };
                out.insert(mr.pascal.clone(), from_json(model, Some(mr), ms, x));
            }
            Value::Object(out)
        }
        ("list", Value::Array(a)) => match s
            .member
            .as_ref()
            .and_then(|m| model.shape(&m.shape).map(|ms| (m, ms)))
        {
            Some((m, ms)) => {
                Value::Array(a.iter().map(|x| from_json(model, Some(m), ms, x)).collect())
            }
            None => v.clone(),
        },
        ("map", Value::Object(o)) => match s
            .value
            .as_ref()
            .and_then(|m| model.shape(&m.shape).map(|ms| (m, ms)))
        {
            Some((m, ms)) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), from_json(model, Some(m), ms, x)))
                    .collect(),
            ),
            None => v.clone(),
        },
        ("timestamp", Value::Number(n)) => n
            .as_f64()
            .and_then(iso)
            .map_or_else(|| v.clone(), Value::String),
        ("timestamp", Value::String(t)) => timestamp(t),
        _ => {
            let _ = r;
            v.clone()
        }
    }
}

/// An XML element's value as Step Functions shows it.
pub fn from_xml(model: &Model, r: Option<&ShapeRef>, s: &Shape, n: roxmltree::Node) -> Value {
    match s.kind.as_str() {
        "structure" => {
            let mut out = Map::new();
            for (name, mr) in &s.members {
                let Some(ms) = model.shape(&mr.shape) else {
                    continue;
                };
                let wire = mr.location_name.as_deref().unwrap_or(name);
                if mr.xml_attribute {
                    if let Some(a) = n.attributes().find(|a| a.name() == wire) {
                        out.insert(mr.pascal.clone(), scalar(model, Some(mr), ms, a.value()));
                    }
                    continue;
                }
                if ms.kind == "list" && (mr.flattened || ms.flattened) {
                    let item = ms.member.as_ref();
                    let iname = item
                        .and_then(|i| i.location_name.as_deref())
                        .unwrap_or(wire);
                    let is = item.and_then(|i| model.shape(&i.shape));
                    let items: Vec<Value> = n
                        .children()
                        .filter(|c| c.has_tag_name(iname))
                        .filter_map(|c| is.map(|is| from_xml(model, item.map(|b| &**b), is, c)))
                        .collect();
                    if !items.is_empty() {
                        out.insert(mr.pascal.clone(), Value::Array(items));
                    }
                    continue;
                }
                if let Some(c) = n.children().find(|c| c.has_tag_name(wire)) {
                    out.insert(mr.pascal.clone(), from_xml(model, Some(mr), ms, c));
                }
            }
            Value::Object(out)
        }
        "list" => {
            let item = s.member.as_ref();
            let iname = item
                .and_then(|i| i.location_name.as_deref())
                .unwrap_or("member");
            let is = item.and_then(|i| model.shape(&i.shape));
            Value::Array(
                n.children()
                    .filter(|c| c.is_element() && (c.has_tag_name(iname) || c.has_tag_name("item")))
                    .filter_map(|c| is.map(|is| from_xml(model, item.map(|b| &**b), is, c)))
                    .collect(),
            )
        }
        "map" => {
            let (Some(kr), Some(vr)) = (s.key.as_ref(), s.value.as_ref()) else {
                return Value::Object(Map::new());
            };
            let kn = kr.location_name.as_deref().unwrap_or("key");
            let vn = vr.location_name.as_deref().unwrap_or("value");
            let vs = model.shape(&vr.shape);
            let mut out = Map::new();
            for e in n.children().filter(|c| c.is_element()) {
                let k = e
                    .children()
                    .find(|c| c.has_tag_name(kn))
                    .and_then(|c| c.text())
                    .unwrap_or_default();
                if let (Some(vnode), Some(vs)) = (e.children().find(|c| c.has_tag_name(vn)), vs) {
                    out.insert(k.to_owned(), from_xml(model, Some(vr), vs, vnode));
                }
            }
            Value::Object(out)
        }
        _ => scalar(model, r, s, n.text().unwrap_or_default()),
    }
}

/// The error code and message of an error answer, whatever its protocol:
/// JSON (`__type`, `code`, `x-amzn-ErrorType`) or XML (`<Code>`, `<Message>`,
/// S3's bare `<Error>`); a body-less answer (S3's HEAD) by its status.
pub(in crate::integrations) fn error(a: &Answer) -> (String, String) {
    let body = String::from_utf8_lossy(&a.body);
    let trimmed = body.trim_start();
    if trimmed.starts_with('<') {
        if let Ok(doc) = roxmltree::Document::parse(trimmed) {
            let find = |tag: &str| {
                doc.descendants()
                    .find(|n| n.has_tag_name(tag))
                    .and_then(|n| n.text())
                    .map(str::to_owned)
            };
            if let Some(code) = find("Code") {
                return (code, find("Message").unwrap_or_default());
            }
        }
    } else if !trimmed.is_empty() || a.header("x-amzn-ErrorType").is_some() {
        let (code, message) = crate::integrations::aws::json_error(a);
        if !code.starts_with("Http") {
            return (code, message);
        }
    }
    let code = match a.status {
        304 => "NotModified",
        400 => "BadRequest",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        412 => "PreconditionFailed",
        _ => "",
    };
    let code = if code.is_empty() {
        format!("Http{}", a.status)
    } else {
        code.to_owned()
    };
    (code, String::new())
}

#[cfg(test)]
mod tests {
    use super::super::model::Models;
    use super::*;
    use serde_json::json;

    use crate::integrations::aws::test_answer as answer;

    fn out(service: &str, action: &str, a: &Answer) -> Value {
        let models = Models::default();
        let m = models.get(service).unwrap();
        let op = m.operation(action).unwrap();
        output(&m, m.protocol().unwrap(), op, a).unwrap()
    }

    #[test]
    fn json_answers_in_pascal_case_with_iso_timestamps() {
        let a = answer(
            200,
            &[],
            r#"{"executionArn":"arn:e","startDate":1700000000.5}"#,
        );
        assert_eq!(
            out("sfn", "startExecution", &a),
            json!({"ExecutionArn": "arn:e", "StartDate": "2023-11-14T22:13:20.500Z"})
        );
    }

    #[test]
    fn rest_xml_answers_headers_and_payloads() {
        let a = answer(
            200,
            &[
                ("Content-Length", "11"),
                ("ETag", "\"e1\""),
                ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ("x-amz-meta-k", "v"),
                ("Content-Type", "binary/octet-stream"),
            ],
            "binary data",
        );
        let v = out("s3", "getObject", &a);
        assert_eq!(v["Body"], "binary data");
        assert_eq!(v["ContentLength"], 11);
        assert_eq!(v["ETag"], "\"e1\"");
        assert_eq!(v["LastModified"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["Metadata"], json!({"k": "v"}));
        let a = answer(
            200,
            &[],
            r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>2</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>3</Size></Contents><Contents><Key>b</Key><Size>4</Size></Contents></ListBucketResult>"#,
        );
        let v = out("s3", "listObjectsV2", &a);
        assert_eq!(v["Name"], "b");
        assert_eq!(v["KeyCount"], 2);
        assert_eq!(v["IsTruncated"], false);
        assert_eq!(
            v["Contents"],
            json!([{"Key": "a", "Size": 3}, {"Key": "b", "Size": 4}])
        );
    }

    #[test]
    fn query_and_ec2_answers() {
        let a = answer(
            200,
            &[],
            r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>"#,
        );
        assert_eq!(out("sns", "publish", &a), json!({"MessageId": "m-1"}));
        let a = answer(
            200,
            &[],
            r#"<DescribeVpcsResponse><requestId>r</requestId><vpcSet><item><vpcId>vpc-1</vpcId><isDefault>true</isDefault></item></vpcSet></DescribeVpcsResponse>"#,
        );
        assert_eq!(
            out("ec2", "describeVpcs", &a),
            json!({"Vpcs": [{"VpcId": "vpc-1", "IsDefault": true}]})
        );
    }

    #[test]
    fn error_codes_of_every_protocol() {
        let a = answer(
            404,
            &[],
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
        );
        assert_eq!(
            error(&a),
            (
                "NoSuchKey".into(),
                "The specified key does not exist.".into()
            )
        );
        let a = answer(
            400,
            &[],
            "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error></ErrorResponse>",
        );
        assert_eq!(error(&a).0, "NotFound");
        let a = answer(
            400,
            &[],
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"gone"}"#,
        );
        assert_eq!(
            error(&a),
            ("ResourceNotFoundException".into(), "gone".into())
        );
        assert_eq!(error(&answer(404, &[], "")).0, "NotFound");
    }
}
