//! Mocked service responses in AWS Step Functions Local's `MockConfigFile`
//! format: `StateMachines` → machine name → `TestCases` → case → state name →
//! response name, and `MockedResponses` → response name → invocation number
//! or range (`"0"`, `"1-2"`) → `{"Return": value}` or `{"Throw": {"Error",
//! "Cause"}}`. An execution runs under a test case when started with
//! `<state machine ARN>#<case>`; the states its case names take their
//! responses from here instead of doing their work.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use stepwise_asl::StatesError;

/// Why a mock file was refused.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The file could not be read.
    #[error("mock config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("mock config {path}: not valid JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    /// A field is wrong; `at` is its JSON pointer.
    #[error("mock config {path}: at {at}: {message}")]
    Invalid {
        path: String,
        at: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Return(Value),
    Throw { error: String, cause: String },
}

/// One mocked response: what each invocation answers, by ranges.
#[derive(Debug, Clone, PartialEq)]
struct Response {
    /// (first, last) invocation numbers and the answer; sorted.
    ranges: Vec<(u32, u32, Reply)>,
}

impl Response {
    /// The answer for invocation `n`; past the last range, the last answer.
    fn answer(&self, n: u32) -> Option<&Reply> {
        self.ranges
            .iter()
            .find(|(a, b, _)| *a <= n && n <= *b)
            .or_else(|| self.ranges.last())
            .map(|(_, _, r)| r)
    }
}

/// A loaded, checked mock configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockConfig {
    /// machine name → case → state → response name.
    machines: HashMap<String, HashMap<String, HashMap<String, String>>>,
    responses: HashMap<String, Response>,
}

impl MockConfig {
    /// Reads and checks a mock file.
    pub fn load(path: &Path) -> Result<Self, MockError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MockError::Read {
            path: p.clone(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|source| MockError::Json {
            path: p.clone(),
            source,
        })?;
        Self::from_value(&v).map_err(|(at, message)| MockError::Invalid {
            path: p,
            at,
            message,
        })
    }

    /// Checks a mock configuration given as JSON; errors name the JSON pointer.
    pub fn from_value(v: &Value) -> Result<Self, (String, String)> {
        let root = v
            .as_object()
            .ok_or_else(|| ("".to_owned(), "expected an object".to_owned()))?;
        let mut cfg = MockConfig::default();
        if let Some(r) = root.get("MockedResponses") {
            let r = r.as_object().ok_or_else(|| {
                (
                    "/MockedResponses".to_owned(),
                    "expected an object".to_owned(),
                )
            })?;
            for (name, resp) in r {
                let at = format!("/MockedResponses/{}", escape(name));
                cfg.responses.insert(name.clone(), response(resp, &at)?);
            }
        }
        if let Some(m) = root.get("StateMachines") {
            let m = m
                .as_object()
                .ok_or_else(|| ("/StateMachines".to_owned(), "expected an object".to_owned()))?;
            for (machine, def) in m {
                let at = format!("/StateMachines/{}/TestCases", escape(machine));
                let cases = def
                    .get("TestCases")
                    .and_then(Value::as_object)
                    .ok_or_else(|| (at.clone(), "expected an object of test cases".to_owned()))?;
                let mut by_case = HashMap::new();
                for (case, states) in cases {
                    let cat = format!("{at}/{}", escape(case));
                    let states = states
                        .as_object()
                        .ok_or_else(|| (cat.clone(), "expected an object".to_owned()))?;
                    let mut by_state = HashMap::new();
                    for (state, resp) in states {
                        let sat = format!("{cat}/{}", escape(state));
                        let resp = resp.as_str().ok_or_else(|| {
                            (
                                sat.clone(),
                                "expected the name of a mocked response".to_owned(),
                            )
                        })?;
                        if !cfg.responses.contains_key(resp) {
                            return Err((
                                sat,
                                format!("no mocked response named '{resp}' in MockedResponses"),
                            ));
                        }
                        by_state.insert(state.clone(), resp.to_owned());
                    }
                    by_case.insert(case.clone(), by_state);
                }
                cfg.machines.insert(machine.clone(), by_case);
            }
        }
        Ok(cfg)
    }

    /// Whether the machine has this test case.
    pub fn has_case(&self, machine: &str, case: &str) -> bool {
        self.machines
            .get(machine)
            .is_some_and(|c| c.contains_key(case))
    }

    /// The mocked result of `state`'s invocation `n` (from 0) in a test case;
    /// `None` when the case does not mock that state.
    pub fn result(
        &self,
        machine: &str,
        case: &str,
        state: &str,
        n: u32,
    ) -> Option<Result<Value, StatesError>> {
        let name = self.machines.get(machine)?.get(case)?.get(state)?;
        match self.responses.get(name)?.answer(n)? {
            Reply::Return(v) => Some(Ok(v.clone())),
            Reply::Throw { error, cause } => {
                Some(Err(StatesError::new(error.clone(), cause.clone())))
            }
        }
    }
}

