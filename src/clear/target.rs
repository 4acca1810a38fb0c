//! What a clear empties: the Redis keys and their server, or the sessions table and its
//! database, each value resolved once by the plan and carried from there.

use serde::{Serialize, Serializer};

use crate::clear::redis::TlsFiles;
use crate::clear::sql::Table;
use crate::database_url::{DatabaseUrl, Dialect};

/// What a clear empties, every value resolved once by the plan and carried from there (a
/// second derivation of a pattern or a masked URL would be a second place to get it wrong).
///
/// Serialized, it gives the target's keys of the JSON report (see [`super::ClearReport`]).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Target {
    Redis(RedisTarget),
    Database(DatabaseTarget),
    Memory,
}

/// The Redis keys a clear deletes, and the server they live on.
#[derive(Debug, Clone, Serialize)]
pub struct RedisTarget {
    /// `REDIS_URL` as given, password and all: only ever used to connect, never shown.
    #[serde(skip)]
    pub url: String,
    /// The URL as every message and report shows it (passwords masked).
    #[serde(rename = "url")]
    pub masked_url: String,
    /// The database number the URL selects.
    pub database: u32,
    pub prefix: String,
    /// The SCAN pattern for the prefix: its glob characters escaped, then `*`.
    pub pattern: String,
    /// Whether `--prefix` gave it (then a clear that finds nothing does not look elsewhere:
    /// the user said which keys are meant).
    #[serde(skip)]
    pub prefix_given: bool,
    /// The client certificate and CA files for `rediss://` (process, then `.env`).
    #[serde(skip)]
    pub tls: TlsFiles,
}

/// The sessions table a clear empties, and the database it is in. The dialect is the URL's
/// own ([`DatabaseUrl::dialect`]), resolved with it.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseTarget {
    /// Resolved once: the file a relative SQLite path names, the parameters read.
    #[serde(rename = "url", serialize_with = "shown_url")]
    pub url: DatabaseUrl,
    #[serde(serialize_with = "plain_table")]
    pub table: Table,
}

impl DatabaseTarget {
    pub fn dialect(&self) -> Dialect {
        self.url.dialect
    }
}

fn shown_url<S: Serializer>(url: &DatabaseUrl, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&url.shown)
}

fn plain_table<S: Serializer>(table: &Table, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&table.plain())
}
