//! What the catalog says of the sessions table before anything is deleted: which physical
//! tables hold its rows, what else a delete reaches (foreign keys that cascade), what can
//! hide rows from this role (row-level security), and whether the engine can undo a
//! statement.
//!
//! Every delete names rows that can only be the ones it selected. A PostgreSQL row address
//! (`ctid`, and the page ranges of the walk) is unique only within one physical table, so a
//! partitioned table or an inheritance parent is cleared one physical table at a time, each
//! named with `ONLY`; a view has no row addresses and is refused.

use sqlx::AssertSqlSafe;

use super::cascade::Cascade;
use super::{Dialect, SqlTarget};
use crate::error::{Error, Result};

/// One physical table whose rows are sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    /// Quoted and schema-qualified as the server wrote it (PostgreSQL), or as given.
    pub(super) name: String,
    /// PostgreSQL: `ONLY`, so a statement never reaches the table's children.
    pub(super) only: bool,
    /// PostgreSQL: the parent (the table the user named) that statements on this physical
    /// table go through, keeping to its rows by `tableoid`: where the role may not read or
    /// delete the partition itself, or the parent's row-level security must apply.
    pub(super) via: Option<String>,
}

impl Part {
    /// The table as a statement's `FROM` names it.
    pub(super) fn from(&self) -> String {
        match &self.via {
            Some(parent) => parent.clone(),
            None if self.only => format!("ONLY {}", self.name),
            None => self.name.clone(),
        }
    }

    /// `tableoid = ... AND ` where statements go through the parent (a row address is
    /// unique only with its physical table), else nothing: put before another condition.
    pub(super) fn scoped(&self) -> String {
        match &self.via {
            Some(_) => format!("tableoid = {}::regclass AND ", literal(&self.name)),
            None => String::new(),
        }
    }

    /// The `WHERE` clause keeping a statement to this part's rows the clear is for.
    pub(super) fn filter(&self, dialect: Dialect, expired: bool) -> String {
        let scoped = self.scoped();
        let scope = scoped.trim_end_matches(" AND ");
        match (scope.is_empty(), expired) {
            (true, _) => super::dialect::filter(dialect, expired),
            (false, false) => format!(" WHERE {scope}"),
            (false, true) => format!(
                " WHERE {scoped}{}",
                super::dialect::expired_condition(dialect)
            ),
        }
    }
}

/// The sessions table as the catalog describes it.
#[derive(Debug, Clone, Default)]
pub(super) struct Relation {
    pub(super) parts: Vec<Part>,
    pub(super) cascades: Vec<Cascade>,
    /// PostgreSQL: the role that row-level security hides rows from, when it does.
    pub(super) hidden_from: Option<String>,
    /// False for engines that cannot roll a statement back (MyISAM, Aria, MEMORY).
    pub(super) transactional: bool,
    /// SQLite `WITHOUT ROWID`: the primary key's columns, quoted, which stand for `rowid`.
    pub(super) key: Option<Vec<String>>,
    /// MariaDB: the table has an `AUTO_INCREMENT` column, whose counter a truncate puts
    /// back (known once a truncate is decided on).
    pub(super) auto_increment: bool,
}

