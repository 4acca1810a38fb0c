//! SQLite: one `DELETE` for a full clear where nothing makes it go row by row, and the
//! rows an expired clear cannot tell the age of.

use sqlx::AssertSqlSafe;

use super::{Run, SqlTarget};
use crate::database_url::Dialect;
use crate::error::Result;

impl SqlTarget<'_> {
    /// SQLite without triggers on the table: one `DELETE` with no `WHERE`, which SQLite runs
    /// by dropping the table's pages (its truncate optimization) in a fraction of the time
    /// batches take. Batches would not help the application either: SQLite has one writer
    /// and no queue, so a writer that finds the database busy sleeps and retries, and a
    /// clear that takes the lock again at once keeps it waiting for the whole run. With a
    /// trigger, SQLite deletes row by row, and the batches keep the clear interruptible.
    /// Taken when the clear's strategy says so (see `SqlTarget::decide`).
    pub(super) async fn delete_at_once(&mut self, run: &mut Run<'_>) -> Result<()> {
        let sql = format!(
            "DELETE FROM {}",
            self.target.table.quoted(self.target.dialect())
        );
        let result = waiting!(
            self,
            sqlx::query(AssertSqlSafe(sql.clone()))
                .execute(&mut self.conn)
                .await
        );
        self.landed(result, run)?;
        Ok(())
    }

    /// With `--expired` on SQLite, the rows whose `expires_at` SQLite cannot read as a time
    /// (text `julianday()` gives no time for, such as an offset without its colon, `+0200`,
    /// or Unix seconds stored as text; or bytes): never taken for expired, so never deleted,
    /// and counted here so the clear can say so. 0 elsewhere, and when the count fails (the
    /// clear that follows says why).
    pub async fn unreadable_expiry(&mut self) -> u64 {
        if !self.plan.expired || self.target.dialect() != Dialect::Sqlite {
            return 0;
        }
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE typeof(expires_at) IN ('text', 'blob') \
             AND julianday(expires_at) IS NULL",
            self.target.table.quoted(Dialect::Sqlite)
        );
        let n: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        n.ok().and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
    }

    /// The warning for `n` rows [`SqlTarget::unreadable_expiry`] counted.
    pub fn unreadable_warning(&self, n: u64) -> String {
        format!(
            "{n} row(s) of {} have an expires_at SQLite cannot read as a time (such as an offset without its colon, `+0200`, or Unix seconds stored as text), so they were not counted as expired; store expires_at as `YYYY-MM-DD HH:MM:SS` in UTC (or Unix seconds as a number), or clear them without --expired",
            self.target.table
        )
    }
}
