//! How a full clear deletes, decided once connected and said before anything is deleted:
//! `TRUNCATE` where that is exact and harmless, the batched walk otherwise, and why.
//!
//! A `DELETE` costs what the rows cost and leaves them dead for vacuum; `TRUNCATE` gives the
//! table back clean in about constant time, but skips everything a delete sets off: triggers
//! and rules on delete, row-level security, the foreign keys that reference the table, and
//! (where a publication replicates deletes but not truncates) the replicas. So the truncate
//! is taken only when the catalog shows none of them, and never for `--expired`.

use serde::Serialize;
use sqlx::AssertSqlSafe;

use super::relation::literal;
use super::{Dialect, SqlTarget};
use crate::error::Result;

/// The way a clear deletes its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// `TRUNCATE` under a short table lock, the rows counted under it.
    Truncate,
    /// Many short statements, each its own transaction: the walk, then batches.
    Batched,
    /// SQLite: one `DELETE`, which it runs by dropping the table's pages.
    Delete,
}

/// How a clear deletes, and why; the JSON report's `strategy` and `strategy_reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Strategy {
    #[serde(rename = "strategy")]
    pub path: Path,
    #[serde(rename = "strategy_reason")]
    pub reason: String,
    /// A truncate was tried and gave way to the walk (the reason says why).
    #[serde(
        rename = "truncate_gave_way",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub gave_way: bool,
}

impl Strategy {
    fn new(path: Path, reason: impl Into<String>) -> Self {
        Strategy {
            path,
            reason: reason.into(),
            gave_way: false,
        }
    }

    pub(super) fn batched(reason: impl Into<String>) -> Self {
        Strategy::new(Path::Batched, reason)
    }

    /// The walk, after a truncate that gave way for `why`.
    pub(super) fn gave_way(why: &str) -> Self {
        Strategy {
            gave_way: true,
            ..Strategy::batched(format!(
                "TRUNCATE gave way ({why}); the batched walk cleared the table instead"
            ))
        }
    }

    /// What the clear does, for the line before it starts.
    pub fn describe(&self, dry_run: bool) -> String {
        let how = match (self.path, dry_run) {
            (Path::Truncate, false) => "clearing with TRUNCATE",
            (Path::Truncate, true) => "a clear would use TRUNCATE",
            (Path::Batched, false) => "clearing in batches",
            (Path::Batched, true) => "a clear would go in batches",
            (Path::Delete, false) => "clearing with one DELETE",
            (Path::Delete, true) => "a clear would use one DELETE",
        };
        format!("{how}: {}", self.reason)
    }
}

/// Why a truncate may be taken, when nothing stands in its way.
const TRUNCATE_OK: &str = "no trigger or rule on delete, no row-level security, no foreign key references the table, and the role may truncate it";