/// `s` as an SQL string literal.
pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// PostgreSQL: tables by name as a list of `regclass` values, for `IN (...)`.
pub(super) fn regclasses<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("{}::regclass", literal(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SqlTarget<'_> {
    /// Read the catalog for the table, before anything is deleted.
    pub(super) async fn inspect(&mut self) -> Result<Relation> {
        let mut relation = match self.target.dialect() {
            Dialect::Postgres => self.inspect_postgres().await?,
            Dialect::MySql => self.inspect_mysql().await?,
            Dialect::Sqlite => self.inspect_sqlite().await?,
        };
        relation.cascades = self.find_cascades().await?;
        Ok(relation)
    }

    /// The table or view a name leads to, refused when it is a view.
    fn not_a_table(&self, kind: &'static str) -> Error {
        Error::NotATable {
            table: self.target.table.to_string(),
            url: self.target.url.shown.clone(),
            kind,
        }
    }

    /// Long because it is mostly the catalog query, kept whole so it reads as SQL.
    async fn inspect_postgres(&mut self) -> Result<Relation> {
        let quoted = self.target.table.quoted(self.target.dialect());
        // The table, and below it every partition and inheritance child, at any depth.
        let sql = format!(
            "WITH RECURSIVE tree(oid, depth) AS ( \
               SELECT {}::regclass::oid, 0 \
               UNION ALL \
               SELECT i.inhrelid, t.depth + 1 FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid) \
             SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text, t.depth::int4, \
               has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'DELETE') \
             FROM tree t JOIN pg_class c ON c.oid = t.oid \
             JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY t.depth, 1",
            literal(&quoted)
        );
        let rows: Vec<(String, String, i32, bool)> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(sql.clone()))
                .fetch_all(&mut self.conn)
                .await
        )
        .map_err(|e| self.fail(e, 0))?;
        let Some((_, top_kind, _, _)) = rows.first() else {
            return Err(self.fail_missing());
        };
        match top_kind.as_str() {
            "v" => return Err(self.not_a_table("a view")),
            "m" => return Err(self.not_a_table("a materialized view")),
            "f" => return Err(self.not_a_table("a foreign table")),
            _ => {}
        }
        if let Some((name, ..)) = rows.iter().find(|(_, kind, ..)| kind == "f") {
            return Err(Error::ForeignPartition {
                table: self.target.table.to_string(),
                partition: name.clone(),
            });
        }

        // Row-level security hides rows from a role unless it is a superuser, may bypass
        // it, or owns the table and the table does not force it on its owner. Asked of
        // every physical table too: a partition or child named on its own answers to its
        // own policies, which the application's statements through the parent never meet.
        let tables = regclasses(rows.iter().map(|(name, ..)| name.as_str()));
        let rls = format!(
            "SELECT current_user::text FROM pg_class c, pg_roles r \
             WHERE c.oid IN ({tables}) AND r.rolname = current_user \
             AND c.relrowsecurity AND NOT r.rolsuper AND NOT r.rolbypassrls \
             AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE')) LIMIT 1"
        );
        let hidden_from: Option<String> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(rls.clone()))
                .fetch_optional(&mut self.conn)
                .await
        )
        .map_err(|e| self.fail(e, 0))?;
        // Each physical table is named on its own (`ONLY`), unless the role may not read
        // and delete all of them, or the parent's policies hide rows (a partition named
        // directly answers to its own policies, not the parent's): then every statement
        // goes through the parent, as the app's own do, keeping to one table by `tableoid`.
        let through_parent = rows.len() > 1 && (hidden_from.is_some() || rows.iter().any(|r| !r.3));
        let parts = rows
            .iter()
            .filter(|(_, kind, ..)| kind == "r")
            .map(|(name, ..)| Part {
                name: name.clone(),
                only: true,
                via: through_parent.then(|| quoted.clone()),
            })
            .collect();
        Ok(Relation {
            parts,
            hidden_from,
            transactional: true,
            ..Relation::default()
        })
    }

    async fn inspect_mysql(&mut self) -> Result<Relation> {
        let row: Option<(String, Option<String>, Option<String>)> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(
                "SELECT t.TABLE_TYPE, t.ENGINE, e.TRANSACTIONS FROM information_schema.TABLES t \
                 LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE \
                 WHERE t.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND t.TABLE_NAME = ?",
            ))
            .bind(self.target.table.schema.clone())
            .bind(self.target.table.name.clone())
            .fetch_optional(&mut self.conn)
            .await
        )
        .map_err(|e| self.fail(e, 0))?;
        let Some((kind, _engine, transactions)) = row else {
            return Err(self.fail_missing());
        };
        if kind.eq_ignore_ascii_case("VIEW") {
            return Err(self.not_a_table("a view"));
        }
        Ok(Relation {
            parts: vec![self.whole_table()],
            transactional: transactions.as_deref() == Some("YES"),
            ..Relation::default()
        })
    }

    async fn inspect_sqlite(&mut self) -> Result<Relation> {
        let schema = self
            .target
            .table
            .schema
            .clone()
            .unwrap_or_else(|| "main".into());
        let row: Option<(String, i64)> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(
                "SELECT type, wr FROM pragma_table_list WHERE schema = ? AND name = ?",
            ))
            .bind(schema.clone())
            .bind(self.target.table.name.clone())
            .fetch_optional(&mut self.conn)
            .await
        )
        .map_err(|e| self.fail(e, 0))?;
        let Some((kind, without_rowid)) = row else {
            return Err(self.fail_missing());
        };
        if kind == "view" {
            return Err(self.not_a_table("a view"));
        }
        let key = if without_rowid != 0 {
            let columns: Vec<String> = waiting!(
                self,
                sqlx::query_scalar(AssertSqlSafe(
                    "SELECT name FROM pragma_table_info(?, ?) WHERE pk > 0 ORDER BY pk",
                ))
                .bind(self.target.table.name.clone())
                .bind(schema.clone())
                .fetch_all(&mut self.conn)
                .await
            )
            .map_err(|e| self.fail(e, 0))?;
            Some(
                columns
                    .iter()
                    .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                    .collect(),
            )
        } else {
            None
        };
        Ok(Relation {
            parts: vec![self.whole_table()],
            transactional: true,
            key,
            ..Relation::default()
        })
    }

    fn whole_table(&self) -> Part {
        Part {
            name: self.target.table.quoted(self.target.dialect()),
            only: false,
            via: None,
        }
    }

    fn fail_missing(&self) -> Error {
        Error::TableMissing {
            table: self.target.table.to_string(),
            url: self.target.url.shown.clone(),
        }
    }
}

