//! SQL clears on the schemas real databases have: partitioned and inherited tables, views,
//! locks held by the app, foreign keys that cascade, row-level security, `WITHOUT ROWID`,
//! and the failures a second run cannot fix.

use std::time::Duration;

use crate::support::project::Project;
use crate::support::run::{Says, finish, interrupt, run, spawn, stderr, stdout, under_terminal};
use crate::support::sql::{Kind, TestDb};

const PAST: &str = "2000-01-01 00:00:00";
const FUTURE: &str = "2099-01-01 00:00:00";

/// `azu-session clear <args> -b database` with `DATABASE_URL` set to `db`'s.
fn clear(p: &Project, db: &TestDb, args: &[&str], code: i32) -> std::process::Output {
    clear_at(p, &db.url, args, code)
}

fn clear_at(p: &Project, url: &str, args: &[&str], code: i32) -> std::process::Output {
    run(
        p.cmd()
            .args(["clear", "-b", "database"])
            .args(args)
            .env("DATABASE_URL", url),
        code,
    )
}

/// `db`'s URL as the tool gets it: SQLite enforces foreign keys only when the app's URL
/// turns them on.
fn with_foreign_keys(db: &TestDb) -> String {
    if db.kind == Kind::Sqlite {
        format!("{}?foreign_keys=on", db.url)
    } else {
        db.url.clone()
    }
}

const COLUMNS: &str = "id BIGSERIAL, session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP, expires_at TIMESTAMP NOT NULL";

/// Rows in `table` alone (not its children), expired and live.
fn only(db: &TestDb, table: &str) -> (i64, i64) {
    (
        db.scalar(&format!(
            "SELECT count(*) FROM ONLY {table} WHERE expires_at < now()"
        )),
        db.scalar(&format!(
            "SELECT count(*) FROM ONLY {table} WHERE expires_at >= now()"
        )),
    )
}

/// Partitioned and inherited layouts, each with expired and live rows in every physical
/// table: (name, setup SQL, the physical tables).
fn postgres_layouts() -> Vec<(&'static str, String, Vec<&'static str>)> {
    vec![
        (
            "range on expires_at",
            format!(
                "CREATE TABLE sessions ({COLUMNS}) PARTITION BY RANGE (expires_at);\n\
                 CREATE TABLE s_past PARTITION OF sessions FOR VALUES FROM ('1990-01-01') TO ('2050-01-01');\n\
                 CREATE TABLE s_future PARTITION OF sessions FOR VALUES FROM ('2050-01-01') TO ('2100-01-01');\n\
                 CREATE TABLE s_other PARTITION OF sessions DEFAULT"
            ),
            vec!["s_past", "s_future", "s_other"],
        ),
        (
            "list, hash below range, and a default",
            format!(
                "CREATE TABLE sessions ({COLUMNS}) PARTITION BY LIST (substr(session_id, 1, 1));\n\
                 CREATE TABLE s_list PARTITION OF sessions FOR VALUES IN ('a', 'b') PARTITION BY HASH (session_id);\n\
                 CREATE TABLE s_hash0 PARTITION OF s_list FOR VALUES WITH (MODULUS 2, REMAINDER 0);\n\
                 CREATE TABLE s_hash1 PARTITION OF s_list FOR VALUES WITH (MODULUS 2, REMAINDER 1);\n\
                 CREATE TABLE s_rest PARTITION OF sessions DEFAULT"
            ),
            vec!["s_hash0", "s_hash1", "s_rest"],
        ),
        (
            "INHERITS",
            format!(
                "CREATE TABLE sessions ({COLUMNS});\n\
                 CREATE TABLE s_child (extra INT) INHERITS (sessions);\n\
                 CREATE TABLE s_grandchild () INHERITS (s_child)"
            ),
            vec!["sessions", "s_child", "s_grandchild"],
        ),
    ]
}

