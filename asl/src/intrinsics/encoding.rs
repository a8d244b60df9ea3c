//! Intrinsics for encoding and hashing: `States.Base64Encode`,
//! `States.Base64Decode`, `States.Hash`.

use super::{Call, MAX_ENCODING_INPUT_CHARS};
use crate::error::StatesError;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use md5::Md5;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Decodes with or without trailing `=` padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Argument `i` as a string of at most [`MAX_ENCODING_INPUT_CHARS`] characters.
fn bounded_string<'v>(
    call: &Call<'_, '_>,
    args: &'v [Value],
    i: usize,
) -> Result<&'v str, StatesError> {
    let s = call.string(args, i)?;
    // Cheap first: a string of at most N bytes has at most N characters.
    if s.len() > MAX_ENCODING_INPUT_CHARS && s.chars().count() > MAX_ENCODING_INPUT_CHARS {
        return Err(call.fail(format_args!(
            "The input string exceeds the maximum length of {MAX_ENCODING_INPUT_CHARS} characters"
        )));
    }
    Ok(s)
}

/// `States.Base64Encode(string)`: the Base64 encoding of the string's UTF-8 bytes.
pub(super) fn base64_encode(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let s = bounded_string(call, &args, 0)?;
    Ok(Value::String(STANDARD.encode(s.as_bytes())))
}

/// `States.Base64Decode(string)`: the decoded bytes as UTF-8 text (invalid
/// sequences replaced by U+FFFD). Line breaks in the input are ignored, as in
/// MIME Base64.
pub(super) fn base64_decode(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let s = bounded_string(call, &args, 0)?;
    let compact: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    match LENIENT.decode(compact.as_bytes()) {
        Ok(bytes) => Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) => Err(call.fail(format_args!("The input is not valid Base64: {e}"))),
    }
}

/// `States.Hash(data, algorithm)`: the lowercase hex digest of the data
/// (a string's UTF-8 bytes; any other value's JSON text) with `MD5`, `SHA-1`,
/// `SHA-256`, `SHA-384` or `SHA-512`.
pub(super) fn hash(call: &Call<'_, '_>, args: Vec<Value>) -> Result<Value, StatesError> {
    let algorithm = call.string(&args, 1)?;
    let data = match args.first() {
        Some(Value::String(_)) => bounded_string(call, &args, 0)?.to_owned(),
        Some(Value::Null) | None => {
            return Err(call.fail("The first argument (the data to hash) must not be null"));
        }
        Some(other) => {
            let text = other.to_string();
            if text.chars().count() > MAX_ENCODING_INPUT_CHARS {
                return Err(call.fail(format_args!(
                    "The input data exceeds the maximum length of {MAX_ENCODING_INPUT_CHARS} characters"
                )));
            }
            text
        }
    };
    let bytes = data.as_bytes();
    let digest = match algorithm {
        "MD5" => Md5::digest(bytes).to_vec(),
        "SHA-1" => Sha1::digest(bytes).to_vec(),
        "SHA-256" => Sha256::digest(bytes).to_vec(),
        "SHA-384" => Sha384::digest(bytes).to_vec(),
        "SHA-512" => Sha512::digest(bytes).to_vec(),
        other => {
            return Err(call.fail(format_args!(
                "The hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            )));
        }
    };
    Ok(Value::String(hex(&digest)))
}

/// Lowercase hexadecimal.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_err};
    use serde_json::json;

    #[test]
    fn base64_round_trip() {
        assert_eq!(
            eval("States.Base64Encode('Data to encode')", json!({})),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(eval("States.Base64Encode('')", json!({})), json!(""));
        assert_eq!(
            eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})),
            json!("Data to encode")
        );
        assert_eq!(
            eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU')", json!({})),
            json!("Data to encode")
        );
        assert_eq!(eval("States.Base64Decode('')", json!({})), json!(""));
        assert_eq!(
            eval(
                "States.Base64Decode(States.Base64Encode($.s))",
                json!({"s": "héllo ✓ \u{1F600}"})
            ),
            json!("héllo ✓ \u{1F600}")
        );
        assert_eq!(
            eval("States.Base64Decode($.s)", json!({"s": "SGVs\r\nbG8="})),
            json!("Hello")
        );
    }

    #[test]
    fn base64_rejects_bad_input() {
        assert!(
            eval_err("States.Base64Decode('not base64!')", json!({})).contains("not valid Base64")
        );
        assert!(eval_err("States.Base64Encode(1)", json!({})).contains("must be a string"));
        assert!(eval_err("States.Base64Decode(null)", json!({})).contains("must be a string"));
        let long = "a".repeat(10_001);
        assert!(eval_err("States.Base64Encode($.s)", json!({ "s": long })).contains("10000"));
        let ok = "é".repeat(10_000);
        assert!(eval("States.Base64Encode($.s)", json!({ "s": ok })).is_string());
    }

    #[test]
    fn hash_algorithms() {
        let h = |alg: &str| eval(&format!("States.Hash('input data', '{alg}')"), json!({}));
        assert_eq!(h("MD5"), json!("812f45842bc6d66ee14572ce20db8e86"));
        assert_eq!(
            h("SHA-1"),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            h("SHA-256"),
            json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
        );
        assert_eq!(
            h("SHA-384"),
            json!(
                "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"
            )
        );
        assert_eq!(
            h("SHA-512"),
            json!(
                "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"
            )
        );
        assert_eq!(
            eval("States.Hash('', 'SHA-256')", json!({})),
            json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn hash_rejects_bad_arguments() {
        assert!(eval_err("States.Hash('x', 'SHA256')", json!({})).contains("not supported"));
        assert!(eval_err("States.Hash('x', 'md5')", json!({})).contains("not supported"));
        assert!(eval_err("States.Hash('x', 1)", json!({})).contains("must be a string"));
        assert!(eval_err("States.Hash(null, 'MD5')", json!({})).contains("null"));
        let long = "a".repeat(10_001);
        assert!(eval_err("States.Hash($.s, 'MD5')", json!({ "s": long })).contains("10000"));
    }
}
