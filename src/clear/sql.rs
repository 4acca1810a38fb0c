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

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::Stop;
use crate::database_url::DatabaseUrl;
pub use crate::database_url::Dialect;
use crate::error::{Error, Result};

pub const BATCH: u64 = 10_000;
/// Short PostgreSQL batches (rows moved by application updates) retried before giving up.
const MAX_SHORT_BATCHES: u32 = 50;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
/// UTC first (see [`session_setup_sql`]), so `timestamp` and `timestamptz`/`TIMESTAMP` columns
/// compare alike; SQLite compares the text the sqlite3 shard writes (`YYYY-MM-DD HH:MM:SS`).
fn expired_condition(dialect: Dialect) -> &'static str {
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
fn session_setup_sql(url: &DatabaseUrl) -> Vec<String> {
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

    /// Walk the table in the order of `walk`'s key, each statement deleting the rows up to
    /// the key [`BATCH`] rows on. `DELETE ... LIMIT` starts from the table's beginning every
    /// time and steps again over the rows earlier ones deleted that InnoDB has not purged
    /// yet, so each costs more than the last; the walk starts each where the last ended. Returns whether it reached the end
    /// (false if the key did not advance, which leaves the rest to the batches).
    async fn walk(&mut self, walk: &Walk, run: &mut Run<'_>) -> Result<bool> {
        let mut last: Option<String> = None;
        loop {
            let bound: std::result::Result<Option<String>, _> = match &last {
                None => sqlx::query_scalar(AssertSqlSafe(walk.first.clone())),
                Some(l) => sqlx::query_scalar(AssertSqlSafe(walk.next.clone())).bind(l.clone()),
            }
            .fetch_optional(&mut self.conn)
            .await;
            let bound = bound.map_err(|e| self.fail(e, run.cleared))?;
            if let (Some(l), Some(b)) = (&last, &bound)
                && !walk.ascending(l, b)
            {
                return Ok(false);
            }
            // Up to the bound; without one, fewer than a batch are left: all of them.
            let delete = match (&last, &bound) {
                (None, None) => sqlx::query(AssertSqlSafe(walk.all.clone())),
                (None, Some(b)) => sqlx::query(AssertSqlSafe(walk.upto.clone())).bind(b.clone()),
                (Some(l), None) => sqlx::query(AssertSqlSafe(walk.after.clone())).bind(l.clone()),
                (Some(l), Some(b)) => sqlx::query(AssertSqlSafe(walk.between.clone()))
                    .bind(l.clone())
                    .bind(b.clone()),
            };
            let result = delete.execute(&mut self.conn).await;
            self.landed(result, run)?;
            let Some(bound) = bound else {
                return Ok(true);
            };
            last = Some(bound);
            run.check_stop()?;
        }
    }

    /// PostgreSQL 14 and later: walk the table's heap in ranges of pages, each statement a
    /// TID range scan that deletes as it reads, as cheap per row as one `DELETE`. Each range
    /// spans the pages that held about [`BATCH`] rows at the density of the range before
    /// (at most twice as many pages as that one, and never more than [`MAX_PAGES`], so a
    /// statement's length is bounded by the table's size on disk, not by its row count).
    /// Commits during the walk do not wait for the WAL flush; the walk ends with one that
    /// does, which makes every earlier one durable too. Older servers cannot scan a range of
    /// row addresses, and go straight to the batches.
    ///
    /// Returns whether any other transaction can have written during the walk (see
    /// [`Company`]): the sweep after it costs a read of the whole heap of dead rows (about
    /// 0.2 s per million), a quarter of a clear that had the server to itself.
    async fn delete_by_pages(&mut self, run: &mut Run<'_>) -> Result<Company> {
        let Some(layout) = self.heap_layout(run.cleared).await? else {
            return Ok(Company::Possible);
        };
        // After the version check: PostgreSQL 12 has no `pg_current_snapshot`. Rows added
        // between the two are found as the walk follows the table's growth.
        let before = self.snapshot(run.cleared).await?;
        let set = "SET synchronous_commit = off";
        let result = sqlx::raw_sql(AssertSqlSafe(set))
            .execute(&mut self.conn)
            .await;
        result.map_err(|e| self.fail(e, run.cleared))?;
        // The counter is read again before the durable commit below, which takes an id.
        let walked = async {
            let ours = self.walk_pages(layout, run).await?;
            let after = self.snapshot(run.cleared).await?;
            Ok::<_, Error>(Company::between(&before, &after, ours))
        }
        .await;
        // Also after a failure or Ctrl-C: what was reported deleted is made durable (unless
        // the connection itself is gone, and the error says so).
        let durable = "RESET synchronous_commit; SELECT pg_current_xact_id()::text";
        let flushed = sqlx::raw_sql(AssertSqlSafe(durable))
            .execute(&mut self.conn)
            .await;
        let company = walked?;
        flushed.map_err(|e| self.fail(e, run.cleared))?;
        Ok(company)
    }

    /// Walk the pages; returns how many of its statements deleted rows, each of which took
    /// one transaction id. (One that deleted nothing can have taken one too, trying a row
    /// another transaction changed: that only makes the walk look accompanied.)
    async fn walk_pages(&mut self, layout: HeapLayout, run: &mut Run<'_>) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {} WHERE ctid >= $1::tid AND ctid < $2::tid",
            self.table.quoted(self.dialect)
        );
        let mut pages = layout.pages;
        let mut walk = PageWalk::new(layout.step);
        let mut regrown = 0u32;
        let mut writes = 0u64;
        loop {
            if walk.page >= pages {
                // The table may have grown while the walk went; follow it a few times.
                let now = self.heap_layout(run.cleared).await?.map_or(0, |l| l.pages);
                if now <= walk.page || regrown >= MAX_REGROWN {
                    return Ok(writes);
                }
                pages = now;
                regrown += 1;
            }
            let (from, to) = walk.range();
            let result = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(from)
                .bind(to)
                .execute(&mut self.conn)
                .await;
            let done = self.landed(result, run)?;
            writes += u64::from(done > 0);
            walk.advance(done);
            run.check_stop()?;
        }
    }

    /// The server's transaction counter and how many transactions are in progress now
    /// (PostgreSQL; the connection is between transactions, so not its own).
    async fn snapshot(&mut self, cleared: u64) -> Result<XidSnapshot> {
        let row: std::result::Result<(i64, i64), _> = sqlx::query_as(AssertSqlSafe(
            "SELECT pg_snapshot_xmax(s)::text::int8, \
             (SELECT count(*) FROM pg_snapshot_xip(s))::int8 FROM pg_current_snapshot() s",
        ))
        .fetch_one(&mut self.conn)
        .await;
        let (xmax, in_progress) = row.map_err(|e| self.fail(e, cleared))?;
        Ok(XidSnapshot { xmax, in_progress })
    }

    /// The server's version and the table's size in pages, with a first guess of how many
    /// pages hold [`BATCH`] rows (from the planner's statistics); `None` before PostgreSQL 14,
    /// which cannot scan a range of row addresses.
    async fn heap_layout(&mut self, cleared: u64) -> Result<Option<HeapLayout>> {
        let row: std::result::Result<(i32, i64, i64, f64), _> = sqlx::query_as(AssertSqlSafe(
            "SELECT current_setting('server_version_num')::int4, \
             (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8, \
             c.relpages::int8, c.reltuples::float8 \
             FROM pg_class c WHERE c.oid = $1::regclass",
        ))
        .bind(self.table.quoted(self.dialect))
        .fetch_one(&mut self.conn)
        .await;
        let (version, pages, stat_pages, stat_rows) = row.map_err(|e| self.fail(e, cleared))?;
        if version < 140_000 {
            return Ok(None);
        }
        Ok(Some(HeapLayout {
            pages: u64::try_from(pages).unwrap_or(0),
            step: first_step(stat_pages, stat_rows),
        }))
    }

    /// MySQL/MariaDB: a walk by the table's primary key, if it is one integer column (as the
    /// generated migration makes it), through its index.
    async fn integer_key_walk(&mut self, cleared: u64) -> Result<Option<Walk>> {
        let rows: std::result::Result<Vec<(String, String, String)>, _> =
            sqlx::query_as(AssertSqlSafe(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                 AND COLUMN_KEY = 'PRI'",
            ))
            .bind(self.table.schema.clone())
            .bind(self.table.name.clone())
            .fetch_all(&mut self.conn)
            .await;
        let rows = rows.map_err(|e| self.fail(e, cleared))?;
        let [(name, data_type, column_type)] = rows.as_slice() else {
            return Ok(None);
        };
        let integer = ["tinyint", "smallint", "mediumint", "int", "bigint"]
            .iter()
            .any(|t| data_type.eq_ignore_ascii_case(t));
        if !integer {
            return Ok(None);
        }
        let cast = if column_type.to_ascii_lowercase().contains("unsigned") {
            "CAST(? AS UNSIGNED)"
        } else {
            "CAST(? AS SIGNED)"
        };
        Ok(Some(Walk::new(
            &self.table.quoted(self.dialect),
            &format!("`{}`", name.replace('`', "``")),
            cast,
        )))
    }

    /// SQLite without triggers on the table: one `DELETE` with no `WHERE`, which SQLite runs
    /// by dropping the table's pages (its truncate optimization) in a fraction of the time
    /// batches take. Batches would not help the application either: SQLite has one writer
    /// and no queue, so a writer that finds the database busy sleeps and retries, and a
    /// clear that takes the lock again at once keeps it waiting for the whole run. With a
    /// trigger, SQLite deletes row by row, and the batches keep the clear interruptible.
    /// Returns whether the single statement ran.
    async fn delete_at_once(&mut self, run: &mut Run<'_>) -> Result<bool> {
        let schema = match &self.table.schema {
            Some(s) => format!("\"{s}\"."),
            None => String::new(),
        };
        let triggers: std::result::Result<i64, _> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {schema}sqlite_master WHERE type = 'trigger' AND tbl_name = ?"
        )))
        .bind(self.table.name.clone())
        .fetch_one(&mut self.conn)
        .await;
        if triggers.map_err(|e| self.fail(e, run.cleared))? > 0 {
            return Ok(false);
        }
        let sql = format!("DELETE FROM {}", self.table.quoted(self.dialect));
        let result = sqlx::query(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await;
        self.landed(result, run)?;
        Ok(true)
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

/// What [`SqlTarget::snapshot`] read: the first transaction id not yet completed, and the
/// transactions in progress below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct XidSnapshot {
    xmax: i64,
    in_progress: i64,
}

