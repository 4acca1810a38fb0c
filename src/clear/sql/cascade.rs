//! What else a delete of sessions changes: the foreign keys of other tables that reference
//! the sessions table with `ON DELETE CASCADE`, `SET NULL` or `SET DEFAULT`, and how many of
//! their rows a clear reaches.

use sqlx::AssertSqlSafe;

use super::relation::literal;
use super::{Dialect, SqlTarget};
use crate::error::Result;

/// Rows of another table that a delete of sessions changes through a foreign key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cascade {
    /// The referencing table, as the user would name it.
    pub table: String,
    /// `CASCADE` (its rows are deleted), `SET NULL` or `SET DEFAULT` (their key is reset).
    #[serde(rename = "on_delete")]
    pub action: String,
    /// How many of its rows the clear changes.
    pub rows: u64,
}

impl Cascade {
    /// What the clear does to the table, as a verb phrase: `delete 120 row(s) of ...`.
    pub fn describe(&self) -> String {
        let (verb, to) = match self.action.as_str() {
            "CASCADE" => ("delete", String::new()),
            "SET NULL" => ("set the key of", " to NULL".to_string()),
            _ => ("set the key of", " to its default".to_string()),
        };
        format!(
            "{verb} {} row(s) of `{}`{to} (ON DELETE {})",
            self.rows, self.table, self.action
        )
    }
}

impl SqlTarget<'_> {
    /// The foreign keys whose `ON DELETE` changes other tables' rows when sessions go, each
    /// with how many rows this clear would change.
    ///
    /// Long because it holds one catalog query per dialect, kept whole so each reads as SQL.
    pub(super) async fn find_cascades(&mut self) -> Result<Vec<Cascade>> {
        let found: Vec<(String, String, String, String)> = match self.target.dialect() {
            Dialect::Postgres => {
                // One row per foreign key: the referencing table, its action, and the column
                // lists on both sides (for partitioned tables, the top-level constraint).
                let sql = format!(
                    "SELECT format('%I.%I', n.nspname, c.relname), \
                       CASE con.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END, \
                       (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n), \
                       (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) \
                     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE con.contype = 'f' AND con.conparentid = 0 AND con.confdeltype IN ('c', 'n', 'd') \
                       AND con.confrelid = {}::regclass ORDER BY 1",
                    literal(&self.target.table.quoted(self.target.dialect()))
                );
                waiting!(
                    self,
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .fetch_all(&mut self.conn)
                        .await
                )
                .map_err(|e| self.fail(e, 0))?
            }
            Dialect::MySql => waiting!(
                self,
                sqlx::query_as(AssertSqlSafe(
                    "SELECT CONCAT('`', REPLACE(k.TABLE_SCHEMA, '`', '``'), '`.`', REPLACE(k.TABLE_NAME, '`', '``'), '`'), \
                       r.DELETE_RULE, \
                       GROUP_CONCAT(CONCAT('`', REPLACE(k.COLUMN_NAME, '`', '``'), '`') ORDER BY k.ORDINAL_POSITION), \
                       GROUP_CONCAT(CONCAT('`', REPLACE(k.REFERENCED_COLUMN_NAME, '`', '``'), '`') ORDER BY k.ORDINAL_POSITION) \
                     FROM information_schema.REFERENTIAL_CONSTRAINTS r \
                     JOIN information_schema.KEY_COLUMN_USAGE k \
                       ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME \
                       AND k.TABLE_NAME = r.TABLE_NAME \
                     WHERE r.UNIQUE_CONSTRAINT_SCHEMA = COALESCE(?, DATABASE()) AND r.REFERENCED_TABLE_NAME = ? \
                       AND r.DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') \
                     GROUP BY k.TABLE_SCHEMA, k.TABLE_NAME, r.CONSTRAINT_NAME, r.DELETE_RULE ORDER BY 1",
                ))
                .bind(self.target.table.schema.clone())
                .bind(self.target.table.name.clone())
                .fetch_all(&mut self.conn)
                .await
            )
            .map_err(|e| self.fail(e, 0))?,
            Dialect::Sqlite => {
                // SQLite enforces foreign keys only when the connection turns them on, as
                // the app's URL says (see `SqliteSettings::foreign_keys`).
                let enforced = self.target.url.sqlite.as_ref().is_some_and(|s| s.foreign_keys);
                if !enforced {
                    return Ok(Vec::new());
                }
                let schema = self.target.table.schema.clone().unwrap_or_else(|| "main".into());
                waiting!(
                    self,
                    sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT '\"' || replace(m.name, '\"', '\"\"') || '\"', f.on_delete, \
                           group_concat('\"' || replace(f.\"from\", '\"', '\"\"') || '\"', ','), \
                           group_concat('\"' || replace(coalesce(f.\"to\", ''), '\"', '\"\"') || '\"', ',') \
                         FROM {}.sqlite_master m, pragma_foreign_key_list(m.name, {}) f \
                         WHERE m.type = 'table' AND f.\"table\" = ? \
                           AND f.on_delete IN ('CASCADE', 'SET NULL', 'SET DEFAULT') \
                         GROUP BY m.name, f.id ORDER BY 1",
                        format_args!("\"{}\"", schema.replace('"', "\"\"")),
                        literal(&schema)
                    )))
                    .bind(self.target.table.name.clone())
                    .fetch_all(&mut self.conn)
                    .await
                )
                .map_err(|e| self.fail(e, 0))?
            }
        };
        let mut cascades = Vec::new();
        for (table, action, columns, referenced) in found {
            let rows = self.referencing_rows(&table, &columns, &referenced).await?;
            cascades.push(Cascade {
                table: table.replace(['"', '`'], ""),
                action,
                rows,
            });
        }
        Ok(cascades)
    }

    /// How many rows of `table` reference a session this clear deletes: every row whose key
    /// is set, for a full clear; those pointing at expired sessions, for `--expired`.
    async fn referencing_rows(
        &mut self,
        table: &str,
        columns: &str,
        referenced: &str,
    ) -> Result<u64> {
        let sessions = self.target.table.quoted(self.target.dialect());
        let set = columns
            .split(',')
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = if self.plan.expired {
            let tuple = |cols: &str| {
                if cols.contains(',') {
                    format!("({cols})")
                } else {
                    cols.to_string()
                }
            };
            format!(
                "SELECT COUNT(*) FROM {table} WHERE {set} AND {} IN (SELECT {} FROM {sessions}{})",
                tuple(columns),
                referenced,
                super::dialect::filter(self.target.dialect(), true)
            )
        } else {
            // The referenced key may be absent from the sessions table only where
            // constraints are not enforced; a full clear takes every referencing row.
            format!("SELECT COUNT(*) FROM {table} WHERE {set}")
        };
        let n: i64 = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_one(&mut self.conn)
                .await
        )
        .map_err(|e| self.fail(e, 0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_what_it_does() {
        let cascade = Cascade {
            table: "public.carts".into(),
            action: "CASCADE".into(),
            rows: 120,
        };
        assert_eq!(
            cascade.describe(),
            "delete 120 row(s) of `public.carts` (ON DELETE CASCADE)"
        );
    }
}
