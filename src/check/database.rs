//! The database: `DATABASE_URL` set, the migration file, and (online) the server reachable,
//! the sessions table with the columns and indexes the migration makes, and the share of
//! expired rows. Reads only: the catalog, and two counts.

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::backend::Backend;
use crate::clear::DatabaseTarget;
use crate::clear::sql::{
    Dialect, Table, connect_failure, connect_no_answer, count_sql, describe, session_setup_sql,
};
use crate::error::Error;
use crate::project::MIGRATIONS_DIR;

use super::{Check, Context};

const CONNECT_LIMIT: Duration = Duration::from_secs(5);
const QUERY_LIMIT: Duration = Duration::from_secs(10);
/// Above this share of expired rows, the table wants a scheduled cleanup.
const EXPIRED_SHARE: f64 = 0.25;
const CRON: &str = "schedule `azu-session session:clear --expired --quiet` (cron: `0 2 * * * cd /var/www/myapp && azu-session session:clear --expired --quiet`)";

/// `database.url` and `database.migration`, for the database backend.
pub(super) fn offline_checks(cx: &Context) -> Vec<Check> {
    if cx.backend != Some(Backend::Database) {
        return Vec::new();
    }
    let url = match &cx.plan {
        Ok(plan) => match &plan.target {
            crate::clear::Target::Database(t) => {
                Check::ok("database.url", format!("DATABASE_URL is {}", t.url.shown))
            }
            _ => return Vec::new(),
        },
        Err(Error::DatabaseUrlMissing) => Check::error(
            "database.url",
            "DATABASE_URL is not set (process or .env)",
            "add DATABASE_URL to .env (postgres://, mysql:// or sqlite3://)",
        ),
        Err(e) => Check::from_error("database.url", e),
    };
    let migration = match crate::setup::existing_migration(&cx.root.join(MIGRATIONS_DIR)) {
        Ok(Some(name)) => Check::ok("database.migration", format!("{MIGRATIONS_DIR}/{name}")),
        Ok(None) => Check::warning(
            "database.migration",
            format!("no *_create_sessions.cr migration in {MIGRATIONS_DIR}"),
            "run `azu-session session:setup --backend database` to write it",
        ),
        Err(e) => Check::from_error("database.migration", &e),
    };
    vec![url, migration]
}

/// `database.reachable`, `database.table` and `database.expired_share`.
pub(super) async fn checks(target: &DatabaseTarget) -> Vec<Check> {
    let started = Instant::now();
    let mut conn = match connect(target).await {
        Ok(c) => c,
        Err((reason, fix)) => {
            return vec![Check::error(
                "database.reachable",
                format!("{}: {reason}", target.url.shown),
                fix,
            )];
        }
    };
    let rtt = started.elapsed();
    let mut checks = vec![Check::ok(
        "database.reachable",
        format!(
            "{} answers (connected in {} ms)",
            target.url.shown,
            rtt.as_millis()
        ),
    )];
    let (table, exists) = table(&mut conn, target).await.unwrap_or_else(|reason| {
        let fix = "check the user's permissions on the catalog";
        (Check::error("database.table", reason, fix), false)
    });
    checks.push(table);
    if exists {
        checks.push(expired(&mut conn, target).await);
    }
    let _ = conn.close().await;
    checks
}

/// A connection set up as a clear's is; the reason and the fix when there is none.
async fn connect(target: &DatabaseTarget) -> Result<AnyConnection, (String, String)> {
    sqlx::any::install_default_drivers();
    let url = &target.url;
    let mut conn = match tokio::time::timeout(
        CONNECT_LIMIT,
        AnyConnection::connect(url.connect_url()),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(connect_failure(&e, url)),
        Err(_) => return Err(connect_no_answer(url)),
    };
    // The app's busy_timeout where its SQLite URL gives one: how long it waits for a writer.
    let wait = url
        .sqlite
        .as_ref()
        .and_then(|s| s.busy_timeout)
        .unwrap_or(Duration::from_secs(1));
    for sql in session_setup_sql(url, wait) {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
            return Err(connect_failure(&e, url));
        }
    }
    Ok(conn)
}

/// A statement's result within [`QUERY_LIMIT`], its error as the server words it.
async fn run<T>(
    fut: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    url: &crate::database_url::DatabaseUrl,
) -> Result<T, String> {
    match tokio::time::timeout(QUERY_LIMIT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(describe(&e, url)),
        Err(_) => Err(format!("no answer in {} s", QUERY_LIMIT.as_secs())),
    }
}

