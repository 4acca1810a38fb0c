//! Measuring the sessions table of PostgreSQL, MySQL/MariaDB or SQLite: a few `SELECT`s in a
//! session set to read only (PostgreSQL and MySQL `READ ONLY` transactions, SQLite
//! `query_only`), so nothing can be written even by mistake.
//!
//! Expired rows are told from live ones as `session:clear --expired` tells them: `expires_at`
//! against the server's own clock, in UTC. The size on disk is the server's own figure where
//! it has one (PostgreSQL `pg_total_relation_size` over every partition; SQLite's `dbstat`
//! table); MySQL/MariaDB's `information_schema` sizes are the engine's estimate, and an
//! SQLite without `dbstat` gives only the whole database file's size: both are said to be
//! approximate.

use std::time::Duration;

use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::clear::plan::DatabaseTarget;
use crate::clear::sql::{
    Dialect, describe, expired_condition, fix_for, is_missing_column, is_missing_table, open,
};
use crate::error::{Error, Result};

/// What a database measurement found.
#[derive(Debug, Clone, Serialize)]
pub struct SqlStats {
    pub sessions: u64,
    /// Rows whose `expires_at` is still ahead (`None`: the table has no `expires_at`).
    pub live: Option<u64>,
    pub expired: Option<u64>,
    /// The earliest and latest `created_at`, as the server writes them (`None`: no rows, or
    /// no such column).
    pub oldest_created_at: Option<String>,
    pub newest_created_at: Option<String>,
    pub table_size: Option<TableSize>,
    /// Which measurements the table's columns did not allow.
    #[serde(skip)]
    missing: Vec<&'static str>,
}

/// The table's size on disk.
#[derive(Debug, Clone, Serialize)]
pub struct TableSize {
    pub bytes: u64,
    pub approximate: bool,
    /// What the bytes are, and where the figure comes from.
    pub measured: &'static str,
}

impl SqlStats {
    /// What the numbers call for.
    pub fn warnings(&self) -> Vec<String> {
        self.missing
            .iter()
            .map(|column| {
                format!("the table has no `{column}` column, so what needs it is not measured; run the session migration")
            })
            .collect()
    }
}

/// What makes the session read-only, per dialect.
fn read_only(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        Dialect::MySql => "SET SESSION TRANSACTION READ ONLY",
        Dialect::Sqlite => "PRAGMA query_only = ON",
    }
}

/// Measure `target`'s sessions table; statements wait for a lock at most `lock_timeout`, and
/// `progress` is told the number of rows once they are counted.
pub async fn measure(
    target: &DatabaseTarget,
    lock_timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<SqlStats> {
    let dialect = target.dialect();
    // No statement is sent again: each waits for a lock the whole `lock_timeout`.
    let mut conn = open(&target.url, lock_timeout, &[read_only(dialect)]).await?;
    let result = Measurer {
        conn: &mut conn,
        target,
        progress: &mut progress,
    }
    .measure()
    .await;
    let _ = conn.close().await;
    result
}

struct Measurer<'a> {
    conn: &'a mut AnyConnection,
    target: &'a DatabaseTarget,
    progress: &'a mut dyn FnMut(u64),
}

