//! Reading an existing `src/initializers/session.cr`: which store it configures (for the
//! current `AZU_ENV`), and that store's prefix, table and URL arguments.
//!
//! This is not a Crystal parser. The text is first *masked*: comments become spaces and the
//! contents of string literals become `_`, byte for byte, so structure can be searched in the
//! masked text (a store name inside a string or a comment is never taken for code) while
//! literal values are read from the original at the same offsets. Environment branches
//! (`case ENV["AZU_ENV"]?` / `when`, `if ENV["AZU_ENV"]? == ...`) are followed by the column
//! of their keywords, which is how `crystal tool format` lays them out.

use std::sync::LazyLock;

use regex::Regex;

/// The kinds of store the session shard offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Redis,
    ClusteredRedis,
    Database,
    Memory,
    Cookie,
}

impl StoreKind {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RedisStore" => StoreKind::Redis,
            "ClusteredRedisStore" => StoreKind::ClusteredRedis,
            "DatabaseStore" => StoreKind::Database,
            "MemoryStore" => StoreKind::Memory,
            "CookieStore" => StoreKind::Cookie,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Redis => "RedisStore",
            StoreKind::ClusteredRedis => "ClusteredRedisStore",
            StoreKind::Database => "DatabaseStore",
            StoreKind::Memory => "MemoryStore",
            StoreKind::Cookie => "CookieStore",
        }
    }
}

/// One alternative of an argument's value (`a || b || "c"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alt {
    /// `ENV["NAME"]`, `ENV["NAME"]?`, `ENV.fetch("NAME")`.
    Env(String),
    /// A string literal, as text and interpolated parts.
    Literal(Vec<Part>),
    /// Anything else, as written.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// `#{ENV["NAME"]}` (or `?`, or `ENV.fetch("NAME")`).
    Env(String),
    /// Any other interpolation, as written.
    Other(String),
}

/// A condition on the environment that a store's line lies under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Branch {
    /// True when `AZU_ENV` is one of these.
    EnvIn(Vec<String>),
    /// True when `AZU_ENV` is none of these (an `else`, or `!=`).
    EnvNotIn(Vec<String>),
    /// A condition this reader cannot evaluate, as written.
    Unknown(String),
}

impl Branch {
    fn eval(&self, env: &str) -> Option<bool> {
        match self {
            Branch::EnvIn(v) => Some(v.iter().any(|x| x == env)),
            Branch::EnvNotIn(v) => Some(!v.iter().any(|x| x == env)),
            Branch::Unknown(_) => None,
        }
    }
}

/// A store constructor found in the file.
#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    /// 1-based line of the constructor.
    pub line: usize,
    pub args: Vec<(String, Vec<Alt>)>,
    /// The conditions it lies under, outermost first.
    pub branches: Vec<Branch>,
}

impl Store {
    /// The value of the first of `names` given as an argument.
    pub fn arg(&self, names: &[&str]) -> Option<&[Alt]> {
        self.args
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v.as_slice())
    }
}

/// Why the file could not be read as Crystal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Unterminated { what: &'static str, line: usize },
    Unbalanced { line: usize },
    Binary,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Unterminated { what, line } => {
                write!(f, "the {what} on line {line} is never closed")
            }
            ReadError::Unbalanced { line } => {
                write!(f, "the parenthesis on line {line} is never closed")
            }
            ReadError::Binary => f.write_str("it holds binary data, not Crystal code"),
        }
    }
}

/// What the file says for one `AZU_ENV`.
#[derive(Debug, Clone)]
pub enum Selection<'a> {
    Store(&'a Store),
    /// No store constructor at all.
    NoStore,
    /// Stores exist, but none for this environment.
    NoneForEnv,
    /// A store's condition cannot be evaluated; the condition, as written.
    Undecidable(String),
}

#[derive(Debug, Clone, Default)]
pub struct Initializer {
    pub stores: Vec<Store>,
}