/// The table, its `session_id` and `expires_at` columns, a unique index on `session_id`
/// alone and an index led by `expires_at`.
/// The check, and whether the table exists.
async fn table(conn: &mut AnyConnection, target: &DatabaseTarget) -> Result<(Check, bool), String> {
    let (columns_sql, indexes_sql) = catalog_sql(target.dialect(), &target.table);
    let columns: Vec<String> = run(
        sqlx::query_scalar(AssertSqlSafe(columns_sql)).fetch_all(&mut *conn),
        &target.url,
    )
    .await?;
    let name = target.table.plain();
    if columns.is_empty() {
        let fix = "run the migration (`azu-session session:setup --backend database` writes it)";
        let message = format!("the table {name} does not exist");
        return Ok((Check::error("database.table", message, fix), false));
    }
    let rows: Vec<(String, i64, String)> = run(
        sqlx::query_as(AssertSqlSafe(indexes_sql)).fetch_all(&mut *conn),
        &target.url,
    )
    .await?;
    let mut missing: Vec<String> = ["session_id", "expires_at"]
        .iter()
        .filter(|c| !columns.iter().any(|have| have.eq_ignore_ascii_case(c)))
        .map(|c| format!("column {c}"))
        .collect();
    let indexes = group(&rows);
    if !indexes
        .iter()
        .any(|(unique, cols)| *unique && cols == &["session_id"])
    {
        missing.push("a unique index on session_id".to_string());
    }
    if !indexes
        .iter()
        .any(|(_, cols)| cols.first().is_some_and(|c| c == "expires_at"))
    {
        missing.push("an index on expires_at".to_string());
    }
    let check = if missing.is_empty() {
        Check::ok(
            "database.table",
            format!("{name} has session_id (unique) and expires_at (indexed)"),
        )
    } else {
        Check::error(
            "database.table",
            format!("{name} lacks {}", missing.join(", ")),
            "make the table as the migration does (see `azu-session session:setup --backend database`)",
        )
    };
    Ok((check, true))
}

/// Catalog rows `(index, unique, column)` in column order, as `(unique, columns)` per index.
fn group(rows: &[(String, i64, String)]) -> Vec<(bool, Vec<String>)> {
    let mut out: Vec<(String, bool, Vec<String>)> = Vec::new();
    for (index, unique, column) in rows {
        match out.last_mut() {
            Some((name, _, cols)) if name == index => cols.push(column.to_ascii_lowercase()),
            _ => out.push((
                index.clone(),
                *unique != 0,
                vec![column.to_ascii_lowercase()],
            )),
        }
    }
    out.into_iter().map(|(_, u, c)| (u, c)).collect()
}

/// The statements listing the table's columns, and its indexes' `(name, unique, column)`
/// in order. The table's parts are identifiers ([`Table::parse`]), safe in a literal.
fn catalog_sql(dialect: Dialect, table: &Table) -> (String, String) {
    let name = table.name();
    match dialect {
        Dialect::Postgres => {
            let regclass = format!("to_regclass('{}')", table.quoted(dialect));
            (
                format!(
                    "SELECT attname::text FROM pg_attribute WHERE attrelid = {regclass} AND attnum > 0 AND NOT attisdropped"
                ),
                format!(
                    "SELECT i.relname::text, (CASE WHEN ix.indisunique THEN 1 ELSE 0 END)::int8, a.attname::text FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ANY(ix.indkey) WHERE ix.indrelid = {regclass} ORDER BY i.relname, array_position(ix.indkey::int2[], a.attnum)"
                ),
            )
        }
        Dialect::MySql => {
            let schema = match table.schema() {
                Some(s) => format!("'{s}'"),
                None => "DATABASE()".to_string(),
            };
            (
                format!(
                    "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = '{name}'"
                ),
                format!(
                    "SELECT CAST(INDEX_NAME AS CHAR), CAST(1 - NON_UNIQUE AS SIGNED), CAST(COLUMN_NAME AS CHAR) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = '{name}' ORDER BY INDEX_NAME, SEQ_IN_INDEX"
                ),
            )
        }
        Dialect::Sqlite => (
            format!("SELECT name FROM pragma_table_info('{name}')"),
            format!(
                "SELECT il.name, il.\"unique\", ii.name FROM pragma_index_list('{name}') il JOIN pragma_index_info(il.name) ii ORDER BY il.name, ii.seqno"
            ),
        ),
    }
}

/// The share of rows past `expires_at` by the server's clock, as `session:clear --expired`
/// counts them.
async fn expired(conn: &mut AnyConnection, target: &DatabaseTarget) -> Check {
    let dialect = target.dialect();
    let quoted = target.table.quoted(dialect);
    let mut counts = [0i64; 2];
    for (i, only_expired) in [false, true].into_iter().enumerate() {
        let sql = count_sql(dialect, &quoted, only_expired);
        match run(
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).fetch_one(&mut *conn),
            &target.url,
        )
        .await
        {
            Ok(n) => counts[i] = n,
            Err(reason) => {
                return Check::error(
                    "database.expired_share",
                    format!("the rows could not be counted: {reason}"),
                    "check the user's SELECT permission on the table",
                );
            }
        }
    }
    let [total, expired] = counts;
    if total == 0 {
        return Check::ok("database.expired_share", "the table has no rows");
    }
    let share = expired as f64 / total as f64;
    let text = format!(
        "{expired} of {total} rows ({:.0}%) are expired",
        share * 100.0
    );
    if share > EXPIRED_SHARE {
        Check::warning("database.expired_share", text, CRON)
    } else {
        Check::ok("database.expired_share", text)
    }
}
