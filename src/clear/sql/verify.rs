//! After a full clear: whether the table is empty, as the clearing role sees it and, where
//! row-level security hides rows from that role, as the server's statistics count.
//!
//! A clear that deleted every row it was shown can still leave rows: a trigger that skips
//! the delete (SQLite `RAISE(IGNORE)`), a rule that does instead, a policy that lets the role
//! see rows it may not delete, a policy that hides rows, or the application writing while
//! the clear ran. None of that is a success. The catalog (row-level security on, a role
//! that does not bypass it) only explains what the counts find.

use sqlx::AssertSqlSafe;

use super::relation::regclasses;
use super::{Dialect, SqlTarget, count_sql};
use crate::error::{Error, Result};

impl SqlTarget<'_> {
    /// The error for rows a finishing pass could not delete, after `cleared` were: how many
    /// the role still sees.
    pub(super) async fn rows_remain(&mut self, cleared: u64) -> Error {
        let dialect = self.target.dialect();
        let sql = count_sql(dialect, &self.target.table.quoted(dialect), false);
        let left: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        let left = match left {
            Ok(n) => u64::try_from(n).unwrap_or(0),
            Err(e) => return self.fail(e, cleared),
        };
        Error::RowsRemain {
            table: self.target.table.to_string(),
            url: self.target.url.shown.clone(),
            left,
            cleared,
            policy: self.relation.hidden_from.clone(),
        }
    }

    /// With the table empty as the role sees it: an error when row-level security hides
    /// rows from the role that the server's statistics still count.
    pub(super) async fn check_hidden(&mut self, cleared: u64) -> Result<()> {
        let Some(role) = self.relation.hidden_from.clone() else {
            return Ok(());
        };
        // The server's own count of the table's live rows tells whether a policy hides
        // some (a policy that lets the role see every row hides none).
        let unseen = self.unseen_rows(cleared).await?;
        if unseen == Some(0) {
            return Ok(());
        }
        Err(Error::RowsHidden {
            table: self.target.table.to_string(),
            url: self.target.url.shown.clone(),
            role,
            cleared,
            unseen,
        })
    }

    /// After a PostgreSQL walk that had the server to itself: whether the catalog rules out
    /// every way a row can outlive the walk's deletes. Each walk statement deleted every row
    /// of its page range that was there before the clear began (nothing was in progress
    /// then, and no other transaction wrote since); what could still keep or bring back a
    /// row is the table's own machinery: a rule on delete (`DO INSTEAD`, or `ALSO` writing
    /// back), a trigger on delete (skipping a row, or writing one), row-level security that
    /// applies to the role on any of its physical tables (see `inspect_postgres`), or a
    /// cascade into a table whose own triggers do. With none of them the table is empty,
    /// and the look can be spared.
    pub(super) async fn nothing_keeps_rows(&mut self, cleared: u64) -> Result<bool> {
        if self.target.dialect() != Dialect::Postgres
            || self.plan.expired
            || self.relation.hidden_from.is_some()
            || !self.relation.cascades.is_empty()
        {
            return Ok(false);
        }
        let tables = self.table_and_parts();
        // `tgtype & 8`: a trigger on DELETE, row or statement, before or after; `ev_type`
        // '4': a rule on DELETE. Internal triggers are the foreign keys' own.
        let sql = format!(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid IN ({tables}) \
               AND NOT t.tgisinternal AND (t.tgtype & 8) <> 0) \
             AND NOT EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class IN ({tables}) \
               AND r.ev_type = '4')"
        );
        let none: std::result::Result<bool, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        none.map_err(|e| self.fail(e, cleared))
    }

    /// Whether the role sees any row of the table (the query stops at the first).
    pub(super) async fn any_row(&mut self, cleared: u64) -> Result<bool> {
        let table = self.target.table.quoted(self.target.dialect());
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) first_row");
        let any: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        Ok(any.map_err(|e| self.fail(e, cleared))? > 0)
    }

    /// PostgreSQL 15 and later: the live rows of every physical table of the sessions table
    /// by the server's statistics, which row-level security does not filter, after this
    /// connection's own deletes are counted in; `None` where the server keeps no such count
    /// (older servers report statistics late, and `track_counts` may be off).
    async fn unseen_rows(&mut self, cleared: u64) -> Result<Option<u64>> {
        if self.target.dialect() != Dialect::Postgres {
            return Ok(None);
        }
        let counted: std::result::Result<bool, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(
                "SELECT current_setting('server_version_num')::int4 >= 150000 \
                 AND current_setting('track_counts')::bool",
            ))
            .fetch_one(&mut self.conn)
            .await
        );
        if !counted.map_err(|e| self.fail(e, cleared))? {
            return Ok(None);
        }
        // The deletes of this connection reach the statistics when it next goes idle.
        let flush: std::result::Result<_, _> = waiting!(
            self,
            sqlx::raw_sql(AssertSqlSafe("SELECT pg_stat_force_next_flush()"))
                .execute(&mut self.conn)
                .await
        );
        flush.map_err(|e| self.fail(e, cleared))?;
        let parts = regclasses(self.relation.parts.iter().map(|p| p.name.as_str()));
        if parts.is_empty() {
            return Ok(Some(0));
        }
        let sql = format!(
            "SELECT COALESCE(sum(n_live_tup), 0)::int8 FROM pg_stat_all_tables WHERE relid IN ({})",
            parts
        );
        let live: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        );
        let live = live.map_err(|e| self.fail(e, cleared))?;
        Ok(Some(u64::try_from(live).unwrap_or(0)))
    }
}
