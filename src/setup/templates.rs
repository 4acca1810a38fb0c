//! The generated Crystal files, rendered by askama from `templates/`.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::backend::Backend;
use crate::conventions::{DEFAULT_REDIS_URL, DEFAULT_TABLE, default_prefix};
use crate::error::{Error, Result};

#[derive(Template)]
#[template(path = "initializer.cr", escape = "none")]
struct Initializer<'a> {
    app_name: &'a str,
    backend: &'a str,
    prefix_literal: &'a str,
    redis_url_literal: &'a str,
    redis_url_missing_literal: &'a str,
    table_literal: &'a str,
}

/// `--api shard`: the shard's `RedisStore` or `MemoryStore`, or for the database the
/// project's own store (the shard has none) on `driver`.
#[derive(Template)]
#[template(path = "shard/initializer.cr", escape = "none")]
struct ShardInitializer<'a> {
    app_name: &'a str,
    backend: &'a str,
    store_type: &'a str,
    session_key_literal: &'a str,
    redis_url_literal: &'a str,
    redis_url_missing_literal: &'a str,
    driver: &'a str,
}

#[derive(Template)]
#[template(path = "shard/session_database_store.cr", escape = "none")]
struct ShardDatabaseStore;

#[derive(Template)]
#[template(path = "migration.cr", escape = "none")]
struct Migration {
    version: String,
}

/// What the generated Redis initializer raises with when REDIS_URL is not set outside
/// development and test.
pub fn redis_url_missing() -> String {
    format!("REDIS_URL is not set; only development and test fall back to {DEFAULT_REDIS_URL}")
}

/// `src/initializers/session.cr` for `backend`.
pub fn initializer(app_name: &str, backend: Backend) -> Result<String> {
    let prefix_literal = crystal_string(&default_prefix(app_name));
    let tpl = Initializer {
        // The app name lands in a comment: keep it on one line.
        app_name: &app_name.replace(['\n', '\r'], " "),
        backend: backend.as_str(),
        prefix_literal: &prefix_literal,
        redis_url_literal: &crystal_string(DEFAULT_REDIS_URL),
        redis_url_missing_literal: &crystal_string(&redis_url_missing()),
        table_literal: &crystal_string(DEFAULT_TABLE),
    };
    finish("initializer.cr", tpl.render())
}

/// `src/initializers/session.cr` for `backend`, written for the session shard's own API
/// (1.0.30 and later). `driver` is the database driver shard (`pg`, `mysql`, `sqlite3`).
pub fn shard_initializer(app_name: &str, backend: Backend, driver: &str) -> Result<String> {
    let tpl = ShardInitializer {
        // The app name lands in a comment: keep it on one line.
        app_name: &app_name.replace(['\n', '\r'], " "),
        backend: backend.as_str(),
        store_type: match backend {
            Backend::Redis => "Session::RedisStore",
            Backend::Memory => "Session::MemoryStore",
            Backend::Database => "SessionDatabaseStore",
        },
        session_key_literal: &crystal_string(&format!("{app_name}_session")),
        redis_url_literal: &crystal_string(DEFAULT_REDIS_URL),
        redis_url_missing_literal: &crystal_string(&redis_url_missing()),
        driver,
    };
    finish("shard/initializer.cr", tpl.render())
}

