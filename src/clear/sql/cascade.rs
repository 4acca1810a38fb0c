//! What else a delete of sessions changes: the foreign keys of other tables that reference
//! the sessions table with `ON DELETE CASCADE`, `SET NULL` or `SET DEFAULT`, and how many of
//! their rows a clear reaches; and, where those rows are deleted in turn, the keys that
//! reference their tables, level after level (each table looked at once, so a cycle of
//! keys ends).

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
    /// The table whose deleted rows it references, when that is not the sessions table
    /// (a cascade of a cascade).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
}

impl Cascade {
    /// What the clear does to the table, as a verb phrase: `delete 120 row(s) of ...`.
    pub fn describe(&self) -> String {
        let (verb, to) = match self.action.as_str() {
            "CASCADE" => ("delete", String::new()),
            "SET NULL" => ("set the key of", " to NULL".to_string()),
            _ => ("set the key of", " to its default".to_string()),
        };
        let through = match &self.through {
            Some(table) => format!(" from `{table}`"),
            None => String::new(),
        };
        format!(
            "{verb} {} row(s) of `{}`{to} (ON DELETE {}{through})",
            self.rows, self.table, self.action
        )
    }
}

/// How deep the search for cascades goes, whatever the keys.
const MAX_LEVELS: usize = 8;

/// A table whose rows a clear deletes: named for SQL and for the catalog, with the condition
/// that picks those rows (`None`: every row).
struct Deleted {
    quoted: String,
    schema: Option<String>,
    name: String,
    condition: Option<String>,
}

/// A foreign key of `table` (quoted) referencing the table being looked at: its action, its
/// columns and the referenced ones (quoted, comma-separated).
struct Key {
    table: String,
    schema: Option<String>,
    name: String,
    action: String,
    columns: String,
    referenced: String,
}

