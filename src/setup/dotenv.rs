//! The session secret in `.env`, and `.env` in `.gitignore`.
//!
//! `.env` is edited by appending (or filling an empty `SESSION_SECRET=` in place); every other
//! byte stays as it was, and the result must read back (see `plan`). The secret itself never leaves this module except in the file's
//! contents, so it cannot reach the output.

use std::collections::HashMap;
use std::path::Path;

use rand::TryRng;

use crate::conventions::DEFAULT_REDIS_URL;
use crate::error::{Error, Result};
use crate::project::{Dotenv, parse_dotenv, split_bom};

/// 32 bytes from the operating system's secure generator, hex-encoded (64 characters).
pub fn generate_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

const SECRET: &str = "SESSION_SECRET";
const REDIS_URL: &str = "REDIS_URL";

/// The new `.env` text, or `None` when it already has all it needs. `secret` is called only
/// when a secret is missing.
///
/// What the file holds is decided by the parser that read it (`project::Dotenv`, dotenvy): an empty `SESSION_SECRET=` (even `SESSION_SECRET= # TODO`) is missing and is
/// filled in place, keeping its `export`, quotes, comment and line ending; a line that only
/// looks like one (inside another variable's quoted value) is never touched. The result is
/// parsed again and must read back the new values with every other variable unchanged, or
/// the edit is refused.
pub fn plan(
    dotenv: &Dotenv,
    want_redis_url: bool,
    secret: impl FnOnce() -> Result<String>,
) -> Result<Option<String>> {
    let path = dotenv.path.as_path();
    let (bom, text) = split_bom(dotenv.text.as_deref().unwrap_or(""));
    let before = &dotenv.vars;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let refuse = |key, reason| Error::DotenvEdit {
        path: path.to_path_buf(),
        key,
        reason,
    };

    let mut out = text.to_string();
    let mut want: Vec<(&str, String)> = Vec::new();
    if before.get(SECRET).is_none_or(|v| v.is_empty()) {
        let secret = secret()?;
        out = set_secret(path, &out, before, &secret, eol)
            .ok_or_else(|| refuse(SECRET, "no edit of it reads back as the new secret"))?;
        want.push((SECRET, secret));
    }
    if want_redis_url && !before.contains_key(REDIS_URL) {
        push_line(&mut out, &format!("{REDIS_URL}={DEFAULT_REDIS_URL}"), eol);
        want.push((REDIS_URL, DEFAULT_REDIS_URL.to_string()));
    }
    if want.is_empty() {
        return Ok(None);
    }
    // The proof: the new text, read as the app reads it, holds the new values and nothing
    // else changed.
    let key = want.first().map_or(SECRET, |(k, _)| *k);
    if !reads_back(path, &out, before, &want) {
        return Err(refuse(
            key,
            "the edited file would not read back as intended",
        ));
    }
    Ok(Some(format!("{bom}{out}")))
}

/// Whether `text` parses to `before` with `want` set (and nothing else changed).
fn reads_back(
    path: &Path,
    text: &str,
    before: &HashMap<String, String>,
    want: &[(&str, String)],
) -> bool {
    let Ok(after) = parse_dotenv(path, text) else {
        return false;
    };
    let mut expected = before.clone();
    for (k, v) in want {
        expected.insert((*k).to_string(), v.clone());
    }
    after == expected
}

/// `text` with `secret` set: an empty `SESSION_SECRET` line filled in place (the last one
/// that dotenvy reads as the variable), else a new line at the end. `None` when neither
/// reads back.
fn set_secret(
    path: &Path,
    text: &str,
    before: &HashMap<String, String>,
    secret: &str,
    eol: &str,
) -> Option<String> {
    let want = [(SECRET, secret.to_string())];
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate().rev() {
        let Some(filled) = fill_line(line, secret) else {
            continue;
        };
        let mut out = String::with_capacity(text.len() + secret.len());
        for (j, l) in lines.iter().enumerate() {
            out.push_str(if i == j { &filled } else { l });
        }
        if reads_back(path, &out, before, &want) {
            return Some(out);
        }
    }
    let mut out = text.to_string();
    push_line(&mut out, &format!("{SECRET}={secret}"), eol);
    reads_back(path, &out, before, &want).then_some(out)
}

