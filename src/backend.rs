//! The three session backends an Azu application can use.

use std::fmt;

use clap::ValueEnum;
use serde::Serialize;

/// Serialized as its name (`"redis"`), as [`Backend::as_str`] writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Redis (recommended for production)
    Redis,
    /// A table in the application's SQL database
    Database,
    /// In-process memory (development and tests only)
    Memory,
}

impl Backend {
    pub const NAMES: &'static str = "redis, database, memory";

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Redis => "redis",
            Backend::Database => "database",
            Backend::Memory => "memory",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the backend came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    /// The initializer, with the `AZU_ENV` branch when the file has several.
    Initializer,
    /// The one store found in the project's other sources (the file, relative to the root),
    /// when the initializer has none.
    Sources(String),
    SessionBackendVar,
    Default,
}

impl Source {
    /// The name used in JSON output.
    pub fn key(&self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Initializer => "initializer",
            Source::Sources(_) => "sources",
            Source::SessionBackendVar => "SESSION_BACKEND",
            Source::Default => "default",
        }
    }

    /// The line printed on stderr after `Backend: ...`.
    pub fn describe(&self) -> String {
        match self {
            Source::Flag => "(from --backend)".to_string(),
            Source::Initializer => "(detected from src/initializers/session.cr)".to_string(),
            Source::Sources(file) => format!("(detected from {file})"),
            Source::SessionBackendVar => "(from SESSION_BACKEND)".to_string(),
            Source::Default => "(default: no initializer store and no SESSION_BACKEND)".to_string(),
        }
    }
}

/// A backend's name, in any case and with surrounding spaces (`--backend Redis`,
/// `SESSION_BACKEND=" Memory"`); `Err` is the value.
pub fn parse_session_backend(value: &str) -> Result<Backend, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "redis" => Ok(Backend::Redis),
        "database" => Ok(Backend::Database),
        "memory" => Ok(Backend::Memory),
        _ => Err(value.to_string()),
    }
}

/// The SQL engine a value that is not a backend names (`postgres`, `MySQL`, `sqlite3`...):
/// its sessions are the `database` backend's, the driver coming from `DATABASE_URL`.
pub fn sql_engine(value: &str) -> Option<&'static str> {
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" | "psql" | "pgsql" => "PostgreSQL",
        "mysql" => "MySQL",
        "mariadb" => "MariaDB",
        "sqlite" | "sqlite3" => "SQLite",
        "sql" | "db" => "an SQL",
        _ => return None,
    })
}

/// What follows "`{value}` is not a backend": why, and what to use instead (a SQL engine's
/// name is the `database` backend). `flag`: the value came from `--backend`.
pub fn not_a_backend(value: &str, flag: bool) -> String {
    let instead = if flag {
        "use --backend database"
    } else {
        "set SESSION_BACKEND=database"
    };
    match sql_engine(value) {
        Some(engine) => format!(
            ": {engine} database sessions are the `database` backend; {instead} (the driver comes from DATABASE_URL)"
        ),
        None if flag => format!("; use one of {}", Backend::NAMES),
        None => format!("; set it to one of {}, or pass --backend", Backend::NAMES),
    }
}

/// `--backend`'s parser: a backend in any case, and for a SQL engine's name (`-b postgres`)
/// the one-line error saying it is the `database` backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackendParser;

impl clap::builder::TypedValueParser for BackendParser {
    type Value = Backend;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Backend, clap::Error> {
        let text = value.to_string_lossy();
        parse_session_backend(&text).map_err(|v| {
            let message = format!("`{v}` is not a backend{}", not_a_backend(&v, true));
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, message).with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Backend::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// The detection chain: the flag, then the initializer's store, then `SESSION_BACKEND`, then
/// redis. Each level is passed in already read, so the chain itself is pure.
pub fn detect(
    flag: Option<Backend>,
    initializer: Option<Backend>,
    session_backend: Option<&str>,
) -> Result<(Backend, Source), String> {
    if let Some(b) = flag {
        return Ok((b, Source::Flag));
    }
    if let Some(b) = initializer {
        return Ok((b, Source::Initializer));
    }
    if let Some(v) = session_backend {
        return parse_session_backend(v).map(|b| (b, Source::SessionBackendVar));
    }
    Ok((Backend::Redis, Source::Default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_everything() {
        let got = detect(
            Some(Backend::Memory),
            Some(Backend::Database),
            Some("redis"),
        );
        assert_eq!(got, Ok((Backend::Memory, Source::Flag)));
    }

    #[test]
    fn initializer_wins_over_the_variable() {
        let got = detect(None, Some(Backend::Database), Some("memory"));
        assert_eq!(got, Ok((Backend::Database, Source::Initializer)));
    }

    #[test]
    fn variable_in_any_case() {
        for v in ["memory", "MEMORY", " Memory "] {
            assert_eq!(
                detect(None, None, Some(v)),
                Ok((Backend::Memory, Source::SessionBackendVar))
            );
        }
    }

    #[test]
    fn nonsense_variable_is_an_error() {
        assert_eq!(detect(None, None, Some("mongo")), Err("mongo".to_string()));
        // ...but only when it is consulted
        assert!(detect(None, Some(Backend::Redis), Some("mongo")).is_ok());
    }

    #[test]
    fn sql_engines_are_the_database_backend() {
        for v in [
            "postgres",
            "PostgreSQL",
            "pg",
            "mysql",
            "MariaDB",
            "sqlite",
            "sqlite3",
        ] {
            let said = not_a_backend(v, true);
            assert!(
                said.contains("use --backend database (the driver comes from DATABASE_URL)"),
                "{v}: {said}"
            );
        }
        assert_eq!(
            not_a_backend("mongo", true),
            "; use one of redis, database, memory"
        );
        assert!(not_a_backend("postgres", false).contains("set SESSION_BACKEND=database"));
    }

    #[test]
    fn default_is_redis() {
        assert_eq!(
            detect(None, None, None),
            Ok((Backend::Redis, Source::Default))
        );
    }
}
