//! PostgreSQL: the walk of the table's heap by ranges of pages, and whether other
//! transactions wrote while it went.

use sqlx::AssertSqlSafe;

use super::relation::Part;
use super::{BATCH, Run, SqlTarget};
use crate::error::{Error, Result};

impl SqlTarget<'_> {
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
    pub(super) async fn delete_by_pages(
        &mut self,
        part: &Part,
        run: &mut Run<'_>,
    ) -> Result<Company> {
        // Through the parent, a range of pages would be read in every physical table: the
        // batches alone, which pick rows by address and `tableoid`.
        if part.via.is_some() {
            return Ok(Company::Possible);
        }
        let Some(layout) = self.heap_layout(part, run.cleared).await? else {
            return Ok(Company::Possible);
        };
        // After the version check: PostgreSQL 12 has no `pg_current_snapshot`. Rows added
        // between the two are found as the walk follows the table's growth.
        let before = self.snapshot(run.cleared).await?;
        let set = "SET synchronous_commit = off";
        let result = waiting!(
            self,
            sqlx::raw_sql(AssertSqlSafe(set))
                .execute(&mut self.conn)
                .await
        );
        result.map_err(|e| self.fail(e, run.cleared))?;
        // The counter is read again before the durable commit below, which takes an id.
        let walked = async {
            let ours = self.walk_pages(part, layout, run).await?;
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
    async fn walk_pages(
        &mut self,
        part: &Part,
        layout: HeapLayout,
        run: &mut Run<'_>,
    ) -> Result<u64> {
        // `ONLY`: page and row addresses are of this one physical table.
        let sql = format!(
            "DELETE FROM {} WHERE ctid >= $1::tid AND ctid < $2::tid",
            part.from()
        );
        let mut pages = layout.pages;
        let mut walk = PageWalk::new(layout.step);
        let mut regrown = 0u32;
        let mut writes = 0u64;
        loop {
            if walk.page >= pages {
                // The table may have grown while the walk went; follow it a few times.
                let now = self
                    .heap_layout(part, run.cleared)
                    .await?
                    .map_or(0, |l| l.pages);
                if now <= walk.page || regrown >= MAX_REGROWN {
                    return Ok(writes);
                }
                pages = now;
                regrown += 1;
            }
            let (from, to) = walk.range();
            let result = waiting!(
                self,
                sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(from.clone())
                    .bind(to.clone())
                    .execute(&mut self.conn)
                    .await
            );
            let done = self.landed(result, run)?;
            writes += u64::from(done > 0);
            walk.advance(done);
            run.check_stop()?;
        }
    }

    /// The server's transaction counter and how many transactions are in progress now
    /// (PostgreSQL; the connection is between transactions, so not its own).
    async fn snapshot(&mut self, cleared: u64) -> Result<XidSnapshot> {
        let row: std::result::Result<(i64, i64), _> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(
                "SELECT pg_snapshot_xmax(s)::text::int8, \
                 (SELECT count(*) FROM pg_snapshot_xip(s))::int8 FROM pg_current_snapshot() s",
            ))
            .fetch_one(&mut self.conn)
            .await
        );
        let (xmax, in_progress) = row.map_err(|e| self.fail(e, cleared))?;
        Ok(XidSnapshot { xmax, in_progress })
    }

    /// The server's version and the table's size in pages, with a first guess of how many
    /// pages hold [`BATCH`] rows (from the planner's statistics); `None` before PostgreSQL 14,
    /// which cannot scan a range of row addresses.
    async fn heap_layout(&mut self, part: &Part, cleared: u64) -> Result<Option<HeapLayout>> {
        let row: std::result::Result<(i32, i64, i64, f64), _> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(
                "SELECT current_setting('server_version_num')::int4, \
                 (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8, \
                 c.relpages::int8, c.reltuples::float8 \
                 FROM pg_class c WHERE c.oid = $1::regclass",
            ))
            .bind(part.name.clone())
            .fetch_one(&mut self.conn)
            .await
        );
        let (version, pages, stat_pages, stat_rows) = row.map_err(|e| self.fail(e, cleared))?;
        if version < 140_000 {
            return Ok(None);
        }
        Ok(Some(HeapLayout {
            pages: u64::try_from(pages).unwrap_or(0),
            step: first_step(stat_pages, stat_rows),
        }))
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
pub(super) enum Company {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