/// Whether a transaction other than the walk's own can have written to the table while it
/// went, and so moved a session behind it.
///
/// A row the walk has not reached yet and another transaction updates either gets its new
/// version where the walk still goes, or makes the walk's `DELETE` of it wait until that
/// transaction ends: in both cases the writer had a transaction id and was done before the
/// walk ended. So it was in progress when the walk started, or it took an id from the range
/// the server's counter crossed during the walk. When nothing was in progress at the start
/// and every id of that range went to the walk's own statements, no other transaction
/// wrote anything anywhere on the server, and the sweep after the walk can find nothing.
/// Any other transaction that took an id, even on another database, counts as company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Company {
    None,
    Possible,
}

impl Company {
    fn between(before: &XidSnapshot, after: &XidSnapshot, ours: u64) -> Self {
        let crossed = after.xmax.checked_sub(before.xmax);
        if before.in_progress == 0 && crossed.is_some() && crossed == i64::try_from(ours).ok() {
            Company::None
        } else {
            Company::Possible
        }
    }
}

/// How many times the page walk follows a table that grew while it went.
const MAX_REGROWN: u32 = 3;
/// Pages per statement when the statistics say nothing: few enough to hold at most a batch
/// whatever is in them (an 8 KiB page holds at most 291 rows).
const FIRST_PAGES: u64 = 32;
const _: () = assert!(FIRST_PAGES * 291 <= BATCH);
/// The most pages one statement of the page walk spans: 8 MiB of 8 KiB pages, which a
/// statement reads (and, full of the smallest rows, deletes) in well under a second.
const MAX_PAGES: u64 = 1024;