impl SqlTarget<'_> {
    /// The way this clear will delete (see the module's introduction).
    pub(super) async fn decide(&mut self) -> Result<Strategy> {
        if self.plan.expired {
            return Ok(Strategy::batched(
                "--expired deletes only the expired rows, found through the expires_at index",
            ));
        }
        let dialect = self.target.dialect();
        if dialect == Dialect::Sqlite {
            // `--batched` is about truncating: SQLite's one DELETE is its usual clear, and
            // batches would keep the application's writers waiting longer, not shorter.
            return Ok(if self.sqlite_triggers().await? {
                Strategy::batched(
                    "a trigger on the table makes SQLite delete row by row; batches keep the clear interruptible",
                )
            } else {
                Strategy::new(
                    Path::Delete,
                    "SQLite runs a DELETE of every row by dropping the table's pages",
                )
            });
        }
        if self.plan.batched {
            return Ok(Strategy::batched("--batched asks for it"));
        }
        let obstacle = match dialect {
            Dialect::Postgres => self.postgres_obstacle().await?,
            _ => self.mysql_obstacle().await?,
        };
        Ok(match obstacle {
            Some(why) => Strategy::batched(why),
            None => Strategy::new(Path::Truncate, TRUNCATE_OK),
        })
    }

    /// PostgreSQL: the first thing that makes a truncate of the table (and with it every
    /// partition and inheritance child) differ from deleting its rows, or make it fail;
    /// `None` when there is none. Asked again under the truncate's lock, when none of it can
    /// change any more.
    pub(super) async fn postgres_obstacle(&mut self) -> Result<Option<String>> {
        let sql = self.postgres_obstacle_sql();
        self.first_reason(sql).await
    }

    /// The query of [`SqlTarget::postgres_obstacle`]: one row a reason, the first told.
    pub(super) fn postgres_obstacle_sql(&self) -> String {
        let table = literal(&self.target.table.quoted(Dialect::Postgres));
        // Each row a reason, in the order they are told; `tgtype & 8` is a trigger on DELETE,
        // `& 32` on TRUNCATE; internal triggers are the foreign keys' own.
        format!(
            "WITH RECURSIVE tree(oid) AS ( \
               SELECT {table}::regclass::oid \
               UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid) \
             SELECT why FROM ( \
               SELECT 0 AS o, 'PostgreSQL before 11 cannot tell whether a publication replicates TRUNCATE' AS why \
                 WHERE current_setting('server_version_num')::int4 < 110000 \
               UNION ALL SELECT 1, format('%s is not a plain table', c.oid::regclass) \
                 FROM pg_class c WHERE c.oid IN (SELECT oid FROM tree) AND c.relkind NOT IN ('r', 'p') \
               UNION ALL SELECT 2, format('the role may not %s %s', \
                   CASE WHEN has_table_privilege(c.oid, 'TRUNCATE') THEN 'SELECT and DELETE from' ELSE 'TRUNCATE' END, \
                   c.oid::regclass) \
                 FROM pg_class c WHERE c.oid IN (SELECT oid FROM tree) \
                 AND (NOT has_table_privilege(c.oid, 'TRUNCATE') OR (c.oid = {table}::regclass \
                   AND NOT (has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'DELETE')))) \
               UNION ALL SELECT 3, format('%s has the trigger %s on %s, which TRUNCATE would not fire as a delete does', \
                   t.tgrelid::regclass, quote_ident(t.tgname), \
                   CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' ELSE 'TRUNCATE' END) \
                 FROM pg_trigger t WHERE t.tgrelid IN (SELECT oid FROM tree) \
                 AND NOT t.tgisinternal AND t.tgtype & 40 <> 0 \
               UNION ALL SELECT 4, format('%s has the rule %s on DELETE', r.ev_class::regclass, quote_ident(r.rulename)) \
                 FROM pg_rewrite r WHERE r.ev_class IN (SELECT oid FROM tree) AND r.ev_type = '4' \
               UNION ALL SELECT 5, format('row-level security is enabled on %s, and TRUNCATE would pass over its policies', c.oid::regclass) \
                 FROM pg_class c WHERE c.oid IN (SELECT oid FROM tree) AND c.relrowsecurity \
               UNION ALL SELECT 6, format('the foreign key %s of %s references %s', \
                   quote_ident(k.conname), k.conrelid::regclass, k.confrelid::regclass) \
                 FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid IN (SELECT oid FROM tree) \
               UNION ALL SELECT 7, format('the publication %s replicates deletes but not TRUNCATE, so its subscribers would keep the sessions', \
                   quote_ident(p.pubname)) \
                 FROM pg_publication p WHERE p.pubdelete AND NOT p.pubtruncate AND (p.puballtables \
                   OR EXISTS (SELECT 1 FROM pg_publication_tables pt \
                     JOIN pg_namespace n ON n.nspname = pt.schemaname \
                     JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename \
                     WHERE pt.pubname = p.pubname AND c.oid IN (SELECT oid FROM tree))) \
             ) w ORDER BY o LIMIT 1"
        )
    }

    /// MariaDB: the first thing that makes a truncate of the table differ from deleting
    /// its rows, or keeps it from being exact and short; `None` when there is none (and
    /// then whether the table has an `AUTO_INCREMENT` counter to put back is noted).
    /// Long: a list of checks, each a sentence.
    pub(super) async fn mysql_obstacle(&mut self) -> Result<Option<String>> {
        let row: std::result::Result<(String, Option<String>, String, i64), _> = waiting!(
            self,
            sqlx::query_as(AssertSqlSafe(
                "SELECT VERSION(), t.ENGINE, t.TABLE_TYPE, \
                 (SELECT COUNT(*) FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA \
                   AND c.TABLE_NAME = t.TABLE_NAME AND c.EXTRA LIKE '%auto_increment%') \
                 FROM information_schema.TABLES t \
                 WHERE t.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND t.TABLE_NAME = ?",
            ))
            .bind(self.target.table.schema.clone())
            .bind(self.target.table.name.clone())
            .fetch_one(&mut self.conn)
            .await
        );
        let (version, engine, kind, counters) = row.map_err(|e| self.fail(e, 0))?;
        if !version.contains("MariaDB") {
            return Ok(Some("MySQL's LOCK TABLES cannot be told not to wait (NOWAIT is MariaDB's), so the application could queue behind a truncate for a second or more".into()));
        }
        if !nowait_supported(&version) {
            return Ok(Some(format!(
                "MariaDB {version} cannot ask for a table lock without waiting (NOWAIT came in 10.3)"
            )));
        }
        let engine = engine.unwrap_or_default();
        if !engine.eq_ignore_ascii_case("InnoDB") {
            return Ok(Some(format!(
                "the table's engine is {engine}; TRUNCATE is only taken for InnoDB"
            )));
        }
        if kind.eq_ignore_ascii_case("SYSTEM VERSIONED") {
            return Ok(Some(
                "the table is system-versioned: a DELETE keeps its history, a TRUNCATE would not"
                    .into(),
            ));
        }
        if let Some(cascade) = self.relation.cascades.first() {
            return Ok(Some(format!(
                "the foreign key of `{}` references the table (ON DELETE {})",
                cascade.table, cascade.action
            )));
        }
        let missing: std::result::Result<Option<String>, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(MYSQL_MISSING_GRANTS))
                .bind(self.target.table.schema.clone())
                .bind(self.target.table.name.clone())
                .fetch_one(&mut self.conn)
                .await
        );
        if let Some(missing) = missing.map_err(|e| self.fail(e, 0))? {
            return Ok(Some(format!(
                "the user's grants do not show {missing} on the table (TRUNCATE needs DROP, LOCK TABLES, and ALTER to put the AUTO_INCREMENT counter back; the table's triggers show only with TRIGGER; and a clear only truncates for a user who may SELECT and DELETE)"
            )));
        }
        let trigger: std::result::Result<Option<String>, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(
                "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS \
                 WHERE EVENT_OBJECT_SCHEMA = COALESCE(?, DATABASE()) AND EVENT_OBJECT_TABLE = ? \
                 AND EVENT_MANIPULATION = 'DELETE' LIMIT 1",
            ))
            .bind(self.target.table.schema.clone())
            .bind(self.target.table.name.clone())
            .fetch_optional(&mut self.conn)
            .await
        );
        if let Some(name) = trigger.map_err(|e| self.fail(e, 0))? {
            return Ok(Some(format!(
                "the table has the trigger `{name}` on DELETE, which TRUNCATE would not fire"
            )));
        }
        self.relation.auto_increment = counters > 0;
        Ok(None)
    }

    /// The first row of `sql`, a reason not to truncate, if it gives one.
    pub(super) async fn first_reason(&mut self, sql: String) -> Result<Option<String>> {
        let why: std::result::Result<Option<String>, _> = waiting!(
            self,
            sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_optional(&mut self.conn)
                .await
        );
        why.map_err(|e| self.fail(e, 0))
    }

    /// SQLite: whether the table has a trigger (any: SQLite then deletes row by row).
    pub(super) async fn sqlite_triggers(&mut self) -> Result<bool> {
        let schema = match &self.target.table.schema {
            Some(s) => format!("\"{}\".", s.replace('"', "\"\"")),
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
        Ok(triggers.map_err(|e| self.fail(e, 0))? > 0)
    }
}

