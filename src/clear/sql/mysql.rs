//! MySQL/MariaDB: the walk of the table by its integer primary key.

use sqlx::AssertSqlSafe;

use super::{BATCH, Run, SqlTarget};
use crate::error::Result;

impl SqlTarget<'_> {
    /// Walk the table in the order of `walk`'s key, each statement deleting the rows up to
    /// the key [`BATCH`] rows on. `DELETE ... LIMIT` starts from the table's beginning every
    /// time and steps again over the rows earlier ones deleted that InnoDB has not purged
    /// yet, so each costs more than the last; the walk starts each where the last ended. Returns
    /// whether it reached the end (false if the key did not advance, which leaves the rest to the batches).
    pub(super) async fn walk(&mut self, walk: &Walk, run: &mut Run<'_>) -> Result<bool> {
        let mut last: Option<String> = None;
        loop {
            let bound: std::result::Result<Option<String>, _> = waiting!(
                self,
                match &last {
                    None => sqlx::query_scalar(AssertSqlSafe(walk.first.clone())),
                    Some(l) => {
                        sqlx::query_scalar(AssertSqlSafe(walk.next.clone())).bind(l.clone())
                    }
                }
                .fetch_optional(&mut self.conn)
                .await
            );
            let bound = bound.map_err(|e| self.fail(e, run.cleared))?;
            if let (Some(l), Some(b)) = (&last, &bound)
                && !walk.ascending(l, b)
            {
                return Ok(false);
            }
            // Up to the bound; without one, fewer than a batch are left: all of them.
            let result = waiting!(
                self,
                match (&last, &bound) {
                    (None, None) => sqlx::query(AssertSqlSafe(walk.all.clone())),
                    (None, Some(b)) => {
                        sqlx::query(AssertSqlSafe(walk.upto.clone())).bind(b.clone())
                    }
                    (Some(l), None) => {
                        sqlx::query(AssertSqlSafe(walk.after.clone())).bind(l.clone())
                    }
                    (Some(l), Some(b)) => sqlx::query(AssertSqlSafe(walk.between.clone()))
                        .bind(l.clone())
                        .bind(b.clone()),
                }
                .execute(&mut self.conn)
                .await
            );
            self.landed(result, run)?;
            let Some(bound) = bound else {
                return Ok(true);
            };
            last = Some(bound);
            run.check_stop()?;
        }
    }

    /// MySQL/MariaDB: a walk by the table's primary key, if it is one integer column (as the
    /// generated migration makes it), through its index.
    pub(super) async fn integer_key_walk(&mut self, cleared: u64) -> Result<Option<Walk>> {
        let rows: std::result::Result<Vec<(String, String, String)>, _> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                 AND COLUMN_KEY = 'PRI'",
            ))
            .bind(self.target.table.schema.clone())
            .bind(self.target.table.name.clone())
            .fetch_all(&mut self.conn)
            .await
        );
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
            &self.target.table.quoted(self.target.dialect()),
            &format!("`{}`", name.replace('`', "``")),
            cast,
        )))
    }
}

/// The statements of a walk in key order (see [`SqlTarget::walk`]); bounds are passed as
/// the text the server wrote them in, and cast back to the key's type.
pub(super) struct Walk {
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
}
