//! A database of its own for each test: on the PostgreSQL and MariaDB servers named by
//! `AZU_SESSION_TEST_POSTGRES_URL` and `AZU_SESSION_TEST_MYSQL_URL`, or an SQLite file.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{AnyConnection, AssertSqlSafe, Connection};
use tempfile::TempDir;

use super::servers::url_from_env;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MySql,
    Sqlite,
}

pub struct TestDb {
    pub kind: Kind,
    /// The URL the tool is given.
    pub url: String,
    admin_url: Option<String>,
    /// The database made for the test (servers only).
    pub name: String,
    _dir: Option<TempDir>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("azs_test_{}_{n}_{nanos}", std::process::id())
}

/// `url` with its database (path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with ://");
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    format!("{scheme}://{authority}/{name}{query}")
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

async fn read_text(conn: &mut AnyConnection, sql: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
}

async fn execute(url: &str, sql: &str) -> Result<u64, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await?;
    let mut affected = 0;
    for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        affected += sqlx::raw_sql(AssertSqlSafe(statement.to_string()))
            .execute(&mut conn)
            .await?
            .rows_affected();
    }
    conn.close().await?;
    Ok(affected)
}

impl TestDb {
    pub fn postgres(test: &str) -> Option<Self> {
        let admin = url_from_env("AZU_SESSION_TEST_POSTGRES_URL", test)?;
        Some(Self::server(Kind::Postgres, admin))
    }

    pub fn mysql(test: &str) -> Option<Self> {
        let admin = url_from_env("AZU_SESSION_TEST_MYSQL_URL", test)?;
        Some(Self::server(Kind::MySql, admin))
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a directory for the SQLite file");
        let path = dir.path().join("app.sqlite3");
        let url = format!("sqlite:{}", path.display());
        let db = TestDb {
            kind: Kind::Sqlite,
            url: url.clone(),
            admin_url: None,
            name: String::new(),
            _dir: Some(dir),
        };
        block_on(execute(
            &format!("{url}?mode=rwc"),
            "CREATE TABLE azs_probe (x INTEGER);\nDROP TABLE azs_probe",
        ))
        .expect("create the SQLite file");
        db
    }