/// MariaDB: which of the privileges a truncate needs the user's grants do not show (`NULL`:
/// none missing), by the user as `CURRENT_USER()` names it, in the server's own `GRANTEE`
/// form, at the global, database or table level. Grants through a role do not show here:
/// such a user gets the walk.
const MYSQL_MISSING_GRANTS: &str = "SELECT GROUP_CONCAT(n.p ORDER BY n.o SEPARATOR ', ') \
     FROM (SELECT 1 AS o, 'DROP' AS p UNION ALL SELECT 2, 'LOCK TABLES' \
           UNION ALL SELECT 3, 'ALTER' UNION ALL SELECT 4, 'TRIGGER' \
           UNION ALL SELECT 5, 'SELECT' UNION ALL SELECT 6, 'DELETE') n, \
          (SELECT CONCAT('''', LEFT(CURRENT_USER(), LENGTH(CURRENT_USER()) \
               - LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), \
             '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') AS g, \
             COALESCE(?, DATABASE()) AS db, ? AS tn) me \
     WHERE NOT EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES u \
             WHERE u.GRANTEE = me.g AND u.PRIVILEGE_TYPE = n.p) \
       AND NOT EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES s \
             WHERE s.GRANTEE = me.g AND me.db LIKE s.TABLE_SCHEMA AND s.PRIVILEGE_TYPE = n.p) \
       AND NOT EXISTS (SELECT 1 FROM information_schema.TABLE_PRIVILEGES t \
             WHERE t.GRANTEE = me.g AND t.TABLE_SCHEMA = me.db AND t.TABLE_NAME = me.tn \
             AND t.PRIVILEGE_TYPE = n.p)";