static STORE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\b[A-Z][A-Za-z0-9_]*::)*\b(ClusteredRedisStore|RedisStore|DatabaseStore|MemoryStore|CookieStore)\b(?:\s*\([^()]*\))?\s*\.\s*(?:new|provider)\b",
    )
    .expect("a valid regex")
});
static ENV_REF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^ENV\s*(?:\[\s*"([^"\\]+)"\s*\]\??|\.fetch\(\s*"([^"\\]+)"\s*\))$"#)
        .expect("a valid regex")
});
static ENV_FETCH_DEFAULT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^ENV\.fetch\(\s*"([^"\\]+)"\s*,\s*(.+)\)$"#).expect("a valid regex")
});
static ENV_COMPARE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"AZU_ENV"[^=!]*?(==|!=)\s*"([^"\\]*)""#).expect("a valid regex"));
static STRING_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"\\]*)""#).expect("a valid regex"));

impl Initializer {
    pub fn parse(text: &str) -> Result<Self, ReadError> {
        if text.contains('\0') {
            return Err(ReadError::Binary);
        }
        let masked = mask(text)?;
        let branches_by_line = branches(text, &masked);
        let mut stores = Vec::new();
        for caps in STORE_RE.captures_iter(&masked) {
            let (Some(whole), Some(name)) = (caps.get(0), caps.get(1)) else {
                continue;
            };
            let Some(kind) = StoreKind::from_name(name.as_str()) else {
                continue;
            };
            let line = line_of(&masked, whole.start());
            let args = match args_span(&masked, whole.end())? {
                Some((start, end)) => parse_args(&text[start..end], &masked[start..end]),
                None => Vec::new(),
            };
            stores.push(Store {
                kind,
                line,
                args,
                branches: branches_by_line.get(line - 1).cloned().unwrap_or_default(),
            });
        }
        Ok(Initializer { stores })
    }