/// Escapes a key for a JSON pointer.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn response(v: &Value, at: &str) -> Result<Response, (String, String)> {
    let o = v.as_object().ok_or_else(|| {
        (
            at.to_owned(),
            "expected an object of invocations".to_owned(),
        )
    })?;
    if o.is_empty() {
        return Err((at.to_owned(), "needs at least one invocation".to_owned()));
    }
    let mut ranges = Vec::new();
    for (key, reply) in o {
        let rat = format!("{at}/{}", escape(key));
        let bad = || {
            (
                rat.clone(),
                "expected an invocation number or a range such as \"0\" or \"1-2\"".to_owned(),
            )
        };
        let (a, b) = match key.split_once('-') {
            Some((a, b)) => (a.parse::<u32>(), b.parse::<u32>()),
            None => (key.parse::<u32>(), key.parse::<u32>()),
        };
        let (Ok(a), Ok(b)) = (a, b) else {
            return Err(bad());
        };
        if a > b {
            return Err(bad());
        }
        let r = reply
            .as_object()
            .ok_or_else(|| (rat.clone(), "expected an object".to_owned()))?;
        let reply = match (r.get("Return"), r.get("Throw")) {
            (Some(v), None) => Reply::Return(v.clone()),
            (None, Some(t)) => {
                let tat = format!("{rat}/Throw");
                let error = t
                    .get("Error")
                    .and_then(Value::as_str)
                    .ok_or_else(|| (format!("{tat}/Error"), "expected a string".to_owned()))?;
                let cause = match t.get("Cause") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => {
                        return Err((format!("{tat}/Cause"), "expected a string".to_owned()));
                    }
                };
                Reply::Throw {
                    error: error.to_owned(),
                    cause: cause.to_owned(),
                }
            }
            _ => {
                return Err((
                    rat,
                    "expected exactly one of \"Return\" and \"Throw\"".to_owned(),
                ));
            }
        };
        ranges.push((a, b, reply));
    }
    ranges.sort_by_key(|(a, _, _)| *a);
    for w in ranges.windows(2) {
        if w[1].0 <= w[0].1 {
            return Err((
                at.to_owned(),
                format!("invocation {} is given twice", w[1].0),
            ));
        }
    }
    Ok(Response { ranges })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> MockConfig {
        MockConfig::from_value(&json!({
            "StateMachines": {"M": {"TestCases": {"Happy": {"A": "Ok"}, "Retry": {"A": "Flaky"}}}},
            "MockedResponses": {
                "Ok": {"0": {"Return": {"StatusCode": 200}}},
                "Flaky": {
                    "0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}},
                    "1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "busy"}},
                    "3": {"Return": 7}
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn answers_by_invocation_number_and_range() {
        let c = cfg();
        assert_eq!(
            c.result("M", "Happy", "A", 0),
            Some(Ok(json!({"StatusCode": 200})))
        );
        let e = c.result("M", "Retry", "A", 0).unwrap().unwrap_err();
        assert_eq!(e.error, "Lambda.ServiceException");
        for n in [1, 2] {
            let e = c.result("M", "Retry", "A", n).unwrap().unwrap_err();
            assert_eq!(
                (e.error.as_str(), e.cause.as_str()),
                ("Lambda.TooManyRequestsException", "busy")
            );
        }
        assert_eq!(c.result("M", "Retry", "A", 3), Some(Ok(json!(7))));
        // Past the last range, the last answer stands.
        assert_eq!(c.result("M", "Retry", "A", 9), Some(Ok(json!(7))));
        // States, cases and machines the file does not name are not mocked.
        assert_eq!(c.result("M", "Happy", "B", 0), None);
        assert_eq!(c.result("M", "Nope", "A", 0), None);
        assert_eq!(c.result("N", "Happy", "A", 0), None);
        assert!(c.has_case("M", "Retry"));
    }

    #[test]
    fn a_bad_file_is_refused_with_the_json_pointer_of_the_problem() {
        let at = |v: Value| MockConfig::from_value(&v).unwrap_err().0;
        assert_eq!(at(json!([])), "");
        assert_eq!(
            at(json!({"MockedResponses": {"R": {"x": {"Return": 1}}}})),
            "/MockedResponses/R/x"
        );
        assert_eq!(
            at(json!({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}})),
            "/MockedResponses/R/0"
        );
        assert_eq!(
            at(json!({"MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}})),
            "/MockedResponses/R/0/Throw/Error"
        );
        assert_eq!(
            at(json!({"MockedResponses": {"R": {"0-2": {"Return": 1}, "1": {"Return": 2}}}})),
            "/MockedResponses/R"
        );
        assert_eq!(
            at(json!({"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}})),
            "/StateMachines/M/TestCases/C/S"
        );
        assert_eq!(
            at(json!({"StateMachines": {"M": {}}})),
            "/StateMachines/M/TestCases"
        );
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mocks.json");
        std::fs::write(&p, "{not json").unwrap();
        let e = MockConfig::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("mocks.json") && e.contains("not valid JSON"),
            "{e}"
        );
        let e = MockConfig::load(&dir.path().join("none.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.json"), "{e}");
    }
}
