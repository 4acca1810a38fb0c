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
//!
//! Every statement waits for a lock at most [`lock_slice`] at a time (PostgreSQL
//! `lock_timeout`, MySQL `innodb_lock_wait_timeout` and `lock_wait_timeout`, SQLite's busy
//! timeout) and is sent again while the clear's whole lock timeout lasts, so a lock held by
//! the app ends the clear with an error that says what holds it, and Ctrl-C while waiting
//! stops within a second with an exact count.

/// Run a statement (an expression ending in `.await`, giving a `Result` of sqlx) again while
/// it only timed out waiting for a lock, the clear's lock timeout has not run out, and no
/// stop was asked for. A statement that timed out waiting did nothing, so sending it again
/// is safe.
macro_rules! waiting {
    ($target:ident, $statement:expr) => {{
        let started = std::time::Instant::now();
        loop {
            let result = $statement;
            match &result {
                Err(e)
                    if $crate::clear::sql::dialect::is_lock_timeout(e)
                        && !$target.stop.requested()
                        && started.elapsed() < $target.plan.lock_timeout =>
                {
                    continue;
                }
                _ => break result,
            }
        }
    }};
}

mod cascade;
mod dialect;
mod mysql;
mod postgres;
mod refused;
mod relation;
mod sqlite;
mod strategy;
mod truncate;
mod verify;

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::Stop;
use super::plan::{ClearPlan, DatabaseTarget};
use crate::database_url::DatabaseUrl;
pub use crate::database_url::Dialect;
use crate::error::{Error, Result};
pub use cascade::Cascade;
pub use dialect::Table;
use dialect::delete_batch_sql;
pub(crate) use dialect::{count_sql, session_setup_sql};
pub(crate) use dialect::{expired_condition, fix_for, is_missing_column, is_missing_table};
use postgres::Company;
pub(crate) use refused::{connect_failure, no_answer as connect_no_answer};
use relation::{Part, Relation};
pub use strategy::{Path, Strategy};
use truncate::Truncated;

pub const BATCH: u64 = 10_000;

/// Short PostgreSQL batches (rows moved by application updates) retried before giving up.
const MAX_SHORT_BATCHES: u32 = 50;
/// How many passes after a full clear take sessions the application wrote meanwhile.
const FINISHING_PASSES: u32 = 3;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a clear waits for a lock held by someone else, unless told otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest one statement waits for a lock before it is sent again: how long a Ctrl-C
/// can go unanswered while the clear waits. A quarter of a second where the server takes
/// milliseconds (PostgreSQL `lock_timeout`, SQLite's busy timeout), so the clear ends well
/// within a second of it; MySQL and MariaDB count their lock waits in whole seconds, and
/// one second is their least (0 would not wait at all).
fn lock_slice(dialect: Dialect) -> Duration {
    match dialect {
        Dialect::MySql => Duration::from_secs(1),
        Dialect::Postgres | Dialect::Sqlite => Duration::from_millis(250),
    }
}

/// A connection to the database holding the sessions table, with the plan it clears for
/// (the table, the URL as shown, whether only expired rows go, how long a lock may hold it).
pub struct SqlTarget<'p> {
    conn: AnyConnection,
    plan: &'p ClearPlan,
    target: &'p DatabaseTarget,
    /// Asked for by Ctrl-C: looked at after every statement, and while waiting for a lock.
    stop: Stop,
    relation: Relation,
    /// How the clear deletes, and why (decided once connected).
    strategy: Strategy,
}

impl<'p> SqlTarget<'p> {
    /// Connect to `target`'s database and read the catalog. With the plan's `expired`, the
    /// clear deletes only rows past their `expires_at`, with its `dry_run` it only counts,
    /// and its `lock_timeout` is how long any statement may wait for another's lock.
    pub async fn connect(
        plan: &'p ClearPlan,
        target: &'p DatabaseTarget,
        stop: &Stop,
    ) -> Result<Self> {
        let wait = plan.lock_timeout.min(lock_slice(target.dialect()));
        let conn = open(&target.url, wait, &[]).await?;
        let mut connected = SqlTarget {
            conn,
            plan,
            target,
            stop: stop.clone(),
            relation: Relation::default(),
            strategy: Strategy::batched(""),
        };
        connected.relation = match connected.inspect().await {
            Ok(relation) => relation,
            Err(e) => return Err(connected.explained(e).await),
        };
        connected.strategy = match connected.decide().await {
            Ok(strategy) => strategy,
            Err(e) => return Err(connected.explained(e).await),
        };
        Ok(connected)
    }

    /// Rows of other tables the clear changes through foreign keys.
    pub fn cascades(&self) -> &[Cascade] {
        &self.relation.cascades
    }

    /// The role row-level security applies to on the table (and may hide rows from), if any.
    pub fn hidden_from(&self) -> Option<&str> {
        self.relation.hidden_from.as_deref()
    }

