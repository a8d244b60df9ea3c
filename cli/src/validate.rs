//! `stepwise validate`: every problem of a definition with its JSON pointer and,
//! where the text allows, its line and column, as a compiler prints errors.

use std::collections::HashMap;
use stepwise_asl::compile::{CompileOptions, compile_str};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// JSON pointer of the field (`/` for the whole document).
    pub pointer: String,
    /// The diagnostic code, e.g. `SCHEMA_VALIDATION_FAILED`.
    pub code: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// `FILE:LINE:COL: error: MESSAGE [CODE at POINTER]`.
    pub fn render(&self, file: &str) -> String {
        let at = if self.line > 0 {
            format!("{file}:{}:{}", self.line, self.column)
        } else {
            file.to_owned()
        };
        format!(
            "{at}: error: {} [{} at {}]",
            self.message, self.code, self.pointer
        )
    }
}

/// Every problem of a definition text (none: it is valid).
pub fn check(text: &str) -> Vec<Problem> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return vec![Problem {
            line: e.line(),
            column: e.column(),
            pointer: "/".into(),
            code: "INVALID_JSON_DESCRIPTION".into(),
            message: format!("not valid JSON: {e}"),
        }];
    }
    let Err(e) = compile_str(text, CompileOptions::default()) else {
        return Vec::new();
    };
    let positions = positions(text);
    e.diagnostics
        .into_iter()
        .map(|d| {
            let pointer = if d.location.is_empty() {
                "/".to_owned()
            } else {
                d.location.clone()
            };
            let (line, column) = locate(text, &positions, &pointer).unwrap_or((0, 0));
            Problem {
                line,
                column,
                pointer,
                code: d.code,
                message: d.message,
            }
        })
        .collect()
}

/// The line and column of the nearest field the pointer names (its key for an
/// object member), walking up to a parent that exists.
fn locate(text: &str, positions: &HashMap<String, usize>, pointer: &str) -> Option<(usize, usize)> {
    let mut p = pointer.trim_end_matches('/').to_owned();
    loop {
        if let Some(&at) = positions.get(&p) {
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Some((line, column));
        }
        let cut = p.rfind('/')?;
        p.truncate(cut);
    }
}

/// The byte offset of every value of a JSON text by JSON pointer (object
/// members at their key). The text is already known to be valid JSON.
fn positions(text: &str) -> HashMap<String, usize> {
    let mut s = Scan {
        b: text.as_bytes(),
        text,
        i: 0,
        found: HashMap::new(),
    };
    s.value(String::new(), None);
    s.found
}

struct Scan<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
    found: HashMap<String, usize>,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => return serde_json::from_str(self.text.get(start..self.i)?).ok(),
                _ => {}
            }
        }
        None
    }

    fn value(&mut self, ptr: String, at: Option<usize>) -> Option<()> {
        self.ws();
        self.found.insert(ptr.clone(), at.unwrap_or(self.i));
        match self.peek()? {
            b'{' => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.peek()? {
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => self.i += 1,
                        _ => {
                            let key_at = self.i;
                            let key = self.string()?;
                            self.ws();
                            self.i += 1; // ':'
                            let child =
                                format!("{ptr}/{}", key.replace('~', "~0").replace('/', "~1"));
                            self.value(child, Some(key_at))?;
                        }
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match self.peek()? {
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => self.i += 1,
                        _ => {
                            self.value(format!("{ptr}/{n}"), None)?;
                            n += 1;
                        }
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_their_pointer_line_and_column() {
        let text = "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\"Type\": \"Pass\", \"Next\": \"Nowhere\"},\n    \"B\": {\"Type\": \"Wait\", \"End\": true}\n  }\n}\n";
        let p = check(text);
        assert!(p.len() >= 2, "{p:?}");
        let next = p
            .iter()
            .find(|p| p.pointer == "/States/A/Next")
            .expect("the Next problem");
        assert_eq!((next.line, next.column), (4, 27), "{next:?}");
        assert!(
            p.iter().any(|p| p.pointer.starts_with("/States/B")),
            "{p:?}"
        );
        assert!(next.render("f.json").starts_with("f.json:4:27: error: "));
    }

    #[test]
    fn a_syntax_error_has_its_position() {
        let p = check("{\n  \"StartAt\": \"A\",\n  oops\n}");
        assert_eq!((p[0].line, p[0].column), (3, 3));
        assert!(check("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Succeed\"}}}").is_empty());
    }
}
