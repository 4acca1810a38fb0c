//! The session secret in `.env`, and `.env` in `.gitignore`.
//!
//! `.env` is edited by appending (or filling an empty `SESSION_SECRET=` in place); every other
//! line stays as it was. The secret itself never leaves this module except in the file's
//! contents, so it cannot reach the output.

use rand::TryRng;

use crate::error::{Error, Result};

/// 32 bytes from the operating system's secure generator, hex-encoded (64 characters).
pub fn generate_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// The keys and values of a `.env` text, read leniently (`KEY=value`, `export KEY=value`,
/// quotes stripped): enough to tell what is set without refusing a file the app accepts.
pub fn entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let line = line.trim_start();
        if line.starts_with('#') {
            return None;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        Some((key.trim(), value))
    })
}

pub fn lookup<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    entries(text)
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .last()
}

/// The new `.env` text, or `None` when it already has all it needs. `secret` is called only
/// when a secret is missing.
pub fn plan(
    existing: Option<&str>,
    want_redis_url: bool,
    secret: impl FnOnce() -> Result<String>,
) -> Result<Option<String>> {
    let text = existing.unwrap_or("");
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len() + 128);
    let mut changed = false;

    match lookup(text, "SESSION_SECRET") {
        Some(v) if !v.is_empty() => out.push_str(text),
        Some(_) => {
            // `SESSION_SECRET=` with no value: fill it in place rather than add a second one.
            let secret = secret()?;
            for line in text.split_inclusive('\n') {
                let is_empty_secret =
                    entries(line).any(|(k, v)| k == "SESSION_SECRET" && v.is_empty());
                if is_empty_secret {
                    out.push_str(&format!("SESSION_SECRET={secret}{eol}"));
                } else {
                    out.push_str(line);
                }
            }
            changed = true;
        }
        None => {
            out.push_str(text);
            push_line(&mut out, &format!("SESSION_SECRET={}", secret()?), eol);
            changed = true;
        }
    }
    if want_redis_url && lookup(text, "REDIS_URL").is_none() {
        push_line(&mut out, "REDIS_URL=redis://localhost:6379", eol);
        changed = true;
    }
    Ok(changed.then_some(out))
}

/// The new `.gitignore` text, or `None` when it already ignores `.env`.
pub fn plan_gitignore(existing: Option<&str>) -> Option<String> {
    let text = existing.unwrap_or("");
    let ignored = text
        .lines()
        .map(str::trim)
        .any(|l| matches!(l, ".env" | "/.env" | ".env*" | "/.env*"));
    if ignored {
        return None;
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = text.to_string();
    push_line(&mut out, ".env", eol);
    Some(out)
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
        let out = plan(Some("# mine\nFOO=1"), true, fixed).unwrap().unwrap();
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
            plan(Some(text), true, || panic!("no secret needed")).unwrap(),
            None
        );
    }

    #[test]
    fn fills_an_empty_secret_in_place() {
        let out = plan(Some("A=1\nSESSION_SECRET=\nB=2\n"), false, fixed)
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            format!("A=1\nSESSION_SECRET={}\nB=2\n", "ab".repeat(32))
        );
    }

    #[test]
    fn gitignore() {
        assert_eq!(plan_gitignore(None).as_deref(), Some(".env\n"));
        assert_eq!(
            plan_gitignore(Some("/lib\n/bin")).as_deref(),
            Some("/lib\n/bin\n.env\n")
        );
        assert_eq!(plan_gitignore(Some("/lib\n.env\n")), None);
        assert_eq!(plan_gitignore(Some("/.env*\n")), None);
    }
}
