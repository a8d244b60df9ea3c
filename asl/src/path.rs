//! Compiled ASL paths: `Path`, `Reference Path` and `ResultPath`.
//!
//! A path is parsed once when the definition is loaded and evaluated many
//! times. Paths that can match at most one node and use only member names and
//! indexes (the common case: `$.order.items[0].sku`) are walked directly;
//! everything else (wildcards, filters, slices, unions, `..`) is rewritten to
//! RFC 9535 syntax and evaluated with [`serde_json_path`].
//!
//! ASL paths are JSONPath as implemented by Jayway, so the parser tolerates a
//! few forms RFC 9535 rejects: dot-notation member names containing `-` or
//! starting with a digit (`$.a-b`, `$.1st`) and whitespace inside brackets
//! (`$[ 'a b' ]`).

use crate::env::Env;
use crate::error::{StatesError, names};
use serde_json::{Map, Value};
use serde_json_path::JsonPath;
use std::borrow::Cow;
use std::fmt;

/// Why a path could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is the empty string.
    #[error("the path is empty; a path must start with '$'")]
    Empty,
    /// The path does not start with `$`.
    #[error("the path '{path}' must start with '$'")]
    MissingRoot {
        /// The source text.
        path: String,
    },
    /// The path is not valid syntax.
    #[error("invalid path '{path}': {message} (at character {position})")]
    Syntax {
        /// The source text.
        path: String,
        /// Zero-based character offset of the problem.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// The JSONPath engine rejected the path (typically a filter expression).
    #[error("invalid path '{path}': {message}")]
    Query {
        /// The source text.
        path: String,
        /// What the JSONPath engine reported.
        message: String,
    },
    /// A Reference Path was required but the path may select several nodes.
    #[error(
        "'{path}' is not a valid reference path: only '.name', \"['name']\" and '[index]' are allowed (no wildcards, filters, slices, unions or '..')"
    )]
    NotReference {
        /// The source text.
        path: String,
    },
    /// A `ResultPath` was rooted at the context object or a variable.
    #[error(
        "the ResultPath '{path}' must be rooted at '$' (the state input), not '$$' or a variable"
    )]
    NotInputRoot {
        /// The source text.
        path: String,
    },
}

/// What a path is applied to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathRoot {
    /// `$`: the state input (or whatever value the caller passes as input).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: the workflow variable `name`.
    Variable(String),
}

/// One step of a definite path made only of member names and indexes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// `.name` or `['name']`.
    Field(String),
    /// `[index]`; a negative index counts from the end of the array.
    Index(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Child(Vec<Selector>),
    Descendant(Vec<Selector>),
}

#[derive(Debug, Clone, PartialEq)]
enum Compiled {
    /// Definite path of names and indexes: walked directly.
    Simple(Vec<PathStep>),
    /// Anything else: the RFC 9535 rewrite rooted at `$`.
    Query(Box<JsonPath>),
    /// A union of member names as the last segment (`$[*]['a','b']`): as in
    /// Jayway JsonPath, which AWS uses, one object per matched parent object
    /// holding the members it has (RFC 9535 would list the values instead);
    /// under a definite parent (`$.o['a','b']`) that object alone.
    Members {
        /// The path to the parents.
        parent: Box<Compiled>,
        /// The member names, in order.
        names: Vec<String>,
    },
}

