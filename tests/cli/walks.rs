//! How a full clear walks a big table: PostgreSQL by heap pages, MySQL/MariaDB by integer
//! key, SQLite in one statement unless a trigger asks for rows one by one; and that the
//! statements stay small.

use std::time::{Duration, Instant};

use crate::support::project::Project;
use crate::support::run::{run, stdout};
use crate::support::sql::TestDb;

/// The walk (`--batched`: a plain table would be truncated) of `table`; its stdout.
fn clear_table(db: &TestDb, table: &str) -> String {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args([
                "clear",
                "-f",
                "-b",
                "database",
                "--batched",
                "--table",
                table,
            ])
            .env("DATABASE_URL", &db.url),
        0,
    );
    stdout(&out)
}

/// Log the number of rows each DELETE statement on `table` removes, and the statement
/// (PostgreSQL): every statement that deleted rows, and every batch of the sweep. Walk
/// statements that delete nothing log nothing: the log's writes would take transaction ids
/// the walk did not, and look like another transaction writing.
fn log_statement_sizes(db: &TestDb, table: &str) {
    db.exec(&format!(
        "CREATE TABLE azs_log (n bigint NOT NULL, query text NOT NULL);\n\
         CREATE FUNCTION azs_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO azs_log SELECT count(*), current_query() FROM old_rows HAVING count(*) > 0 OR current_query() LIKE '%ctid = ANY%'; RETURN NULL; END $$;\n\
         CREATE TRIGGER azs_count AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION azs_count()"
    ));
}

/// The most rows a page of `table` holds now (PostgreSQL).
fn densest_page(db: &TestDb, table: &str) -> i64 {
    db.scalar(&format!(
        "SELECT max(c) FROM (SELECT count(*) AS c FROM {table} GROUP BY (ctid::text::point)[0]) p"
    ))
}

/// The most pages one statement of the walk spans.
const MAX_PAGES: i64 = 1024;

#[test]
fn postgres_walk_deletes_everything_in_statements_of_about_a_batch() {
    let Some(db) = TestDb::postgres("walk_batches") else {
        return;
    };
    db.create_sessions("sessions", 35_003);
    db.create_sessions("sessions_archive", 3);
    db.exec("ANALYZE sessions");
    log_statement_sizes(&db, "sessions");
    let out = clear_table(&db, "sessions");
    assert!(out.contains("Cleared 35003 session(s)\n"), "{out}");
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(db.count("sessions_archive"), 3);
    assert_eq!(db.scalar("SELECT sum(n)::int8 FROM azs_log"), 35_003);
    // Rows alike: each range holds about a batch, by the density of the one before.
    assert!(db.scalar("SELECT max(n) FROM azs_log") <= 15_000);
    // The walk did the work (its statements scan ranges of row addresses), not the batches
    // that sweep up after it.
    assert!(
        db.scalar("SELECT count(*) FROM azs_log WHERE n > 0 AND query LIKE '%ctid >= $1::tid%'")
            >= 3
    );
}

#[test]
fn postgres_walk_is_swept_after_when_another_transaction_was_open() {
    let Some(db) = TestDb::postgres("walk_sweep_open") else {
        return;
    };
    db.create_sessions("sessions", 25_000);
    db.exec("ANALYZE sessions");
    db.exec("CREATE TABLE app_events (n int NOT NULL)");
    log_statement_sizes(&db, "sessions");
    // A transaction of the application's, with a transaction id, open through the whole
    // clear: it could update a session behind the walk before it ends, so the walk alone
    // proves nothing and the sweep must look.
    let release = db.hold_transaction("INSERT INTO app_events VALUES (1)");
    // A later transaction that ends before the clear starts: the open one is then below the
    // server's horizon of completed ids, in progress but outside the range the walk sees
    // the counter cross.
    db.exec("INSERT INTO app_events VALUES (2)");
    let out = clear_table(&db, "sessions");
    drop(release);
    assert!(out.contains("Cleared 25000 session(s)\n"), "{out}");
    assert_eq!(db.count("sessions"), 0);
    assert!(
        db.scalar("SELECT count(*) FROM azs_log WHERE n > 0 AND query LIKE '%ctid >= $1::tid%'")
            >= 2
    );
    assert!(db.scalar("SELECT count(*) FROM azs_log WHERE query LIKE '%ctid = ANY%'") >= 1);
}

