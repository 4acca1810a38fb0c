//! `session:clear --expired`: only sessions past `expires_at` go, by the server's clock.

use chrono::{Duration, Utc};

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{run, text};
use crate::support::sql::{Kind, TestDb};

/// UTC time `offset` from now, as the session shard's drivers write it.
fn at(offset: Duration) -> String {
    (Utc::now() + offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Sessions: `expired` past ones (most long ago, two an hour ago) and `live` future ones
/// (two only an hour ahead).
fn plant(db: &TestDb, expired: usize, live: usize) {
    db.create_sessions("sessions", 0);
    db.insert_sessions("sessions", expired - 2, "2001-02-03 04:05:06");
    db.insert_sessions("sessions", 2, &at(Duration::hours(-1)));
    db.insert_sessions("sessions", live - 2, "2099-01-01 00:00:00");
    db.insert_sessions("sessions", 2, &at(Duration::hours(1)));
}

#[test]
fn expired_rows_go_and_live_rows_stay_on_every_server() {
    for db in TestDb::all("expired_rows_go") {
        plant(&db, 20_005, 9); // more than two batches of expired rows
        let p = Project::new();
        // No --force and no terminal: --expired needs no confirmation.
        let out = run(
            p.cmd()
                .args(["clear", "--expired", "-b", "database"])
                .env("DATABASE_URL", &db.url),
            0,
        );
        assert_eq!(
            text(&out.stdout),
            "Clearing expired sessions...\nBackend: database\nClearing expired database sessions...\nCleared 20005 expired session(s)\n✓ Expired sessions cleared successfully\n",
            "{:?}",
            db.kind
        );
        assert_eq!(
            db.count("sessions"),
            9,
            "{:?}: live sessions were deleted",
            db.kind
        );
    }
}

#[test]
fn expired_dry_run_counts_only_expired() {
    for db in TestDb::all("expired_dry_run") {
        plant(&db, 5, 4);
        let p = Project::new();
        let out = run(
            p.cmd()
                .args(["clear", "--expired", "--dry-run", "-b", "database"])
                .env("DATABASE_URL", &db.url),
            0,
        );
        assert!(
            text(&out.stdout).contains("Would clear 5 expired session(s)\n"),
            "{:?}: {}",
            db.kind,
            text(&out.stdout)
        );
        assert_eq!(db.count("sessions"), 9);
    }
}

#[test]
fn expired_uses_utc_whatever_the_servers_time_zone() {
    let Some(db) = TestDb::postgres("expired_time_zone") else {
        return;
    };
    assert_eq!(db.kind, Kind::Postgres);
    // A database far from UTC: a comparison in its local time would keep the session that
    // expired an hour ago. (sqlx also starts PostgreSQL sessions in UTC, and the tool sets UTC
    // itself; this guards the outcome whichever of the two is doing the work.)
    let name = db
        .url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_string();
    db.exec(&format!(
        "ALTER DATABASE {name} SET timezone = 'America/Los_Angeles'"
    ));
    plant(&db, 4, 4);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "--expired", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    assert!(
        text(&out.stdout).contains("Cleared 4 expired session(s)\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(db.count("sessions"), 4);
}

#[test]
fn expired_without_an_expires_at_column_is_an_error() {
    let db = TestDb::sqlite();
    db.exec("CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id TEXT)");
    db.exec("INSERT INTO sessions (session_id) VALUES ('a'), ('b')");
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "--expired", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        1,
    );
    assert!(
        text(&out.stderr).contains("has no `expires_at` column"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(db.count("sessions"), 2);
}

#[test]
fn expired_on_redis_touches_nothing() {
    let Some(server) = RedisServer::start("expired_on_redis") else {
        return;
    };
    server.plant(0, "myapp:session:", 10);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "--expired"])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        text(&out.stdout),
        "Clearing expired sessions...\nBackend: redis\nRedis removes expired sessions itself (every session key has a TTL); nothing to clear\n"
    );
    assert_eq!(server.dbsize(0), 10);
    // It does not even connect: an unreachable server is no error.
    run(
        p.cmd()
            .args(["clear", "--expired"])
            .env("REDIS_URL", "redis://127.0.0.1:1"),
        0,
    );
}

#[test]
fn expired_on_memory_is_like_a_full_clear() {
    let p = Project::new();
    let out = run(p.cmd().args(["clear", "--expired", "-b", "memory"]), 0);
    assert!(text(&out.stdout).contains("⚠️  Memory sessions cannot be cleared remotely\n"));
}

/// SQLite keeps times as text or numbers in whatever form the writer chose: each row is
/// compared as a time, not as text.
#[test]
fn sqlite_expiry_in_every_form_writers_use() {
    let db = TestDb::sqlite();
    db.exec(
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, data TEXT NOT NULL, expires_at NOT NULL);\n\
         CREATE INDEX sessions_expires_at ON sessions (expires_at)",
    );
    let utc = |offset: Duration, format: &str| (Utc::now() + offset).format(format).to_string();
    let hour = Duration::hours(1);
    // (expires_at as SQL, expired?)
    let rows = [
        (format!("'{}'", utc(-hour, "%Y-%m-%d %H:%M:%S")), true),
        (format!("'{}'", utc(-hour, "%Y-%m-%d %H:%M:%S%.3f")), true),
        (format!("'{}'", utc(-hour, "%Y-%m-%dT%H:%M:%S")), true),
        (format!("'{}'", utc(-hour, "%Y-%m-%dT%H:%M:%SZ")), true),
        // An hour ago in UTC, written at +02:00: its text reads an hour ahead.
        (
            format!("'{}+02:00'", utc(Duration::hours(1), "%Y-%m-%dT%H:%M:%S")),
            true,
        ),
        (format!("{}", (Utc::now() - hour).timestamp()), true),
        ("'2001-02-03 04:05:06'".to_string(), true),
        (format!("'{}'", utc(hour, "%Y-%m-%d %H:%M:%S")), false),
        (format!("'{}'", utc(hour, "%Y-%m-%dT%H:%M:%SZ")), false),
        // An hour ahead in UTC, written at -05:00: its text reads four hours behind.
        (
            format!("'{}-05:00'", utc(Duration::hours(-4), "%Y-%m-%dT%H:%M:%S")),
            false,
        ),
        (format!("{}", (Utc::now() + hour).timestamp()), false),
        ("'2099-01-01 00:00:00.000'".to_string(), false),
    ];
    for (i, (value, _)) in rows.iter().enumerate() {
        db.exec(&format!(
            "INSERT INTO sessions (session_id, data, expires_at) VALUES ('s{i}', '{{}}', {value})"
        ));
    }
    let expired = rows.iter().filter(|(_, e)| *e).count();
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "--expired", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    assert!(
        text(&out.stdout).contains(&format!("Cleared {expired} expired session(s)\n")),
        "{}",
        text(&out.stdout)
    );
    let left = db.strings("SELECT session_id FROM sessions ORDER BY id");
    let want: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| !e)
        .map(|(i, _)| format!("s{i}"))
        .collect();
    assert_eq!(left, want);
}