#[test]
fn postgres_partitions_and_children_are_cleared_one_table_at_a_time() {
    for (layout, setup, tables) in postgres_layouts() {
        let Some(db) = TestDb::postgres("postgres_partitions") else {
            return;
        };
        db.exec(&setup);
        if layout == "INHERITS" {
            for table in &tables {
                db.insert_sessions(table, 4, PAST);
                db.insert_sessions(table, 4, FUTURE);
            }
        } else {
            // Through the parent, with session ids that spread over list and hash partitions
            // and times in every range partition (the default one included): live canaries
            // in each, and expired rows in each that can hold them.
            for (kind, when) in [
                ("x", PAST),
                ("l", FUTURE),
                ("m", "2040-01-01 00:00:00"),
                ("o", "1980-01-01 00:00:00"),
                ("n", "2200-01-01 00:00:00"),
            ] {
                for i in 0..30 {
                    let id = format!("{}{kind}{i}", ["a", "b", "c"][i % 3]);
                    db.exec(&format!(
                        "INSERT INTO sessions (session_id, data, expires_at) VALUES ('{id}', '{{}}', '{when}')"
                    ));
                }
            }
        }
        for table in &tables {
            let (expired, live) = only(&db, table);
            // A range partition of times all after now holds no expired row.
            let can_expire = !(layout == "range on expires_at" && *table == "s_future");
            assert!(
                live > 0 && (expired > 0 || !can_expire),
                "{layout}: {table} holds live canaries ({live}) and expired rows ({expired})"
            );
        }
        let total_expired = db.scalar("SELECT count(*) FROM sessions WHERE expires_at < now()");
        let total_live = db.scalar("SELECT count(*) FROM sessions WHERE expires_at >= now()");
        assert!(total_expired > 0 && total_live > 0, "{layout}");
        let before: Vec<(i64, i64)> = tables.iter().map(|t| only(&db, t)).collect();
        let p = Project::new();

        let out = clear(&p, &db, &["--dry-run", "--expired"], 0);
        assert!(
            stdout(&out).contains(&format!("Would clear {total_expired} expired session(s)\n")),
            "{layout}: {}",
            stdout(&out)
        );
        let out = clear(&p, &db, &["--expired"], 0);
        assert!(
            stdout(&out).contains(&format!("Cleared {total_expired} expired session(s)\n")),
            "{layout}: {}",
            stdout(&out)
        );
        for (table, (_, live)) in tables.iter().zip(&before) {
            assert_eq!(only(&db, table), (0, *live), "{layout}: {table}");
        }

        // The walk, one physical table at a time (a plain layout would be truncated whole).
        let out = clear(&p, &db, &["--force", "--batched"], 0);
        assert!(
            stdout(&out).contains(&format!("Cleared {total_live} session(s)\n")),
            "{layout}: {}",
            stdout(&out)
        );
        for table in &tables {
            assert_eq!(only(&db, table), (0, 0), "{layout}: {table}");
        }
    }
}

