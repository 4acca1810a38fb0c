//! A store's arguments: the `name: value` pairs of its argument list, each value split at
//! `||` into alternatives (`ENV["X"]`, a string literal with its interpolations, or something
//! else, kept as written; a `raise` gives none), read from the original text at the offsets
//! of the masked one.

use std::sync::LazyLock;

use regex::Regex;

use super::lexer::Lexed;
use super::{Alt, Part, ReadError};

/// `ENV["X"]`, `ENV["X"]?` (`.presence` after it: an empty value counts as unset, as it does
/// for this reader anyway) or `ENV.fetch("X")`.
static ENV_REF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^ENV\s*(?:\[\s*"([^"\\]+)"\s*\]\??(?:\s*\.\s*presence)?|\.fetch\(\s*"([^"\\]+)"\s*\))$"#,
    )
    .expect("a valid regex")
});
/// `raise "..."` or `raise(...)`: an alternative that never gives a value.
static RAISE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^raise\b").expect("a valid regex"));
static ENV_FETCH_DEFAULT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^ENV\.fetch\(\s*"([^"\\]+)"\s*,\s*(.+)\)$"#).expect("a valid regex")
});

/// The byte span of the argument list after `pos` (inside the parentheses), if there is one.
pub fn span(masked: &str, pos: usize, lexed: &Lexed) -> Result<Option<(usize, usize)>, ReadError> {
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
        line: lexed.line_of(open),
    })
}

/// `name: value` pairs at the top level of an argument list.
pub fn parse(orig: &str, masked: &str) -> Vec<(String, Vec<Alt>)> {
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
pub(super) fn alternatives(orig: &str, masked: &str) -> Vec<Alt> {
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
    // Nothing but a `raise`: no value can be had, and the message quotes it.
    if alts.is_empty() {
        alts.push(Alt::Other(orig.trim().to_string()));
    }
    alts
}

fn classify(orig: &str, masked: &str) -> Vec<Alt> {
    // `ENV["X"]? || raise("...")` has the variable's value or none at all: the app stops
    // there, so the alternatives end before it (and an unset variable is an error).
    if RAISE_RE.is_match(masked) {
        return Vec::new();
    }
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
    if !is_one_literal {
        return None;
    }
    literal_parts(&orig[1..orig.len() - 1])
}

/// The parts of a string literal's body: text (escapes decoded as Crystal decodes them) and
/// interpolations; `None` when an escape is not one Crystal accepts (the literal is then
/// not evaluated, and the caller says so).
fn literal_parts(body: &str) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    // The text since the last interpolation, escapes still written out.
    let mut raw = String::new();
    let flush = |raw: &mut String, parts: &mut Vec<Part>| -> Option<()> {
        if !raw.is_empty() {
            parts.push(Part::Text(crate::crystal::unescape(raw).ok()?));
            raw.clear();
        }
        Some(())
    };
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            // An escaped character, `\#` included, is never the start of an interpolation.
            '\\' => {
                raw.push('\\');
                if let Some((_, next)) = chars.next() {
                    raw.push(next);
                }
            }
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
                flush(&mut raw, &mut parts)?;
                let expr = body[start..end].trim();
                parts.push(match ENV_REF_RE.captures(expr) {
                    Some(c) => match c.get(1).or_else(|| c.get(2)) {
                        Some(name) => Part::Env(name.as_str().to_string()),
                        None => Part::Other(expr.to_string()),
                    },
                    None => Part::Other(expr.to_string()),
                });
            }
            c => raw.push(c),
        }
    }
    flush(&mut raw, &mut parts)?;
    Some(parts)
}