#[test]
fn postgres_walk_over_empty_pages_is_bounded_by_pages() {
    let Some(db) = TestDb::postgres("walk_empty_pages") else {
        return;
    };
    // Big rows (about 8 a page): 125 dense pages, then 6,000 emptied ones (the walk's step
    // grows over them), then 5,000 dense ones, far more than one statement may span.
    db.exec("CREATE TABLE sessions (id bigserial PRIMARY KEY, session_id text NOT NULL, data text NOT NULL, expires_at timestamp NOT NULL)");
    db.exec("INSERT INTO sessions (session_id, data, expires_at) SELECT 's' || g, repeat('x', 900), '2099-01-01' FROM generate_series(1, 89000) g");
    db.exec("DELETE FROM sessions WHERE id > 1000 AND id <= 49000");
    db.exec("VACUUM ANALYZE sessions");
    let per_page = densest_page(&db, "sessions");
    let tail_pages = db.scalar(
        "SELECT count(DISTINCT (ctid::text::point)[0])::int8 FROM sessions WHERE id > 49000",
    );
    assert!(tail_pages > 2 * MAX_PAGES, "{tail_pages} pages");
    log_statement_sizes(&db, "sessions");
    let out = clear_table(&db, "sessions");
    assert!(out.contains("Cleared 41000 session(s)\n"), "{out}");
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(db.scalar("SELECT sum(n)::int8 FROM azs_log"), 41_000);
    let most = db.scalar("SELECT max(n) FROM azs_log");
    assert!(
        most <= MAX_PAGES * per_page,
        "{most} rows, {per_page} a page"
    );
}

#[test]
fn postgres_walk_without_statistics() {
    let Some(db) = TestDb::postgres("walk_no_stats") else {
        return;
    };
    // A table never analyzed or vacuumed: the planner knows nothing of its size.
    db.exec("CREATE TABLE sessions (id bigserial PRIMARY KEY, session_id text NOT NULL, data text NOT NULL, expires_at timestamp NOT NULL)");
    db.exec("INSERT INTO sessions (session_id, data, expires_at) SELECT 's' || g, repeat('x', g % 50), '2099-01-01' FROM generate_series(1, 23456) g");
    log_statement_sizes(&db, "sessions");
    let out = clear_table(&db, "sessions");
    assert!(out.contains("Cleared 23456 session(s)\n"), "{out}");
    assert_eq!(db.count("sessions"), 0);
    assert!(db.scalar("SELECT max(n) FROM azs_log") <= 15_000);
}

/// Insert rows with these ids into a table with `id, session_id, data, expires_at`.
fn insert_ids(db: &TestDb, table: &str, ids: &[String]) {
    for (chunk_no, chunk) in ids.chunks(5000).enumerate() {
        let values: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| format!("({id}, 's{chunk_no}-{i}', '{{}}', '2099-01-01 00:00:00')"))
            .collect();
        db.exec(&format!(
            "INSERT INTO {table} (id, session_id, data, expires_at) VALUES {}",
            values.join(",")
        ));
    }
}

