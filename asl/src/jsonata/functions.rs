//! The functions Step Functions adds to JSONata: `$partition`, `$range`,
//! `$hash`, `$random`, `$uuid` and `$parse`. They work on plain JSON values
//! so any [`Engine`](super::Engine) can call them: an argument is `None` when
//! it is undefined, and `Ok(None)` means the call evaluates to undefined.
//!
//! Non-integer numeric arguments are truncated towards zero, and the
//! degenerate calls AWS answers with undefined (a chunk size of zero, an empty
//! array, a `$range` without a step or with a step going the wrong way, a
//! `$hash` without an algorithm) do the same here.

use md5::Md5;
use serde_json::{Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The names of the added functions, as called from an expression (without `$`).
pub const NAMES: &[&str] = &["partition", "range", "hash", "random", "uuid", "parse"];

/// The most elements `$range` may produce (AWS refuses one more).
pub const MAX_RANGE_LENGTH: usize = 360_145;

/// The longest string `$pad` may make, in characters: more could never be
/// part of a state's output (256 KiB), and `$pad('', 300000000)` would
/// allocate before any other limit is checked.
pub const MAX_PAD_LENGTH: usize = crate::step::MAX_PAYLOAD_BYTES;

/// The result of an added function: a value, undefined (`None`), or a JSONata error message.
pub type FnResult = Result<Option<Value>, String>;

fn signature_error(function: &str, arg: usize) -> String {
    format!("T0410: Argument {arg} of function \"{function}\" does not match function signature")
}

fn too_many(function: &str, args: &[Option<Value>], max: usize) -> Result<(), String> {
    if args.len() > max {
        return Err(signature_error(function, max + 1));
    }
    Ok(())
}

/// An integer argument: a number truncated towards zero.
fn integer(function: &str, args: &[Option<Value>], i: usize) -> Result<Option<i64>, String> {
    match args.get(i) {
        None | Some(None) => Ok(None),
        Some(Some(Value::Number(n))) => match n.as_i64() {
            Some(x) => Ok(Some(x)),
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() && f.abs() < 9.0e15 {
                    Ok(Some(f.trunc() as i64))
                } else {
                    Err(format!(
                        "D3001: Argument {} of function \"{function}\" is out of range",
                        i + 1
                    ))
                }
            }
        },
        Some(Some(_)) => Err(signature_error(function, i + 1)),
    }
}

/// `$partition(array, size)`: the array in chunks of `size` items, the last
/// one holding the remainder.
pub fn partition(args: &[Option<Value>]) -> FnResult {
    too_many("partition", args, 2)?;
    let items: Vec<Value> = match args.first() {
        None | Some(None) => return Ok(None),
        Some(Some(Value::Array(a))) => a.clone(),
        Some(Some(other)) => vec![other.clone()],
    };
    let Some(size) = integer("partition", args, 1)? else {
        return Err(signature_error("partition", 2));
    };
    if size <= 0 || items.is_empty() {
        return Ok(None);
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Some(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    )))
}

/// `$range(start, end, step)`: `start`, `start + step`, ... up to `end`
/// (inclusive when a step lands on it). A single value comes back bare.
pub fn range(args: &[Option<Value>]) -> FnResult {
    too_many("range", args, 3)?;
    let (Some(start), Some(end)) = (integer("range", args, 0)?, integer("range", args, 1)?) else {
        return match (args.first(), args.get(1)) {
            (Some(Some(_)), Some(Some(_))) => Ok(None),
            (Some(Some(_)), _) => Err(signature_error("range", 2)),
            _ => Err(signature_error("range", 1)),
        };
    };
    let Some(step) = integer("range", args, 2)? else {
        return Ok(None);
    };
    if step == 0 || (end > start && step < 0) || (end < start && step > 0) {
        return Ok(None);
    }
    let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
    if count > MAX_RANGE_LENGTH as i128 {
        return Err("Expression evaluation memory limit exceeded".to_owned());
    }
    let values: Vec<Value> = (0..count)
        .map(|i| Value::from(i128::from(start) as i64 + (i as i64) * step))
        .collect();
    Ok(Some(match <[Value; 1]>::try_from(values) {
        Ok([one]) => one,
        Err(values) => Value::Array(values),
    }))
}

