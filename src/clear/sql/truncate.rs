//! The full clear by `TRUNCATE`, where [`super::strategy`] found it exact and harmless: the
//! table locked for at most a short wait, its rows counted under the lock (so `Cleared N` is
//! exact: nobody else can add or change a row while the lock is held), then truncated. Any
//! failure lets go of everything and leaves the clear to the batched walk, with the reason.
//!
//! While the lock is asked for, the application's statements on the table queue behind the
//! request, so it is asked for at most [`TRUNCATE_WAIT`] (or the clear's shorter
//! `--lock-timeout`): a table someone holds is left to the walk, which takes no table lock.

use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;

use super::{Dialect, Run, SqlTarget, count_sql, describe};
use crate::error::Result;

/// The longest a truncate waits for its table lock.
pub const TRUNCATE_WAIT: Duration = Duration::from_millis(100);

/// The longest the count under the truncate's lock may take, unless `COUNT_BUDGET_VAR` says
/// otherwise: the application waits for it. About 0.1 s per million rows here, so tables
/// of much over a million rows are left to the walk, which holds nothing that long.
pub const COUNT_BUDGET: Duration = Duration::from_millis(150);

/// The environment variable (of the process) that sets [`COUNT_BUDGET`], in milliseconds.
pub const COUNT_BUDGET_VAR: &str = "AZU_SESSION_TRUNCATE_COUNT_MS";

/// [`COUNT_BUDGET`], or what [`COUNT_BUDGET_VAR`] sets (a whole number of milliseconds, at
/// least 1; anything else is ignored).
fn count_budget() -> Duration {
    budget_from(std::env::var(COUNT_BUDGET_VAR).ok().as_deref())
}

/// The budget a value of [`COUNT_BUDGET_VAR`] gives. 0 is refused: as a statement timeout
/// it would mean no limit at all.
fn budget_from(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(COUNT_BUDGET, Duration::from_millis)
}

/// How often MariaDB's `LOCK TABLES ... NOWAIT` is tried again while the wait lasts.
const MARIADB_RETRY: Duration = Duration::from_millis(10);

/// How a truncate ended.
#[derive(Debug)]
pub(super) enum Truncated {
    /// Every row is gone, and counted into the run.
    Done,
    /// Nothing was deleted, for this reason: the walk takes over.
    GaveWay(String),
}

