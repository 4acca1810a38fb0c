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

/// `SESSION_BACKEND`'s value, in any case and with surrounding spaces; `Err` is the value.
pub fn parse_session_backend(value: &str) -> Result<Backend, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "redis" => Ok(Backend::Redis),
        "database" => Ok(Backend::Database),
        "memory" => Ok(Backend::Memory),
        _ => Err(value.to_string()),
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
    fn default_is_redis() {
        assert_eq!(
            detect(None, None, None),
            Ok((Backend::Redis, Source::Default))
        );
    }
}
