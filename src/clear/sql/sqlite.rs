//! SQLite: one `DELETE` for a full clear where nothing makes it go row by row.

use sqlx::AssertSqlSafe;

use super::{Run, SqlTarget};
use crate::error::Result;

impl SqlTarget<'_> {
    /// SQLite without triggers on the table: one `DELETE` with no `WHERE`, which SQLite runs
    /// by dropping the table's pages (its truncate optimization) in a fraction of the time
    /// batches take. Batches would not help the application either: SQLite has one writer
    /// and no queue, so a writer that finds the database busy sleeps and retries, and a
    /// clear that takes the lock again at once keeps it waiting for the whole run. With a
    /// trigger, SQLite deletes row by row, and the batches keep the clear interruptible.
    /// Returns whether the single statement ran.
    pub(super) async fn delete_at_once(&mut self, run: &mut Run<'_>) -> Result<bool> {
        let schema = match &self.target.table.schema {
            Some(s) => format!("\"{s}\"."),
            None => String::new(),
        };
        let sql = format!(
            "SELECT COUNT(*) FROM {schema}sqlite_master WHERE type = 'trigger' AND tbl_name = ?"
        );
        let triggers: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .bind(self.target.table.name.clone())
                .fetch_one(&mut self.conn)
                .await
        );
        if triggers.map_err(|e| self.fail(e, run.cleared))? > 0 {
            return Ok(false);
        }
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
        Ok(true)
    }
}
