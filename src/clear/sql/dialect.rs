//! The SQL each dialect speaks: table names, the statements of a clear, and how errors read.

use std::time::Duration;

use super::relation::Part;
use super::{BATCH, Dialect};
use crate::database_url::DatabaseUrl;

/// A table name checked to be an identifier, optionally schema-qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub(crate) schema: Option<String>,
    pub(crate) name: String,
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

    /// The schema it is qualified with, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The table's own name, without its schema.
    pub fn name(&self) -> &str {
        &self.name
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
/// UTC first (see [`session_setup_sql`]), so `timestamp` and `timestamptz`/`TIMESTAMP` columns
/// compare alike.
///
/// SQLite has no time type: the sqlite3 shard writes `YYYY-MM-DD HH:MM:SS.mmm` in UTC, other
/// tools a `T`, a `Z` or an offset such as `+02:00`, or seconds since 1970. Text alone
/// compares those wrongly (`T` sorts after a space; an offset is ignored), so each row is
/// compared as a time: text through `julianday()`, numbers as Unix seconds. The text
/// comparison first keeps the `expires_at` index in use: no time before now, in any of those
/// forms and any offset, is written with a date later than tomorrow (and numbers sort before
/// text).
pub(crate) fn expired_condition(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "expires_at < LOCALTIMESTAMP",
        Dialect::MySql => "expires_at < UTC_TIMESTAMP()",
        Dialect::Sqlite => {
            "expires_at < strftime('%Y-%m-%d', 'now', '+2 days') AND \
             CASE WHEN typeof(expires_at) IN ('integer', 'real') \
             THEN expires_at < CAST(strftime('%s', 'now') AS INTEGER) \
             ELSE julianday(expires_at) < julianday('now') END"
        }
    }
}

/// What a new connection runs before the clear: the clock in UTC, so `timestamp` and
/// `timestamptz`/`TIMESTAMP` columns compare alike; the longest one statement waits for a
/// lock (`slice`); on SQLite the foreign-key enforcement the app's connections have (sqlx
/// turns foreign keys on by default, crystal-sqlite3 leaves them off).
pub(crate) fn session_setup_sql(url: &DatabaseUrl, slice: Duration) -> Vec<String> {
    match url.dialect {
        // 0 would mean no limit at all.
        Dialect::Postgres => vec![
            "SET TIME ZONE 'UTC'".to_string(),
            format!("SET lock_timeout = '{}ms'", slice.as_millis().max(1)),
        ],
        // Whole seconds, at least one.
        Dialect::MySql => {
            let seconds = slice.as_secs_f64().ceil().max(1.0);
            vec![
                "SET time_zone = '+00:00'".to_string(),
                format!(
                    "SET SESSION innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
                ),
            ]
        }
        Dialect::Sqlite => {
            let foreign_keys = url.sqlite.as_ref().is_some_and(|s| s.foreign_keys);
            vec![
                format!("PRAGMA busy_timeout = {}", slice.as_millis()),
                format!(
                    "PRAGMA foreign_keys = {}",
                    if foreign_keys { "ON" } else { "OFF" }
                ),
            ]
        }
    }
}

/// The `WHERE` clause choosing the rows a clear is for (all of them, or the expired ones).
pub(super) fn filter(dialect: Dialect, expired: bool) -> String {
    if expired {
        format!(" WHERE {}", expired_condition(dialect))
    } else {
        String::new()
    }
}

/// The statement that deletes one batch of `part`, in the dialect's own form. `key` is the
/// primary key of an SQLite `WITHOUT ROWID` table, which has no `rowid`.
pub(super) fn delete_batch_sql(
    dialect: Dialect,
    part: &Part,
    expired: bool,
    key: Option<&[String]>,
) -> String {
    let filter = part.filter(dialect, expired);
    let table = part.from();
    let scoped = part.scoped();
    match dialect {
        // A TID scan: the subquery picks physical row addresses, the delete goes straight to
        // them. A row an application UPDATE moves between the pick and the delete is missed,
        // so on PostgreSQL a short batch is not the end (see `SqlTarget::delete_in_batches`).
        // The addresses are of one physical table: `part` is named with `ONLY`, or through
        // its parent with its `tableoid`.
        Dialect::Postgres => format!(
            "DELETE FROM {table} WHERE {scoped}ctid = ANY(ARRAY(SELECT ctid FROM {table}{filter} LIMIT {BATCH}))"
        ),
        Dialect::MySql => format!("DELETE FROM {table}{filter} LIMIT {BATCH}"),
        Dialect::Sqlite => {
            let key = match key {
                Some([one]) => one.clone(),
                Some(columns) if !columns.is_empty() => format!("({})", columns.join(", ")),
                _ => "rowid".to_string(),
            };
            let select = key.trim_start_matches('(').trim_end_matches(')');
            format!(
                "DELETE FROM {table} WHERE {key} IN (SELECT {select} FROM {table}{filter} LIMIT {BATCH})"
            )
        }
    }
}