impl Compiled {
    fn new(src: &str, segments: &[Segment]) -> Result<Compiled, PathError> {
        if let Some(steps) = simple_steps(segments) {
            return Ok(Compiled::Simple(steps));
        }
        if let Some((Segment::Child(last), parent)) = segments.split_last()
            && last.len() > 1
            && let Some(names) = last
                .iter()
                .map(|s| match s {
                    Selector::Name(n) => Some(n.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<String>>>()
        {
            return Ok(Compiled::Members {
                parent: Box::new(Compiled::new(src, parent)?),
                names,
            });
        }
        let rfc = to_rfc9535(segments);
        let query = JsonPath::parse(&rfc).map_err(|e| PathError::Query {
            path: src.to_owned(),
            message: e.message().to_owned(),
        })?;
        Ok(Compiled::Query(Box::new(query)))
    }

    /// Every node selected from `root`, in order.
    fn nodes<'v>(&self, root: &'v Value) -> Vec<Cow<'v, Value>> {
        match self {
            Compiled::Simple(steps) => walk(root, steps).map(Cow::Borrowed).into_iter().collect(),
            Compiled::Query(query) => query
                .query(root)
                .all()
                .into_iter()
                .map(Cow::Borrowed)
                .collect(),
            Compiled::Members { parent, names } => parent
                .nodes(root)
                .into_iter()
                .filter_map(|node| match node.as_ref() {
                    Value::Object(o) => Some(Cow::Owned(Value::Object(
                        names
                            .iter()
                            .filter_map(|n| o.get(n).map(|v| (n.clone(), v.clone())))
                            .collect(),
                    ))),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// A compiled ASL Path (`InputPath`, `OutputPath`, `ItemsPath`, `Variable`,
/// `*.$` template fields...).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    src: String,
    root: PathRoot,
    segments: Vec<Segment>,
    compiled: Compiled,
}

impl Path {
    /// Parses a Path: `$` (state input), `$$` (context object), or `$name`
    /// (a workflow variable; `name` = `[A-Za-z_][A-Za-z0-9_]*`), followed by
    /// any JSONPath (dot/bracket members, indexes, wildcards `*`, filters
    /// `?()`, slices, unions, recursive descent `..`).
    pub fn parse(src: &str) -> Result<Path, PathError> {
        let (root, segments) = Parser::new(src).parse()?;
        let compiled = Compiled::new(src, &segments)?;
        Ok(Path {
            src: src.to_owned(),
            root,
            segments,
            compiled,
        })
    }

    /// Parses a Reference Path: the same roots as [`Path::parse`], but only
    /// `.name`, `['name']`/`["name"]` and `[index]` segments (no wildcards,
    /// filters, slices, unions or `..`).
    pub fn parse_reference(src: &str) -> Result<Path, PathError> {
        let path = Path::parse(src)?;
        if path.is_definite() {
            Ok(path)
        } else {
            Err(PathError::NotReference {
                path: src.to_owned(),
            })
        }
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    /// True when the path can match at most one node (it is then also a
    /// valid Reference Path).
    pub fn is_definite(&self) -> bool {
        matches!(self.compiled, Compiled::Simple(_))
    }

    /// What the path is applied to.
    pub fn root(&self) -> &PathRoot {
        &self.root
    }

    /// The steps of a definite path (`None` for an indefinite one).
    pub fn steps(&self) -> Option<&[PathStep]> {
        match &self.compiled {
            Compiled::Simple(steps) => Some(steps),
            Compiled::Query(_) | Compiled::Members { .. } => None,
        }
    }

    /// Selects from `input` (or `env.context` / `env.vars[name]`, depending
    /// on the root). A definite path returns the node, or `None` when it is
    /// missing. An indefinite path returns `Some(Value::Array(..))` with every
    /// matched node in order, possibly empty (`None` only when the root
    /// variable does not exist).
    pub fn select(&self, input: &Value, env: &Env<'_>) -> Option<Value> {
        self.select_cow(input, env).map(Cow::into_owned)
    }

    /// Like [`Path::select`], but borrows the node when the path is definite
    /// instead of cloning it.
    pub fn select_cow<'v>(&self, input: &'v Value, env: &Env<'v>) -> Option<Cow<'v, Value>> {
        let root: &'v Value = match &self.root {
            PathRoot::Input => input,
            PathRoot::Context => env.context,
            PathRoot::Variable(name) => env.vars.get(name)?,
        };
        match &self.compiled {
            Compiled::Simple(steps) => walk(root, steps).map(Cow::Borrowed),
            members @ Compiled::Members { parent, .. }
                if matches!(**parent, Compiled::Simple(_)) =>
            {
                members.nodes(root).into_iter().next()
            }
            indefinite => Some(Cow::Owned(Value::Array(
                indefinite
                    .nodes(root)
                    .into_iter()
                    .map(Cow::into_owned)
                    .collect(),
            ))),
        }
    }

    /// The normalized form used in AWS messages: `$['a']['b'][0]` for
    /// `$.a.b[0]` (`$$[...]` and `$name[...]` for the other roots).
    pub fn normalized(&self) -> String {
        self.normalized_prefix(self.segments.len())
    }

    /// Why this path selects nothing in `input`, worded as Jayway JsonPath
    /// (which AWS uses) words it: `Missing property in path $['a']` when a
    /// property before the last one is missing, `No results for path:
    /// $['a']['b']` otherwise.
    pub fn missing_reason(&self, input: &Value, env: &Env<'_>) -> String {
        let root = match &self.root {
            PathRoot::Input => Some(input),
            PathRoot::Context => Some(env.context),
            PathRoot::Variable(name) => env.vars.get(name),
        };
        if let (Compiled::Simple(steps), Some(mut value)) = (&self.compiled, root) {
            for (i, step) in steps.iter().enumerate() {
                let last = i + 1 == steps.len();
                value = match (step, value) {
                    (PathStep::Field(name), Value::Object(map)) => match map.get(name) {
                        Some(v) => v,
                        None if !last => {
                            return format!(
                                "Missing property in path {}",
                                self.normalized_prefix(i + 1)
                            );
                        }
                        None => break,
                    },
                    (PathStep::Index(idx), Value::Array(items)) => {
                        match resolve_index(*idx, items.len()) {
                            Some(at) => &items[at],
                            None => break,
                        }
                    }
                    _ => break,
                };
            }
        }
        format!("No results for path: {}", self.normalized())
    }

    /// [`Path::normalized`] of the first `n` segments.
    fn normalized_prefix(&self, n: usize) -> String {
        let mut out = match &self.root {
            PathRoot::Input => "$".to_owned(),
            PathRoot::Context => "$$".to_owned(),
            PathRoot::Variable(name) => format!("${name}"),
        };
        for segment in self.segments.iter().take(n) {
            let selectors = match segment {
                Segment::Child(s) => s,
                Segment::Descendant(s) => {
                    out.push_str("..");
                    s
                }
            };
            out.push('[');
            for (i, sel) in selectors.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match sel {
                    Selector::Name(n) => {
                        out.push('\'');
                        for c in n.chars() {
                            if c == '\'' || c == '\\' {
                                out.push('\\');
                            }
                            out.push(c);
                        }
                        out.push('\'');
                    }
                    other => push_selector(&mut out, other),
                }
            }
            out.push(']');
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

impl std::str::FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Path::parse(s)
    }
}

/// Resolves a possibly negative index against an array length.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        let i = usize::try_from(index).ok()?;
        (i < len).then_some(i)
    } else {
        let back = usize::try_from(index.unsigned_abs()).ok()?;
        len.checked_sub(back)
    }
}

fn walk<'v>(mut value: &'v Value, steps: &[PathStep]) -> Option<&'v Value> {
    for step in steps {
        value = match (step, value) {
            (PathStep::Field(name), Value::Object(map)) => map.get(name)?,
            (PathStep::Index(i), Value::Array(items)) => &items[resolve_index(*i, items.len())?],
            _ => return None,
        };
    }
    Some(value)
}

fn simple_steps(segments: &[Segment]) -> Option<Vec<PathStep>> {
    segments
        .iter()
        .map(|segment| match segment {
            Segment::Child(selectors) => match selectors.as_slice() {
                [Selector::Name(n)] => Some(PathStep::Field(n.clone())),
                [Selector::Index(i)] => Some(PathStep::Index(*i)),
                _ => None,
            },
            Segment::Descendant(_) => None,
        })
        .collect()
}

fn push_selector(out: &mut String, sel: &Selector) {
    match sel {
        Selector::Name(n) => push_rfc_string(out, n),
        Selector::Index(i) => out.push_str(&i.to_string()),
        Selector::Wildcard => out.push('*'),
        Selector::Slice(start, end, step) => {
            if let Some(s) = start {
                out.push_str(&s.to_string());
            }
            out.push(':');
            if let Some(e) = end {
                out.push_str(&e.to_string());
            }
            if let Some(s) = step {
                out.push(':');
                out.push_str(&s.to_string());
            }
        }
        Selector::Filter(expr) => {
            out.push('?');
            out.push_str(expr);
        }
    }
}

/// Writes `s` as an RFC 9535 single-quoted string literal.
fn push_rfc_string(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn to_rfc9535(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for segment in segments {
        let selectors = match segment {
            Segment::Child(s) => s,
            Segment::Descendant(s) => {
                out.push_str("..");
                s
            }
        };
        out.push('[');
        for (i, sel) in selectors.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_selector(&mut out, sel);
        }
        out.push(']');
    }
    out
}

/// Characters that may not appear in a dot-notation member name.
fn forbidden_in_dot_name(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '(' | ')' | ']' | ',' | '?' | '@' | '*')
}

