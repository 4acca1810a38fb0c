//! The generated Crystal files, rendered by askama from `templates/`.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::backend::Backend;
use crate::error::{Error, Result};

#[derive(Template)]
#[template(path = "initializer.cr", escape = "none")]
struct Initializer<'a> {
    app_name: &'a str,
    backend: &'a str,
    prefix_literal: &'a str,
}

#[derive(Template)]
#[template(path = "migration.cr", escape = "none")]
struct Migration {
    version: String,
}

/// The Redis key prefix setup writes for an app: `<app>:session:`.
pub fn default_prefix(app_name: &str) -> String {
    format!("{app_name}:session:")
}

/// `src/initializers/session.cr` for `backend`.
pub fn initializer(app_name: &str, backend: Backend) -> Result<String> {
    let prefix_literal = crystal_string(&default_prefix(app_name));
    let tpl = Initializer {
        // The app name lands in a comment: keep it on one line.
        app_name: &app_name.replace(['\n', '\r'], " "),
        backend: backend.as_str(),
        prefix_literal: &prefix_literal,
    };
    finish("initializer.cr", tpl.render())
}

/// The migration's version and file name for `now` (UTC, `%Y%m%d%H%M%S`).
pub fn migration_version(now: DateTime<Utc>) -> String {
    now.format("%Y%m%d%H%M%S").to_string()
}

pub fn migration(version: &str) -> Result<String> {
    let tpl = Migration {
        version: version.to_string(),
    };
    finish("migration.cr", tpl.render())
}

/// askama drops a template's final newline; put exactly one back.
fn finish(template: &'static str, rendered: askama::Result<String>) -> Result<String> {
    let mut text = rendered.map_err(|e| Error::Template {
        template,
        reason: e.to_string(),
    })?;
    while text.ends_with('\n') {
        text.pop();
    }
    text.push('\n');
    Ok(text)
}

/// A Crystal double-quoted string literal holding exactly `s` (no interpolation).
pub fn crystal_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '#' if chars.peek() == Some(&'{') => out.push_str("\\#"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn redis_initializer() {
        insta::assert_snapshot!(initializer("myapp", Backend::Redis).unwrap());
    }

    #[test]
    fn database_initializer() {
        insta::assert_snapshot!(initializer("myapp", Backend::Database).unwrap());
    }

    #[test]
    fn memory_initializer() {
        insta::assert_snapshot!(initializer("myapp", Backend::Memory).unwrap());
    }

    #[test]
    fn database_migration() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 5, 7).unwrap();
        let version = migration_version(now);
        assert_eq!(version, "20261122090507");
        insta::assert_snapshot!(migration(&version).unwrap());
    }

    #[test]
    fn crystal_string_escapes_interpolation_and_quotes() {
        assert_eq!(crystal_string("a\"b"), r#""a\"b""#);
        assert_eq!(crystal_string("#{x}"), r##""\#{x}""##);
        assert_eq!(crystal_string("a#b"), r#""a#b""#);
        assert_eq!(crystal_string("a\\b"), r#""a\\b""#);
    }
}