    /// The store configured when `AZU_ENV` is `env`: of the stores whose conditions hold, the
    /// last (a later `config.store =` replaces an earlier one).
    pub fn select(&self, env: &str) -> Selection<'_> {
        if self.stores.is_empty() {
            return Selection::NoStore;
        }
        let mut chosen = None;
        let mut unknown = None;
        for store in &self.stores {
            let results: Vec<Option<bool>> = store.branches.iter().map(|b| b.eval(env)).collect();
            if results.contains(&Some(false)) {
                continue;
            }
            if let Some(i) = results.iter().position(Option::is_none) {
                if let Branch::Unknown(cond) = &store.branches[i] {
                    unknown.get_or_insert_with(|| cond.clone());
                }
                continue;
            }
            chosen = Some(store);
        }
        match (chosen, unknown) {
            (_, Some(cond)) => Selection::Undecidable(cond),
            (Some(store), None) => Selection::Store(store),
            (None, None) => Selection::NoneForEnv,
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Comments to spaces and string contents to `_`, keeping every byte offset and newline.
fn mask(text: &str) -> Result<String, ReadError> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
                continue;
            }
            b'"' => {
                let start_line = line;
                i += 1;
                let mut depth = 0usize; // nesting of `#{ ... }` and quotes inside it
                loop {
                    let Some(&b) = bytes.get(i) else {
                        return Err(ReadError::Unterminated {
                            what: "string",
                            line: start_line,
                        });
                    };
                    match b {
                        b'\\' => {
                            out[i] = b'_';
                            if let Some(next) = bytes.get(i + 1) {
                                if *next == b'\n' {
                                    line += 1;
                                } else {
                                    out[i + 1] = b'_';
                                }
                            }
                            i += 2;
                            continue;
                        }
                        b'#' if bytes.get(i + 1) == Some(&b'{') => {
                            depth += 1;
                            out[i] = b'_';
                            out[i + 1] = b'_';
                            i += 2;
                            continue;
                        }
                        b'}' if depth > 0 => depth -= 1,
                        // A quote inside an interpolation opens a nested string: skip it whole.
                        b'"' if depth > 0 => {
                            out[i] = b'_';
                            i += 1;
                            while let Some(&c) = bytes.get(i) {
                                if c == b'"' {
                                    break;
                                }
                                if c == b'\\' {
                                    out[i] = b'_';
                                    i += 1;
                                }
                                if c == b'\n' {
                                    line += 1;
                                } else if i < out.len() {
                                    out[i] = b'_';
                                }
                                i += 1;
                            }
                        }
                        b'"' => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                    if i < out.len() && out[i] != b'\n' {
                        out[i] = b'_';
                    }
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal: 'a', '\n', '\u{41}'. Mask its contents.
                let start = i;
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b'\'' && bytes[j] != b'\n' {
                    if bytes[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                if bytes.get(j) != Some(&b'\'') {
                    return Err(ReadError::Unterminated {
                        what: "character literal",
                        line,
                    });
                }
                for b in &mut out[start + 1..j] {
                    *b = b'_';
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    // Masking replaced whole characters inside strings and comments only with ASCII, and left
    // every other byte alone, so the result is still UTF-8; check rather than assume.
    String::from_utf8(out).map_err(|_| ReadError::Binary)
}

/// The byte span of the argument list after `pos` (inside the parentheses), if there is one.
fn args_span(masked: &str, pos: usize) -> Result<Option<(usize, usize)>, ReadError> {
    let bytes = masked.as_bytes();
    let mut i = pos;
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'(') {
        return Ok(None);
    }
    let open = i;
    let mut depth = 0usize;
    for (j, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some((open + 1, j)));
                }
            }
            _ => {}
        }
    }
    Err(ReadError::Unbalanced {
        line: line_of(masked, open),
    })
}

/// `name: value` pairs at the top level of an argument list.
fn parse_args(orig: &str, masked: &str) -> Vec<(String, Vec<Alt>)> {
    let mut args = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = masked.as_bytes();
    for i in 0..=bytes.len() {
        let b = bytes.get(i).copied();
        match b {
            Some(b'(' | b'[' | b'{') => depth += 1,
            Some(b')' | b']' | b'}') => depth -= 1,
            Some(b',') | None if depth == 0 => {
                if let Some(arg) = named_arg(&orig[start..i], &masked[start..i]) {
                    args.push(arg);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    args
}

fn named_arg(orig: &str, masked: &str) -> Option<(String, Vec<Alt>)> {
    let lead = masked.len() - masked.trim_start().len();
    let m = masked.trim_start();
    let name_len = m
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let rest = &m[name_len..];
    if name_len == 0 || !rest.starts_with(':') || rest.starts_with("::") {
        return None;
    }
    let name = m[..name_len].to_string();
    let value_start = lead + name_len + 1;
    Some((
        name,
        alternatives(&orig[value_start..], &masked[value_start..]),
    ))
}

/// Split a value at top-level `||` and classify each side.
fn alternatives(orig: &str, masked: &str) -> Vec<Alt> {
    let mut alts = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    let bytes = masked.as_bytes();
    let mut i = 0;
    while i <= bytes.len() {
        match bytes.get(i) {
            Some(b'(' | b'[' | b'{') => depth += 1,
            Some(b')' | b']' | b'}') => depth -= 1,
            Some(b'|') if depth == 0 && bytes.get(i + 1) == Some(&b'|') => {
                alts.extend(classify(orig[start..i].trim(), masked[start..i].trim()));
                start = i + 2;
                i += 1;
            }
            None => alts.extend(classify(orig[start..].trim(), masked[start..].trim())),
            _ => {}
        }
        i += 1;
    }
    alts
}

fn classify(orig: &str, masked: &str) -> Vec<Alt> {
    if let Some(parts) = as_literal(orig, masked) {
        return vec![Alt::Literal(parts)];
    }
    if let Some(c) = ENV_REF_RE.captures(orig)
        && let Some(name) = c.get(1).or_else(|| c.get(2))
    {
        return vec![Alt::Env(name.as_str().to_string())];
    }
    // `ENV.fetch("NAME", default)` is `ENV["NAME"]? || default`.
    if let Some(c) = ENV_FETCH_DEFAULT_RE.captures(orig)
        && let (Some(name), Some(default)) = (c.get(1), c.get(2))
    {
        let offset = default.start();
        let default_masked = masked
            .get(offset..masked.len().saturating_sub(1))
            .unwrap_or("");
        let default_orig = &orig[offset..orig.len() - 1];
        let mut alts = vec![Alt::Env(name.as_str().to_string())];
        alts.extend(classify(default_orig.trim(), default_masked.trim()));
        return alts;
    }
    vec![Alt::Other(orig.to_string())]
}

/// The parts of `orig` when it is exactly one string literal.
fn as_literal(orig: &str, masked: &str) -> Option<Vec<Part>> {
    let is_one_literal = masked.len() >= 2
        && orig.len() == masked.len()
        && masked.starts_with('"')
        && masked.ends_with('"')
        && masked[1..masked.len() - 1]
            .bytes()
            .all(|b| b == b'_' || b == b'\n');
    is_one_literal.then(|| literal_parts(&orig[1..orig.len() - 1]))
}

/// The parts of a string literal's body: text (escapes decoded) and interpolations.
fn literal_parts(body: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some('r') => text.push('\r'),
                Some('0') => text.push('\0'),
                Some('e') => text.push('\u{1b}'),
                Some(other) => text.push(other),
                None => {}
            },
            '#' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                let start = i + 2;
                let mut depth = 1;
                let mut end = body.len();
                for (j, c) in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = j;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                let expr = body[start..end].trim();
                parts.push(match ENV_REF_RE.captures(expr) {
                    Some(c) => match c.get(1).or_else(|| c.get(2)) {
                        Some(name) => Part::Env(name.as_str().to_string()),
                        None => Part::Other(expr.to_string()),
                    },
                    None => Part::Other(expr.to_string()),
                });
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

/// The environment conditions each line lies under, from `case`/`when`/`if`/`elsif`/`else`/
/// `end` keywords matched by column.
fn branches(orig: &str, masked: &str) -> Vec<Vec<Branch>> {
    struct Frame {
        column: usize,
        on_env: bool,
        /// The branches before the current one, for what an `else` means.
        prev: Vec<Branch>,
        branch: Option<Branch>,
    }
    let mut frames: Vec<Frame> = Vec::new();
    let mut out = Vec::new();
    for (orig_line, line) in orig.split('\n').zip(masked.split('\n')) {
        let column = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let word = trimmed
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        let rest_orig = orig_line.get(column + word.len()..).unwrap_or("");
        let top_column = frames.last().map(|f| f.column);

        // A `case` or an opening `if`/`unless` anywhere at the start or after `=`.
        let opener = ["case", "if", "unless"].iter().find_map(|kw| {
            if word == *kw {
                return Some((*kw, column));
            }
            let pat = format!("= {kw} ");
            line.find(&pat).map(|p| (*kw, p + 2))
        });
        if let Some((kw, col)) = opener {
            let cond_orig = orig_line.get(col + kw.len()..).unwrap_or("").trim();
            let on_env = cond_orig.contains("AZU_ENV");
            let branch = match kw {
                "case" => None,
                _ => Some(if_branch(cond_orig, kw == "unless")),
            };
            frames.push(Frame {
                column: col,
                on_env,
                prev: Vec::new(),
                branch,
            });
        } else if Some(column) == top_column {
            if let Some(frame) = frames.last_mut() {
                match word {
                    "when" => {
                        let values: Vec<String> = STRING_RE
                            .captures_iter(rest_orig.split(" then ").next().unwrap_or(""))
                            .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                            .collect();
                        let branch = if frame.on_env && !values.is_empty() {
                            Branch::EnvIn(values)
                        } else {
                            Branch::Unknown(trimmed.trim_end().to_string())
                        };
                        frame.prev.extend(frame.branch.replace(branch));
                    }
                    "elsif" => {
                        let branch = if_branch(rest_orig.trim(), false);
                        frame.prev.extend(frame.branch.replace(branch));
                    }
                    "else" => {
                        frame.prev.extend(frame.branch.take());
                        frame.branch = Some(negation(&frame.prev));
                    }
                    "end" => {
                        frames.pop();
                    }
                    _ => {}
                }
            }
        } else if word == "end" {
            // An `end` left of the innermost frame closes it too (odd layout): keep in step.
            while frames.last().is_some_and(|f| f.column > column) {
                frames.pop();
            }
        }
        out.push(frames.iter().filter_map(|f| f.branch.clone()).collect());
    }
    out
}

/// The branch of an `else`: true when none of `prev` is.
fn negation(prev: &[Branch]) -> Branch {
    let mut values = Vec::new();
    for b in prev {
        match b {
            Branch::EnvIn(v) => values.extend(v.iter().cloned()),
            Branch::EnvNotIn(v) if prev.len() == 1 => return Branch::EnvIn(v.clone()),
            Branch::EnvNotIn(_) => return Branch::Unknown("else".to_string()),
            Branch::Unknown(c) => return Branch::Unknown(c.clone()),
        }
    }
    if values.is_empty() {
        Branch::Unknown("else".to_string())
    } else {
        Branch::EnvNotIn(values)
    }
}

fn if_branch(cond: &str, negate: bool) -> Branch {
    match ENV_COMPARE_RE.captures(cond) {
        Some(c) if !cond.contains("&&") && !cond.contains("||") => {
            let value = c.get(2).map(|m| m.as_str().to_string()).unwrap_or_default();
            let eq = c.get(1).map(|m| m.as_str()) == Some("==");
            if eq != negate {
                Branch::EnvIn(vec![value])
            } else {
                Branch::EnvNotIn(vec![value])
            }
        }
        _ => Branch::Unknown(cond.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(text: &str) -> Store {
        let init = Initializer::parse(text).unwrap();
        match init.select("development") {
            Selection::Store(s) => s.clone(),
            other => panic!("expected one store, got {other:?}"),
        }
    }

    fn lit(s: &str) -> Vec<Alt> {
        vec![Alt::Literal(vec![Part::Text(s.to_string())])]
    }

    #[test]
    fn generated_redis_initializer() {
        let text =
            crate::setup::templates::initializer("myapp", crate::backend::Backend::Redis).unwrap();
        let store = only(&text);
        assert_eq!(store.kind, StoreKind::Redis);
        assert_eq!(
            store.arg(&["prefix"]),
            Some(lit("myapp:session:").as_slice())
        );
        assert_eq!(
            store.arg(&["url"]),
            Some(
                [
                    Alt::Env("REDIS_URL".into()),
                    Alt::Literal(vec![Part::Text("redis://localhost:6379".into())])
                ]
                .as_slice()
            )
        );
    }

    #[test]
    fn store_forms() {
        let cases = [
            (
                "config.store = RedisStore.new(prefix: \"a:\")",
                StoreKind::Redis,
            ),
            (
                "config.provider = Session::RedisStore(UserSession).provider(client: Redis.new)",
                StoreKind::Redis,
            ),
            (
                "c.store = Session::ClusteredRedisStore(UserSession).new(key_prefix: \"a:\")",
                StoreKind::ClusteredRedis,
            ),
            (
                "c.store = Session::DatabaseStore(UserSession).new(table_name: \"s\")",
                StoreKind::Database,
            ),
            ("c.store = MemoryStore.new", StoreKind::Memory),
            (
                "c.store = Session::CookieStore(UserSession).new",
                StoreKind::Cookie,
            ),
            (
                "c.store = RedisStore\n  .new(\n    prefix: \"a:\",\n  )",
                StoreKind::Redis,
            ),
        ];
        for (text, kind) in cases {
            assert_eq!(only(text).kind, kind, "{text}");
        }
    }

    #[test]
    fn comments_and_strings_are_not_code() {
        let text = "# config.store = RedisStore.new(prefix: \"x:\")\nputs \"MemoryStore.new is for tests # not a comment\"\nc.store = DatabaseStore.new(table: \"t\") # RedisStore.new\n";
        let init = Initializer::parse(text).unwrap();
        assert_eq!(init.stores.len(), 1);
        assert_eq!(init.stores[0].kind, StoreKind::Database);
        assert_eq!(init.stores[0].line, 3);
        assert_eq!(
            init.stores[0].arg(&["table", "table_name"]),
            Some(lit("t").as_slice())
        );
    }

    #[test]
    fn interpolation_and_escapes() {
        let store = only(
            r##"c.store = RedisStore.new(prefix: "#{ENV["APP_NAME"]}:s\"x\":#{ENV.fetch("K")}#{other}")"##,
        );
        assert_eq!(
            store.arg(&["prefix"]),
            Some(
                [Alt::Literal(vec![
                    Part::Env("APP_NAME".into()),
                    Part::Text(":s\"x\":".into()),
                    Part::Env("K".into()),
                    Part::Other("other".into()),
                ])]
                .as_slice()
            )
        );
    }

    #[test]
    fn env_fetch_with_default() {
        let store =
            only(r#"c.store = RedisStore.new(prefix: ENV.fetch("P", "d:"), url: ENV["U"])"#);
        assert_eq!(
            store.arg(&["prefix"]),
            Some([Alt::Env("P".into()), lit("d:").remove(0)].as_slice())
        );
        assert_eq!(store.arg(&["url"]), Some([Alt::Env("U".into())].as_slice()));
    }

    const PER_ENV: &str = r##"case ENV["AZU_ENV"]?
when "production"
  Session.configure do |config|
    config.store = RedisStore.new(
      url: ENV["REDIS_URL"],
      prefix: "#{ENV["APP_NAME"]}:session:",
      ttl: 1.day
    )
  end
when "development", "test"
  Session.configure do |config|
    config.store = MemoryStore.new(ttl: 1.hour)
  end
else
  Session.configure do |config|
    config.store = DatabaseStore.new(table: "s")
  end
end
"##;

    #[test]
    fn case_branches_follow_azu_env() {
        let init = Initializer::parse(PER_ENV).unwrap();
        let kind = |env| match init.select(env) {
            Selection::Store(s) => s.kind,
            other => panic!("{env}: {other:?}"),
        };
        assert_eq!(kind("production"), StoreKind::Redis);
        assert_eq!(kind("development"), StoreKind::Memory);
        assert_eq!(kind("test"), StoreKind::Memory);
        assert_eq!(kind("staging"), StoreKind::Database);
    }

    #[test]
    fn if_branches_and_no_store_for_env() {
        let text = "if ENV[\"AZU_ENV\"]? == \"production\"\n  c.store = RedisStore.new\nelsif ENV[\"AZU_ENV\"]? == \"staging\"\n  c.store = DatabaseStore.new\nend\n";
        let init = Initializer::parse(text).unwrap();
        assert!(
            matches!(init.select("production"), Selection::Store(s) if s.kind == StoreKind::Redis)
        );
        assert!(
            matches!(init.select("staging"), Selection::Store(s) if s.kind == StoreKind::Database)
        );
        assert!(matches!(init.select("development"), Selection::NoneForEnv));

        let unless = "unless ENV[\"AZU_ENV\"]? == \"production\"\n  c.store = MemoryStore.new\nelse\n  c.store = RedisStore.new\nend\n";
        let init = Initializer::parse(unless).unwrap();
        assert!(
            matches!(init.select("production"), Selection::Store(s) if s.kind == StoreKind::Redis)
        );
        assert!(matches!(init.select("test"), Selection::Store(s) if s.kind == StoreKind::Memory));
    }

    #[test]
    fn undecidable_conditions_are_reported() {
        let text = "if File.exists?(\"x\")\n  c.store = RedisStore.new\nend\n";
        let init = Initializer::parse(text).unwrap();
        assert!(
            matches!(init.select("development"), Selection::Undecidable(c) if c.contains("File.exists?"))
        );
    }

    #[test]
    fn last_assignment_wins() {
        let init =
            Initializer::parse("c.store = MemoryStore.new\nc.store = RedisStore.new\n").unwrap();
        assert!(matches!(init.select("x"), Selection::Store(s) if s.kind == StoreKind::Redis));
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        assert_eq!(
            Initializer::parse("x = \"open\nRedisStore.new").unwrap_err(),
            ReadError::Unterminated {
                what: "string",
                line: 1
            }
        );
        assert_eq!(
            Initializer::parse("c = RedisStore.new(prefix: \"a\"").unwrap_err(),
            ReadError::Unbalanced { line: 1 }
        );
        assert_eq!(Initializer::parse("a\0b").unwrap_err(), ReadError::Binary);
        assert!(Initializer::parse("").unwrap().stores.is_empty());
        assert!(matches!(
            Initializer::parse("").unwrap().select("x"),
            Selection::NoStore
        ));
    }
}