struct HeapLayout {
    pages: u64,
    /// The pages the first range spans.
    step: u64,
}

/// The first page step: the pages [`BATCH`] rows fill on average, by the statistics (or
/// [`FIRST_PAGES`] without them).
fn first_step(stat_pages: i64, stat_rows: f64) -> u64 {
    if stat_pages <= 0 || stat_rows.is_nan() || stat_rows < 1.0 {
        return FIRST_PAGES;
    }
    let pages = (stat_pages as f64) * (BATCH as f64) / stat_rows;
    (pages as u64).clamp(1, MAX_PAGES)
}

/// The page walk's next range: from page `page` up to (not including) page `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageWalk {
    page: u64,
    end: u64,
}

/// The largest page number a `tid` holds.
const LAST_PAGE: u64 = u32::MAX as u64;

impl PageWalk {
    fn new(step: u64) -> Self {
        PageWalk {
            page: 0,
            end: step.clamp(1, LAST_PAGE),
        }
    }

    /// The statement's bounds, as `tid`s.
    fn range(&self) -> (String, String) {
        (format!("({},0)", self.page), format!("({},0)", self.end))
    }

    /// Move on after the range's statement deleted `done` rows: the next range starts at
    /// its end, its size scaled to what this one held (at most doubling: empty pages say
    /// little of the ones after them).
    fn advance(&mut self, done: u64) {
        let covered = self.end.saturating_sub(self.page).max(1);
        let most = covered.saturating_mul(2);
        let scaled = covered
            .saturating_mul(BATCH)
            .checked_div(done)
            .unwrap_or(most);
        let step = scaled.clamp(1, most).min(MAX_PAGES);
        self.page = self.end;
        self.end = self.end.saturating_add(step).min(LAST_PAGE);
    }
}