impl Measurer<'_> {
    async fn measure(&mut self) -> Result<SqlStats> {
        let mut stats = SqlStats {
            sessions: 0,
            live: None,
            expired: None,
            oldest_created_at: None,
            newest_created_at: None,
            table_size: None,
            missing: Vec::new(),
        };
        self.counts(&mut stats).await?;
        (self.progress)(stats.sessions);
        self.created(&mut stats).await?;
        stats.table_size = self.size().await?;
        Ok(stats)
    }

    fn table(&self) -> String {
        self.target.table.quoted(self.target.dialect())
    }

    fn fail(&self, e: &sqlx::Error) -> Error {
        if is_missing_table(e) {
            return Error::TableMissing {
                table: self.target.table.to_string(),
                url: self.target.url.shown.clone(),
            };
        }
        Error::Measure {
            store: "the database",
            url: self.target.url.shown.clone(),
            reason: describe(e, &self.target.url),
            fix: fix_for(e, &self.target.table.to_string()),
        }
    }

    /// All rows, and the expired ones (or all rows only, without `expires_at`).
    async fn counts(&mut self, stats: &mut SqlStats) -> Result<()> {
        let table = self.table();
        let sql = format!(
            "SELECT COUNT(*), COUNT(CASE WHEN {} THEN 1 END) FROM {table}",
            expired_condition(self.target.dialect())
        );
        let counted: std::result::Result<(i64, i64), _> = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_one(&mut *self.conn)
            .await;
        match counted {
            Ok((all, expired)) => {
                stats.sessions = u64::try_from(all).unwrap_or(0);
                let expired = u64::try_from(expired).unwrap_or(0);
                stats.expired = Some(expired);
                stats.live = Some(stats.sessions.saturating_sub(expired));
                Ok(())
            }
            Err(e) if is_missing_column(&e, "expires_at") => {
                stats.missing.push("expires_at");
                let sql = format!("SELECT COUNT(*) FROM {table}");
                let all: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut *self.conn)
                    .await
                    .map_err(|e| self.fail(&e))?;
                stats.sessions = u64::try_from(all).unwrap_or(0);
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    /// The oldest and newest `created_at`, as text.
    async fn created(&mut self, stats: &mut SqlStats) -> Result<()> {
        let text = |expr: &str| match self.target.dialect() {
            Dialect::Postgres => format!("{expr}::text"),
            Dialect::MySql => format!("CAST({expr} AS CHAR)"),
            Dialect::Sqlite => format!("CAST({expr} AS TEXT)"),
        };
        let sql = format!(
            "SELECT {}, {} FROM {}",
            text("MIN(created_at)"),
            text("MAX(created_at)"),
            self.table()
        );
        let found: std::result::Result<(Option<String>, Option<String>), _> =
            sqlx::query_as(AssertSqlSafe(sql))
                .fetch_one(&mut *self.conn)
                .await;
        match found {
            Ok((oldest, newest)) => {
                stats.oldest_created_at = oldest;
                stats.newest_created_at = newest;
                Ok(())
            }
            Err(e) if is_missing_column(&e, "created_at") => {
                stats.missing.push("created_at");
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    /// The table's size on disk, by the most exact means the server offers.
    async fn size(&mut self) -> Result<Option<TableSize>> {
        let mut last = None;
        for (sql, approximate, measured) in size_queries(self.target) {
            let bytes: std::result::Result<Option<i64>, _> = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_optional(&mut *self.conn)
                .await;
            match bytes {
                Ok(bytes) => {
                    return Ok(bytes.map(|b| TableSize {
                        bytes: u64::try_from(b).unwrap_or(0),
                        approximate,
                        measured,
                    }));
                }
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e) => Err(self.fail(&e)),
            None => Ok(None),
        }
    }
}

/// The statements that give a table's size on disk, most exact first: each with whether its
/// figure is approximate and what it measures.
fn size_queries(target: &DatabaseTarget) -> Vec<(String, bool, &'static str)> {
    let table = &target.table;
    let name = &table.name;
    match target.dialect() {
        Dialect::Postgres => {
            let q = table.quoted(Dialect::Postgres);
            // The table itself and any partitions (a partitioned parent holds no rows).
            vec![
                (
                    format!(
                        "SELECT COALESCE(SUM(pg_total_relation_size(r)), 0)::int8 FROM (SELECT '{q}'::regclass AS r UNION SELECT relid FROM pg_partition_tree('{q}'::regclass)) t"
                    ),
                    false,
                    "table, indexes and TOAST of every partition (pg_total_relation_size)",
                ),
                (
                    format!("SELECT pg_total_relation_size('{q}'::regclass)::int8"),
                    false,
                    "table, indexes and TOAST (pg_total_relation_size)",
                ),
            ]
        }
        Dialect::MySql => {
            let schema = match &table.schema {
                Some(s) => format!("'{s}'"),
                None => "DATABASE()".to_string(),
            };
            vec![(
                format!(
                    "SELECT CAST(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS SIGNED) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = '{name}'"
                ),
                true,
                "data and indexes, the engine's estimate (information_schema.TABLES)",
            )]
        }
        Dialect::Sqlite => {
            let schema = table.schema.as_deref().unwrap_or("main");
            vec![
                (
                    format!(
                        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat('{schema}') WHERE name = '{name}' OR name IN (SELECT name FROM \"{schema}\".sqlite_master WHERE tbl_name = '{name}' AND type = 'index')"
                    ),
                    false,
                    "table and indexes (dbstat)",
                ),
                (
                    format!(
                        "SELECT p.page_count * s.page_size FROM pragma_page_count('{schema}') p, pragma_page_size('{schema}') s"
                    ),
                    true,
                    "the whole database file, not the table alone (page_count * page_size)",
                ),
            ]
        }
    }
}