impl SqlTarget<'_> {
    /// The foreign keys whose `ON DELETE` changes other tables' rows when sessions go, each
    /// with how many rows this clear would change; then those of the tables whose rows are
    /// deleted in turn. Long: a breadth-first walk over the referencing tables, each asked
    /// for its keys and its row count, which reads best in one place.
    pub(super) async fn find_cascades(&mut self) -> Result<Vec<Cascade>> {
        let dialect = self.target.dialect();
        let sessions = self.target.table.quoted(dialect);
        let mut seen = vec![sessions.clone()];
        let mut level = vec![Deleted {
            quoted: sessions,
            schema: self.target.table.schema.clone(),
            name: self.target.table.name.clone(),
            condition: self
                .plan
                .expired
                .then(|| super::dialect::expired_condition(dialect).to_string()),
        }];
        let mut cascades = Vec::new();
        for depth in 0..MAX_LEVELS {
            let mut next = Vec::new();
            for parent in &level {
                for key in self.keys_to(parent).await? {
                    let set = key
                        .columns
                        .split(',')
                        .map(|c| format!("{c} IS NOT NULL"))
                        .collect::<Vec<_>>()
                        .join(" AND ");
                    // The referenced key may be absent from the parent only where constraints
                    // are not enforced; rows referencing every parent row are those with a key.
                    let condition = match &parent.condition {
                        None => set,
                        Some(c) => format!(
                            "{set} AND {} IN (SELECT {} FROM {} WHERE {c})",
                            tuple(&key.columns),
                            key.referenced,
                            parent.quoted
                        ),
                    };
                    let rows = self.count_where(&key.table, &condition).await?;
                    // Below the first level, a key that changes nothing is not news.
                    if depth > 0 && rows == 0 {
                        continue;
                    }
                    cascades.push(Cascade {
                        table: key.table.replace(['"', '`'], ""),
                        action: key.action.clone(),
                        rows,
                        through: (depth > 0).then(|| parent.quoted.replace(['"', '`'], "")),
                    });
                    if key.action == "CASCADE" && !seen.contains(&key.table) {
                        seen.push(key.table.clone());
                        next.push(Deleted {
                            quoted: key.table,
                            schema: key.schema,
                            name: key.name,
                            condition: Some(condition),
                        });
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        Ok(cascades)
    }

    /// MySQL/MariaDB: whether InnoDB's own dictionary says no foreign key references
    /// `parent`, which spares the `information_schema` query below: MariaDB builds that
    /// view by opening every table the role can see (0.5 s warm with 3,300 tables). Only
    /// InnoDB enforces foreign keys, so its dictionary lists them all. `false` whenever it
    /// cannot tell: the role lacks the PROCESS privilege (as an application's usually
    /// does), the server has no such table (MySQL names it otherwise), or a name holds
    /// characters InnoDB stores encoded.
    async fn mysql_unreferenced(&mut self, parent: &Deleted) -> bool {
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain(&parent.name) || !parent.schema.as_deref().is_none_or(plain) {
            return false;
        }
        let found: std::result::Result<i64, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(
                "SELECT COUNT(*) FROM information_schema.INNODB_SYS_FOREIGN \
                 WHERE LOWER(REF_NAME) = LOWER(CONCAT(COALESCE(?, DATABASE()), '/', ?))",
            ))
            .bind(parent.schema.clone())
            .bind(parent.name.clone())
            .fetch_one(&mut self.conn)
            .await
        );
        matches!(found, Ok(0))
    }

    /// The foreign keys that reference `parent` with an `ON DELETE` that changes rows.
    ///
    /// Long because it holds one catalog query per dialect, kept whole so each reads as SQL.
    async fn keys_to(&mut self, parent: &Deleted) -> Result<Vec<Key>> {
        type Row = (String, Option<String>, String, String, String, String);
        let found: Vec<Row> = match self.target.dialect() {
            Dialect::Postgres => {
                // One row per foreign key: the referencing table, its action, and the column
                // lists on both sides (for partitioned tables, the top-level constraint).
                let sql = format!(
                    "SELECT format('%I.%I', n.nspname, c.relname), n.nspname::text, c.relname::text, \
                       CASE con.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END, \
                       (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n), \
                       (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) \
                     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE con.contype = 'f' AND con.conparentid = 0 AND con.confdeltype IN ('c', 'n', 'd') \
                       AND con.confrelid = {}::regclass ORDER BY 1",
                    literal(&parent.quoted)
                );
                waiting!(
                    self,
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .fetch_all(&mut self.conn)
                        .await
                )
                .map_err(|e| self.fail(e, 0))?
            }
            Dialect::MySql if self.mysql_unreferenced(parent).await => Vec::new(),
            Dialect::MySql => waiting!(
                self,
                sqlx::query_as(AssertSqlSafe(
                    "SELECT CONCAT('`', REPLACE(k.TABLE_SCHEMA, '`', '``'), '`.`', REPLACE(k.TABLE_NAME, '`', '``'), '`'), \
                       k.TABLE_SCHEMA, k.TABLE_NAME, r.DELETE_RULE, \
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
                .bind(parent.schema.clone())
                .bind(parent.name.clone())
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
                let schema = parent.schema.clone().unwrap_or_else(|| "main".into());
                waiting!(
                    self,
                    sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT '\"' || replace(m.name, '\"', '\"\"') || '\"', {}, m.name, f.on_delete, \
                           group_concat('\"' || replace(f.\"from\", '\"', '\"\"') || '\"', ','), \
                           group_concat('\"' || replace(coalesce(f.\"to\", ''), '\"', '\"\"') || '\"', ',') \
                         FROM {}.sqlite_master m, pragma_foreign_key_list(m.name, {}) f \
                         WHERE m.type = 'table' AND f.\"table\" = ? \
                           AND f.on_delete IN ('CASCADE', 'SET NULL', 'SET DEFAULT') \
                         GROUP BY m.name, f.id ORDER BY 1",
                        literal(&schema),
                        format_args!("\"{}\"", schema.replace('"', "\"\"")),
                        literal(&schema)
                    )))
                    .bind(parent.name.clone())
                    .fetch_all(&mut self.conn)
                    .await
                )
                .map_err(|e| self.fail(e, 0))?
            }
        };
        Ok(found
            .into_iter()
            .map(|(table, schema, name, action, columns, referenced)| Key {
                table,
                schema,
                name,
                action,
                columns,
                referenced,
            })
            .collect())
    }

    /// How many rows of `table` meet `condition`.
    async fn count_where(&mut self, table: &str, condition: &str) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {condition}");
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

/// A column list as one value to compare: parenthesised when it has more than one.
fn tuple(columns: &str) -> String {
    if columns.contains(',') {
        format!("({columns})")
    } else {
        columns.to_string()
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
            through: None,
        };
        assert_eq!(
            cascade.describe(),
            "delete 120 row(s) of `public.carts` (ON DELETE CASCADE)"
        );
        let deeper = Cascade {
            table: "public.cart_items".into(),
            through: Some("public.carts".into()),
            ..cascade
        };
        assert_eq!(
            deeper.describe(),
            "delete 120 row(s) of `public.cart_items` (ON DELETE CASCADE from `public.carts`)"
        );
        assert_eq!(tuple("`a`,`b`"), "(`a`,`b`)");
    }
}
