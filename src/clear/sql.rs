//! Clearing the sessions table of PostgreSQL, MySQL/MariaDB or SQLite, in batches.
//!
//! One `DELETE` of a big table holds its locks (and, in PostgreSQL, builds its undo) for as
//! long as it runs, stalling the application's own session writes. Deleting about 10,000 rows
//! per statement, each its own transaction, keeps every statement short; the counts of the
//! statements add up to what was cleared, even if a later statement fails.
//!
//! Clearing only expired sessions compares `expires_at` with the database server's own clock,
//! in UTC (the session shard writes UTC times), through the `expires_at` index.

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::Stop;
use crate::error::{Error, Result};

pub const BATCH: u64 = 10_000;
/// Short PostgreSQL batches (rows moved by application updates) retried before giving up.
const MAX_SHORT_BATCHES: u32 = 50;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Whether an `sqlite:` URL names a database file (not nothing, and not `:memory:`, where
/// there are no sessions to clear and a table would be reported missing).
pub fn names_a_file(url: &str) -> bool {
    let rest = url.split_once(':').map_or("", |(_, r)| r);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    !path.is_empty() && path != ":memory:" && !rest.contains("mode=memory")
}

/// A table name checked to be an identifier, optionally schema-qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    schema: Option<String>,
    name: String,
}

