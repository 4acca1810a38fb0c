//! The SQL each dialect speaks: table names, the statements of a clear, and how errors read.

use super::{BATCH, Dialect};
use crate::database_url::DatabaseUrl;

/// A table name checked to be an identifier, optionally schema-qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub(super) schema: Option<String>,
    pub(super) name: String,
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
/// UTC first (see [`session_setup_sql`]), so `timestamp` and `timestamptz`/`TIMESTAMP` columns
/// compare alike; SQLite compares the text the sqlite3 shard writes (`YYYY-MM-DD HH:MM:SS`).
pub(super) fn expired_condition(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "expires_at < LOCALTIMESTAMP",
        Dialect::MySql => "expires_at < UTC_TIMESTAMP()",
        Dialect::Sqlite => "expires_at < strftime('%Y-%m-%d %H:%M:%S', 'now')",
    }
}

/// What a new connection runs before the clear: the clock in UTC, so `timestamp` and
/// `timestamptz`/`TIMESTAMP` columns compare alike; on SQLite the URL's lock wait and
/// foreign-key enforcement, as the app's connections have them (sqlx turns foreign keys on
/// by default, crystal-sqlite3 leaves them off).
pub(super) fn session_setup_sql(url: &DatabaseUrl) -> Vec<String> {
    match (url.dialect, &url.sqlite) {
        (Dialect::Postgres, _) => vec!["SET TIME ZONE 'UTC'".to_string()],
        (Dialect::MySql, _) => vec!["SET time_zone = '+00:00'".to_string()],
        (Dialect::Sqlite, settings) => {
            let mut sql = Vec::new();
            if let Some(settings) = settings {
                if let Some(wait) = settings.busy_timeout {
                    sql.push(format!("PRAGMA busy_timeout = {}", wait.as_millis()));
                }
                let on = if settings.foreign_keys { "ON" } else { "OFF" };
                sql.push(format!("PRAGMA foreign_keys = {on}"));
            }
            sql
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

/// The statement that deletes one batch, in the dialect's own form.
pub(super) fn delete_batch_sql(dialect: Dialect, table: &str, expired: bool) -> String {
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
pub(super) fn count_sql(dialect: Dialect, table: &str, expired: bool) -> String {
    format!("SELECT COUNT(*) FROM {table}{}", filter(dialect, expired))
}

pub(super) fn is_missing_column(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    matches!(db.code().as_deref(), Some("42703" | "42S22" | "1054"))
        || db.message().contains("no such column")
}

pub(super) fn is_missing_table(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code();
    let msg = db.message();
    matches!(code.as_deref(), Some("42P01" | "42S02" | "1146"))
        || msg.contains("no such table")
        || msg.contains("doesn't exist")
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
    }
}
