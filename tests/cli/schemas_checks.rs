//! SQL clears that must look at what they left: the table empty after a full clear, as the
//! clearing role sees it and as the server counts it.

use std::time::{Duration, Instant};

use crate::support::project::Project;
use crate::support::run::{Says, run, stderr, stdout};
use crate::support::sql::{Kind, TestDb};

/// `azu-session clear <args> -b database` with `DATABASE_URL` set to `db`'s.
fn clear(p: &Project, db: &TestDb, args: &[&str], code: i32) -> std::process::Output {
    run(
        p.cmd()
            .args(["clear", "-b", "database"])
            .args(args)
            .env("DATABASE_URL", &db.url),
        code,
    )
}

#[test]
fn row_level_security_that_shows_every_row_is_a_full_clear() {
    let Some(db) = TestDb::postgres("permissive_rls") else {
        return;
    };
    db.create_sessions("sessions", 20);
    db.exec(
        "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE sessions FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY everyone ON sessions USING (true)",
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--force"], 0);
    out.says(&["Cleared 20 session(s)\n", "✓ Sessions cleared successfully"]);
    db.exec("ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY");
    assert_eq!(db.count("sessions"), 0);
}

#[test]
fn a_policy_showing_rows_it_may_not_delete_is_never_a_success() {
    let Some(db) = TestDb::postgres("select_but_not_delete_rls") else {
        return;
    };
    db.create_sessions("sessions", 20);
    db.exec(
        "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE sessions FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY see ON sessions FOR SELECT USING (true);\n\
         CREATE POLICY half ON sessions FOR DELETE USING (id % 2 = 0)",
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--force"], 1);
    assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
    out.warns(&[
        "10 row(s) are still in `sessions` in `",
        "after 10 session(s) were cleared: row-level security applies to the role `azs`",
    ]);
    assert_eq!(db.count("sessions"), 10);
}

#[test]
fn rows_a_rule_or_trigger_keeps_make_the_clear_fail() {
    // PostgreSQL: a rule that does nothing instead of deleting some rows.
    if let Some(db) = TestDb::postgres("rule_keeps_rows") {
        db.create_sessions("sessions", 8);
        db.exec("CREATE RULE keep AS ON DELETE TO sessions WHERE OLD.id <= 2 DO INSTEAD NOTHING");
        let p = Project::new();
        let out = clear(&p, &db, &["--force"], 1);
        assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
        out.warns(&[
            "2 row(s) are still in `sessions`",
            "after 6 session(s) were cleared: a trigger or rule kept them",
        ]);
        assert_eq!(db.count("sessions"), 2);
    }
    // SQLite: a trigger that skips the delete of a row without an error.
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 8);
    db.exec(
        "CREATE TRIGGER keep BEFORE DELETE ON sessions WHEN OLD.id = 1 BEGIN SELECT RAISE(IGNORE); END",
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--force"], 1);
    assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
    out.warns(&[
        "1 row(s) are still in `sessions`",
        "after 7 session(s) were cleared",
    ]);
    assert_eq!(db.count("sessions"), 1);
    // Clearing only expired sessions leaves the live ones, as it should: no check there.
    let out = clear(&p, &db, &["--expired"], 0);
    out.says(&["Cleared 0 expired session(s)\n"]);
}

#[test]
fn a_dry_run_never_says_clearing() {
    for db in TestDb::all("dry_run_wording") {
        let url = if db.kind == Kind::Sqlite {
            format!("{}?foreign_keys=on", db.url)
        } else {
            db.url.clone()
        };
        db.create_sessions("sessions", 4);
        db.insert_sessions("sessions", 2, "2000-01-01 00:00:00");
        let (id, fk) = match db.kind {
            Kind::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT"),
            Kind::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "BIGINT"),
            Kind::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER"),
        };
        db.exec(&format!(
            "CREATE TABLE carts (id {id}, session {fk}, FOREIGN KEY (session) REFERENCES sessions(id) ON DELETE CASCADE);\n\
             INSERT INTO carts (session) SELECT id FROM sessions"
        ));
        let p = Project::new();
        let runs: [(&[&str], i32); 5] = [
            (&["clear", "-b", "database", "--dry-run"], 0),
            (&["clear", "-b", "database", "--dry-run", "--expired"], 0),
            (
                &["--format", "json", "clear", "-b", "database", "--dry-run"],
                0,
            ),
            (
                &["--color", "always", "clear", "-b", "database", "--dry-run"],
                0,
            ),
            (
                &[
                    "clear",
                    "-b",
                    "database",
                    "--dry-run",
                    "--table",
                    "nothing_here",
                ],
                1,
            ),
        ];
        for (args, code) in runs {
            let out = run(p.cmd().args(args).env("DATABASE_URL", &url), code);
            let all = format!("{}{}", stdout(&out), stderr(&out));
            assert!(
                !all.to_lowercase().contains("clearing"),
                "{:?} {args:?}:\n{all}",
                db.kind
            );
            if code == 0 && !args.contains(&"json") {
                assert!(all.contains("Counting "), "{:?} {args:?}:\n{all}", db.kind);
            }
        }
        let out = run(
            p.cmd()
                .args(["clear", "-b", "database", "--dry-run"])
                .env("DATABASE_URL", &url),
            0,
        );
        out.says(&["Counting database sessions...\n"]);
        out.warns(&["note: deleting these sessions would also delete 6 row(s) of `"]);
        assert_eq!(db.count("sessions"), 6, "{:?}", db.kind);
    }
}

#[test]
fn without_lock_timeout_a_held_lock_ends_the_clear_after_five_seconds() {
    let Some(db) = TestDb::postgres("default_lock_timeout") else {
        return;
    };
    db.create_sessions("sessions", 5);
    let release = db.hold_transaction("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
    let p = Project::new();
    let started = Instant::now();
    let out = clear(&p, &db, &["--force"], 1);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(4500) && took <= Duration::from_secs(8),
        "ended after {took:?}"
    );
    out.warns(&[
        "table `sessions` in `",
        "stayed locked by another connection for 5 s: pid ",
        "AccessExclusiveLock",
        "nothing was deleted",
    ]);
    release.send(()).expect("the lock holder");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(db.count("sessions"), 5);
}

/// A sessions table range-partitioned on `expires_at` (a default partition too), with
/// expired rows and live canaries in every partition that can hold them.
pub(crate) fn range_partitioned(db: &TestDb) {
    db.exec(
        "CREATE TABLE sessions (id BIGSERIAL, session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP, expires_at TIMESTAMP NOT NULL) PARTITION BY RANGE (expires_at);\n\
         CREATE TABLE s_past PARTITION OF sessions FOR VALUES FROM ('1990-01-01') TO ('2050-01-01');\n\
         CREATE TABLE s_future PARTITION OF sessions FOR VALUES FROM ('2050-01-01') TO ('2100-01-01');\n\
         CREATE TABLE s_other PARTITION OF sessions DEFAULT",
    );
    for when in [
        "2000-01-01",
        "2040-01-01",
        "2099-01-01",
        "1980-01-01",
        "2200-01-01",
    ] {
        db.insert_sessions("sessions", 4, when);
    }
}

/// Live rows of each partition, read through the parent.
fn live_by_partition(db: &TestDb) -> Vec<String> {
    db.strings(
        "SELECT tableoid::regclass::text || '=' || count(*) FROM sessions \
         WHERE expires_at >= now() GROUP BY tableoid ORDER BY 1",
    )
}

#[test]
fn a_role_without_rights_on_the_partitions_clears_through_the_parent() {
    let Some(db) = TestDb::postgres("partitions_without_rights") else {
        return;
    };
    range_partitioned(&db);
    // The test user may not create roles: the owner gives up its own rights on the
    // partitions, which leaves it as a role granted SELECT and DELETE on the parent only.
    db.exec("REVOKE ALL ON s_past, s_future, s_other FROM azs");
    assert!(db.try_exec("DELETE FROM ONLY s_past").is_err());
    let live = live_by_partition(&db);
    assert_eq!(live, ["s_future=4", "s_other=4", "s_past=4"]);
    let p = Project::new();
    let out = clear(&p, &db, &["--expired"], 0);
    out.says(&["Cleared 8 expired session(s)\n"]);
    assert_eq!(live_by_partition(&db), live);
    assert_eq!(db.count("sessions"), 12);
    let out = clear(&p, &db, &["--force"], 0);
    out.says(&["Cleared 12 session(s)\n", "✓ Sessions cleared successfully"]);
    assert_eq!(db.count("sessions"), 0);
}

#[test]
fn the_parents_row_level_security_holds_for_its_partitions() {
    let Some(db) = TestDb::postgres("partition_parent_rls") else {
        return;
    };
    range_partitioned(&db);
    db.exec(
        "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE sessions FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY half ON sessions USING (id % 2 = 0)",
    );
    let p = Project::new();
    let out = clear(&p, &db, &["--dry-run"], 0);
    out.says(&["Would clear 10 session(s)\n"]);
    let out = clear(&p, &db, &["--force"], 1);
    assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
    out.warns(&[
        "hides rows from the role `azs`: 10 session(s) it could see were cleared, and rows it cannot see remain (the server's statistics count 10)",
    ]);
    db.exec("ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY");
    assert_eq!(db.count("sessions"), 10);
    assert_eq!(
        db.scalar("SELECT count(*) FROM sessions WHERE id % 2 = 0"),
        0
    );
}

#[test]
fn cascades_are_counted_through_every_level_and_reported_by_a_real_clear() {
    for db in TestDb::all("cascades_through_levels") {
        let url = if db.kind == Kind::Sqlite {
            format!("{}?foreign_keys=on", db.url)
        } else {
            db.url.clone()
        };
        db.create_sessions("sessions", 6);
        db.insert_sessions("sessions", 4, "2000-01-01 00:00:00");
        let (id, fk) = match db.kind {
            Kind::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT"),
            Kind::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "BIGINT"),
            Kind::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER"),
        };
        // carts -> sessions and cart_items -> carts cascade; carts.pinned -> cart_items
        // closes a cycle of cascading keys (SQLite takes the forward reference as it is).
        let pinned = if db.kind == Kind::Sqlite {
            ", FOREIGN KEY (pinned) REFERENCES cart_items(id) ON DELETE CASCADE"
        } else {
            ""
        };
        db.exec(&format!(
            "CREATE TABLE carts (id {id}, session {fk}, pinned {fk}, FOREIGN KEY (session) REFERENCES sessions(id) ON DELETE CASCADE{pinned});\n\
             CREATE TABLE cart_items (id {id}, cart {fk}, FOREIGN KEY (cart) REFERENCES carts(id) ON DELETE CASCADE);\n\
             INSERT INTO carts (session) SELECT id FROM sessions;\n\
             INSERT INTO carts (session) SELECT id FROM sessions;\n\
             INSERT INTO cart_items (cart) SELECT id FROM carts;\n\
             INSERT INTO cart_items (cart) SELECT id FROM carts;\n\
             INSERT INTO cart_items (cart) SELECT id FROM carts"
        ));
        if db.kind != Kind::Sqlite {
            db.exec("ALTER TABLE carts ADD FOREIGN KEY (pinned) REFERENCES cart_items(id) ON DELETE CASCADE");
        }
        let prefix = match db.kind {
            Kind::MySql => format!("{}.", db.name),
            Kind::Postgres => "public.".to_string(),
            Kind::Sqlite => String::new(),
        };
        let (carts, items) = (format!("{prefix}carts"), format!("{prefix}cart_items"));
        let p = Project::new();
        let out = run(
            p.cmd()
                .args(["clear", "-b", "database", "--dry-run"])
                .env("DATABASE_URL", &url),
            0,
        );
        out.says(&[&format!(
            "Would also delete 20 row(s) of `{carts}` (ON DELETE CASCADE)\nWould also delete 60 row(s) of `{items}` (ON DELETE CASCADE from `{carts}`)\nDry run"
        )]);
        let out = run(
            p.cmd()
                .args(["clear", "-b", "database", "--dry-run", "--expired"])
                .env("DATABASE_URL", &url),
            0,
        );
        out.says(&[&format!(
            "Would also delete 8 row(s) of `{carts}` (ON DELETE CASCADE)\nWould also delete 24 row(s) of `{items}` (ON DELETE CASCADE from `{carts}`)\n"
        )]);
        let out = run(
            p.cmd()
                .args(["--format", "json", "clear", "-b", "database", "--force"])
                .env("DATABASE_URL", &url),
            0,
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["cleared"], 10, "{:?}: {report}", db.kind);
        assert_eq!(
            report["cascades"],
            serde_json::json!([
                { "table": carts, "on_delete": "CASCADE", "rows": 20 },
                { "table": items, "on_delete": "CASCADE", "rows": 60, "through": carts },
            ]),
            "{:?}",
            db.kind
        );
        assert_eq!(
            (db.count("carts"), db.count("cart_items")),
            (0, 0),
            "{:?}",
            db.kind
        );
    }
}

