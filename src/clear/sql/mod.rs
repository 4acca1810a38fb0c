//! Clearing the sessions table of PostgreSQL, MySQL/MariaDB or SQLite.
//!
//! One `DELETE` of a big table holds its locks (and, in PostgreSQL, builds its undo) for as
//! long as it runs, stalling the application's own session writes. On the servers, a clear
//! is many short statements, each its own transaction, whose counts add up to what was
//! cleared even if a later one fails. A full clear walks the table in its own order, each
//! statement starting where the last ended instead of stepping again over the rows earlier
//! ones deleted: PostgreSQL 14+ by ranges of heap pages holding about 10,000 rows (never more
//! than 8 MiB of table), MySQL/MariaDB by ranges of 10,000 keys of an integer primary key;
//! other tables get batches of 10,000 rows. On PostgreSQL batches then sweep up the rows
//! other transactions moved behind the walk, unless the server's transaction counter shows
//! that no other transaction wrote anything while it went. SQLite, with one writer and no
//! queue for the lock, gets one `DELETE` unless a trigger makes it go row by row.
//!
//! Clearing only expired sessions compares `expires_at` with the database server's own clock,
//! in UTC (the session shard writes UTC times), through the `expires_at` index, in batches.

mod dialect;
mod mysql;
mod postgres;
mod sqlite;

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::Stop;
use crate::database_url::DatabaseUrl;
pub use crate::database_url::Dialect;
use crate::error::{Error, Result};
pub use dialect::Table;
use dialect::{
    count_sql, delete_batch_sql, filter, is_missing_column, is_missing_table, session_setup_sql,
};
use postgres::Company;

pub const BATCH: u64 = 10_000;

/// Short PostgreSQL batches (rows moved by application updates) retried before giving up.
const MAX_SHORT_BATCHES: u32 = 50;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the database holding the sessions table.
pub struct SqlTarget {
    conn: AnyConnection,
    url: DatabaseUrl,
    dialect: Dialect,
    table: Table,
    expired: bool,
}

impl SqlTarget {
    /// Connect; with `expired`, the clear deletes only rows past their `expires_at`.
    pub async fn connect(url: &DatabaseUrl, table: Table, expired: bool) -> Result<Self> {
        let connect_error = |reason: String| Error::DatabaseConnect {
            url: url.shown.clone(),
            reason,
        };
        sqlx::any::install_default_drivers();
        let connect = AnyConnection::connect(url.connect_url());
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(connect_error(describe(&e, url))),
            Err(_) => {
                return Err(connect_error(format!(
                    "no answer in {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        for sql in session_setup_sql(url) {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
                return Err(connect_error(describe(&e, url)));
            }
        }
        Ok(SqlTarget {
            conn,
            url: url.clone(),
            dialect: url.dialect,
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
                url: self.url.shown.clone(),
            }
        } else if self.expired && is_missing_column(&e) {
            Error::NoExpiresAt {
                table: self.table.to_string(),
                url: self.url.shown.clone(),
            }
        } else {
            Error::Database {
                url: self.url.shown.clone(),
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
        let mut run = Run {
            cleared: 0,
            stop,
            progress: &mut progress,
        };
        let result = self.delete(&mut run).await;
        let _ = self.conn.close().await;
        result.map(|()| run.cleared)
    }

    /// The whole clear: a walk in the table's own order where the dialect has a cheap one
    /// (see each), then batches until nothing is left.
    async fn delete(&mut self, run: &mut Run<'_>) -> Result<()> {
        if !self.expired {
            // Expired rows are found through the `expires_at` index instead: walking the
            // whole table for them would read every row to delete a few.
            match self.dialect {
                // Then the batches, unless the walk had the server to itself: rows another
                // transaction updated during the walk may have moved behind it.
                Dialect::Postgres => {
                    if self.delete_by_pages(run).await? == Company::None {
                        return Ok(());
                    }
                }
                Dialect::MySql => {
                    if let Some(walk) = self.integer_key_walk(run.cleared).await? {
                        // Rows that existed when the clear started are all behind the
                        // walk once it ends, and rows added since got keys above them.
                        if self.walk(&walk, run).await? {
                            return Ok(());
                        }
                    }
                }
                Dialect::Sqlite => {
                    if self.delete_at_once(run).await? {
                        return Ok(());
                    }
                }
            }
        }
        self.delete_in_batches(run).await
    }

    /// Batches of the dialect's own form until one comes up short. Where the walks cannot be
    /// used this is the whole clear; after the PostgreSQL walk it is the sweep that picks up
    /// rows the application moved or added behind it.
    async fn delete_in_batches(&mut self, run: &mut Run<'_>) -> Result<()> {
        let sql = delete_batch_sql(self.dialect, &self.table.quoted(self.dialect), self.expired);
        let mut short = 0u32;
        loop {
            let result = sqlx::query(AssertSqlSafe(sql.clone()))
                .execute(&mut self.conn)
                .await;
            let done = self.landed(result, run)?;
            if done < BATCH {
                // On PostgreSQL a batch comes up short also when the application updated
                // picked rows meanwhile; go on while any is left (a bounded number of times,
                // so an application that keeps writing cannot keep the clear going forever).
                if self.dialect != Dialect::Postgres
                    || short >= MAX_SHORT_BATCHES
                    || !self.any_left(run.cleared).await?
                {
                    return Ok(());
                }
                short += 1;
            }
            run.check_stop()?;
        }
    }

    /// Count a statement's deleted rows into the run (or turn its error into ours).
    fn landed(
        &self,
        result: std::result::Result<sqlx::any::AnyQueryResult, sqlx::Error>,
        run: &mut Run<'_>,
    ) -> Result<u64> {
        let done = result
            .map_err(|e| self.fail(e, run.cleared))?
            .rows_affected();
        run.add(done);
        Ok(done)
    }
}

/// What a clear has done so far, and whom to tell.
struct Run<'a> {
    cleared: u64,
    stop: &'a Stop,
    progress: &'a mut dyn FnMut(u64),
}

impl Run<'_> {
    fn add(&mut self, n: u64) {
        self.cleared += n;
        (self.progress)(n);
    }

    /// After a statement: stop here if asked to (the statement has landed).
    fn check_stop(&self) -> Result<()> {
        if self.stop.requested() {
            return Err(Error::Interrupted {
                cleared: self.cleared,
                dry_run: false,
            });
        }
        Ok(())
    }
}

/// An error's text without the URL's password, in case a driver quotes it.
fn describe(e: &sqlx::Error, url: &DatabaseUrl) -> String {
    // A server's own message reads better than the driver's wrapping of it (which, for
    // PostgreSQL, ends with a line number inside the server's source).
    let text = match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    url.scrub(&text)
}