impl SqlTarget<'_> {
    /// Truncate the table as [`super::strategy::Path::Truncate`] says; see the module.
    pub(super) async fn truncate(&mut self, run: &mut Run<'_>) -> Result<Truncated> {
        let wait = self.plan.lock_timeout.min(TRUNCATE_WAIT);
        let outcome = match self.target.dialect() {
            Dialect::Postgres => self.truncate_postgres(wait).await,
            Dialect::MySql => self.truncate_mariadb(wait).await?,
            Dialect::Sqlite => Err(Attempt::Failed("SQLite has no TRUNCATE".into())),
        };
        match outcome {
            Ok(n) => {
                run.add(n);
                Ok(Truncated::Done)
            }
            Err(Attempt::Locked) => {
                let holder = self.lock_holder().await;
                let held = if holder.is_empty() {
                    String::new()
                } else {
                    format!(", held by {holder}")
                };
                Ok(Truncated::GaveWay(format!(
                    "the table lock was not granted within {} ms{held}",
                    wait.as_millis().max(1)
                )))
            }
            Err(Attempt::Failed(why)) => Ok(Truncated::GaveWay(why)),
        }
    }

    /// PostgreSQL, in one transaction: the lock (on the table and every partition and
    /// child), the catalog asked again under it, the count (within [`count_budget`]: a
    /// statement timeout), `TRUNCATE`, the commit. Any error rolls all of it back.
    async fn truncate_postgres(&mut self, wait: Duration) -> std::result::Result<u64, Attempt> {
        let table = self.target.table.quoted(Dialect::Postgres);
        let obstacle = self.postgres_obstacle_sql();
        let budget = count_budget();
        let count = count_sql(Dialect::Postgres, &table, false);
        let lock = format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE",
            wait.as_millis().max(1)
        );
        let attempt = async {
            sqlx::raw_sql(AssertSqlSafe(lock))
                .execute(&mut self.conn)
                .await?;
            let why: Option<String> = sqlx::query_scalar(AssertSqlSafe(obstacle))
                .fetch_optional(&mut self.conn)
                .await?;
            if let Some(why) = why {
                return Ok(Err(why));
            }
            let limit = format!("SET LOCAL statement_timeout = '{}ms'", budget.as_millis());
            sqlx::raw_sql(AssertSqlSafe(limit))
                .execute(&mut self.conn)
                .await?;
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(count))
                .fetch_one(&mut self.conn)
                .await?;
            sqlx::raw_sql(AssertSqlSafe("SET LOCAL statement_timeout TO DEFAULT"))
                .execute(&mut self.conn)
                .await?;
            // Without `ONLY`: every partition and inheritance child goes with the table.
            let truncate = format!("TRUNCATE {table}; COMMIT");
            sqlx::raw_sql(AssertSqlSafe(truncate))
                .execute(&mut self.conn)
                .await?;
            Ok::<_, sqlx::Error>(Ok(u64::try_from(n).unwrap_or(0)))
        }
        .await;
        match attempt {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(why)) => {
                self.rollback().await;
                Err(Attempt::Failed(why))
            }
            Err(e) => {
                self.rollback().await;
                Err(self.attempt_error(&e, budget))
            }
        }
    }

    async fn rollback(&mut self) {
        let _ = sqlx::raw_sql(AssertSqlSafe("ROLLBACK"))
            .execute(&mut self.conn)
            .await;
    }

    /// A failed statement of a truncate, as the reason it gave way (`budget`: the count's).
    fn attempt_error(&self, e: &sqlx::Error, budget: Duration) -> Attempt {
        if super::dialect::is_lock_timeout(e) {
            Attempt::Locked
        } else if is_statement_timeout(e) {
            Attempt::Failed(format!(
                "counting the rows under the table lock took over {} ms, which the application would wait for ({COUNT_BUDGET_VAR} sets that budget)",
                budget.as_millis()
            ))
        } else {
            Attempt::Failed(format!(
                "TRUNCATE failed: {}",
                describe(e, &self.target.url)
            ))
        }
    }

    /// MariaDB: `LOCK TABLES ... WRITE NOWAIT`, tried again while `wait` lasts (waiting in
    /// the server would queue the application behind the request for a whole second, its
    /// least), then the count (within [`count_budget`]: `max_statement_time`), `TRUNCATE
    /// TABLE` and the `AUTO_INCREMENT` counter put back as it was (a truncate would start it
    /// again at 1, where a delete leaves it), then `UNLOCK TABLES`. `TRUNCATE` commits at
    /// once: a failure after it is the clear's error, with the rows it cleared.
    /// Long: the steps under one table lock, which every way out must let go of.
    async fn truncate_mariadb(
        &mut self,
        wait: Duration,
    ) -> Result<std::result::Result<u64, Attempt>> {
        let table = self.target.table.quoted(Dialect::MySql);
        let budget = count_budget();
        let count = format!(
            "SET STATEMENT max_statement_time = {:.3} FOR {}",
            budget.as_secs_f64(),
            count_sql(Dialect::MySql, &table, false)
        );
        let started = Instant::now();
        let lock = format!("LOCK TABLES {table} WRITE NOWAIT");
        loop {
            match sqlx::raw_sql(AssertSqlSafe(lock.clone()))
                .execute(&mut self.conn)
                .await
            {
                Ok(_) => break,
                Err(e) if super::dialect::is_lock_timeout(&e) && started.elapsed() < wait => {
                    tokio::time::sleep(MARIADB_RETRY).await;
                }
                Err(e) => return Ok(Err(self.attempt_error(&e, budget))),
            }
        }
        let counted = async {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(count))
                .fetch_one(&mut self.conn)
                .await?;
            let counter: Option<i64> = if self.relation.auto_increment {
                sqlx::query_scalar(AssertSqlSafe(
                    "SELECT CAST(AUTO_INCREMENT AS SIGNED) FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                ))
                .bind(self.target.table.schema.clone())
                .bind(self.target.table.name.clone())
                .fetch_one(&mut self.conn)
                .await?
            } else {
                None
            };
            sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE TABLE {table}")))
                .execute(&mut self.conn)
                .await?;
            Ok::<_, sqlx::Error>((u64::try_from(n).unwrap_or(0), counter))
        }
        .await;
        let (n, counter) = match counted {
            Ok(done) => done,
            Err(e) => {
                self.unlock().await;
                return Ok(Err(self.attempt_error(&e, budget)));
            }
        };
        let restored = match counter {
            Some(next) => sqlx::raw_sql(AssertSqlSafe(format!(
                "ALTER TABLE {table} AUTO_INCREMENT = {next}"
            )))
            .execute(&mut self.conn)
            .await
            .map(|_| ()),
            None => Ok(()),
        };
        self.unlock().await;
        // The truncate is the clear's first deletion: what it cleared is all there is.
        restored.map_err(|e| self.fail(e, n))?;
        Ok(Ok(n))
    }

    async fn unlock(&mut self) {
        let _ = sqlx::raw_sql(AssertSqlSafe("UNLOCK TABLES"))
            .execute(&mut self.conn)
            .await;
    }
}

/// Whether `e` is a statement cut off by a statement timeout (PostgreSQL `statement_timeout`,
/// MariaDB `max_statement_time`).
fn is_statement_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|db| {
        matches!(
            super::dialect::error_code(db).as_str(),
            "57014" | "1969" | "3024"
        )
    })
}

/// Why a truncate did nothing.
enum Attempt {
    /// Its table lock was not granted in time: the holder is asked for after letting go.
    Locked,
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_budget_is_a_positive_number_of_milliseconds() {
        assert_eq!(budget_from(None), COUNT_BUDGET);
        assert_eq!(budget_from(Some("400")), Duration::from_millis(400));
        assert_eq!(budget_from(Some(" 1 ")), Duration::from_millis(1));
        // 0 would be no limit; words and negative numbers mean nothing.
        for bad in ["0", "", "soon", "-5", "1.5"] {
            assert_eq!(budget_from(Some(bad)), COUNT_BUDGET, "{bad:?}");
        }
    }
}
