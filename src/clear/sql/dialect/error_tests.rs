//! How errors read, on errors the servers really return: SQLite's from files made to fail,
//! PostgreSQL's and MariaDB's raised by the test servers (`RAISE ... USING ERRCODE`,
//! `SIGNAL ... SET MYSQL_ERRNO`) with a message that says nothing, so that the code alone
//! must decide, or provoked where that is cheap.

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use super::{error_code, fix_for, is_lock_timeout, is_missing_column, is_missing_table};

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

async fn connect(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.expect("a connection")
}

/// The error `sql` fails with.
async fn fails(conn: &mut AnyConnection, sql: &str) -> sqlx::Error {
    match sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => panic!("`{sql}` did not fail"),
        Err(e) => e,
    }
}

/// A test server's URL; without one the test fails (in CI always; elsewhere unless
/// `AZU_SESSION_ALLOW_SKIP=1`, as for the CLI tests).
fn server(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|v| !v.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let skip = std::env::var("AZU_SESSION_ALLOW_SKIP").is_ok_and(|v| v == "1");
    assert!(
        url.is_some() || (skip && !ci),
        "{var} is not set (scripts/services sets it)"
    );
    url
}

/// Which advice `fix_for` gives, by a phrase of it.
fn advice(e: &sqlx::Error) -> &'static str {
    let Some(fix) = fix_for(e, "`s`") else {
        return "none";
    };
    [
        "foreign key",
        "may not do this to `s`",
        "not an SQLite database",
        "cannot be written",
        "only reads here",
        "statement timeout",
    ]
    .into_iter()
    .find(|phrase| fix.contains(phrase))
    .unwrap_or("other")
}

/// Long: one database file serves every case, in turn (the tables, then a lock held by a
/// second connection, then a read-only open of the same file); split, each part would make
/// the file again.
#[test]
fn sqlite_errors() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("app.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    block(async {
        let mut conn = connect(&url).await;
        sqlx::raw_sql(
            "PRAGMA foreign_keys = ON; \
             CREATE TABLE s (id INTEGER PRIMARY KEY, expires_at TEXT); \
             CREATE TABLE users (id INTEGER PRIMARY KEY, s INTEGER REFERENCES s (id)); \
             INSERT INTO s (id) VALUES (1); INSERT INTO users VALUES (1, 1)",
        )
        .execute(&mut conn)
        .await
        .expect("the tables");

        let column = fails(&mut conn, "SELECT nope FROM s").await;
        assert!(is_missing_column(&column, "nope"));
        assert!(!is_missing_column(&column, "rowid"));
        assert!(!is_missing_table(&column) && !is_lock_timeout(&column));
        assert_eq!(advice(&column), "none");

        let table = fails(&mut conn, "SELECT * FROM missing").await;
        assert!(is_missing_table(&table));
        assert!(!is_missing_column(&table, "missing"));

        let fk = fails(&mut conn, "DELETE FROM s").await;
        assert_eq!(advice(&fk), "foreign key");
        assert!(!is_missing_table(&fk));

        // Another connection holds the write lock and this one does not wait.
        let mut other = connect(&url).await;
        sqlx::raw_sql("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .expect("the lock");
        let locked = fails(&mut conn, "PRAGMA busy_timeout = 0; DELETE FROM users").await;
        assert!(is_lock_timeout(&locked), "{locked}");
        assert_eq!(advice(&locked), "none");
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("the lock let go");

        let mut read_only = connect(&format!("sqlite://{}?mode=ro", db.display())).await;
        let readonly = fails(&mut read_only, "DELETE FROM users").await;
        assert_eq!(advice(&readonly), "cannot be written", "{readonly}");

        let text = dir.path().join("notes.db");
        std::fs::write(
            &text,
            "not a database, just some text that is long enough\n".repeat(20),
        )
        .expect("a text file");
        let mut not_db = connect(&format!("sqlite://{}?mode=rw", text.display())).await;
        let garbage = fails(&mut not_db, "SELECT * FROM s").await;
        assert_eq!(advice(&garbage), "not an SQLite database", "{garbage}");
    });
    // Not a database error at all.
    let other = sqlx::Error::RowNotFound;
    assert!(!is_missing_column(&other, "nope") && !is_missing_table(&other));
    assert!(!is_lock_timeout(&other) && fix_for(&other, "s").is_none());
}

#[test]
fn postgres_errors() {
    let Some(url) = server("AZU_SESSION_TEST_POSTGRES_URL") else {
        return;
    };
    block(async {
        let mut conn = connect(&url).await;
        let mut raise = async |code: &str| {
            let sql =
                format!("DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{code}'; END $$");
            let e = fails(&mut conn, &sql).await;
            let db = e.as_database_error().expect("a database error");
            assert_eq!(error_code(db), code);
            e
        };
        assert!(is_lock_timeout(&raise("55P03").await));
        assert!(is_missing_table(&raise("42P01").await));
        assert_eq!(advice(&raise("23503").await), "foreign key");
        assert_eq!(advice(&raise("42501").await), "may not do this to `s`");
        assert_eq!(advice(&raise("25006").await), "only reads here");
        assert_eq!(advice(&raise("57014").await), "statement timeout");
        let deadlock = raise("40P01").await;
        assert_eq!(advice(&deadlock), "none");
        assert!(!is_lock_timeout(&deadlock) && !is_missing_table(&deadlock));

        let column = fails(&mut conn, "SELECT nope FROM (SELECT 1) t").await;
        assert!(is_missing_column(&column, "nope"), "{column}");
        assert!(!is_missing_column(&column, "rowid"));
    });
}

#[test]
fn mariadb_errors() {
    let Some(url) = server("AZU_SESSION_TEST_MYSQL_URL") else {
        return;
    };
    block(async {
        let mut conn = connect(&url).await;
        let mut signal = async |number: u16| {
            let sql = format!(
                "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = {number}, MESSAGE_TEXT = 'raised'"
            );
            let e = fails(&mut conn, &sql).await;
            let db = e.as_database_error().expect("a database error");
            assert_eq!(error_code(db), number.to_string());
            e
        };
        assert!(is_lock_timeout(&signal(1205).await));
        assert!(is_missing_table(&signal(1146).await));
        assert_eq!(advice(&signal(1451).await), "foreign key");
        for denied in [1142, 1227, 1044] {
            assert_eq!(advice(&signal(denied).await), "may not do this to `s`");
        }
        for read_only in [1290, 1792, 1836] {
            assert_eq!(advice(&signal(read_only).await), "only reads here");
        }
        for timeout in [3024, 1969] {
            assert_eq!(advice(&signal(timeout).await), "statement timeout");
        }
        let deadlock = signal(1213).await;
        assert_eq!(advice(&deadlock), "none");
        assert!(!is_lock_timeout(&deadlock) && !is_missing_table(&deadlock));

        let column = fails(&mut conn, "SELECT nope FROM (SELECT 1) t").await;
        assert!(is_missing_column(&column, "nope"), "{column}");
        assert!(!is_missing_column(&column, "rowid"));
    });
}