/// `line` (with its line ending) with `secret` as its value, if it is a `SESSION_SECRET=`
/// line with no value: `[export ]SESSION_SECRET=`, `=""` or `=''`, perhaps with a comment.
fn fill_line(line: &str, secret: &str) -> Option<String> {
    let body = line.trim_end_matches('\n').trim_end_matches('\r');
    let ending = &line[body.len()..];
    let (head, value) = split_assignment(body)?;
    let spaced = value.trim_start_matches([' ', '\t']);
    let space = &value[..value.len() - spaced.len()];
    let new_value = if let Some(rest) = spaced
        .strip_prefix("\"\"")
        .or_else(|| spaced.strip_prefix("''"))
    {
        let q = &spaced[..1];
        format!("{space}{q}{secret}{q}{rest}")
    } else if spaced.is_empty() || spaced.starts_with('#') {
        format!("{secret}{value}")
    } else {
        return None;
    };
    Some(format!("{head}{new_value}{ending}"))
}

/// The new `.env` text with `secret` as `SESSION_SECRET` in place of whatever it was: the
/// last line dotenvy reads as the variable gets the new value, keeping its `export`, quotes,
/// comment and line ending; with no such line (or one no edit reads back from, such as a
/// value over several lines) a line is added at the end. Every other variable reads back
/// unchanged, or the edit is refused.
pub(crate) fn rotate(path: &Path, existing: Option<&str>, secret: &str) -> Result<String> {
    let (bom, text) = split_bom(existing.unwrap_or(""));
    let before = parse_dotenv(path, text)?;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let want = [(SECRET, secret.to_string())];
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let replaced = lines.iter().enumerate().rev().find_map(|(i, line)| {
        let new_line = fill_line(line, secret).or_else(|| replace_line(line, secret))?;
        let mut out = String::with_capacity(text.len() + secret.len());
        for (j, l) in lines.iter().enumerate() {
            out.push_str(if i == j { &new_line } else { l });
        }
        reads_back(path, &out, &before, &want).then_some(out)
    });
    let out = match replaced {
        Some(out) => out,
        None => {
            let mut out = text.to_string();
            push_line(&mut out, &format!("{SECRET}={secret}"), eol);
            out
        }
    };
    if !reads_back(path, &out, &before, &want) {
        return Err(Error::DotenvEdit {
            path: path.to_path_buf(),
            key: SECRET,
            reason: "the edited file would not read back as intended",
        });
    }
    Ok(format!("{bom}{out}"))
}

/// `line` (with its line ending) with `secret` in place of its value, if it is a
/// `[export ]SESSION_SECRET=value` line whose value ends on it: unquoted (up to a ` #`
/// comment), or in single or double quotes.
fn replace_line(line: &str, secret: &str) -> Option<String> {
    let body = line.trim_end_matches('\n').trim_end_matches('\r');
    let ending = &line[body.len()..];
    let (head, value) = split_assignment(body)?;
    let spaced = value.trim_start_matches([' ', '\t']);
    let space = &value[..value.len() - spaced.len()];
    let (quote, rest) = match spaced.chars().next()? {
        q @ ('"' | '\'') => {
            let inner = &spaced[1..];
            let mut escaped = false;
            let close = inner.char_indices().find_map(|(i, c)| {
                let found = c == q && !(q == '"' && escaped);
                escaped = q == '"' && c == '\\' && !escaped;
                found.then_some(i)
            })?;
            (&spaced[..1], &inner[close + 1..])
        }
        _ => {
            let end = spaced
                .find(" #")
                .or_else(|| spaced.find("\t#"))
                .unwrap_or(spaced.len());
            let kept = spaced[..end].trim_end_matches([' ', '\t']);
            ("", &spaced[kept.len()..])
        }
    };
    Some(format!("{head}{space}{quote}{secret}{quote}{rest}{ending}"))
}