/// The statements of a walk in key order (see [`SqlTarget::walk`]); bounds are passed as
/// the text the server wrote them in, and cast back to the key's type.
struct Walk {
    /// The key [`BATCH`] rows from the start, and after a bound.
    first: String,
    next: String,
    /// Deletes: everything, up to a bound, after one, and between two.
    all: String,
    upto: String,
    after: String,
    between: String,
}

impl Walk {
    /// A walk of MySQL `table` by integer `key`, bounds read back with `cast` (a `CAST(? AS
    /// ...)`).
    fn new(table: &str, key: &str, cast: &str) -> Self {
        let offset = BATCH - 1;
        Walk {
            first: format!(
                "SELECT CAST({key} AS CHAR) FROM {table} ORDER BY {key} LIMIT 1 OFFSET {offset}"
            ),
            next: format!(
                "SELECT CAST({key} AS CHAR) FROM {table} WHERE {key} > {cast} \
                 ORDER BY {key} LIMIT 1 OFFSET {offset}"
            ),
            all: format!("DELETE FROM {table}"),
            upto: format!("DELETE FROM {table} WHERE {key} <= {cast}"),
            after: format!("DELETE FROM {table} WHERE {key} > {cast}"),
            between: format!("DELETE FROM {table} WHERE {key} > {cast} AND {key} <= {cast}"),
        }
    }