/// `$pad(string, width[, char])` as jsonata-js has it (right-padded for a
/// positive width, left for a negative one, with `char` repeated, a space by
/// default), refusing a width over [`MAX_PAD_LENGTH`] before allocating.
pub fn pad(args: &[Option<Value>]) -> FnResult {
    too_many("pad", args, 3)?;
    let s = match args.first() {
        None | Some(None) => return Ok(None),
        Some(Some(Value::Null)) => return Ok(Some(Value::Null)),
        Some(Some(Value::String(s))) => s,
        Some(Some(_)) => return Err(signature_error("pad", 1)),
    };
    let Some(width) = integer("pad", args, 1)? else {
        return Ok(Some(Value::String(s.clone())));
    };
    let fill = match args.get(2) {
        None | Some(None) => " ",
        Some(Some(Value::String(c))) if c.is_empty() => " ",
        Some(Some(Value::String(c))) => c.as_str(),
        Some(Some(_)) => return Err(signature_error("pad", 3)),
    };
    if width.unsigned_abs() > MAX_PAD_LENGTH as u64 {
        return Err(format!(
            "Expression evaluation memory limit exceeded: $pad to {} characters (at most {MAX_PAD_LENGTH})",
            width.unsigned_abs()
        ));
    }
    let len = s.chars().count();
    let pad_len = (width.unsigned_abs() as usize).saturating_sub(len);
    if pad_len == 0 {
        return Ok(Some(Value::String(s.clone())));
    }
    let padding: String = fill.chars().cycle().take(pad_len).collect();
    Ok(Some(Value::String(if width > 0 {
        format!("{s}{padding}")
    } else {
        format!("{padding}{s}")
    })))
}