    /// How the clear deletes, and why; after [`SqlTarget::clear`], how it did.
    pub fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// Whether any row the clear is for is still in `part`, asked after `cleared` were
    /// deleted (the count an error reports).
    async fn any_left(&mut self, part: &Part, cleared: u64) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {}{})",
            part.from(),
            part.filter(self.target.dialect(), self.plan.expired)
        );
        let any: std::result::Result<bool, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        any.map_err(|e| self.fail(e, cleared))
    }

    /// How many rows the clear would delete (of every part: the table names them all).
    pub async fn count(&mut self) -> Result<u64> {
        let sql = count_sql(
            self.target.dialect(),
            &self.target.table.quoted(self.target.dialect()),
            self.plan.expired,
        );
        let n: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        let n = n.map_err(|e| self.fail(e, 0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Our error for a failed statement, after `cleared` sessions were deleted.
    fn fail(&self, e: sqlx::Error, cleared: u64) -> Error {
        if dialect::is_lock_timeout(&e) {
            if self.stop.requested() {
                return Error::Interrupted {
                    cleared,
                    dry_run: self.plan.dry_run,
                };
            }
            return Error::LockTimeout {
                table: self.target.table.to_string(),
                url: self.target.url.shown.clone(),
                seconds: self.plan.lock_timeout.as_secs_f64(),
                holder: String::new(),
                cleared,
                dry_run: self.plan.dry_run,
            };
        }
        if is_missing_table(&e) {
            Error::TableMissing {
                table: self.target.table.to_string(),
                url: self.target.url.shown.clone(),
            }
        } else if self.plan.expired && is_missing_column(&e, "expires_at") {
            Error::NoExpiresAt {
                table: self.target.table.to_string(),
                url: self.target.url.shown.clone(),
            }
        } else {
            Error::Database {
                url: self.target.url.shown.clone(),
                cleared,
                dry_run: self.plan.dry_run,
                reason: describe(&e, &self.target.url),
                fix: dialect::fix_for(&e, &self.target.table.to_string()),
            }
        }
    }

    /// `e` with what the server can tell of the lock it timed out on.
    async fn explained(&mut self, mut e: Error) -> Error {
        if let Error::LockTimeout { holder, .. } = &mut e {
            *holder = self.lock_holder().await;
        }
        e
    }

    /// Delete every row of the table (or, in a dry run, count them). `progress` is told
    /// each batch's count as it lands. With the count, how the clear went: a truncate may
    /// have given way to the walk.
    pub async fn clear(mut self, mut progress: impl FnMut(u64)) -> Result<(u64, Strategy)> {
        let result = if self.plan.dry_run {
            self.count().await
        } else {
            self.delete_all(&mut progress).await
        };
        let result = match result {
            Err(e) => Err(self.explained(e).await),
            ok => ok,
        };
        let _ = self.conn.close().await;
        result.map(|n| (n, self.strategy))
    }

    /// The clear proper, and what can only be said once it is done.
    async fn delete_all(&mut self, progress: &mut dyn FnMut(u64)) -> Result<u64> {
        // An engine that cannot roll a statement back may have deleted rows before a
        // statement failed: the count before and after says how many.
        let before = if self.relation.transactional {
            None
        } else {
            Some(self.count().await?)
        };
        let stop = self.stop.clone();
        let mut run = Run {
            cleared: 0,
            stop: &stop,
            progress,
        };
        if self.strategy.path == Path::Truncate {
            // Rows written after the truncate's commit are new logins: no pass follows.
            match self.truncate(&mut run).await? {
                Truncated::Done => return Ok(run.cleared),
                Truncated::GaveWay(why) => self.strategy = Strategy::gave_way(&why),
            }
            run.check_stop()?;
        }
        let mut result = self.delete(&mut run).await;
        if let (Some(before), Err(e)) = (before, &mut result)
            && let Ok(left) = self.count().await
        {
            e.set_cleared(before.saturating_sub(left));
        }
        let alone = result?;
        if alone && self.nothing_keeps_rows(run.cleared).await? {
            // The walk had the server to itself and nothing on the table can keep a row
            // from its deletes: the table is empty, and the look would only read the whole
            // heap of dead rows (about 0.15 s per million) to say so.
            return Ok(run.cleared);
        }
        if !self.plan.expired {
            // Sessions the application wrote while the clear ran can be left behind a walk:
            // batches take them too, pass after pass while each deletes something. A pass
            // that deletes nothing met rows it cannot delete: an error naming how many.
            // When every pass still found new rows to delete, the application is writing
            // sessions as fast as they go: those are new logins, not rows kept from the
            // clear, and they stay (`--rotate-secret`'s look counts them).
            for _ in 0..FINISHING_PASSES {
                if !self.any_row(run.cleared).await? {
                    self.check_hidden(run.cleared).await?;
                    break;
                }
                let before = run.cleared;
                for part in &self.relation.parts.clone() {
                    self.delete_in_batches(part, &mut run).await?;
                }
                if run.cleared == before {
                    return Err(self.rows_remain(run.cleared).await);
                }
            }
        }
        Ok(run.cleared)
    }

    /// The whole clear, one physical table at a time: a walk in the table's own order where
    /// the dialect has a cheap one (see each), then batches until nothing is left. Returns
    /// whether a PostgreSQL walk covered every physical table with the server to itself (no
    /// other transaction wrote anything while it went: see [`Company`]).
    async fn delete(&mut self, run: &mut Run<'_>) -> Result<bool> {
        let parts = self.relation.parts.clone();
        if !self.plan.expired {
            // Expired rows are found through the `expires_at` index instead: walking the
            // whole table for them would read every row to delete a few.
            match self.target.dialect() {
                // Then the batches, unless the walk had the server to itself: rows another
                // transaction updated during the walk may have moved behind it.
                Dialect::Postgres => {
                    let mut alone = !parts.is_empty();
                    for part in &parts {
                        if self.delete_by_pages(part, run).await? == Company::Possible {
                            alone = false;
                            self.delete_in_batches(part, run).await?;
                        }
                    }
                    return Ok(alone);
                }
                Dialect::MySql => {
                    if let Some(walk) = self.integer_key_walk(run.cleared).await? {
                        // Rows that existed when the clear started are all behind the
                        // walk once it ends, and rows added since got keys above them.
                        if self.walk(&walk, run).await? {
                            return Ok(false);
                        }
                    }
                }
                Dialect::Sqlite if self.strategy.path == Path::Delete => {
                    self.delete_at_once(run).await?;
                    return Ok(false);
                }
                Dialect::Sqlite => {}
            }
        }
        for part in &parts {
            self.delete_in_batches(part, run).await?;
        }
        Ok(false)
    }

    /// Batches of the dialect's own form until one comes up short. Where the walks cannot be
    /// used this is the whole clear; after the PostgreSQL walk it is the sweep that picks up
    /// rows the application moved or added behind it.
    async fn delete_in_batches(&mut self, part: &Part, run: &mut Run<'_>) -> Result<()> {
        let sql = delete_batch_sql(
            self.target.dialect(),
            part,
            self.plan.expired,
            self.relation.key.as_deref(),
        );
        let mut short = 0u32;
        loop {
            let result = waiting!(
                self,
                sqlx::query(AssertSqlSafe(sql.clone()))
                    .execute(&mut self.conn)
                    .await
            );
            let done = self.landed(result, run)?;
            if done < BATCH {
                // On PostgreSQL a batch comes up short also when the application updated
                // picked rows meanwhile; go on while any is left (a bounded number of times,
                // so an application that keeps writing cannot keep the clear going forever).
                if self.target.dialect() != Dialect::Postgres
                    || short >= MAX_SHORT_BATCHES
                    || !self.any_left(part, run.cleared).await?
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

/// Connect to the database `url` names and set the session up as a clear needs it (the
/// clock in UTC, each statement's wait for a lock at most `statement_wait`: a clear's
/// [`lock_slice`], sent again while its lock timeout lasts), then run `extra` (what a caller
/// needs of the session besides).
pub(crate) async fn open(
    url: &DatabaseUrl,
    statement_wait: Duration,
    extra: &[&str],
) -> Result<AnyConnection> {
    let connect_error = |(reason, fix): (String, String)| Error::DatabaseConnect {
        url: url.shown.clone(),
        reason,
        fix,
        sqlite: url.sqlite.is_some(),
    };
    sqlx::any::install_default_drivers();
    let connect = AnyConnection::connect(url.connect_url());
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(connect_error(connect_failure(&e, url))),
        Err(_) => return Err(connect_error(refused::no_answer(url))),
    };
    let extra = extra.iter().map(|s| s.to_string());
    for sql in session_setup_sql(url, statement_wait)
        .into_iter()
        .chain(extra)
    {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
            return Err(connect_error(connect_failure(&e, url)));
        }
    }
    Ok(conn)
}

/// A connection's error, and for an SQLite file what opening it ourselves says (SQLite's
/// own `unable to open database file` does not say why: permissions, a read-only place).
pub(crate) fn describe_connect(e: &sqlx::Error, url: &DatabaseUrl) -> String {
    let reason = describe(e, url);
    let Some(sqlite) = &url.sqlite else {
        return reason;
    };
    let file = sqlite.file.display();
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&sqlite.file)
    {
        Err(cause) => format!("{reason} (opening `{file}`: {cause})"),
        Ok(_) => format!("{reason} (the file `{file}`)"),
    }
}

/// An error's text without the URL's password, in case a driver quotes it.
pub(crate) fn describe(e: &sqlx::Error, url: &DatabaseUrl) -> String {
    // A server's own message reads better than the driver's wrapping of it (which, for
    // PostgreSQL, ends with a line number inside the server's source).
    let text = match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    url.scrub(&text)
}