struct Parser<'s> {
    src: &'s str,
    chars: Vec<char>,
    pos: usize,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Self {
        Parser {
            src,
            chars: src.chars().collect(),
            pos: 0,
        }
    }

    fn err(&self, position: usize, message: impl Into<String>) -> PathError {
        PathError::Syntax {
            path: self.src.to_owned(),
            position,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn parse(mut self) -> Result<(PathRoot, Vec<Segment>), PathError> {
        if self.chars.is_empty() {
            return Err(PathError::Empty);
        }
        if self.peek() != Some('$') {
            return Err(PathError::MissingRoot {
                path: self.src.to_owned(),
            });
        }
        self.pos = 1;
        let root = match self.peek() {
            Some('$') => {
                self.pos += 1;
                PathRoot::Context
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.pos += 1;
                }
                PathRoot::Variable(self.chars[start..self.pos].iter().collect())
            }
            _ => PathRoot::Input,
        };
        let mut segments = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    let selectors = match self.peek() {
                        Some('[') => self.bracket()?,
                        Some('*') => {
                            self.pos += 1;
                            vec![Selector::Wildcard]
                        }
                        _ => vec![Selector::Name(self.dot_name()?)],
                    };
                    segments.push(Segment::Descendant(selectors));
                }
                '.' if self.peek_at(1) == Some('[') => {
                    // `$.[0]`, `$.a.['b']`: a dot before a bracket, as CDK
                    // writes paths and AWS (Jayway) accepts them.
                    self.pos += 1;
                    let selectors = self.bracket()?;
                    segments.push(Segment::Child(selectors));
                }
                '.' => {
                    self.pos += 1;
                    if self.peek() == Some('*') && matches!(self.peek_at(1), None | Some('.' | '['))
                    {
                        self.pos += 1;
                        segments.push(Segment::Child(vec![Selector::Wildcard]));
                    } else {
                        let name = self.dot_name()?;
                        segments.push(Segment::Child(vec![Selector::Name(name)]));
                    }
                }
                '[' => {
                    let selectors = self.bracket()?;
                    segments.push(Segment::Child(selectors));
                }
                c => {
                    return Err(self.err(
                        self.pos,
                        format!("unexpected character '{c}'; expected '.' or '['"),
                    ));
                }
            }
        }
        Ok((root, segments))
    }

    /// A member name after `.`: everything up to the next `.` or `[`.
    fn dot_name(&mut self) -> Result<String, PathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '.' || c == '[' {
                break;
            }
            if c == '(' {
                return Err(self.err(self.pos, "functions such as length() are not supported"));
            }
            if forbidden_in_dot_name(c) {
                return Err(self.err(
                    self.pos,
                    format!(
                        "character '{c}' is not allowed in a member name after '.'; use bracket notation ['...']"
                    ),
                ));
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(start, "expected a member name after '.'"));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    /// `[ selector (, selector)* ]`, positioned on the `[`.
    fn bracket(&mut self) -> Result<Vec<Selector>, PathError> {
        let open = self.pos;
        self.pos += 1;
        let mut selectors = Vec::new();
        loop {
            self.skip_ws();
            selectors.push(self.selector()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(selectors);
                }
                Some(c) => {
                    return Err(self.err(self.pos, format!("expected ',' or ']' but found '{c}'")));
                }
                None => return Err(self.err(open, "unclosed '['")),
            }
        }
    }

    fn selector(&mut self) -> Result<Selector, PathError> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q).map(Selector::Name),
            Some('*') => {
                self.pos += 1;
                Ok(Selector::Wildcard)
            }
            Some('?') => {
                self.pos += 1;
                self.filter()
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.index_or_slice(),
            Some(c) => Err(self.err(
                self.pos,
                format!(
                    "unexpected '{c}' in brackets; expected a quoted name, an index, '*', a slice or a filter '?(...)'"
                ),
            )),
            None => Err(self.err(self.pos, "unexpected end of path inside '['")),
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, PathError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err(open, "unterminated string")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    let at = self.pos;
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err(open, "unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        '\'' | '"' | '\\' | '/' => out.push(e),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => out.push(self.unicode_escape(at)?),
                        other => {
                            return Err(self.err(at, format!("invalid escape '\\{other}'")));
                        }
                    }
                }
                Some(c) => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    fn hex4(&mut self, at: usize) -> Result<u32, PathError> {
        let mut n = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.err(at, "invalid \\u escape; expected 4 hex digits"))?;
            n = n * 16 + d;
            self.pos += 1;
        }
        Ok(n)
    }

    fn unicode_escape(&mut self, at: usize) -> Result<char, PathError> {
        let hi = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.peek() == Some('\\') && self.peek_at(1) == Some('u') {
                self.pos += 2;
                let lo = self.hex4(at)?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return Err(self.err(at, "invalid UTF-16 surrogate pair"));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            } else {
                return Err(self.err(at, "unpaired UTF-16 surrogate"));
            }
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err(at, "invalid unicode escape"))
    }

    fn int(&mut self) -> Result<Option<i64>, PathError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse::<i64>()
            .map(Some)
            .map_err(|_| self.err(start, format!("invalid index '{text}'")))
    }

    fn index_or_slice(&mut self) -> Result<Selector, PathError> {
        let start = self.int()?;
        self.skip_ws();
        if self.peek() != Some(':') {
            return start
                .map(Selector::Index)
                .ok_or_else(|| self.err(self.pos, "expected an index"));
        }
        self.pos += 1;
        self.skip_ws();
        let end = self.int()?;
        self.skip_ws();
        let step = if self.peek() == Some(':') {
            self.pos += 1;
            self.skip_ws();
            self.int()?
        } else {
            None
        };
        if step == Some(0) {
            return Err(self.err(self.pos, "a slice step cannot be 0"));
        }
        Ok(Selector::Slice(start, end, step))
    }

    /// The filter expression after `?`, up to the `,` or `]` that closes it.
    fn filter(&mut self) -> Result<Selector, PathError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                if c == '\\' {
                    self.pos += 1;
                } else if c == q {
                    quote = None;
                }
            } else {
                match c {
                    '\'' | '"' => quote = Some(c),
                    '(' | '[' => depth += 1,
                    ')' | ']' if depth > 0 => depth -= 1,
                    ']' | ',' => break,
                    ')' => return Err(self.err(self.pos, "unbalanced ')' in filter")),
                    _ => {}
                }
            }
            self.pos += 1;
        }
        if quote.is_some() || self.peek().is_none() {
            return Err(self.err(start, "unterminated filter expression"));
        }
        let expr: String = self.chars[start..self.pos].iter().collect();
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(self.err(start, "empty filter expression"));
        }
        Ok(Selector::Filter(expr.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ResultPathKind {
    Discard,
    Replace,
    Path(Path),
}

/// Where a state's result goes in its input: discarded (`"ResultPath": null`),
/// replacing the input (`"$"`), or written at a Reference Path on the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultPath(ResultPathKind);

impl Default for ResultPath {
    fn default() -> Self {
        Self::replace()
    }
}

impl ResultPath {
    /// `"ResultPath": null`: the result is discarded and the input passes through.
    pub fn discard() -> Self {
        ResultPath(ResultPathKind::Discard)
    }

    /// `"ResultPath": "$"` (the default): the result replaces the input.
    pub fn replace() -> Self {
        ResultPath(ResultPathKind::Replace)
    }

    /// Parses a ResultPath string: a Reference Path rooted at `$` (not `$$`,
    /// not a variable).
    pub fn parse(src: &str) -> Result<Self, PathError> {
        let path = Path::parse_reference(src)?;
        if path.root != PathRoot::Input {
            return Err(PathError::NotInputRoot {
                path: src.to_owned(),
            });
        }
        if path.segments.is_empty() {
            Ok(Self::replace())
        } else {
            Ok(ResultPath(ResultPathKind::Path(path)))
        }
    }

    /// True for `"ResultPath": null`.
    pub fn is_discard(&self) -> bool {
        matches!(self.0, ResultPathKind::Discard)
    }

    /// True for `"ResultPath": "$"`.
    pub fn is_replace(&self) -> bool {
        matches!(self.0, ResultPathKind::Replace)
    }

    /// The path written to, when it is neither Discard nor Replace.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            ResultPathKind::Path(p) => Some(p),
            _ => None,
        }
    }

    /// The source text (`"$"` for Replace, `None` for Discard).
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            ResultPathKind::Discard => None,
            ResultPathKind::Replace => Some("$"),
            ResultPathKind::Path(p) => Some(p.as_str()),
        }
    }

    /// [`ResultPath::apply`] on a borrowed input, copied only when the result
    /// is written into it or it is kept (`$` copies nothing).
    pub fn apply_to(&self, input: &Value, result: Value) -> Result<Value, StatesError> {
        match &self.0 {
            ResultPathKind::Replace => Ok(result),
            _ => self.apply(input.clone(), result),
        }
    }

    /// Writes `result` into `input` at the path, creating missing
    /// intermediate objects. Discard returns `input` unchanged; `$` returns
    /// `result`. Fails with `States.ResultPathMatchFailure` when a step goes
    /// through a non-object or an array index out of range.
    pub fn apply(&self, mut input: Value, result: Value) -> Result<Value, StatesError> {
        let path = match &self.0 {
            ResultPathKind::Discard => return Ok(input),
            ResultPathKind::Replace => return Ok(result),
            ResultPathKind::Path(p) => p,
        };
        let steps = path.steps().unwrap_or(&[]);
        let failure = |input: &Value| {
            StatesError::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!(
                    "Unable to apply ResultPath \"{}\" to input \"{}\"",
                    path.as_str(),
                    input
                ),
            )
        };
        if !can_write(&input, steps) {
            return Err(failure(&input));
        }
        match slot(&mut input, steps) {
            Some(place) => *place = result,
            None => return Err(failure(&input)),
        }
        Ok(input)
    }
}