#[test]
fn a_session_written_behind_a_mariadb_clear_is_taken_by_a_finishing_pass() {
    // A session the app writes with a key the walk has passed is left behind the walk; the
    // pass after it takes it, so the clear ends with the table empty and the count exact.
    let Some(db) = TestDb::mysql("mariadb_rows_written_behind") else {
        return;
    };
    db.create_sessions("sessions", 25_000);
    db.slow_deletes("sessions", 400);
    let p = Project::new();
    let child = crate::support::run::spawn(
        &p,
        &["clear", "-b", "database", "--force"],
        &[("DATABASE_URL", &db.url)],
    );
    crate::support::run::wait_until("the first range deleted", Duration::from_secs(20), || {
        db.count("sessions") < 25_000
    });
    db.exec("INSERT INTO sessions (id, session_id, data, expires_at) VALUES (1, 'late', '{}', '2099-01-01 00:00:00')");
    let out = crate::support::run::finish(child, Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        stdout(&out).contains("Cleared 25001 session(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(db.count("sessions"), 0);
}

/// A PostgreSQL role that owns nothing, made (and dropped) by the server's superuser: the
/// test user may not make roles.
pub(crate) struct OtherRole {
    admin_on_db: String,
    name: String,
}

impl OtherRole {
    pub(crate) fn new(db: &TestDb, test: &str) -> Option<Self> {
        let admin = std::env::var("AZU_SESSION_TEST_POSTGRES_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let admin_on_db = format!("{}/{}", admin.rsplit_once('/').expect("a path").0, db.name);
        let name = format!("azs_clear_{}", std::process::id());
        if let Err(e) = TestDb::attach(&admin_on_db).try_exec(&format!(
            "CREATE ROLE {name} LOGIN PASSWORD 'c';\nGRANT SELECT, DELETE ON sessions TO {name}"
        )) {
            crate::support::servers::skip(
                test,
                &format!(
                    "cannot make a PostgreSQL role ({e}); set AZU_SESSION_TEST_POSTGRES_ADMIN_URL"
                ),
            );
            return None;
        }
        Some(OtherRole { admin_on_db, name })
    }

    pub(crate) fn url(&self, db: &TestDb) -> String {
        let (_, rest) = db.url.split_once('@').expect("a URL with a user");
        format!("postgres://{}:c@{rest}", self.name)
    }
}

impl Drop for OtherRole {
    fn drop(&mut self) {
        let _ = TestDb::attach(&self.admin_on_db).try_exec(&format!(
            "DROP OWNED BY {0};\nDROP ROLE IF EXISTS {0}",
            self.name
        ));
    }
}

#[test]
fn a_role_granted_on_the_partitioned_parent_only_clears_it_whole() {
    let Some(db) = TestDb::postgres("partition_non_owner") else {
        return;
    };
    range_partitioned(&db);
    let Some(role) = OtherRole::new(&db, "partition_non_owner") else {
        return;
    };
    let url = role.url(&db);
    let live = live_by_partition(&db);
    let p = Project::new();
    let clear_as = |args: &[&str], code| {
        run(
            p.cmd()
                .args(["clear", "-b", "database"])
                .args(args)
                .env("DATABASE_URL", &url),
            code,
        )
    };
    clear_as(&["--expired"], 0).says(&["Cleared 8 expired session(s)\n"]);
    assert_eq!(live_by_partition(&db), live);
    clear_as(&["--force"], 0).says(&["Cleared 12 session(s)\n", "✓ Sessions cleared successfully"]);
    assert_eq!(db.count("sessions"), 0);

    // The parent's policies hold for a role that does not own it (no FORCE needed).
    db.insert_sessions("sessions", 20, "2099-01-01 00:00:00");
    db.exec(
        "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY half ON sessions USING (id % 2 = 0)",
    );
    let out = clear_as(&["--force"], 1);
    out.warns(&[
        "hides rows from the role `azs_clear_",
        "rows it cannot see remain",
    ]);
    assert!(!stdout(&out).contains('✓'));
    assert_eq!(db.count("sessions"), 10);
    assert_eq!(
        db.scalar("SELECT count(*) FROM sessions WHERE id % 2 = 0"),
        0
    );
}

/// MariaDB as a role that may read InnoDB's own dictionary of foreign keys (PROCESS): the
/// quick look there must still find a cascade, and a table nothing references has none.
#[test]
fn a_role_with_process_finds_cascades_through_innodbs_dictionary() {
    let Some(db) = TestDb::mysql("cascades_innodb_dictionary") else {
        return;
    };
    let Some(root) = crate::support::servers::url_from_env(
        "AZU_SESSION_TEST_MYSQL_ROOT_URL",
        "cascades_innodb_dictionary",
    ) else {
        return;
    };
    let url = format!("{}/{}", root.trim_end_matches('/'), db.name);
    db.create_sessions("sessions", 6);
    db.create_sessions("other_sessions", 3);
    db.exec(
        "CREATE TABLE carts (id BIGINT AUTO_INCREMENT PRIMARY KEY, session BIGINT, FOREIGN KEY (session) REFERENCES sessions(id) ON DELETE CASCADE);\n\
         INSERT INTO carts (session) SELECT id FROM sessions;\n\
         INSERT INTO carts (session) SELECT id FROM sessions",
    );
    let p = Project::new();
    let dry = |table: &str| {
        run(
            p.cmd()
                .args(["clear", "-b", "database", "--dry-run", "--table", table])
                .env("DATABASE_URL", &url),
            0,
        )
    };
    dry("sessions").says(&[&format!(
        "Would also delete 12 row(s) of `{}.carts` (ON DELETE CASCADE)\n",
        db.name
    )]);
    let out = dry("other_sessions");
    assert!(
        !stdout(&out).contains("Would also delete"),
        "{}",
        stdout(&out)
    );
    out.says(&["Would clear 3 session(s)\n"]);
}