/// A `[export ]SESSION_SECRET=value` line split after its `=`.
fn split_assignment(body: &str) -> Option<(&str, &str)> {
    let trimmed = body.trim_start_matches([' ', '\t']);
    let after_export = match trimmed.strip_prefix("export") {
        Some(r) if r.starts_with([' ', '\t']) => r.trim_start_matches([' ', '\t']),
        _ => trimmed,
    };
    let value = after_export
        .strip_prefix(SECRET)?
        .trim_start_matches([' ', '\t'])
        .strip_prefix('=')?;
    Some((&body[..body.len() - value.len()], value))
}

/// `.gitignore` text with a `.env` line at its end, where it wins over any earlier `!.env`.
pub fn with_env_line(existing: Option<&str>) -> String {
    let text = existing.unwrap_or("");
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = text.to_string();
    push_line(&mut out, ".env", eol);
    out
}

fn push_line(out: &mut String, line: &str, eol: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(line);
    out.push_str(eol);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> Result<String> {
        Ok("ab".repeat(32))
    }

    /// `plan` for a `.env` holding `text`.
    fn plan_for(
        text: &str,
        want_redis_url: bool,
        secret: impl FnOnce() -> Result<String>,
    ) -> Result<Option<String>> {
        let dotenv = Dotenv::parse(".env".into(), Some(text.to_string())).expect("the test input");
        plan(&dotenv, want_redis_url, secret)
    }

    #[test]
    fn secret_is_64_hex_chars_and_random() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn appends_secret_and_redis_url_keeping_lines() {
        let out = plan_for("# mine\nFOO=1", true, fixed).unwrap().unwrap();
        assert_eq!(
            out,
            format!(
                "# mine\nFOO=1\nSESSION_SECRET={}\nREDIS_URL=redis://localhost:6379\n",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn keeps_what_is_there() {
        let text = "export SESSION_SECRET=\"x\"\nREDIS_URL=redis://r:6379\n";
        assert_eq!(
            plan_for(text, true, || panic!("no secret needed")).unwrap(),
            None
        );
    }

    #[test]
    fn fills_an_empty_secret_in_place() {
        let out = plan_for("A=1\nSESSION_SECRET=\nB=2\n", false, fixed)
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            format!("A=1\nSESSION_SECRET={}\nB=2\n", "ab".repeat(32))
        );
    }

    fn filled(text: &str) -> String {
        plan_for(text, false, fixed).unwrap().unwrap()
    }

    #[test]
    fn an_empty_secret_with_a_comment_is_missing_and_filled_in_place() {
        let s = "ab".repeat(32);
        assert_eq!(
            filled("SESSION_SECRET= # TODO\n"),
            format!("SESSION_SECRET={s} # TODO\n")
        );
        assert_eq!(
            filled("export SESSION_SECRET=\r\nA=1\r\n"),
            format!("export SESSION_SECRET={s}\r\nA=1\r\n")
        );
        assert_eq!(
            filled("  SESSION_SECRET=\"\" # later\n"),
            format!("  SESSION_SECRET=\"{s}\" # later\n")
        );
        assert_eq!(
            filled("export SESSION_SECRET=''"),
            format!("export SESSION_SECRET='{s}'")
        );
    }

    #[test]
    fn a_secret_line_inside_a_quoted_value_is_not_touched() {
        let text = "CERT=\"-----BEGIN-----\nSESSION_SECRET=\n-----END-----\"\nA=1\n";
        let out = filled(text);
        assert_eq!(out, format!("{text}SESSION_SECRET={}\n", "ab".repeat(32)));
        let vars = parse_dotenv(Path::new(".env"), &out).unwrap();
        assert!(vars["CERT"].contains("SESSION_SECRET=\n"));
    }

    #[test]
    fn the_last_definition_is_the_one_filled() {
        let s = "ab".repeat(32);
        assert_eq!(
            filled("SESSION_SECRET=old\nSESSION_SECRET=\n"),
            format!("SESSION_SECRET=old\nSESSION_SECRET={s}\n")
        );
        assert_eq!(
            plan_for("SESSION_SECRET=\nSESSION_SECRET=x\n", false, || {
                panic!("no secret needed")
            })
            .unwrap(),
            None
        );
    }

    #[test]
    fn a_byte_order_mark_stays_first() {
        let out = filled("\u{feff}A=1\n");
        assert_eq!(
            out,
            format!("\u{feff}A=1\nSESSION_SECRET={}\n", "ab".repeat(32))
        );
    }

    #[test]
    fn an_edit_that_does_not_read_back_is_refused() {
        // A secret that dotenvy would read differently (a `#` after a space starts a
        // comment) cannot be proved, so nothing is written.
        let err = plan_for("A=1\n", false, || Ok("ab #cd".to_string())).unwrap_err();
        assert!(matches!(err, Error::DotenvEdit { .. }), "{err}");
    }

    fn rotated(text: &str) -> String {
        rotate(Path::new(".env"), Some(text), &"cd".repeat(32)).unwrap()
    }

    #[test]
    fn rotation_replaces_the_value_keeping_the_rest_of_the_line() {
        let s = "cd".repeat(32);
        assert_eq!(
            rotated("A=1\nSESSION_SECRET=old\nB=2\n"),
            format!("A=1\nSESSION_SECRET={s}\nB=2\n")
        );
        assert_eq!(
            rotated("export SESSION_SECRET=\"o\\\"ld\" # why\r\nA=1\r\n"),
            format!("export SESSION_SECRET=\"{s}\" # why\r\nA=1\r\n")
        );
        assert_eq!(
            rotated("  SESSION_SECRET = 'old'"),
            format!("  SESSION_SECRET = '{s}'")
        );
        assert_eq!(
            rotated("SESSION_SECRET=old # note\n"),
            format!("SESSION_SECRET={s} # note\n")
        );
        assert_eq!(
            rotated("SESSION_SECRET=\n"),
            format!("SESSION_SECRET={s}\n")
        );
        assert_eq!(
            rotated("\u{feff}SESSION_SECRET=a\nSESSION_SECRET=b\n"),
            format!("\u{feff}SESSION_SECRET=a\nSESSION_SECRET={s}\n")
        );
    }

    /// A double-quoted value closes at the first quote not escaped by a backslash.
    #[test]
    fn rotation_finds_the_closing_quote() {
        let s = "cd".repeat(32);
        for (old, rest) in [("\"old\"", ""), ("\"a\" # x", " # x"), ("\"x\\\\\"", "")] {
            assert_eq!(
                rotated(&format!("SESSION_SECRET={old}\n")),
                format!("SESSION_SECRET=\"{s}\"{rest}\n"),
                "{old}"
            );
        }
    }

    /// `export` is a word of its own: `exportSESSION_SECRET` is another variable.
    #[test]
    fn export_is_followed_by_a_space() {
        assert_eq!(
            split_assignment("export\tSESSION_SECRET=x"),
            Some(("export\tSESSION_SECRET=", "x"))
        );
        assert_eq!(split_assignment("exportSESSION_SECRET=x"), None);
    }

    #[test]
    fn rotation_appends_when_no_line_can_be_replaced() {
        let s = "cd".repeat(32);
        assert_eq!(rotated("A=1"), format!("A=1\nSESSION_SECRET={s}\n"));
        assert_eq!(
            rotate(Path::new(".env"), None, &s).unwrap(),
            format!("SESSION_SECRET={s}\n")
        );
        // A value over two lines: no one-line edit reads back, so the new line wins.
        let text = "SESSION_SECRET=\"a\nb\"\r\n";
        assert_eq!(rotated(text), format!("{text}SESSION_SECRET={s}\r\n"));
        // A line that only looks like one, inside another value, is left alone.
        let text = "CERT=\"x\nSESSION_SECRET=old\n\"\n";
        assert_eq!(rotated(text), format!("{text}SESSION_SECRET={s}\n"));
    }

    #[test]
    fn gitignore() {
        assert_eq!(with_env_line(None), ".env\n");
        assert_eq!(with_env_line(Some("/lib\n/bin")), "/lib\n/bin\n.env\n");
        assert_eq!(with_env_line(Some("!.env\r\n")), "!.env\r\n.env\r\n");
    }
}
