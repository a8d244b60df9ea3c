//! The parser: `States.Name(arg, arg, ...)` where an argument is a
//! single-quoted string, a JSON number, `true`, `false`, `null`, a path
//! (`$...`, `$$...`, `$name...`) or a nested call.

use super::{Arg, Intrinsic, IntrinsicError, MAX_ARGUMENTS, MAX_DEPTH, StringLiteral, lookup};
use crate::path::Path;
use serde_json::Value;

const PREFIX: &str = "States.";

/// Parses a whole intrinsic: one call, optionally followed by whitespace.
pub(super) fn parse(src: &str) -> Result<Intrinsic, IntrinsicError> {
    if !src.starts_with(PREFIX) {
        return Err(IntrinsicError::NotAnIntrinsic {
            src: src.to_owned(),
        });
    }
    let mut p = Parser {
        src,
        pos: 0,
        args: 0,
    };
    let call = p.call(1)?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.syntax(format!(
            "unexpected '{}' after the end of the call",
            p.rest().chars().next().unwrap_or(' ')
        )));
    }
    Ok(call)
}

struct Parser<'s> {
    src: &'s str,
    /// Byte offset of the next character.
    pos: usize,
    /// Arguments seen so far, nested calls included.
    args: usize,
}

impl<'s> Parser<'s> {
    fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn syntax(&self, message: impl Into<String>) -> IntrinsicError {
        IntrinsicError::Syntax {
            offset: self.pos,
            message: message.into(),
        }
    }

    /// What the next character is, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "the end of the text".to_owned(),
        }
    }

    /// `States.Name(args)`, the cursor on the `S`.
    fn call(&mut self, depth: usize) -> Result<Intrinsic, IntrinsicError> {
        if depth > MAX_DEPTH {
            return Err(IntrinsicError::TooDeep { max: MAX_DEPTH });
        }
        let start = self.pos;
        self.pos += PREFIX.len();
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.bump();
        }
        let name = self.src.get(start..self.pos).unwrap_or("");
        let function = lookup(name).ok_or_else(|| IntrinsicError::UnknownFunction {
            name: name.to_owned(),
        })?;
        if self.peek() != Some('(') {
            return Err(self.syntax(format!(
                "expected '(' after {name} but found {}",
                self.found()
            )));
        }
        self.bump();
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.bump();
        } else {
            loop {
                args.push(self.arg(depth)?);
                self.args += 1;
                if self.args > MAX_ARGUMENTS {
                    return Err(IntrinsicError::TooManyArguments { max: MAX_ARGUMENTS });
                }
                self.skip_ws();
                match self.peek() {
                    Some(',') => {
                        self.bump();
                    }
                    Some(')') => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(self.syntax(format!(
                            "expected ',' or ')' in the arguments of {name} but found {}",
                            self.found()
                        )));
                    }
                }
            }
        }
        if !function.arity.accepts(args.len()) {
            return Err(IntrinsicError::Arity {
                name: function.name,
                expected: function.arity.to_string(),
                given: args.len(),
            });
        }
        Ok(Intrinsic {
            function,
            args,
            src: self.src.get(start..self.pos).unwrap_or("").to_owned(),
        })
    }

    /// One argument, leading whitespace allowed.
    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicError> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => self.string().map(Arg::String),
            Some('$') => self.path().map(Arg::Path),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number().map(Arg::Literal),
            Some(_) if self.rest().starts_with(PREFIX) => {
                Ok(Arg::Call(Box::new(self.call(depth + 1)?)))
            }
            Some(c) if c.is_ascii_alphabetic() => self.keyword().map(Arg::Literal),
            Some(')') | Some(',') | None => {
                Err(self.syntax(format!("expected an argument but found {}", self.found())))
            }
            Some(c) => Err(self.syntax(format!("unexpected '{c}' where an argument was expected"))),
        }
    }

    /// `'...'` with the escapes `\'`, `\{`, `\}` and `\\`.
    fn string(&mut self) -> Result<StringLiteral, IntrinsicError> {
        let open = self.pos;
        self.bump();
        let start = self.pos;
        let mut value = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => return Err(IntrinsicError::UnterminatedString { offset: open }),
                Some('\'') => break,
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => value.push(c),
                    other => {
                        return Err(IntrinsicError::InvalidEscape {
                            offset: at,
                            found: other.map(String::from).unwrap_or_default(),
                        });
                    }
                },
                Some(c) => value.push(c),
            }
        }
        let raw = self.src.get(start..self.pos - 1).unwrap_or("").to_owned();
        Ok(StringLiteral { value, raw })
    }

    /// A JSON number.
    fn number(&mut self) -> Result<Value, IntrinsicError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.bump();
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        match serde_json::from_str::<serde_json::Number>(text) {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => Err(IntrinsicError::InvalidNumber {
                offset: start,
                text: text.to_owned(),
            }),
        }
    }

    /// `true`, `false` or `null`.
    fn keyword(&mut self) -> Result<Value, IntrinsicError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.bump();
        }
        match self.src.get(start..self.pos).unwrap_or("") {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            word => Err(IntrinsicError::Syntax {
                offset: start,
                message: format!(
                    "unexpected '{word}': an argument must be a quoted string, a number, true, false, null, a path or an intrinsic function"
                ),
            }),
        }
    }

    /// A path: everything up to a `,` or `)` outside brackets, parentheses
    /// and quotes, or up to whitespace outside them.
    fn path(&mut self) -> Result<Path, IntrinsicError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                self.bump();
                if c == '\\' {
                    self.bump();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ',' | ')' if depth == 0 => break,
                c if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.bump();
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        if quote.is_some() || depth > 0 {
            return Err(IntrinsicError::InvalidPath {
                path: text.to_owned(),
                message: "unbalanced brackets or quotes".to_owned(),
            });
        }
        Path::parse(text).map_err(|e| IntrinsicError::InvalidPath {
            path: text.to_owned(),
            message: e.to_string(),
        })
    }
}