impl SqlTarget<'_> {
    /// What the server says holds a lock on the table, for the error that a lock wait ran
    /// out; empty when it cannot tell. Its own statements wait for no lock.
    /// PostgreSQL: the table as named and each of its physical tables, as [`regclasses`].
    pub(super) fn table_and_parts(&self) -> String {
        let quoted = self.target.table.quoted(Dialect::Postgres);
        regclasses(
            std::iter::once(quoted.as_str())
                .chain(self.relation.parts.iter().map(|p| p.name.as_str())),
        )
    }

    pub(super) async fn lock_holder(&mut self) -> String {
        let held: std::result::Result<Vec<String>, _> = match self.target.dialect() {
            Dialect::Postgres => {
                let tables = self.table_and_parts();
                // Locks that stop a delete first, then any other the transactions hold.
                let sql = format!(
                    "SELECT DISTINCT ON (a.pid) format('pid %s (%s, user %s, %s, %s)', a.pid, \
                     coalesce(nullif(a.application_name, ''), 'no application name'), a.usename, a.state, l.mode) \
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid() \
                     AND l.relation IN ({tables}) \
                     ORDER BY a.pid, l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') DESC \
                     LIMIT 3"
                );
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_all(&mut self.conn)
                    .await
            }
            Dialect::MySql => {
                sqlx::query_scalar(AssertSqlSafe(
                    "SELECT CONCAT('connection ', trx_mysql_thread_id, ' (',                        COALESCE(LEFT(trx_query, 80), 'a transaction left open'), ')')                      FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID() LIMIT 3",
                ))
                .fetch_all(&mut self.conn)
                .await
            }
            Dialect::Sqlite => Ok(vec![
                "another connection is writing to the database file".to_string(),
            ]),
        };
        match held {
            Ok(held) if !held.is_empty() => held.join("; "),
            // No transaction it may see holds rows: a table lock or a schema change does.
            _ if self.target.dialect() == Dialect::MySql => {
                "a table lock (LOCK TABLES), a schema change or an open transaction; SHOW PROCESSLIST lists the connections".to_string()
            }
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_literals() {
        let part = Part {
            name: "\"public\".\"sessions_2024\"".into(),
            only: true,
            via: None,
        };
        assert_eq!(part.from(), "ONLY \"public\".\"sessions_2024\"");
        assert_eq!(part.filter(Dialect::Postgres, false), "");
        let through = Part {
            via: Some("\"sessions\"".into()),
            ..part
        };
        assert_eq!(through.from(), "\"sessions\"");
        assert_eq!(
            through.filter(Dialect::Postgres, true),
            " WHERE tableoid = '\"public\".\"sessions_2024\"'::regclass AND expires_at < LOCALTIMESTAMP"
        );
        assert_eq!(literal("a'b"), "'a''b'");
    }
}