#[test]
fn the_issue_case_a_range_partition_by_expiry_keeps_its_live_session() {
    let Some(db) = TestDb::postgres("range_partition_issue_case") else {
        return;
    };
    db.exec(&format!(
        "CREATE TABLE sessions ({COLUMNS}) PARTITION BY RANGE (expires_at);\n\
         CREATE TABLE s_old PARTITION OF sessions FOR VALUES FROM (MINVALUE) TO ('2050-01-01');\n\
         CREATE TABLE s_new PARTITION OF sessions FOR VALUES FROM ('2050-01-01') TO (MAXVALUE);\n\
         INSERT INTO sessions (session_id, data, expires_at) VALUES ('old', '{{}}', '{PAST}'), ('new', '{{}}', '{FUTURE}')"
    ));
    // Both rows sit at the same address (0,1) of their own partition.
    assert_eq!(
        db.strings("SELECT ctid::text FROM sessions ORDER BY 1"),
        ["(0,1)", "(0,1)"]
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--expired"], 0);
    out.says(&["Cleared 1 expired session(s)\n"]);
    assert_eq!(db.strings("SELECT session_id FROM sessions"), ["new"]);
    // Parent rows and child rows at the same addresses, with INHERITS.
    let Some(db) = TestDb::postgres("inherits_issue_case") else {
        return;
    };
    db.exec(&format!(
        "CREATE TABLE sessions ({COLUMNS});\nCREATE TABLE s_child () INHERITS (sessions)"
    ));
    db.insert_sessions("sessions", 5, PAST);
    db.insert_sessions("s_child", 5, FUTURE);
    let out = clear(&p, &db, &["--expired"], 0);
    out.says(&["Cleared 5 expired session(s)\n"]);
    assert_eq!(db.count("s_child"), 5);
}

#[test]
fn views_are_refused_with_the_fix() {
    for db in TestDb::all("views_are_refused") {
        db.create_sessions("real_sessions", 6);
        db.exec("CREATE VIEW sessions AS SELECT * FROM real_sessions");
        let p = Project::new();
        for args in [&["--force"][..], &["--expired"], &["--dry-run"]] {
            let out = clear(&p, &db, args, 1);
            assert!(
                stderr(&out).contains("`sessions` in `")
                    && stderr(&out).contains("is a view, not a table")
                    && stderr(&out).contains("pass --table"),
                "{:?} {args:?}: {}",
                db.kind,
                stderr(&out)
            );
        }
        assert_eq!(db.count("real_sessions"), 6, "{:?}", db.kind);
        let out = clear(&p, &db, &["--force", "--table", "real_sessions"], 0);
        out.says(&["Cleared 6 session(s)\n"]);
    }
}

/// A lock another connection holds on the table for as long as the test needs it.
fn lock_statement(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE",
        Kind::MySql => "LOCK TABLES sessions WRITE",
        Kind::Sqlite => "UPDATE sessions SET data = data WHERE id = 1",
    }
}

#[test]
fn a_held_lock_ends_the_clear_after_the_lock_timeout_and_says_what_holds_it() {
    for db in TestDb::all("a_held_lock") {
        db.create_sessions("sessions", 8);
        let release = db.hold_transaction(lock_statement(db.kind));
        let p = Project::new();
        if db.kind == Kind::Sqlite {
            // SQLite lets readers in while a writer holds its lock: counting goes on.
            let out = clear(&p, &db, &["--dry-run", "--lock-timeout", "1"], 0);
            out.says(&["Would clear 8 session(s)\n"]);
        }
        let waits: &[&[&str]] = match db.kind {
            Kind::Sqlite => &[&["--force", "--lock-timeout", "1.5"]],
            _ => &[
                &["--force", "--lock-timeout", "1.5"],
                &["--dry-run", "--lock-timeout", "1"],
            ],
        };
        for args in waits {
            let out = clear(&p, &db, args, 1);
            let err = stderr(&out);
            assert!(
                err.contains("stayed locked by another connection for"),
                "{:?} {args:?}: {err}",
                db.kind
            );
            assert!(
                err.contains("run the command again once the lock is released"),
                "{err}"
            );
            match db.kind {
                Kind::Postgres => assert!(err.contains("AccessExclusiveLock"), "{err}"),
                Kind::MySql => assert!(err.contains("LOCK TABLES"), "{err}"),
                Kind::Sqlite => assert!(err.contains("writing to the database file"), "{err}"),
            }
            assert!(!err.contains("✓") && !stdout(&out).contains("✓"));
        }
        release.send(()).expect("the lock holder");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(db.count("sessions"), 8, "{:?}", db.kind);
        let out = clear(&p, &db, &["--force"], 0);
        out.says(&["Cleared 8 session(s)\n"]);
    }
}