/// `$hash(data, algorithm)`: the lowercase hex digest of a string with
/// `MD5`, `SHA-1`, `SHA-256`, `SHA-384` or `SHA-512`.
pub fn hash(args: &[Option<Value>]) -> FnResult {
    too_many("hash", args, 2)?;
    let data = match args.first() {
        None | Some(None) => return Ok(None),
        Some(Some(Value::String(s))) => s.as_bytes(),
        Some(Some(_)) => return Err(signature_error("hash", 1)),
    };
    let algorithm = match args.get(1) {
        None | Some(None) => return Ok(None),
        Some(Some(Value::String(s))) => s.as_str(),
        Some(Some(_)) => return Err(signature_error("hash", 2)),
    };
    let digest: Vec<u8> = match algorithm {
        "MD5" => Md5::digest(data).to_vec(),
        "SHA-1" => Sha1::digest(data).to_vec(),
        "SHA-256" => Sha256::digest(data).to_vec(),
        "SHA-384" => Sha384::digest(data).to_vec(),
        "SHA-512" => Sha512::digest(data).to_vec(),
        other => {
            return Err(format!(
                "The hashing algorithm '{other}' is not supported. Supported algorithms: MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            ));
        }
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    Ok(Some(Value::String(hex)))
}

/// splitmix64: the same mixing `Env` uses, here to derive values from a seed.
pub fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `$random([seed])`: a number in `[0, 1)`; the same integer seed always gives
/// the same number. Without a seed the number comes from `next`.
pub fn random(args: &[Option<Value>], next: &mut dyn FnMut() -> u64) -> FnResult {
    too_many("random", args, 1)?;
    let bits = match integer("random", args, 0)? {
        Some(seed) => mix(seed as u64),
        None => next(),
    };
    Ok(Number::from_f64(unit(bits)).map(Value::Number))
}

/// `$uuid()`: a version 4 UUID drawn from `next`.
pub fn uuid(args: &[Option<Value>], next: &mut dyn FnMut() -> u64) -> FnResult {
    too_many("uuid", args, 0)?;
    let high = (next() & !0xf000) | 0x4000;
    let low = (next() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    Ok(Some(Value::String(format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    ))))
}

/// `$parse(text)`: the JSON value a string holds.
pub fn parse(args: &[Option<Value>]) -> FnResult {
    too_many("parse", args, 1)?;
    match args.first() {
        None | Some(None) => Ok(None),
        Some(Some(Value::String(s))) => match serde_json::from_str::<Value>(s) {
            Ok(v) => Ok(Some(v)),
            Err(e) => Err(format!(
                "D3140: The string '{s}' could not be parsed as JSON: {e}"
            )),
        },
        Some(Some(_)) => Err(signature_error("parse", 1)),
    }
}

/// `$eval` is disabled, as on AWS.
pub fn eval_disabled() -> String {
    "T1006: Attempted to invoke a non-function".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn a(v: &[Value]) -> Vec<Option<Value>> {
        v.iter().cloned().map(Some).collect()
    }

    #[test]
    fn pad_is_jsonatas_and_bounded() {
        let p = |a: Vec<Option<Value>>| pad(&a);
        let s = |x: &str| Some(json!(x));
        assert_eq!(p(vec![s("foo"), Some(json!(5))]), Ok(s("foo  ")));
        assert_eq!(p(vec![s("foo"), Some(json!(-5)), s("#")]), Ok(s("##foo")));
        assert_eq!(
            p(vec![s("foo"), Some(json!(8)), s("-+")]),
            Ok(s("foo-+-+-"))
        );
        assert_eq!(p(vec![s("héllo"), Some(json!(6.7))]), Ok(s("héllo ")));
        assert_eq!(p(vec![s("foo"), Some(json!(2))]), Ok(s("foo")));
        assert_eq!(p(vec![s("foo"), None]), Ok(s("foo")));
        assert_eq!(p(vec![None, Some(json!(3))]), Ok(None));
        assert_eq!(p(vec![s("a"), Some(json!(3)), s("")]), Ok(s("a  ")));
        assert!(p(vec![Some(json!(1)), Some(json!(3))]).is_err());
        let e = p(vec![s(""), Some(json!(300_000_000)), s("a")]).unwrap_err();
        assert!(e.contains("memory limit"), "{e}");
        assert!(p(vec![s(""), Some(json!(-300_000_000))]).is_err());
        assert_eq!(
            p(vec![s(""), Some(json!(MAX_PAD_LENGTH))])
                .unwrap()
                .unwrap()
                .as_str()
                .map(str::len),
            Some(MAX_PAD_LENGTH)
        );
    }

    #[test]
    fn partition_chunks_and_degenerate_cases() {
        assert_eq!(
            partition(&a(&[json!([0, 1, 2]), json!(2)])),
            Ok(Some(json!([[0, 1], [2]])))
        );
        assert_eq!(
            partition(&a(&[json!([0, 1, 2, 3]), json!(5)])),
            Ok(Some(json!([[0, 1, 2, 3]])))
        );
        assert_eq!(
            partition(&a(&[json!([0, 1, 2]), json!(2.9)])),
            Ok(Some(json!([[0, 1], [2]])))
        );
        assert_eq!(partition(&a(&[json!([1]), json!(0)])), Ok(None));
        assert_eq!(partition(&a(&[json!([]), json!(2)])), Ok(None));
        assert!(partition(&a(&[json!([1]), json!("2")])).is_err());
    }

    #[test]
    fn range_inclusive_bare_singleton_and_wrong_direction() {
        assert_eq!(
            range(&a(&[json!(0), json!(9), json!(3)])),
            Ok(Some(json!([0, 3, 6, 9])))
        );
        assert_eq!(
            range(&a(&[json!(1), json!(9), json!(9)])),
            Ok(Some(json!(1)))
        );
        assert_eq!(
            range(&a(&[json!(5), json!(1), json!(-2)])),
            Ok(Some(json!([5, 3, 1])))
        );
        assert_eq!(
            range(&a(&[json!(-1.7), json!(2), json!(1)])),
            Ok(Some(json!([-1, 0, 1, 2])))
        );
        assert_eq!(range(&a(&[json!(1), json!(5), json!(-1)])), Ok(None));
        assert_eq!(range(&a(&[json!(1), json!(5)])), Ok(None));
        assert!(
            range(&a(&[json!("0"), json!(4), json!(1)]))
                .unwrap_err()
                .starts_with("T0410: Argument 1 of function \"range\"")
        );
        assert!(range(&a(&[json!(0), json!(1_000_000), json!(1)])).is_err());
    }

    #[test]
    fn hash_algorithms_are_case_sensitive() {
        assert_eq!(
            hash(&a(&[json!("Hash this string"), json!("SHA-256")])),
            Ok(Some(json!(
                "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"
            )))
        );
        assert_eq!(
            hash(&a(&[json!(""), json!("MD5")])),
            Ok(Some(json!("d41d8cd98f00b204e9800998ecf8427e")))
        );
        for alg in ["SHA-1", "SHA-384", "SHA-512"] {
            assert!(hash(&a(&[json!("x"), json!(alg)])).is_ok_and(|v| v.is_some()));
        }
        assert!(hash(&a(&[json!("x"), json!("sha-256")])).is_err());
        assert_eq!(hash(&a(&[json!("x")])), Ok(None));
    }

    #[test]
    fn random_is_seeded_and_in_range() {
        let mut n = 0u64;
        let mut next = || {
            n += 1;
            mix(n)
        };
        let x = random(&[], &mut next).unwrap().unwrap().as_f64().unwrap();
        assert!((0.0..1.0).contains(&x));
        let s1 = random(&a(&[json!(42)]), &mut next).unwrap();
        let s2 = random(&a(&[json!(42)]), &mut next).unwrap();
        assert_eq!(s1, s2);
        assert_ne!(s1, random(&a(&[json!(43)]), &mut next).unwrap());
    }

    #[test]
    fn uuid_is_v4() {
        let mut next = || 0x0123_4567_89ab_cdefu64;
        let Some(Value::String(u)) = uuid(&[], &mut next).unwrap() else {
            panic!()
        };
        let groups: Vec<&str> = u.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(groups[3].starts_with(['8', '9', 'a', 'b']));
    }

    #[test]
    fn parse_json_text() {
        assert_eq!(parse(&a(&[json!("-0")])), Ok(Some(json!(-0.0))));
        assert_eq!(parse(&a(&[json!("\"Hi\"")])), Ok(Some(json!("Hi"))));
        assert_eq!(
            parse(&a(&[json!("{\"a\":[1,true]}")])),
            Ok(Some(json!({"a": [1, true]})))
        );
        assert!(parse(&a(&[json!("{")])).is_err());
        assert!(parse(&a(&[json!(1)])).is_err());
    }
}