/// An `expires_at` SQLite cannot read as a time (an offset without its colon, Unix seconds
/// stored as text, a word) is never taken for expired in silence: `--expired` and its dry
/// run count those rows in a warning (and JSON's `warnings`), and leave them.
#[test]
fn sqlite_expiry_it_cannot_read_is_counted_in_a_warning() {
    let db = TestDb::sqlite();
    db.exec(
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, data TEXT NOT NULL, expires_at);\n\
         CREATE INDEX sessions_expires_at ON sessions (expires_at)",
    );
    for (i, value) in [
        "'2001-02-03 04:05:06'",      // expired
        "'2026-01-01 00:00:00+0200'", // unreadable
        "'1700000000'",               // unreadable: digits as text
        "'soon'",                     // unreadable
        "'2099-01-01 00:00:00'",      // live
        "NULL",                       // no expiry: not counted
    ]
    .iter()
    .enumerate()
    {
        db.exec(&format!(
            "INSERT INTO sessions (session_id, data, expires_at) VALUES ('s{i}', '{{}}', {value})"
        ));
    }
    let warning = "warning: 3 row(s) of `sessions` have an expires_at SQLite cannot read as a time (such as an offset without its colon, `+0200`, or Unix seconds stored as text), so they were not counted as expired; store expires_at as `YYYY-MM-DD HH:MM:SS` in UTC (or Unix seconds as a number), or clear them without --expired\n";
    let p = Project::new();
    let clear = |args: &[&str]| {
        let mut cmd = p.cmd();
        cmd.args(["clear", "--expired", "-b", "database"])
            .args(args)
            .env("DATABASE_URL", &db.url);
        run(&mut cmd, 0)
    };

    let out = clear(&["--dry-run"]);
    assert!(
        text(&out.stdout).contains("Would clear 1 expired session(s)\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).ends_with(warning),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(db.count("sessions"), 6);

    let out = clear(&["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["cleared"], 1);
    assert_eq!(
        report["warnings"][0].as_str(),
        Some(warning.trim_start_matches("warning: ").trim_end())
    );
    assert_eq!(
        db.strings("SELECT session_id FROM sessions ORDER BY id"),
        ["s1", "s2", "s3", "s4", "s5"]
    );

    // Nothing unreadable: no warning, and the success line.
    db.exec("DELETE FROM sessions WHERE session_id IN ('s1', 's2', 's3')");
    let out = clear(&[]);
    assert_eq!(
        text(&out.stderr).matches("warning:").count(),
        0,
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("✓ Expired sessions cleared successfully"));
}
