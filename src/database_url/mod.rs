//! `DATABASE_URL` read the way the app's own Crystal driver reads it, resolved once into what
//! our client connects to and what the user is shown.
//!
//! The app is started in its project root, so a relative SQLite path in its URL names a file
//! of that project: it is resolved against the project root, never against the directory this
//! tool was started in (which may be another project's). Query parameters are read as the
//! Crystal drivers read them (crystal-db, crystal-sqlite3, crystal-pg, crystal-mysql): a
//! parameter the app's driver honours and that matters to a clear is honoured here too, one
//! that sizes the app's own pool is ignored, and any other is a note, never a failure. Where
//! the Crystal driver and our client (sqlx) would read the same parameter differently, the
//! Crystal reading wins, so the clear reaches the database the app uses.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

mod mysql;
mod postgres;
mod sqlite;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "sqlite" | "sqlite3" => Some(Dialect::Sqlite),
            _ => None,
        }
    }
}

/// Parameters crystal-db reads on every driver: they size and tune the app's connection
/// pool, which a one-connection clear does not have.
const POOL_PARAMS: &[&str] = &[
    "initial_pool_size",
    "max_pool_size",
    "max_idle_pool_size",
    "checkout_timeout",
    "retry_attempts",
    "retry_delay",
    "prepared_statements",
    "prepared_statements_cache",
];

/// How the SQLite connection is to be set up once open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSettings {
    /// The database file, absolute.
    pub file: PathBuf,
    /// `busy_timeout` from the URL: how long to wait for the app's write lock.
    pub busy_timeout: Option<Duration>,
    /// `foreign_keys` from the URL; off when it is not given, as crystal-sqlite3 leaves it
    /// (SQLite's default), so a clear cascades exactly where the app's own deletes would.
    pub foreign_keys: bool,
}

/// A `DATABASE_URL`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub dialect: Dialect,
    /// What the user is shown: the URL as written with every password masked, a relative
    /// SQLite path replaced by the absolute file it names.
    pub shown: String,
    /// The URL our client connects with. It may hold a password: never print it.
    connect: String,
    /// The password as written and decoded, so a driver's message quoting it can be
    /// scrubbed.
    secrets: Vec<String>,
    /// Parameters passed over, for stderr.
    pub notes: Vec<String>,
    pub sqlite: Option<SqliteSettings>,
}

impl DatabaseUrl {
    /// Read `url` for the project rooted at `root`.
    pub fn parse(url: &str, root: &Path) -> Result<Self> {
        let dialect = Dialect::from_url(url)
            .ok_or_else(|| Error::UnsupportedDatabaseUrl(crate::url::mask(url)))?;
        match dialect {
            Dialect::Sqlite => sqlite::parse(url, root),
            Dialect::Postgres => postgres::parse(url, root),
            Dialect::MySql => mysql::parse(url, root),
        }
    }

    /// The URL to hand to sqlx's `Any` driver.
    pub fn connect_url(&self) -> &str {
        &self.connect
    }

    /// `text` (a driver's message) with the password, if any, masked.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), "****")
        })
    }
}

fn invalid(url: &str, reason: impl Into<String>) -> Error {
    Error::DatabaseUrlInvalid {
        url: crate::url::mask(url),
        reason: reason.into(),
    }
}

fn note_unknown(notes: &mut Vec<String>, key: &str, driver: &str) {
    notes.push(format!(
        "DATABASE_URL parameter `{key}` is not one {driver} reads; ignored"
    ));
}

/// `root` made absolute (without resolving links), so what is shown and opened does not
/// depend on the directory the tool was started in.
fn absolute_root(root: &Path) -> Result<PathBuf> {
    std::path::absolute(root).map_err(|e| Error::read(root, e))
}

/// `path` against `root` when relative, with `.` components dropped for display. `..` is
/// kept: removing it by text would be wrong across a symbolic link.
fn against_root(root: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    joined
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// A certificate or key file a URL parameter names, which must exist: the driver's own
/// error for a missing one names neither the parameter nor the file.
fn tls_file(url: &str, key: &str, value: &str, path: PathBuf) -> Result<(String, String)> {
    if !path.is_file() {
        return Err(invalid(
            url,
            format!(
                "{key} `{value}` is `{}`, which does not exist (a relative path is read from the project root)",
                path.display()
            ),
        ));
    }
    Ok((key.to_string(), path.to_string_lossy().into_owned()))
}

/// The query pairs of `query`, decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn parse_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| invalid(url, e.to_string()))
}

/// A server URL and whether it names no host. `postgres://user:pw@/app?host=/run/postgresql`
/// and `mysql://user:pw@/run/mysqld/mysqld.sock` (credentials and no host) are forms the
/// Crystal drivers take and the URL parser refuses: they are read with a stand-in host,
/// which the caller replaces.
fn parse_server_url(url: &str) -> Result<(Url, bool)> {
    match Url::parse(url) {
        Ok(parsed) => {
            let no_host = parsed.host_str().is_none_or(|h| h.trim().is_empty());
            Ok((parsed, no_host))
        }
        Err(url::ParseError::EmptyHost) => {
            let with_host = url
                .split_once("@/")
                .map(|(before, after)| format!("{before}@localhost/{after}"))
                .ok_or_else(|| invalid(url, "empty host"))?;
            Ok((parse_url(&with_host)?, true))
        }
        Err(e) => Err(invalid(url, e.to_string())),
    }
}

/// The passwords to scrub from a driver's message: as written in the URL, and decoded.
fn secrets_of(parsed: &Url) -> Vec<String> {
    let Some(written) = parsed.password().filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let mut secrets = vec![written.to_string()];
    if let Ok(decoded) = percent_decode(written, false)
        && decoded != written
        && !decoded.is_empty()
    {
        secrets.push(decoded);
    }
    secrets
}

/// `%XX` decoding; with `plus_is_space`, `+` is a space as well, as Crystal's
/// `URI.decode_www_form` reads it (and so crystal-sqlite3 its file name).
fn percent_decode(s: &str, plus_is_space: bool) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "it is not UTF-8 once decoded".to_string())
}

#[cfg(test)]
/// A project root holding the files the parsers look for.
pub(crate) fn test_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir_all(dir.path().join("db")).expect("db/");
    std::fs::write(dir.path().join("db/app.db"), b"").expect("db/app.db");
    std::fs::write(dir.path().join("my db.db"), b"").expect("my db.db");
    std::fs::create_dir_all(dir.path().join("certs")).expect("certs/");
    std::fs::write(dir.path().join("certs/ca.pem"), b"").expect("certs/ca.pem");
    std::fs::write(dir.path().join("ca.pem"), b"").expect("ca.pem");
    dir
}
