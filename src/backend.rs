//! The three session backends an Azu application can use.

use std::fmt;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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