#[test]
fn ctrl_c_while_waiting_for_a_lock_stops_within_a_second() {
    for db in TestDb::all("ctrl_c_while_waiting") {
        db.create_sessions("sessions", 5);
        let release = db.hold_transaction(lock_statement(db.kind));
        let p = Project::new();
        let force: &[&str] = &[
            "clear",
            "-b",
            "database",
            "--force",
            "--lock-timeout",
            "600",
        ];
        let dry_run: &[&str] = &[
            "clear",
            "-b",
            "database",
            "--dry-run",
            "--lock-timeout",
            "600",
        ];
        let runs = if db.kind == Kind::Sqlite {
            vec![force]
        } else {
            vec![force, dry_run]
        };
        for args in runs {
            let child = spawn(&p, args, &[("DATABASE_URL", &db.url)]);
            // Long enough to be waiting for the lock (connecting takes far less).
            std::thread::sleep(Duration::from_millis(1500));
            let signalled = std::time::Instant::now();
            interrupt(&child);
            // The lock is held for ten minutes more: the clear ends within a second of the
            // signal (and a little for the process to end and be seen to).
            let out = finish(child, Duration::from_secs(5));
            let took = signalled.elapsed();
            assert!(
                took <= Duration::from_millis(1500),
                "{:?} {args:?}: ended {took:?} after Ctrl-C",
                db.kind
            );
            assert_eq!(
                out.status.code(),
                Some(130),
                "{:?}: {}",
                db.kind,
                stderr(&out)
            );
            let err = stderr(&out);
            if args.contains(&"--dry-run") {
                assert!(err.contains("interrupted; nothing was deleted"), "{err}");
            } else {
                assert!(
                    err.contains("interrupted after clearing 0 session(s)"),
                    "{err}"
                );
            }
        }
        release.send(()).expect("the lock holder");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(db.count("sessions"), 5, "{:?}", db.kind);
    }
}

/// `carts` deleted with their sessions, `orders` keeping their rows with the key reset.
fn cascading_tables(db: &TestDb) {
    let (id, fk) = match db.kind {
        Kind::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT"),
        Kind::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "BIGINT"),
        Kind::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER"),
    };
    db.exec(&format!(
        "CREATE TABLE carts (id {id}, session {fk}, FOREIGN KEY (session) REFERENCES sessions(id) ON DELETE CASCADE);\n\
         CREATE TABLE orders (id {id}, session {fk}, FOREIGN KEY (session) REFERENCES sessions(id) ON DELETE SET NULL);\n\
         INSERT INTO carts (session) SELECT id FROM sessions;\n\
         INSERT INTO carts (session) SELECT id FROM sessions;\n\
         INSERT INTO orders (session) SELECT id FROM sessions WHERE expires_at < '2050-01-01'"
    ));
}