    /// Whether integer key `b` (as the server wrote it) comes after `a`.
    fn ascending(&self, a: &str, b: &str) -> bool {
        matches!((a.parse::<i128>(), b.parse::<i128>()), (Ok(a), Ok(b)) if b > a)
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
fn describe(e: &sqlx::Error, url: &DatabaseUrl) -> String {
    // A server's own message reads better than the driver's wrapping of it (which, for
    // PostgreSQL, ends with a line number inside the server's source).
    let text = match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    url.scrub(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_walk() {
        let c = "CAST(? AS UNSIGNED)";
        let walk = Walk::new("`s`", "`id`", c);
        assert!(walk.ascending("-5", "3"));
        assert!(walk.ascending("18446744073709551614", "18446744073709551615"));
        assert!(!walk.ascending("7", "7"));
        assert!(!walk.ascending("8", "7"));
        assert!(!walk.ascending("7", "x"));
        assert_eq!(
            walk.first,
            "SELECT CAST(`id` AS CHAR) FROM `s` ORDER BY `id` LIMIT 1 OFFSET 9999"
        );
        assert_eq!(
            walk.between,
            format!("DELETE FROM `s` WHERE `id` > {c} AND `id` <= {c}")
        );
    }

    #[test]
    fn company_during_a_walk() {
        let snap = |xmax, in_progress| XidSnapshot { xmax, in_progress };
        let cases = [
            // 100 statements that deleted rows, and the counter moved by 100: alone.
            (snap(1000, 0), snap(1100, 0), Company::None),
            // One id more: another transaction wrote something meanwhile.
            (snap(1000, 0), snap(1101, 0), Company::Possible),
            // A transaction in progress at the start may have updated a row ahead of the walk.
            (snap(1000, 1), snap(1100, 0), Company::Possible),
            // Transactions in progress at the end are no matter: they had to end before the
            // walk could pass a row they held.
            (snap(1000, 0), snap(1100, 3), Company::None),
            // A counter that went back proves nothing.
            (snap(1000, 0), snap(900, 0), Company::Possible),
        ];
        for (before, after, company) in cases {
            assert_eq!(
                Company::between(&before, &after, 100),
                company,
                "{before:?} {after:?}"
            );
        }
    }

    #[test]
    fn first_step_from_statistics() {
        // No statistics yet (never analyzed: reltuples -1), or an empty table.
        assert_eq!(first_step(0, -1.0), FIRST_PAGES);
        assert_eq!(first_step(100, 0.0), FIRST_PAGES);
        assert_eq!(first_step(100, f64::NAN), FIRST_PAGES);
        // 25,000 pages of 40 rows: 250 pages make a batch.
        assert_eq!(first_step(25_000, 1_000_000.0), 250);
        // Very dense or very sparse tables stay within bounds.
        assert_eq!(first_step(1, 1_000_000.0), 1);
        assert_eq!(first_step(10_000_000, 10.0), MAX_PAGES);
    }

    #[test]
    fn page_walk_scales_its_ranges() {
        let mut walk = PageWalk::new(100);
        assert_eq!(walk.range(), ("(0,0)".to_string(), "(100,0)".to_string()));
        // Half a batch in 100 pages: the next range twice as long.
        walk.advance(5_000);
        assert_eq!((walk.page, walk.end), (100, 300));
        // 20,000 rows in 200 pages: half as long.
        walk.advance(20_000);
        assert_eq!((walk.page, walk.end), (300, 400));
        // A batch: the same.
        walk.advance(BATCH);
        assert_eq!((walk.page, walk.end), (400, 500));
        // Empty ranges double it, up to the cap.
        for _ in 0..20 {
            walk.advance(0);
        }
        assert_eq!(walk.end - walk.page, MAX_PAGES);
        // Never past the last page a tid can name.
        let mut end = PageWalk::new(10);
        end.end = LAST_PAGE;
        end.advance(0);
        assert_eq!((end.page, end.end), (LAST_PAGE, LAST_PAGE));
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