    /// An SQLite database in the file `path` (made, with its directory), which the caller's
    /// directory owns.
    pub fn sqlite_at(path: &std::path::Path) -> Self {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("a directory for the SQLite file");
        }
        let url = format!("sqlite://{}", path.display());
        block_on(execute(
            &format!("{url}?mode=rwc"),
            "CREATE TABLE azs_probe (x INTEGER);\nDROP TABLE azs_probe",
        ))
        .expect("create the SQLite file");
        TestDb {
            kind: Kind::Sqlite,
            url,
            admin_url: None,
            name: String::new(),
            _dir: None,
        }
    }

    /// All three kinds the environment offers (SQLite always).
    pub fn all(test: &str) -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        dbs.extend(Self::postgres(test));
        dbs.extend(Self::mysql(test));
        dbs
    }

    /// Another handle on an existing test database (for a second thread); it drops nothing.
    pub fn attach(url: &str) -> Self {
        let kind = if url.starts_with("postgres") {
            Kind::Postgres
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            Kind::MySql
        } else {
            Kind::Sqlite
        };
        TestDb {
            kind,
            url: url.to_string(),
            admin_url: None,
            name: String::new(),
            _dir: None,
        }
    }

    fn server(kind: Kind, admin: String) -> Self {
        let name = unique_name();
        block_on(execute(&admin, &format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("create database {name} on {admin}: {e}"));
        TestDb {
            kind,
            url: with_database(&admin, &name),
            admin_url: Some(admin),
            name,
            _dir: None,
        }
    }

    pub fn exec(&self, sql: &str) -> u64 {
        block_on(execute(&self.url, sql)).unwrap_or_else(|e| panic!("{:?}: {sql}: {e}", self.kind))
    }

    pub fn try_exec(&self, sql: &str) -> Result<u64, String> {
        block_on(execute(&self.url, sql)).map_err(|e| e.to_string())
    }

    /// Make every DELETE on `table` slow (about `ms` milliseconds per 10,000-row batch), so
    /// a test can act while a clear is surely under way.
    pub fn slow_deletes(&self, table: &str, ms: u32) {
        match self.kind {
            Kind::Postgres => self.exec(&format!(
                "CREATE FUNCTION azs_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep({}); RETURN NULL; END $$;\nCREATE TRIGGER azs_slow BEFORE DELETE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION azs_slow()",
                f64::from(ms) / 1000.0
            )),
            Kind::MySql => self.exec(&format!(
                "CREATE TRIGGER azs_slow BEFORE DELETE ON {table} FOR EACH ROW SET @azs_slept = SLEEP({})",
                f64::from(ms) / 1000.0 / 10_000.0
            )),
            Kind::Sqlite => panic!("SQLite has no sleep to slow deletes with"),
        };
    }

    /// Read the text `sql` selects (one value) on one connection, call `start`, then read it
    /// again every millisecond until it changes (for up to 10 s): acting the moment the
    /// server has counted something, without a new connection's delay. Whether it changed.
    pub fn after_change(&self, sql: &str, start: impl FnOnce()) -> bool {
        block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = AnyConnection::connect(&self.url).await?;
            let seen = read_text(&mut conn, sql).await?;
            start();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if read_text(&mut conn, sql).await? != seen {
                    return Ok::<_, sqlx::Error>(true);
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Ok(false)
        })
        .unwrap_or_else(|e| panic!("{:?}: {sql}: {e}", self.kind))
    }

    /// The first column of every row `sql` selects.
    fn column<T>(&self, sql: String) -> Vec<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
    {
        block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = AnyConnection::connect(&self.url).await?;
            let values: Vec<T> = sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                .fetch_all(&mut conn)
                .await?;
            conn.close().await?;
            Ok::<_, sqlx::Error>(values)
        })
        .unwrap_or_else(|e| panic!("{:?}: {sql}: {e}", self.kind))
    }

    /// The ids of the connections to this database other than the asking one (MySQL).
    pub fn other_connection_ids(&self) -> Vec<i64> {
        self.column(format!(
            "SELECT CAST(id AS SIGNED) FROM information_schema.processlist WHERE db = '{}' AND id <> CONNECTION_ID()",
            self.name
        ))
    }

    /// The statements this database's other connections are running now (MySQL).
    pub fn running_statements(&self) -> Vec<String> {
        self.column(format!(
            "SELECT CAST(INFO AS CHAR) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND ID <> CONNECTION_ID() AND INFO IS NOT NULL",
            self.name
        ))
    }

    /// Lock the row of `table` with the smallest `id` in another connection's transaction
    /// (MySQL), so that a clear's first DELETE waits where others can see it. The lock is
    /// held once this returns, and let go when `release` is told (or dropped).
    pub fn hold_first_row(&self, table: &str) -> std::sync::mpsc::Sender<()> {
        self.hold_transaction(&format!(
            "SELECT 1 FROM {table} ORDER BY id LIMIT 1 FOR UPDATE"
        ))
    }

    /// Run `sql` in a transaction of another connection and keep it open: it is in progress
    /// once this returns, and rolled back when the returned sender is told (or dropped).
    pub fn hold_transaction(&self, sql: &str) -> std::sync::mpsc::Sender<()> {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (held_tx, held) = std::sync::mpsc::channel();
        let (url, sql) = (self.url.clone(), sql.to_string());
        std::thread::spawn(move || {
            block_on(async {
                sqlx::any::install_default_drivers();
                let mut conn = AnyConnection::connect(&url).await?;
                sqlx::raw_sql(AssertSqlSafe("BEGIN"))
                    .execute(&mut conn)
                    .await?;
                sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                    .execute(&mut conn)
                    .await?;
                let _ = held_tx.send(());
                let _ = released.recv();
                sqlx::raw_sql(AssertSqlSafe("ROLLBACK"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
            .unwrap_or_else(|e| panic!("hold a transaction ({sql}): {e}"));
        });
        held.recv().expect("the open transaction");
        release
    }

    pub fn count(&self, table: &str) -> i64 {
        block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = AnyConnection::connect(&self.url).await?;
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await?;
            conn.close().await?;
            Ok::<i64, sqlx::Error>(n)
        })
        .unwrap_or_else(|e| panic!("{:?}: count {table}: {e}", self.kind))
    }

    /// The first column of every row `sql` selects, as text.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        self.column(sql.to_string())
    }

    /// The one integer `sql` selects.
    pub fn scalar(&self, sql: &str) -> i64 {
        let values: Vec<i64> = self.column(sql.to_string());
        assert_eq!(values.len(), 1, "{:?}: {sql}: {values:?}", self.kind);
        values[0]
    }

    /// A sessions table as the generated migration makes it, with `rows` sessions.
    pub fn create_sessions(&self, table: &str, rows: usize) {
        let (id, ts) = match self.kind {
            Kind::Postgres => ("BIGSERIAL PRIMARY KEY", "TIMESTAMP"),
            Kind::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "DATETIME"),
            Kind::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
        };
        self.exec(&format!(
            "CREATE TABLE {table} (id {id}, session_id VARCHAR(255) NOT NULL UNIQUE, data TEXT NOT NULL, created_at {ts}, updated_at {ts}, expires_at {ts} NOT NULL)"
        ));
        self.insert_sessions(table, rows, "2099-01-01 00:00:00");
    }

    /// `rows` more sessions expiring at `expires_at`, inserted in a few large statements.
    pub fn insert_sessions(&self, table: &str, rows: usize, expires_at: &str) {
        let start = self.count(table) as usize;
        for chunk_start in (0..rows).step_by(5000) {
            let end = (chunk_start + 5000).min(rows);
            let values: Vec<String> = (chunk_start..end)
                .map(|i| format!("('s{}', '{{}}', '{expires_at}')", start + i))
                .collect();
            self.exec(&format!(
                "INSERT INTO {table} (session_id, data, expires_at) VALUES {}",
                values.join(",")
            ));
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin_url {
            let _ = block_on(execute(
                admin,
                &format!("DROP DATABASE IF EXISTS {}", self.name),
            ));
        }
    }
}