#[test]
fn cascades_are_named_before_anything_is_deleted() {
    for db in TestDb::all("cascades_are_named") {
        let url = with_foreign_keys(&db);
        db.create_sessions("sessions", 6);
        db.insert_sessions("sessions", 4, PAST);
        cascading_tables(&db);
        let p = Project::new();
        let carts = if db.kind == Kind::MySql {
            format!("{}.carts", db.name)
        } else if db.kind == Kind::Postgres {
            "public.carts".to_string()
        } else {
            "carts".to_string()
        };
        let orders = carts.replace("carts", "orders");

        let out = clear_at(&p, &url, &["--dry-run"], 0);
        assert_eq!(
            stdout(&out),
            format!(
                "Counting sessions (dry run: nothing will be deleted)...\nBackend: database\nCounting database sessions...\nWould clear 10 session(s)\nWould also delete 20 row(s) of `{carts}` (ON DELETE CASCADE)\nWould also set the key of 4 row(s) of `{orders}` to NULL (ON DELETE SET NULL)\nDry run: no sessions were cleared\n"
            ),
            "{:?}",
            db.kind
        );
        let out = clear_at(&p, &url, &["--dry-run", "--expired"], 0);
        assert!(
            stdout(&out).contains(&format!(
                "Would also delete 8 row(s) of `{carts}` (ON DELETE CASCADE)\n"
            )),
            "{:?}: {}",
            db.kind,
            stdout(&out)
        );
        let out = run(
            p.cmd()
                .args(["--format", "json", "clear", "-b", "database", "--dry-run"])
                .env("DATABASE_URL", &url),
            0,
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(
            report["cascades"],
            serde_json::json!([
                { "table": carts, "on_delete": "CASCADE", "rows": 20 },
                { "table": orders, "on_delete": "SET NULL", "rows": 4 },
            ])
        );

        // Said before the question, and a no deletes nothing.
        let screen = under_terminal(&p, "clear -b database", &[("DATABASE_URL", &url)], "n\n");
        assert!(
            screen.contains(&format!(
                "will also delete 20 row(s) of `{carts}` (ON DELETE CASCADE)"
            )),
            "{:?}: {screen}",
            db.kind
        );
        assert_eq!(db.count("carts"), 20);

        let out = clear_at(&p, &url, &["--force"], 0);
        out.says(&["Cleared 10 session(s)\n"]);
        out.warns(&[&format!(
            "note: clearing these sessions will also delete 20 row(s) of `{carts}`"
        )]);
        assert_eq!(db.count("carts"), 0, "{:?}", db.kind);
        assert_eq!(db.count("orders"), 4, "{:?}", db.kind);
        assert_eq!(
            db.scalar("SELECT count(*) FROM orders WHERE session IS NULL"),
            4
        );
    }
}

#[test]
fn sqlite_without_foreign_keys_on_cascades_nothing_and_names_nothing() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 3);
    cascading_tables(&db);
    let p = Project::new();
    let out = clear(&p, &db, &["--dry-run"], 0);
    assert!(!stdout(&out).contains("Would also"), "{}", stdout(&out));
    clear(&p, &db, &["--force"], 0);
    assert_eq!(db.count("carts"), 6);
}