/// Whether a MariaDB `VERSION()` (`10.11.6-MariaDB-...`) has `LOCK TABLES ... NOWAIT`
/// (10.3 and later).
fn nowait_supported(version: &str) -> bool {
    let mut numbers = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (10, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_say_what_and_why() {
        let truncate = Strategy::new(Path::Truncate, TRUNCATE_OK);
        assert_eq!(
            truncate.describe(false),
            format!("clearing with TRUNCATE: {TRUNCATE_OK}")
        );
        assert!(
            truncate
                .describe(true)
                .starts_with("a clear would use TRUNCATE: ")
        );
        let json = serde_json::to_value(&truncate).expect("json");
        assert_eq!(json["strategy"], "truncate");
        assert_eq!(json["strategy_reason"], TRUNCATE_OK);
        assert!(json.get("truncate_gave_way").is_none());

        let gave_way = Strategy::gave_way("the table lock was not granted within 100 ms");
        let json = serde_json::to_value(&gave_way).expect("json");
        assert_eq!(json["strategy"], "batched");
        assert_eq!(json["truncate_gave_way"], true);
        assert_eq!(
            json["strategy_reason"],
            "TRUNCATE gave way (the table lock was not granted within 100 ms); the batched walk cleared the table instead"
        );
        assert!(nowait_supported("10.11.19-MariaDB-0+deb12u1"));
        assert!(nowait_supported("11.4.2-MariaDB"));
        assert!(nowait_supported("10.3.0-MariaDB"));
        assert!(!nowait_supported("10.2.44-MariaDB"));
        let delete = Strategy::new(Path::Delete, "x");
        assert_eq!(
            serde_json::to_value(&delete).expect("json")["strategy"],
            "delete"
        );
        assert_eq!(delete.describe(true), "a clear would use one DELETE: x");
    }
}