/// The database store `--api shard` writes beside the initializer.
pub fn shard_database_store() -> Result<String> {
    finish(
        "shard/session_database_store.cr",
        ShardDatabaseStore.render(),
    )
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
        insta::assert_snapshot!(initializer("myapp", Backend::Redis).expect("renders"));
    }

    #[test]
    fn database_initializer() {
        insta::assert_snapshot!(initializer("myapp", Backend::Database).expect("renders"));
    }

    #[test]
    fn memory_initializer() {
        insta::assert_snapshot!(initializer("myapp", Backend::Memory).expect("renders"));
    }

    #[test]
    fn shard_api_initializers() {
        insta::assert_snapshot!(
            "shard_redis",
            shard_initializer("myapp", Backend::Redis, "pg").expect("renders")
        );
        insta::assert_snapshot!(
            "shard_memory",
            shard_initializer("myapp", Backend::Memory, "pg").expect("renders")
        );
        insta::assert_snapshot!(
            "shard_database_mysql",
            shard_initializer("myapp", Backend::Database, "mysql").expect("renders")
        );
        insta::assert_snapshot!(
            "shard_database_store",
            shard_database_store().expect("renders")
        );
    }

    #[test]
    fn database_migration() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 9, 5, 7)
            .single()
            .expect("a valid time");
        let version = migration_version(now);
        assert_eq!(version, "20261122090507");
        insta::assert_snapshot!(migration(&version).expect("renders"));
    }

    /// What setup writes, clear reads back as the same store, prefix and URL: in development
    /// and test REDIS_URL, else localhost; in any other environment REDIS_URL alone (the
    /// generated code raises without it). Both APIs, the environment as the code reads it:
    /// AZU_ENV, else CRYSTAL_ENV, else development.
    #[test]
    fn the_reader_reads_the_generated_redis_initializers() {
        use crate::initializer::{Alt, Initializer, Part, RedisUrl, Selection, StoreKind};
        let env = || Alt::Env("REDIS_URL".into());
        let local = || Alt::Literal(vec![Part::Text(DEFAULT_REDIS_URL.into())]);
        let docs = initializer("myapp", Backend::Redis).expect("the docs initializer");
        let shard = shard_initializer("myapp", Backend::Redis, "pg").expect("the shard's");
        for (api, text) in [("docs", &docs), ("shard", &shard)] {
            let init = Initializer::parse(text).expect("the generated initializer parses");
            let cases: [(&[(&str, &str)], bool); 8] = [
                (&[], true),
                (&[("CRYSTAL_ENV", "test")], true),
                (&[("AZU_ENV", "development")], true),
                (&[("CRYSTAL_ENV", "production")], false),
                (&[("AZU_ENV", "staging")], false),
                (&[("CRYSTAL_ENV", "nonsense")], false),
                // AZU_ENV wins where set, as the generated `case` reads it.
                (
                    &[("AZU_ENV", "production"), ("CRYSTAL_ENV", "development")],
                    false,
                ),
                (&[("AZU_ENV", "test"), ("CRYSTAL_ENV", "production")], true),
            ];
            for (vars, local_fallback) in cases {
                let lookup = |name: &str| {
                    vars.iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_string())
                };
                let Selection::Store(store) = init.select(&lookup) else {
                    panic!("{api} {vars:?}: expected one store");
                };
                assert_eq!(store.kind, StoreKind::Redis, "{api} {vars:?}");
                let want = if local_fallback {
                    vec![env(), local()]
                } else {
                    vec![env()]
                };
                assert_eq!(store.redis_url(), RedisUrl::Url(want), "{api} {vars:?}");
            }
        }
        let init = Initializer::parse(&docs).expect("parses");
        let Selection::Store(store) = init.select("production") else {
            panic!("expected one store");
        };
        let lit = |s: &str| vec![Alt::Literal(vec![Part::Text(s.to_string())])];
        assert_eq!(
            store.arg(&["prefix"]),
            Some(lit("myapp:session:").as_slice())
        );
    }

    /// The generated code raises with a message that names REDIS_URL and is one Crystal
    /// string literal (no interpolation).
    #[test]
    fn the_redis_url_message_names_the_variable() {
        let message = redis_url_missing();
        assert!(message.starts_with("REDIS_URL is not set"), "{message}");
        let docs = initializer("myapp", Backend::Redis).expect("the docs initializer");
        assert!(docs.contains(&format!("raise({})", crystal_string(&message))));
    }

    #[test]
    fn crystal_string_escapes_interpolation_and_quotes() {
        assert_eq!(crystal_string("a\"b"), r#""a\"b""#);
        assert_eq!(crystal_string("#{x}"), r##""\#{x}""##);
        assert_eq!(crystal_string("a#b"), r#""a#b""#);
        assert_eq!(crystal_string("a\\b"), r#""a\\b""#);
    }
}