/// Whether [`slot`] will succeed, checked without touching `input`.
fn can_write(input: &Value, steps: &[PathStep]) -> bool {
    // `None` once we are below a member that will be created.
    let mut current = Some(input);
    for step in steps {
        current = match (step, current) {
            (PathStep::Field(_), None) => None,
            (PathStep::Index(_), None) => return false,
            (PathStep::Field(name), Some(Value::Object(map))) => map.get(name),
            (PathStep::Index(i), Some(Value::Array(items))) => {
                match resolve_index(*i, items.len()) {
                    Some(ix) => items.get(ix),
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    true
}

/// The place at `steps`, creating missing members (as empty objects, or null
/// for the last one).
fn slot<'v>(mut value: &'v mut Value, steps: &[PathStep]) -> Option<&'v mut Value> {
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        value = match (step, value) {
            (PathStep::Field(name), Value::Object(map)) => {
                map.entry(name.clone()).or_insert_with(|| {
                    if last {
                        Value::Null
                    } else {
                        Value::Object(Map::new())
                    }
                })
            }
            (PathStep::Index(ix), Value::Array(items)) => {
                let at = resolve_index(*ix, items.len())?;
                items.get_mut(at)?
            }
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, input: &Value) -> Option<Value> {
        let ctx = json!({"Execution": {"Id": "exec-1"}, "Map": {"Item": {"Index": 3}}});
        let mut vars = Map::new();
        vars.insert("order".into(), json!({"id": 7, "lines": [1, 2]}));
        vars.insert("n".into(), json!(5));
        let env = Env::new(&ctx, &vars, 0);
        Path::parse(path).unwrap().select(input, &env)
    }

    #[test]
    fn roots() {
        let input = json!({"a": 1});
        assert_eq!(sel("$", &input), Some(input.clone()));
        assert_eq!(sel("$$.Execution.Id", &input), Some(json!("exec-1")));
        assert_eq!(sel("$$.Map.Item.Index", &input), Some(json!(3)));
        assert_eq!(sel("$order.id", &input), Some(json!(7)));
        assert_eq!(sel("$order.lines[1]", &input), Some(json!(2)));
        assert_eq!(sel("$n", &input), Some(json!(5)));
        assert_eq!(sel("$missing", &input), None);
        assert_eq!(sel("$missing[*]", &input), None);
        assert_eq!(sel("$order.lines[*]", &input), Some(json!([1, 2])));
        let p = Path::parse("$order.id").unwrap();
        assert_eq!(p.root(), &PathRoot::Variable("order".into()));
        assert_eq!(Path::parse("$$").unwrap().root(), &PathRoot::Context);
        assert_eq!(Path::parse("$").unwrap().root(), &PathRoot::Input);
        assert_eq!(
            Path::parse("$_x1").unwrap().root(),
            &PathRoot::Variable("_x1".into())
        );
    }

    #[test]
    fn definite_forms() {
        let input = json!({
            "a": {"b": [10, 20, {"c": "x"}]},
            "a-b": 1,
            "1st": 2,
            "sp ace": 3,
            "q'uote": 4,
            "arn:aws": 5,
            "": 6
        });
        assert_eq!(sel("$.a.b[0]", &input), Some(json!(10)));
        assert_eq!(sel("$.a.b[-1].c", &input), Some(json!("x")));
        assert_eq!(sel("$.a.b[-3]", &input), Some(json!(10)));
        assert_eq!(sel("$.a.b[-4]", &input), None);
        assert_eq!(sel("$.a.b[3]", &input), None);
        assert_eq!(sel("$['a']['b'][2][\"c\"]", &input), Some(json!("x")));
        assert_eq!(sel("$.a-b", &input), Some(json!(1)));
        assert_eq!(sel("$.1st", &input), Some(json!(2)));
        assert_eq!(sel("$[ 'sp ace' ]", &input), Some(json!(3)));
        assert_eq!(sel("$['q\\'uote']", &input), Some(json!(4)));
        assert_eq!(sel("$[\"q'uote\"]", &input), Some(json!(4)));
        assert_eq!(sel("$.arn:aws", &input), Some(json!(5)));
        assert_eq!(sel("$['']", &input), Some(json!(6)));
        assert_eq!(sel("$.nope", &input), None);
        // A dot before a bracket, as CDK writes paths (AWS accepts them).
        assert_eq!(sel("$.['a-b']", &input), Some(json!(1)));
        assert_eq!(sel("$.['q\\'uote']", &input), Some(json!(4)));
        assert_eq!(sel("$.[\"sp\\u0020ace\"]", &input), Some(json!(3)));
        assert!(Path::parse("$.['a'].[0]").unwrap().is_definite());
        assert_eq!(sel("$.a.b.c", &input), None);
        assert_eq!(sel("$.a[0]", &input), None);
        for p in ["$", "$.a", "$.a.b[0]", "$['x'][1]", "$$.Execution", "$v.a"] {
            assert!(Path::parse(p).unwrap().is_definite(), "{p}");
        }
    }

    #[test]
    fn indefinite_forms() {
        let input = json!({
            "items": [
                {"price": 5, "name": "a"},
                {"price": 15, "name": "b"},
                {"price": 8, "name": "c", "tags": ["x"]}
            ],
            "o": {"k1": 1, "k2": 2}
        });
        assert_eq!(sel("$.items[*].name", &input), Some(json!(["a", "b", "c"])));
        assert_eq!(sel("$.items.*.price", &input), Some(json!([5, 15, 8])));
        assert_eq!(sel("$.o.*", &input), Some(json!([1, 2])));
        assert_eq!(
            sel("$.items[?(@.price < 10)].name", &input),
            Some(json!(["a", "c"]))
        );
        assert_eq!(
            sel("$.items[?(@.name == 'b')].price", &input),
            Some(json!([15]))
        );
        assert_eq!(sel("$.items[?(@.tags)].name", &input), Some(json!(["c"])));
        assert_eq!(sel("$.items[0:2].name", &input), Some(json!(["a", "b"])));
        assert_eq!(sel("$.items[-1:].name", &input), Some(json!(["c"])));
        assert_eq!(sel("$.items[::2].name", &input), Some(json!(["a", "c"])));
        assert_eq!(sel("$.items[0,2].name", &input), Some(json!(["a", "c"])));
        // A union of names is Jayway's (AWS's): one object per parent.
        assert_eq!(
            sel("$.o['k2','k1']", &input),
            Some(json!({"k2": 2, "k1": 1}))
        );
        assert_eq!(sel("$.o['k2','nope']", &input), Some(json!({"k2": 2})));
        assert_eq!(sel("$.nope['a','b']", &input), None);
        assert_eq!(
            sel("$.items[*]['name','price']", &input),
            Some(
                json!([{"name": "a", "price": 5}, {"name": "b", "price": 15}, {"name": "c", "price": 8}])
            )
        );
        // A dot before a bracket, as CDK writes paths.
        assert_eq!(
            sel("$.items.[*].['name','tags']", &input),
            Some(json!([{"name": "a"}, {"name": "b"}, {"name": "c", "tags": ["x"]}]))
        );
        assert_eq!(
            sel("$.items.[?(@.price > 10)].name", &input),
            Some(json!(["b"]))
        );
        assert_eq!(sel("$.items.[0:1].name", &input), Some(json!(["a"])));
        assert_eq!(sel("$..price", &input), Some(json!([5, 15, 8])));
        assert_eq!(sel("$..['k1']", &input), Some(json!([1])));
        assert_eq!(sel("$.items[?(@.price > 100)]", &input), Some(json!([])));
        assert_eq!(sel("$.nothing[*]", &input), Some(json!([])));
        assert_eq!(
            sel("$$..Index", &input),
            Some(json!([3])),
            "descendant on context"
        );
        for p in [
            "$.a[*]",
            "$..a",
            "$.a[0,1]",
            "$.a[1:]",
            "$.a[?(@.b)]",
            "$.*",
        ] {
            let path = Path::parse(p).unwrap();
            assert!(!path.is_definite(), "{p}");
            assert!(path.steps().is_none());
            assert!(matches!(
                Path::parse_reference(p),
                Err(PathError::NotReference { .. })
            ));
        }
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(Path::parse(""), Err(PathError::Empty));
        assert!(matches!(
            Path::parse("a.b"),
            Err(PathError::MissingRoot { .. })
        ));
        for bad in [
            "$.",
            "$.a.",
            "$..",
            "$[",
            "$['a'",
            "$['a]",
            "$[a]",
            "$.a b",
            "$ .a",
            "$.a[0",
            "$.a[0]x",
            "$.a[1:2:0]",
            "$.a.length()",
            "$.a[?(@.b]",
            "$.a[?()]",
            "$.a[99999999999999999999]",
            "$1",
            "$.a*",
            "$['\\x']",
            "$-",
        ] {
            let err = Path::parse(bad);
            assert!(err.is_err(), "{bad} should fail, got {err:?}");
        }
        let msg = Path::parse("$.a b").unwrap_err().to_string();
        assert!(msg.contains("' '"), "{msg}");
        assert!(
            Path::parse("$.a[?(@.b === 1)]")
                .unwrap_err()
                .to_string()
                .contains("invalid path")
        );
    }

    #[test]
    fn a_missing_property_is_worded_as_jayway_words_it() {
        let vars = crate::Variables::new();
        let ctx = serde_json::json!({});
        let env = Env::new(&ctx, &vars, 0);
        let input = serde_json::json!({"a": {"b": 1}, "l": [1]});
        let reason = |p: &str| Path::parse(p).unwrap().missing_reason(&input, &env);
        assert_eq!(reason("$.no.such.path"), "Missing property in path $['no']");
        assert_eq!(reason("$.a.x.y"), "Missing property in path $['a']['x']");
        assert_eq!(reason("$.a.x"), "No results for path: $['a']['x']");
        assert_eq!(reason("$.missing"), "No results for path: $['missing']");
        assert_eq!(reason("$.l[5].x"), "No results for path: $['l'][5]['x']");
    }

    #[test]
    fn normalized_and_str() {
        let p = Path::parse("$.a.b[0]").unwrap();
        assert_eq!(p.normalized(), "$['a']['b'][0]");
        assert_eq!(p.as_str(), "$.a.b[0]");
        assert_eq!(p.to_string(), "$.a.b[0]");
        assert_eq!(Path::parse("$").unwrap().normalized(), "$");
        assert_eq!(
            Path::parse("$$.Execution.Id").unwrap().normalized(),
            "$$['Execution']['Id']"
        );
        assert_eq!(Path::parse("$v[1]").unwrap().normalized(), "$v[1]");
        assert_eq!(
            Path::parse("$..a[*][1:2]").unwrap().normalized(),
            "$..['a'][*][1:2]"
        );
        assert_eq!(
            Path::parse("$[\"it's\"]").unwrap().normalized(),
            "$['it\\'s']"
        );
        assert_eq!(
            Path::parse("$.a.b[-1]").unwrap().steps().unwrap(),
            &[
                PathStep::Field("a".into()),
                PathStep::Field("b".into()),
                PathStep::Index(-1)
            ]
        );
        assert_eq!(Path::parse("$.a").unwrap(), Path::parse("$.a").unwrap());
    }

    #[test]
    fn select_cow_borrows_definite() {
        let input = json!({"a": {"b": 1}});
        let ctx = json!({});
        let vars = Map::new();
        let env = Env::new(&ctx, &vars, 0);
        let p = Path::parse("$.a").unwrap();
        assert!(matches!(p.select_cow(&input, &env), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn result_path_apply_to_matches_apply() {
        let input = json!({"a": {"b": 1}, "keep": true});
        for rp in [
            ResultPath::parse("$").unwrap(),
            ResultPath::discard(),
            ResultPath::parse("$.a.c").unwrap(),
            ResultPath::parse("$.keep.x").unwrap(),
        ] {
            assert_eq!(
                rp.apply_to(&input, json!(7)),
                rp.apply(input.clone(), json!(7))
            );
        }
    }

    #[test]
    fn result_path_parse() {
        assert!(ResultPath::parse("$").unwrap().is_replace());
        assert!(ResultPath::discard().is_discard());
        assert_eq!(ResultPath::default(), ResultPath::replace());
        assert_eq!(ResultPath::parse("$.a").unwrap().as_str(), Some("$.a"));
        assert!(matches!(
            ResultPath::parse("$$.a"),
            Err(PathError::NotInputRoot { .. })
        ));
        assert!(matches!(
            ResultPath::parse("$x.a"),
            Err(PathError::NotInputRoot { .. })
        ));
        assert!(matches!(
            ResultPath::parse("$.a[*]"),
            Err(PathError::NotReference { .. })
        ));
        assert!(ResultPath::parse("a").is_err());
    }

    #[test]
    fn result_path_apply() {
        let input = json!({"a": 1, "b": {"c": 2}, "arr": [1, 2]});
        let r = json!({"r": true});
        assert_eq!(
            ResultPath::discard()
                .apply(input.clone(), r.clone())
                .unwrap(),
            input
        );
        assert_eq!(
            ResultPath::replace()
                .apply(input.clone(), r.clone())
                .unwrap(),
            r
        );
        let out = ResultPath::parse("$.res")
            .unwrap()
            .apply(input.clone(), r.clone())
            .unwrap();
        assert_eq!(
            out,
            json!({"a": 1, "b": {"c": 2}, "arr": [1, 2], "res": {"r": true}})
        );
        // replacing an existing key keeps its position
        let out = ResultPath::parse("$.a")
            .unwrap()
            .apply(input.clone(), json!(9))
            .unwrap();
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"a":9,"b":{"c":2},"arr":[1,2]}"#
        );
        // creating intermediates
        let out = ResultPath::parse("$.x.y.z")
            .unwrap()
            .apply(input.clone(), json!(1))
            .unwrap();
        assert_eq!(out["x"], json!({"y": {"z": 1}}));
        let out = ResultPath::parse("$.b.d")
            .unwrap()
            .apply(input.clone(), json!(3))
            .unwrap();
        assert_eq!(out["b"], json!({"c": 2, "d": 3}));
        // array indexes
        let out = ResultPath::parse("$.arr[1]")
            .unwrap()
            .apply(input.clone(), json!("two"))
            .unwrap();
        assert_eq!(out["arr"], json!([1, "two"]));
        let out = ResultPath::parse("$.arr[-2]")
            .unwrap()
            .apply(input.clone(), json!("one"))
            .unwrap();
        assert_eq!(out["arr"], json!(["one", 2]));
    }

    #[test]
    fn result_path_failures() {
        let input = json!({"a": "str", "arr": [1]});
        for p in [
            "$.a.b",
            "$.arr[1]",
            "$.arr[-2]",
            "$.arr.x",
            "$.a[0]",
            "$.new[0]",
            "$.new.x[0]",
        ] {
            let err = ResultPath::parse(p)
                .unwrap()
                .apply(input.clone(), json!(1))
                .unwrap_err();
            assert_eq!(err.error, names::RESULT_PATH_MATCH_FAILURE, "{p}");
            assert_eq!(
                err.cause,
                format!(
                    "Unable to apply ResultPath \"{p}\" to input \"{{\"a\":\"str\",\"arr\":[1]}}\""
                )
            );
        }
        let err = ResultPath::parse("$.a")
            .unwrap()
            .apply(json!("text"), json!(1))
            .unwrap_err();
        assert_eq!(
            err.cause,
            "Unable to apply ResultPath \"$.a\" to input \"\"text\"\""
        );
        assert!(
            ResultPath::parse("$[0]")
                .unwrap()
                .apply(json!({}), json!(1))
                .is_err()
        );
        assert_eq!(
            ResultPath::parse("$[0]")
                .unwrap()
                .apply(json!([0, 1]), json!(9))
                .unwrap(),
            json!([9, 1])
        );
    }
}