/// The statement that counts what a clear would delete.
pub(crate) fn count_sql(dialect: Dialect, table: &str, expired: bool) -> String {
    format!("SELECT COUNT(*) FROM {table}{}", filter(dialect, expired))
}

/// The code that tells what went wrong: the SQLSTATE for PostgreSQL, the error number for
/// MySQL/MariaDB (whose SQLSTATEs are shared by many errors: `HY000`), SQLite's result code.
pub(crate) fn error_code(db: &dyn sqlx::error::DatabaseError) -> String {
    match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        Some(mysql) => mysql.number().to_string(),
        None => db.code().map(|c| c.into_owned()).unwrap_or_default(),
    }
}

/// Whether `e` says `column` does not exist (and not some other column, such as the
/// `rowid` a `WITHOUT ROWID` table lacks).
pub(crate) fn is_missing_column(e: &sqlx::Error, column: &str) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    (matches!(error_code(db).as_str(), "42703" | "1054") || db.message().contains("no such column"))
        && db.message().contains(column)
}

/// Whether `e` is a statement that gave up waiting for another's lock (and so did nothing).
pub(crate) fn is_lock_timeout(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let msg = db.message();
    matches!(error_code(db).as_str(), "55P03" | "1205")
        || msg.contains("database is locked")
        || msg.contains("database table is locked")
}

/// How to fix a failure that running the command again would not fix; `None` where it
/// would (a lost connection, a deadlock).
pub(crate) fn fix_for(e: &sqlx::Error, table: &str) -> Option<String> {
    let db = e.as_database_error()?;
    let msg = db.message();
    let code = error_code(db);
    let code = code.as_str();
    if matches!(code, "23503" | "1451") || msg.contains("FOREIGN KEY constraint failed") {
        Some(
            "rows of another table reference these sessions through a foreign key that forbids deleting them (ON DELETE RESTRICT or NO ACTION); delete or re-point those rows first, or make that key ON DELETE CASCADE"
                .to_string(),
        )
    } else if matches!(code, "42501" | "1142" | "1227" | "1044") {
        Some(format!(
            "the database user may not do this to {table}: grant it SELECT and DELETE on the table, or use the owner's DATABASE_URL"
        ))
    } else if msg.contains("file is not a database") {
        Some(
            "the file is not an SQLite database (another kind of file, encrypted, or damaged); point DATABASE_URL at the app's database file"
                .to_string(),
        )
    } else if msg.contains("readonly database") {
        // SQLite: the file (or its directory, for the journal) cannot be written.
        Some(
            "the SQLite file cannot be written by this user (its permissions, an immutable flag or a read-only filesystem); let the user running the clear write the file and its directory"
                .to_string(),
        )
    } else if matches!(code, "25006" | "1290" | "1792" | "1836") || msg.contains("read-only") {
        Some(
            "the database only reads here (a read-only server, replica or transaction); point DATABASE_URL at the primary"
                .to_string(),
        )
    } else if matches!(code, "57014" | "3024" | "1969") {
        Some(
            "a statement ran past the server's statement timeout; raise it for this user (PostgreSQL statement_timeout, MySQL max_execution_time, MariaDB max_statement_time)"
                .to_string(),
        )
    } else {
        None
    }
}

pub(crate) fn is_missing_table(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let msg = db.message();
    matches!(error_code(db).as_str(), "42P01" | "1146")
        || msg.contains("no such table")
        || msg.contains("doesn't exist")
}