#[test]
fn mysql_walk_takes_any_integer_key_and_other_tables_get_batches() {
    let Some(db) = TestDb::mysql("walk_keys") else {
        return;
    };
    let columns =
        "session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, expires_at DATETIME NOT NULL";
    // Keys beyond the signed range, sparse.
    db.exec(&format!(
        "CREATE TABLE big_keys (id BIGINT UNSIGNED PRIMARY KEY, {columns})"
    ));
    let big: Vec<String> = (0..23_456u64)
        .map(|i| (18_446_744_073_700_000_000u64 + i * 379).to_string())
        .collect();
    insert_ids(&db, "big_keys", &big);
    // Negative keys with gaps, in a small integer type.
    db.exec(&format!(
        "CREATE TABLE small_keys (id INT PRIMARY KEY, {columns})"
    ));
    let small: Vec<String> = (0..12_345i64)
        .map(|i| (i * 3 - 20_000).to_string())
        .collect();
    insert_ids(&db, "small_keys", &small);
    // A text key, and no key at all: the batches of `DELETE ... LIMIT` instead.
    db.exec(&format!(
        "CREATE TABLE text_keys (id VARCHAR(40) PRIMARY KEY, {columns})"
    ));
    let text: Vec<String> = (0..11_111).map(|i| format!("'k{i}'")).collect();
    insert_ids(&db, "text_keys", &text);
    db.exec(&format!(
        "CREATE TABLE no_keys (id INT NOT NULL, {columns})"
    ));
    let plain: Vec<String> = (0..10_001).map(|i| (i % 7).to_string()).collect();
    insert_ids(&db, "no_keys", &plain);

    for (table, n, keyed) in [
        ("big_keys", 23_456, true),
        ("small_keys", 12_345, true),
        ("text_keys", 11_111, false),
        ("no_keys", 10_001, false),
    ] {
        // The clear's first DELETE waits for a row lock, watched from another connection:
        // the walk's delete a range of keys, cast to the key's type; the batches are
        // `DELETE ... LIMIT`.
        let release = db.hold_first_row(table);
        let watcher = {
            let (url, name) = (db.url.clone(), db.name.clone());
            std::thread::spawn(move || {
                let mut db = TestDb::attach(&url);
                db.name = name;
                let deadline = Instant::now() + Duration::from_secs(20);
                let seen: Vec<String> = loop {
                    let deletes: Vec<String> = db
                        .running_statements()
                        .into_iter()
                        .filter(|s| s.starts_with("DELETE"))
                        .collect();
                    if !deletes.is_empty() || Instant::now() > deadline {
                        break deletes;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                let _ = release.send(());
                seen
            })
        };
        let out = clear_table(&db, table);
        let seen = watcher.join().expect("the watcher thread");
        assert!(
            out.contains(&format!("Cleared {n} session(s)\n")),
            "{table}: {out}"
        );
        assert_eq!(db.count(table), 0, "{table}");
        let walked = seen.iter().filter(|s| s.contains("CAST(")).count();
        let batched = seen.iter().filter(|s| s.contains("LIMIT")).count();
        if keyed {
            assert!(walked > 0 && batched == 0, "{table}: {seen:?}");
        } else {
            assert!(walked == 0 && batched > 0, "{table}: {seen:?}");
        }
    }
}

#[test]
fn mysql_walk_in_another_schema() {
    let Some(db) = TestDb::mysql("walk_schema") else {
        return;
    };
    let Some(other) = TestDb::mysql("walk_schema_other") else {
        return;
    };
    // The same table name in the connection's database and in another one: the key is
    // looked up in the schema named, and only that table is cleared.
    db.create_sessions("sessions", 10);
    other.create_sessions("sessions", 15_000);
    let out = clear_table(&db, &format!("{}.sessions", other.name));
    assert!(out.contains("Cleared 15000 session(s)\n"), "{out}");
    assert_eq!(other.count("sessions"), 0);
    assert_eq!(db.count("sessions"), 10);
}

#[test]
fn sqlite_clear_fires_a_delete_trigger_for_every_row() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 25_003);
    db.exec("CREATE TABLE deleted_log (id INTEGER NOT NULL)");
    db.exec("CREATE TRIGGER log_deletes AFTER DELETE ON sessions BEGIN INSERT INTO deleted_log VALUES (old.id); END");
    let out = clear_table(&db, "main.sessions");
    assert!(out.contains("Cleared 25003 session(s)\n"), "{out}");
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(db.count("deleted_log"), 25_003);
}