#[test]
fn row_level_security_that_hides_rows_is_never_a_success() {
    let Some(db) = TestDb::postgres("row_level_security") else {
        return;
    };
    db.create_sessions("sessions", 20);
    db.exec(
        "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE sessions FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY half ON sessions USING (id % 2 = 0)",
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--dry-run"], 0);
    out.says(&["Would clear 10 session(s)\n"]);
    out.warns(&["row-level security may hide rows of this table from the role `azs`"]);
    let out = clear(&p, &db, &["--force"], 1);
    assert!(!stdout(&out).contains("✓"), "{}", stdout(&out));
    out.warns(&["row-level security on `sessions` in `", "hides rows from the role `azs`: 10 session(s) it could see were cleared, and rows it cannot see remain"]);
    db.exec("ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY");
    assert_eq!(db.count("sessions"), 10);
}

#[test]
fn sqlite_without_rowid_tables_clear_by_their_key() {
    let db = TestDb::sqlite();
    db.exec(
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at TEXT NOT NULL) WITHOUT ROWID;\n\
         CREATE TABLE gone (session_id TEXT);\n\
         CREATE TRIGGER audit AFTER DELETE ON sessions BEGIN INSERT INTO gone VALUES (OLD.session_id); END",
    );
    db.insert_sessions("sessions", 12_000, FUTURE);
    db.insert_sessions("sessions", 5, PAST);
    let p = Project::new();
    let out = clear(&p, &db, &["--expired"], 0);
    assert!(
        stdout(&out).contains("Cleared 5 expired session(s)\n"),
        "{}",
        stderr(&out)
    );
    let out = clear(&p, &db, &["--force"], 0);
    assert!(
        stdout(&out).contains("Cleared 12000 session(s)\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(db.count("gone"), 12_005);
}

#[test]
fn failures_a_second_run_cannot_fix_say_how_to_fix_them() {
    for db in TestDb::all("failures_that_need_a_fix") {
        let p = Project::new();
        db.create_sessions("sessions", 3);
        // A key that forbids deleting the sessions it references.
        let id = if db.kind == Kind::Sqlite {
            "INTEGER"
        } else {
            "BIGINT"
        };
        db.exec(&format!(
            "CREATE TABLE pins (session {id}, FOREIGN KEY (session) REFERENCES sessions(id) ON DELETE RESTRICT);\nINSERT INTO pins SELECT id FROM sessions"
        ));
        let url = with_foreign_keys(&db);
        let out = run(
            p.cmd()
                .args(["clear", "-b", "database", "--force"])
                .env("DATABASE_URL", &url),
            1,
        );
        let err = stderr(&out);
        assert!(
            err.contains("foreign key that forbids deleting them")
                && !err.contains("run the command again"),
            "{:?}: {err}",
            db.kind
        );
        assert_eq!(db.count("sessions"), 3);
    }
}

#[test]
fn postgres_permission_read_only_and_statement_timeout_get_their_own_fix() {
    let Some(db) = TestDb::postgres("postgres_fixes") else {
        return;
    };
    db.create_sessions("sessions", 3);
    let p = Project::new();

    db.exec("REVOKE DELETE ON sessions FROM azs");
    let out = clear(&p, &db, &["--force"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("grant it SELECT and DELETE on the table")
            && !err.contains("run the command again"),
        "{err}"
    );
    db.exec("REVOKE SELECT ON sessions FROM azs");
    let out = clear(&p, &db, &["--dry-run"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("failed while counting sessions (dry run: nothing was deleted)")
            && !err.contains("clearing 0"),
        "{err}"
    );
    db.exec("GRANT SELECT, DELETE ON sessions TO azs");

    db.exec(&format!(
        "ALTER DATABASE {} SET default_transaction_read_only = on",
        db.name
    ));
    let out = clear(&p, &db, &["--force"], 1);
    let err = stderr(&out);
    assert!(err.contains("point DATABASE_URL at the primary"), "{err}");
    db.exec(&format!(
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE;\nALTER DATABASE {} RESET default_transaction_read_only",
        db.name
    ));

    db.slow_deletes("sessions", 300);
    db.exec(&format!(
        "ALTER DATABASE {} SET statement_timeout = 50",
        db.name
    ));
    let out = clear(&p, &db, &["--force"], 1);
    let err = stderr(&out);
    assert!(err.contains("statement timeout"), "{err}");
    db.exec(&format!(
        "ALTER DATABASE {} RESET statement_timeout",
        db.name
    ));
    assert_eq!(db.count("sessions"), 3);
}

#[test]
fn myisam_reports_the_rows_really_deleted_before_a_failure() {
    let Some(db) = TestDb::mysql("myisam_counts") else {
        return;
    };
    db.exec(
        "CREATE TABLE sessions (id BIGINT AUTO_INCREMENT PRIMARY KEY, session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, created_at DATETIME, updated_at DATETIME, expires_at DATETIME NOT NULL) ENGINE=MyISAM",
    );
    db.insert_sessions("sessions", 40, FUTURE);
    db.exec(
        "CREATE TRIGGER stop_at_25 BEFORE DELETE ON sessions FOR EACH ROW BEGIN IF OLD.id = 25 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'not this one'; END IF; END",
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--force"], 1);
    let err = stderr(&out);
    assert_eq!(db.count("sessions"), 16);
    assert!(err.contains("failed after clearing 24 session(s)"), "{err}");
}

#[test]
fn a_comma_and_scheme_in_a_database_password_is_masked() {
    let p = Project::new();
    let out = run(
        p.cmd().args(["clear", "-b", "database", "--force"]).env(
            "DATABASE_URL",
            "postgres://u:se,postgres://cret@127.0.0.1:1/db",
        ),
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("postgres://u:****@127.0.0.1:1/db"), "{err}");
    assert!(!err.contains("cret"), "{err}");
}