#[cfg(test)]
mod error_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// A name's parts, as written and as `Display` shows it in messages.
    #[test]
    fn table_parts() {
        let t = Table::parse("app.sessions").expect("a qualified name");
        assert_eq!((t.schema(), t.name()), (Some("app"), "sessions"));
        assert_eq!(t.plain(), "app.sessions");
        assert_eq!(t.to_string(), "`app.sessions`");
        let t = Table::parse("sessions").expect("a plain name");
        assert_eq!((t.schema(), t.name()), (None, "sessions"));
        assert_eq!(t.plain(), "sessions");
        assert_eq!(t.to_string(), "`sessions`");
    }

    /// What a connection runs first: UTC, the lock wait (never 0, which means no limit)
    /// and SQLite's foreign keys as the URL says.
    #[test]
    fn session_setup() {
        let root = crate::database_url::test_root();
        let url = |u: &str| DatabaseUrl::parse(u, root.path()).expect("a URL");
        let ms = Duration::from_millis;
        assert_eq!(
            session_setup_sql(&url("postgres://u@h/db"), ms(250)),
            ["SET TIME ZONE 'UTC'", "SET lock_timeout = '250ms'"]
        );
        assert_eq!(
            session_setup_sql(&url("postgres://u@h/db"), ms(0))[1],
            "SET lock_timeout = '1ms'"
        );
        assert_eq!(
            session_setup_sql(&url("mysql://u@h/db"), ms(1200)),
            [
                "SET time_zone = '+00:00'",
                "SET SESSION innodb_lock_wait_timeout = 2, lock_wait_timeout = 2"
            ]
        );
        assert_eq!(
            session_setup_sql(&url("mysql://u@h/db"), ms(0))[1],
            "SET SESSION innodb_lock_wait_timeout = 1, lock_wait_timeout = 1"
        );
        let file = root.path().join("db/app.db");
        let sqlite = format!("sqlite3://{}", file.display());
        assert_eq!(
            session_setup_sql(&url(&sqlite), ms(300)),
            ["PRAGMA busy_timeout = 300", "PRAGMA foreign_keys = OFF"]
        );
        assert_eq!(
            session_setup_sql(&url(&format!("{sqlite}?foreign_keys=on")), ms(300))[1],
            "PRAGMA foreign_keys = ON"
        );
    }

    /// The count and the batch delete, whole, in each dialect.
    #[test]
    fn clear_statements() {
        assert_eq!(
            count_sql(Dialect::Postgres, "\"s\"", false),
            "SELECT COUNT(*) FROM \"s\""
        );
        assert_eq!(
            count_sql(Dialect::MySql, "`s`", true),
            "SELECT COUNT(*) FROM `s` WHERE expires_at < UTC_TIMESTAMP()"
        );
        let part = |name: &str| Part {
            name: name.to_string(),
            only: false,
            via: None,
        };
        assert_eq!(
            delete_batch_sql(Dialect::MySql, &part("`s`"), false, None),
            format!("DELETE FROM `s` LIMIT {BATCH}")
        );
        assert_eq!(
            delete_batch_sql(Dialect::Postgres, &part("\"s\""), true, None),
            format!(
                "DELETE FROM \"s\" WHERE ctid = ANY(ARRAY(SELECT ctid FROM \"s\" \
                 WHERE expires_at < LOCALTIMESTAMP LIMIT {BATCH}))"
            )
        );
        let sqlite =
            |key: Option<&[String]>| delete_batch_sql(Dialect::Sqlite, &part("\"s\""), false, key);
        let keys = |k: &[&str]| k.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sqlite(None),
            format!("DELETE FROM \"s\" WHERE rowid IN (SELECT rowid FROM \"s\" LIMIT {BATCH})")
        );
        assert_eq!(sqlite(Some(&[])), sqlite(None));
        assert_eq!(
            sqlite(Some(&keys(&["\"id\""]))),
            format!("DELETE FROM \"s\" WHERE \"id\" IN (SELECT \"id\" FROM \"s\" LIMIT {BATCH})")
        );
        assert_eq!(
            sqlite(Some(&keys(&["\"a\"", "\"b\""]))),
            format!(
                "DELETE FROM \"s\" WHERE (\"a\", \"b\") IN \
                 (SELECT \"a\", \"b\" FROM \"s\" LIMIT {BATCH})"
            )
        );
    }

    /// The expired condition keeps SQLite on the `expires_at` index.
    #[test]
    fn sqlite_expiry_uses_the_index() {
        use sqlx::{AnyConnection, AssertSqlSafe, Connection};
        let plan = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                sqlx::any::install_default_drivers();
                let mut conn = AnyConnection::connect("sqlite::memory:").await?;
                sqlx::raw_sql(AssertSqlSafe(
                    "CREATE TABLE sessions (id INTEGER PRIMARY KEY, expires_at TEXT); \
                     CREATE INDEX sessions_expires_at ON sessions (expires_at)",
                ))
                .execute(&mut conn)
                .await?;
                let sql = format!(
                    "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM sessions{}",
                    filter(Dialect::Sqlite, true)
                );
                let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await?;
                Ok::<_, sqlx::Error>(rows.into_iter().map(|r| r.3).collect::<Vec<_>>())
            })
            .expect("the query plan");
        assert!(
            plan.iter()
                .any(|step| step.contains("USING") && step.contains("INDEX sessions_expires_at")),
            "{plan:?}"
        );
    }

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
            "sessions;",
            "a;b",
            "s-x",
            "s/*x*/",
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
    }
}