impl Table {
    /// `name` or `schema.name`, each part letters, digits and underscores, not starting with
    /// a digit, at most 64 bytes. Nothing else is accepted: the name is spliced into SQL.
    pub fn parse(s: &str) -> Option<Self> {
        fn ident(p: &str) -> bool {
            !p.is_empty()
                && p.len() <= 64
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !p.as_bytes()[0].is_ascii_digit()
        }
        let mut parts = s.split('.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(n), None, None) if ident(n) => Some(Table {
                schema: None,
                name: n.to_string(),
            }),
            (Some(sch), Some(n), None) if ident(sch) && ident(n) => Some(Table {
                schema: Some(sch.to_string()),
                name: n.to_string(),
            }),
            _ => None,
        }
    }

    /// The name as written (`schema.name`), unquoted.
    pub fn plain(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The name quoted for `dialect`.
    pub fn quoted(&self, dialect: Dialect) -> String {
        let q = |p: &str| match dialect {
            Dialect::MySql => format!("`{p}`"),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{p}\""),
        };
        match &self.schema {
            Some(s) => format!("{}.{}", q(s), q(&self.name)),
            None => q(&self.name),
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`", self.plain())
    }
}

/// The condition for an expired session, in the dialect's own terms. The session is set to
/// UTC first (see [`utc_session_sql`]), so `timestamp` and `timestamptz`/`TIMESTAMP` columns
/// compare alike; SQLite compares the text the sqlite3 shard writes (`YYYY-MM-DD HH:MM:SS`).
fn expired_condition(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "expires_at < LOCALTIMESTAMP",
        Dialect::MySql => "expires_at < UTC_TIMESTAMP()",
        Dialect::Sqlite => "expires_at < strftime('%Y-%m-%d %H:%M:%S', 'now')",
    }
}

/// The statement that makes the connection's clock speak UTC, if the dialect needs one.
fn utc_session_sql(dialect: Dialect) -> Option<&'static str> {
    match dialect {
        Dialect::Postgres => Some("SET TIME ZONE 'UTC'"),
        Dialect::MySql => Some("SET time_zone = '+00:00'"),
        Dialect::Sqlite => None,
    }
}

/// The `WHERE` clause choosing the rows a clear is for (all of them, or the expired ones).
fn filter(dialect: Dialect, expired: bool) -> String {
    if expired {
        format!(" WHERE {}", expired_condition(dialect))
    } else {
        String::new()
    }
}

/// The statement that deletes one batch, in the dialect's own form.
fn delete_batch_sql(dialect: Dialect, table: &str, expired: bool) -> String {
    let filter = filter(dialect, expired);
    match dialect {
        // A TID scan: the subquery picks physical row addresses, the delete goes straight to
        // them. A row an application UPDATE moves between the pick and the delete is missed,
        // so on PostgreSQL a short batch is not the end (see `SqlTarget::clear`).
        Dialect::Postgres => format!(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}{filter} LIMIT {BATCH}))"
        ),
        Dialect::MySql => format!("DELETE FROM {table}{filter} LIMIT {BATCH}"),
        Dialect::Sqlite => format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}{filter} LIMIT {BATCH})"
        ),
    }
}

/// The statement that counts what a clear would delete.
fn count_sql(dialect: Dialect, table: &str, expired: bool) -> String {
    format!("SELECT COUNT(*) FROM {table}{}", filter(dialect, expired))
}

/// sqlx's `Any` driver knows `sqlite:` but not `sqlite3:`.
fn driver_url(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sqlite3") => format!("sqlite:{rest}"),
        _ => url.to_string(),
    }
}

/// A connection to the database holding the sessions table.
pub struct SqlTarget {
    conn: AnyConnection,
    url: String,
    masked: String,
    dialect: Dialect,
    table: Table,
    expired: bool,
}

impl SqlTarget {
    /// Connect; with `expired`, the clear deletes only rows past their `expires_at`.
    pub async fn connect(url: &str, dialect: Dialect, table: Table, expired: bool) -> Result<Self> {
        let masked = crate::url::mask(url);
        sqlx::any::install_default_drivers();
        let connect = AnyConnection::connect(&driver_url(url));
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(Error::DatabaseConnect {
                    url: masked,
                    reason: describe(&e, url),
                });
            }
            Err(_) => {
                return Err(Error::DatabaseConnect {
                    url: masked,
                    reason: format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()),
                });
            }
        };
        if let Some(sql) = utc_session_sql(dialect)
            && let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await
        {
            return Err(Error::DatabaseConnect {
                reason: describe(&e, url),
                url: masked,
            });
        }
        Ok(SqlTarget {
            conn,
            url: url.to_string(),
            masked,
            dialect,
            table,
            expired,
        })
    }

    /// Whether any row the clear is for is still there, asked after `cleared` were deleted
    /// (the count an error reports).
    async fn any_left(&mut self, cleared: u64) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {}{})",
            self.table.quoted(self.dialect),
            filter(self.dialect, self.expired)
        );
        let any: std::result::Result<bool, _> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await;
        any.map_err(|e| self.fail(e, cleared))
    }

    /// How many rows the clear would delete.
    pub async fn count(&mut self) -> Result<u64> {
        let sql = count_sql(self.dialect, &self.table.quoted(self.dialect), self.expired);
        let n: std::result::Result<i64, _> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await;
        let n = n.map_err(|e| self.fail(e, 0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn fail(&self, e: sqlx::Error, cleared: u64) -> Error {
        if is_missing_table(&e) {
            Error::TableMissing {
                table: self.table.to_string(),
                url: self.masked.clone(),
            }
        } else if self.expired && is_missing_column(&e) {
            Error::NoExpiresAt {
                table: self.table.to_string(),
                url: self.masked.clone(),
            }
        } else {
            Error::Database {
                url: self.masked.clone(),
                cleared,
                reason: describe(&e, &self.url),
            }
        }
    }

    /// Delete every row of the table (or, with `dry_run`, count them). `progress` is told
    /// each batch's count as it lands.
    pub async fn clear(
        mut self,
        dry_run: bool,
        stop: &Stop,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        if dry_run {
            return self.count().await;
        }
        let sql = delete_batch_sql(self.dialect, &self.table.quoted(self.dialect), self.expired);
        let mut cleared = 0u64;
        let mut short = 0u32;
        loop {
            let result = sqlx::query(AssertSqlSafe(sql.clone()))
                .execute(&mut self.conn)
                .await;
            let done = result.map_err(|e| self.fail(e, cleared))?.rows_affected();
            cleared += done;
            progress(done);
            if done < BATCH {
                // On PostgreSQL a batch comes up short also when the application updated
                // picked rows meanwhile; go on while any is left (a bounded number of times,
                // so an application that keeps writing cannot keep the clear going forever).
                if self.dialect != Dialect::Postgres
                    || short >= MAX_SHORT_BATCHES
                    || !self.any_left(cleared).await?
                {
                    break;
                }
                short += 1;
            }
            if stop.requested() {
                let _ = self.conn.close().await;
                return Err(Error::Interrupted {
                    cleared,
                    dry_run: false,
                });
            }
        }
        let _ = self.conn.close().await;
        Ok(cleared)
    }
}

fn is_missing_column(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    matches!(db.code().as_deref(), Some("42703" | "42S22" | "1054"))
        || db.message().contains("no such column")
}

fn is_missing_table(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code();
    let msg = db.message();
    matches!(code.as_deref(), Some("42P01" | "42S02" | "1146"))
        || msg.contains("no such table")
        || msg.contains("doesn't exist")
}

/// An error's text without the URL's password, in case a driver quotes it.
fn describe(e: &sqlx::Error, url: &str) -> String {
    // A server's own message reads better than the driver's wrapping of it (which, for
    // PostgreSQL, ends with a line number inside the server's source).
    let text = match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    match crate::url::password(url) {
        Some(pw) if !pw.is_empty() => text.replace(pw, "****"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(
            Table::parse("sessions").unwrap().quoted(Dialect::Postgres),
            "\"sessions\""
        );
        assert_eq!(
            Table::parse("app.sessions").unwrap().quoted(Dialect::MySql),
            "`app`.`sessions`"
        );
        assert_eq!(
            Table::parse("_s2").unwrap().quoted(Dialect::Sqlite),
            "\"_s2\""
        );
        for bad in [
            "",
            "sessions; DROP TABLE users",
            "a.b.c",
            "se\"ss",
            "se`ss",
            "1sessions",
            "séssions",
            "a.",
            ".a",
            "ses sions",
            &"x".repeat(65),
        ] {
            assert_eq!(Table::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dialects() {
        assert_eq!(Dialect::from_url("postgresql://x"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("MARIADB://x"), Some(Dialect::MySql));
        assert_eq!(
            Dialect::from_url("sqlite:db.sqlite3"),
            Some(Dialect::Sqlite)
        );
        assert_eq!(Dialect::from_url("mongodb://x"), None);
        assert_eq!(Dialect::from_url("nonsense"), None);
        assert_eq!(driver_url("sqlite3:./db"), "sqlite:./db");
        assert!(names_a_file("sqlite:./db.sqlite3"));
        assert!(names_a_file("sqlite:///var/db/app.db?mode=ro"));
        for no_file in [
            "sqlite:",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://?mode=rwc",
            "sqlite:x?mode=memory",
        ] {
            assert!(!names_a_file(no_file), "{no_file}");
        }
    }
}
