//! A full clear truncates the table where that is exact and harmless, and walks it in
//! batches everywhere else: each thing that must send a clear to the walk is planted here
//! and the table's storage looked at afterwards (a truncate gives the table new storage: a
//! new PostgreSQL relfilenode, a new InnoDB table id), a lock held by the application makes
//! the truncate give way, and the count stays exact while the application inserts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::project::Project;
use crate::support::run::{run, stderr, stdout};
use crate::support::sql::TestDb;

/// `clear --force -b database --format json` with `extra` flags against `url`; the report,
/// and stderr.
fn clear_json(url: &str, extra: &[&str], code: i32) -> (Value, String) {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f", "-b", "database"])
            .args(extra)
            .env("DATABASE_URL", url),
        code,
    );
    let report: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (report, stderr(&out))
}

/// The same in text: stderr, where the notes go.
fn clear_text(url: &str, extra: &[&str], code: i32) -> String {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .args(extra)
            .env("DATABASE_URL", url),
        code,
    );
    stderr(&out)
}

/// Where the table's rows are stored now: a truncate changes it, deletes do not.
fn storage(db: &TestDb, table: &str) -> i64 {
    db.scalar(&format!("SELECT pg_relation_filenode('{table}')::int8"))
}

/// A PostgreSQL database with `sessions` holding `rows` rows.
fn postgres(test: &str, rows: usize) -> Option<TestDb> {
    let db = TestDb::postgres(test)?;
    db.create_sessions("sessions", rows);
    Some(db)
}

/// The clear took the walk for a reason containing `why`, cleared every row, and left the
/// table's storage as it was.
fn walked(db: &TestDb, extra: &[&str], rows: i64, why: &str) {
    walked_as(db, &db.url, extra, rows, why, &|| storage(db, "sessions"));
}

/// [`walked`], with the clear connecting as `url` and the table's storage read by `storage`
/// (a PostgreSQL relfilenode, an InnoDB table id).
fn walked_as(
    db: &TestDb,
    url: &str,
    extra: &[&str],
    rows: i64,
    why: &str,
    storage: &dyn Fn() -> i64,
) {
    let before = storage();
    let (report, err) = clear_json(url, extra, 0);
    assert_eq!(report["strategy"], "batched", "{report}\n{err}");
    let reason = report["strategy_reason"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "{why:?} not in {reason:?}");
    assert_eq!(report["cleared"], rows, "{report}");
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(storage(), before, "the walk changed the table's storage");
}

#[test]
fn a_plain_postgres_table_is_truncated_with_an_exact_count() {
    let Some(db) = postgres("truncate_plain", 1234) else {
        return;
    };
    let before = storage(&db, "sessions");
    let (report, err) = clear_json(&db.url, &[], 0);
    assert_eq!(report["strategy"], "truncate", "{report}\n{err}");
    assert_eq!(report["cleared"], 1234);
    assert!(report.get("truncate_gave_way").is_none(), "{report}");
    assert_eq!(db.count("sessions"), 0);
    assert_ne!(storage(&db, "sessions"), before, "no truncate took place");
    // The id sequence goes on: a truncate leaves it where the deletes would.
    db.insert_sessions("sessions", 1, "2099-01-01 00:00:00");
    assert_eq!(db.scalar("SELECT min(id) FROM sessions"), 1235);
    let err = clear_text(&db.url, &[], 0);
    assert!(
        err.contains("(clearing with TRUNCATE: no trigger or rule on delete"),
        "{err}"
    );
}

#[test]
fn a_schema_qualified_table_is_truncated_and_the_same_name_elsewhere_is_not() {
    let Some(db) = TestDb::postgres("truncate_schema") else {
        return;
    };
    db.exec("CREATE SCHEMA app");
    db.create_sessions("app.sessions", 10);
    db.create_sessions("sessions", 10);
    db.create_sessions("\"Sessions\"", 10);
    let decoy = storage(&db, "sessions");
    let (report, err) = clear_json(&db.url, &["--table", "app.sessions"], 0);
    assert_eq!(report["strategy"], "truncate", "{report}\n{err}");
    assert_eq!(report["cleared"], 10);
    assert_eq!(db.count("app.sessions"), 0);
    assert_eq!(db.count("sessions"), 10);
    assert_eq!(db.count("\"Sessions\""), 10);
    assert_eq!(storage(&db, "sessions"), decoy);
}

#[test]
fn a_mariadb_table_of_another_database_is_truncated_and_the_urls_own_is_not() {
    let (Some(db), Some(other)) = (
        mariadb("truncate_mariadb_other_db", 10),
        mariadb("truncate_mariadb_other_db_2", 12),
    ) else {
        return;
    };
    let (report, err) = clear_json(
        &db.url,
        &["--table", &format!("{}.sessions", other.name)],
        0,
    );
    assert_eq!(report["strategy"], "truncate", "{report}\n{err}");
    assert_eq!(report["cleared"], 12);
    assert_eq!(other.count("sessions"), 0);
    assert_eq!(db.count("sessions"), 10);
}

#[test]
fn a_dry_run_says_which_way_a_clear_would_go_and_deletes_nothing() {
    let Some(db) = postgres("truncate_dry_run", 12) else {
        return;
    };
    let before = storage(&db, "sessions");
    let (report, _) = clear_json(&db.url, &["--dry-run"], 0);
    assert_eq!(report["strategy"], "truncate", "{report}");
    assert_eq!(report["cleared"], 12);
    let err = clear_text(&db.url, &["--dry-run"], 0);
    assert!(err.contains("(a clear would use TRUNCATE: "), "{err}");
    let (report, _) = clear_json(&db.url, &["--dry-run", "--batched"], 0);
    assert_eq!(report["strategy"], "batched", "{report}");
    assert_eq!(report["strategy_reason"], "--batched asks for it");
    let err = clear_text(&db.url, &["--dry-run", "--batched"], 0);
    assert!(
        err.contains("(a clear would go in batches: --batched asks for it)"),
        "{err}"
    );
    assert_eq!(db.count("sessions"), 12);
    assert_eq!(storage(&db, "sessions"), before);
}

#[test]
fn batched_and_expired_clears_never_truncate() {
    let Some(db) = postgres("truncate_batched", 30) else {
        return;
    };
    walked(&db, &["--batched"], 30, "--batched asks for it");
    db.insert_sessions("sessions", 5, "2000-01-01 00:00:00");
    db.insert_sessions("sessions", 5, "2099-01-01 00:00:00");
    let before = storage(&db, "sessions");
    let (report, _) = clear_json(&db.url, &["--expired"], 0);
    assert_eq!(report["strategy"], "batched", "{report}");
    assert_eq!(report["cleared"], 5);
    assert_eq!(db.count("sessions"), 5);
    assert_eq!(storage(&db, "sessions"), before);
}

#[test]
fn postgres_triggers_rules_and_security_send_the_clear_to_the_walk() {
    let cases: [(&str, &str); 5] = [
        (
            "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$;\n\
             CREATE TRIGGER audit BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION noop()",
            "has the trigger audit on DELETE",
        ),
        (
            "CREATE TABLE truncations (at TIMESTAMP);\n\
             CREATE FUNCTION noted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO truncations VALUES (now()); RETURN NULL; END $$;\n\
             CREATE TRIGGER noted AFTER TRUNCATE ON sessions FOR EACH STATEMENT EXECUTE FUNCTION noted()",
            "has the trigger noted on TRUNCATE",
        ),
        (
            "CREATE TABLE gone (id BIGINT);\n\
             CREATE RULE keep_gone AS ON DELETE TO sessions DO ALSO INSERT INTO gone VALUES (OLD.id)",
            "has the rule keep_gone on DELETE",
        ),
        (
            "ALTER TABLE sessions ENABLE ROW LEVEL SECURITY",
            "row-level security is enabled on sessions",
        ),
        (
            "CREATE PUBLICATION no_truncates FOR TABLE sessions WITH (publish = 'insert, update, delete')",
            "the publication no_truncates replicates deletes but not TRUNCATE",
        ),
    ];
    for (i, (plant, why)) in cases.iter().enumerate() {
        let Some(db) = postgres(&format!("truncate_obstacle_{i}"), 20) else {
            return;
        };
        db.exec(plant);
        walked(&db, &[], 20, why);
    }
}

#[test]
fn postgres_foreign_keys_referencing_the_table_send_the_clear_to_the_walk() {
    for action in ["CASCADE", "NO ACTION"] {
        let Some(db) = postgres("truncate_foreign_key", 20) else {
            return;
        };
        db.exec(&format!(
            "CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, session BIGINT REFERENCES sessions (id) ON DELETE {action})"
        ));
        walked(
            &db,
            &[],
            20,
            "the foreign key notes_session_fkey of notes references sessions",
        );
    }
}

#[test]
fn a_role_that_may_not_truncate_gets_the_walk() {
    let Some(db) = postgres("truncate_no_privilege", 20) else {
        return;
    };
    let Some(role) = crate::schemas_checks::OtherRole::new(&db, "truncate_no_privilege") else {
        return;
    };
    walked(
        &TestDb::attach(&role.url(&db)),
        &[],
        20,
        "the role may not TRUNCATE sessions",
    );
}

#[test]
fn a_role_that_may_not_delete_is_not_let_truncate_instead() {
    let Some(db) = postgres("truncate_no_delete", 4) else {
        return;
    };
    // The owner keeps TRUNCATE: taking it would go round the DELETE the role was refused.
    db.exec("REVOKE DELETE ON sessions FROM CURRENT_USER");
    let (report, _) = clear_json(&db.url, &["--dry-run"], 0);
    assert_eq!(report["strategy"], "batched", "{report}");
    assert_eq!(
        report["strategy_reason"],
        "the role may not SELECT and DELETE from sessions"
    );
    let err = clear_text(&db.url, &[], 1);
    assert!(
        err.contains("permission denied for table sessions"),
        "{err}"
    );
    assert_eq!(db.count("sessions"), 4);
}

#[test]
fn a_partitioned_table_is_truncated_whole_unless_a_partition_objects() {
    let Some(db) = TestDb::postgres("truncate_partitions") else {
        return;
    };
    // Three partitions, one of them the default, 20 rows.
    crate::schemas_checks::range_partitioned(&db);
    let parts = ["s_past", "s_future", "s_other"];
    let before: Vec<i64> = parts.iter().map(|p| storage(&db, p)).collect();
    let (report, err) = clear_json(&db.url, &[], 0);
    assert_eq!(report["strategy"], "truncate", "{report}\n{err}");
    assert_eq!(report["cleared"], 20);
    assert_eq!(db.count("sessions"), 0);
    for (part, was) in parts.iter().zip(before) {
        assert_ne!(storage(&db, part), was, "{part} was not truncated");
    }

    // A trigger on one partition alone.
    db.insert_sessions("sessions", 10, "2000-01-01 00:00:00");
    db.exec(
        "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$;\n\
         CREATE TRIGGER audit BEFORE DELETE ON s_future FOR EACH ROW EXECUTE FUNCTION noop()",
    );
    let past = storage(&db, "s_past");
    let (report, _) = clear_json(&db.url, &[], 0);
    assert_eq!(report["strategy"], "batched", "{report}");
    assert!(
        report["strategy_reason"]
            .as_str()
            .is_some_and(|r| r.contains("s_future has the trigger audit on DELETE")),
        "{report}"
    );
    assert_eq!(report["cleared"], 10);
    assert_eq!(storage(&db, "s_past"), past);
}

#[test]
fn a_lock_held_by_the_application_makes_the_truncate_give_way_to_the_walk() {
    let Some(db) = postgres("truncate_gives_way", 500) else {
        return;
    };
    let before = storage(&db, "sessions");
    // An application transaction that read the table: it holds a lock the truncate needs
    // and the walk does not.
    let release = db.hold_transaction("SELECT count(*) FROM sessions");
    let started = Instant::now();
    let (report, err) = clear_json(&db.url, &[], 0);
    let took = started.elapsed();
    drop(release);
    assert_eq!(report["strategy"], "batched", "{report}\n{err}");
    assert_eq!(report["truncate_gave_way"], true, "{report}");
    let reason = report["strategy_reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(
            "TRUNCATE gave way (the table lock was not granted within 100 ms, held by pid "
        ),
        "{reason}"
    );
    assert_eq!(report["cleared"], 500);
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(storage(&db, "sessions"), before);
    // It gave way after its short wait, not the clear's lock timeout (5 s).
    assert!(took < Duration::from_secs(4), "{took:?}");
    // In text, a note says so after the count.
    db.insert_sessions("sessions", 3, "2099-01-01 00:00:00");
    let release = db.hold_transaction("SELECT count(*) FROM sessions");
    let err = clear_text(&db.url, &[], 0);
    drop(release);
    assert!(
        err.contains("note: TRUNCATE gave way (the table lock was not granted within 100 ms"),
        "{err}"
    );
}

#[test]
fn a_shorter_lock_timeout_shortens_the_truncates_wait() {
    let Some(db) = postgres("truncate_short_wait", 5) else {
        return;
    };
    let release = db.hold_transaction("SELECT count(*) FROM sessions");
    let (report, _) = clear_json(&db.url, &["--lock-timeout", "0.02"], 0);
    drop(release);
    let reason = report["strategy_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not granted within 20 ms"), "{reason}");
    assert_eq!(report["cleared"], 5);
}

#[test]
fn a_count_over_its_budget_gives_way_to_the_walk() {
    // 1 ms cannot count 100,000 rows: the count is cut off, and the walk takes over.
    let dbs = [
        postgres("truncate_count_budget", 100_000),
        mariadb("truncate_mariadb_count_budget", 100_000),
    ];
    for db in dbs.into_iter().flatten() {
        let p = Project::new();
        let out = run(
            p.cmd()
                .args(["--format", "json", "clear", "-f", "-b", "database"])
                .env("DATABASE_URL", &db.url)
                .env("AZU_SESSION_TRUNCATE_COUNT_MS", "1"),
            0,
        );
        let report: Value = serde_json::from_str(&stdout(&out)).expect("a JSON report");
        assert_eq!(report["truncate_gave_way"], true, "{report}");
        let reason = report["strategy_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("counting the rows under the table lock took over 1 ms"),
            "{reason}"
        );
        assert_eq!(report["cleared"], 100_000);
        assert_eq!(db.count("sessions"), 0);
    }
}

/// Insert single rows into `sessions` of `url` until told to stop; the number that
/// committed.
fn inserter(
    url: String,
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let db = TestDb::attach(&url);
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            db.exec(&format!(
                "INSERT INTO sessions (session_id, data, expires_at) VALUES ('new-{i}', '{{}}', '2099-01-01 00:00:00')"
            ));
            committed.fetch_add(1, Ordering::SeqCst);
        }
    })
}

/// Under concurrent inserts, every row is either cleared and counted, or still there.
fn exact_under_inserts(db: &TestDb, rows: i64, table_changed: &dyn Fn() -> bool) {
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let writer = inserter(db.url.clone(), stop.clone(), committed.clone());
    while committed.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (report, err) = clear_json(&db.url, &[], 0);
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("the inserter");
    assert_eq!(report["strategy"], "truncate", "{report}\n{err}");
    let inserted = committed.load(Ordering::SeqCst) as i64;
    let cleared = report["cleared"].as_i64().unwrap_or(-1);
    let left = db.count("sessions");
    assert!(
        left > 0,
        "no insert landed after the clear: the test proves nothing"
    );
    assert_eq!(
        cleared + left,
        rows + inserted,
        "cleared {cleared}, left {left}"
    );
    assert!(table_changed(), "no truncate took place");
}

#[test]
fn a_postgres_truncate_counts_exactly_while_the_application_inserts() {
    let Some(db) = postgres("truncate_exact", 20_000) else {
        return;
    };
    let before = storage(&db, "sessions");
    exact_under_inserts(&db, 20_000, &|| storage(&db, "sessions") != before);
}

/// MariaDB: the InnoDB table id of `sessions`, which a truncate changes (asked as the
/// server's root user: it needs the PROCESS privilege).
fn table_id(db: &TestDb) -> i64 {
    let root = std::env::var("AZU_SESSION_TEST_MYSQL_ROOT_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    TestDb::attach(&root).scalar(&format!(
        "SELECT CAST(TABLE_ID AS SIGNED) FROM information_schema.INNODB_SYS_TABLES WHERE NAME = '{}/sessions'",
        db.name
    ))
}

fn mariadb(test: &str, rows: usize) -> Option<TestDb> {
    let db = TestDb::mysql(test)?;
    db.create_sessions("sessions", rows);
    Some(db)
}

#[test]
fn a_mariadb_table_is_truncated_and_keeps_its_auto_increment_counter() {
    let Some(db) = mariadb("truncate_mariadb", 321) else {
        return;
    };
    let before = table_id(&db);
    let (report, err) = clear_json(&db.url, &[], 0);
    assert_eq!(report["strategy"], "truncate", "{report}\n{err}");
    assert_eq!(report["cleared"], 321);
    assert_eq!(db.count("sessions"), 0);
    assert_ne!(table_id(&db), before, "no truncate took place");
    db.insert_sessions("sessions", 1, "2099-01-01 00:00:00");
    assert_eq!(
        db.scalar("SELECT CAST(MIN(id) AS SIGNED) FROM sessions"),
        322
    );
}

#[test]
fn mariadb_triggers_engines_keys_and_grants_send_the_clear_to_the_walk() {
    let cases: [(&str, &str); 3] = [
        (
            "CREATE TRIGGER audit BEFORE DELETE ON sessions FOR EACH ROW SET @azs_gone = OLD.id",
            "the table has the trigger `audit` on DELETE",
        ),
        (
            "ALTER TABLE sessions ENGINE = Aria",
            "the table's engine is Aria",
        ),
        (
            "CREATE TABLE notes (id BIGINT PRIMARY KEY, session BIGINT, FOREIGN KEY (session) REFERENCES sessions (id) ON DELETE CASCADE) ENGINE = InnoDB",
            "notes` references the table (ON DELETE CASCADE)",
        ),
    ];
    for (i, (plant, why)) in cases.iter().enumerate() {
        let Some(db) = mariadb(&format!("truncate_mariadb_obstacle_{i}"), 20) else {
            return;
        };
        db.exec(plant);
        // An Aria table has no InnoDB table id to compare.
        let innodb = !why.contains("engine");
        walked_as(&db, &db.url, &[], 20, why, &|| {
            if innodb { table_id(&db) } else { 0 }
        });
    }
}

#[test]
fn a_mariadb_user_without_the_grants_to_truncate_gets_the_walk() {
    let Some(db) = mariadb("truncate_mariadb_grants", 20) else {
        return;
    };
    let root = std::env::var("AZU_SESSION_TEST_MYSQL_ROOT_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    let admin = TestDb::attach(&root);
    let user = format!("azs_del_{}", std::process::id());
    admin.exec(&format!(
        "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'd';\n\
         GRANT SELECT, DELETE ON `{}`.* TO '{user}'@'%'",
        db.name
    ));
    let (_, rest) = db.url.split_once('@').expect("a URL with a user");
    let url = format!("mysql://{user}:d@{rest}");
    walked_as(
        &db,
        &url,
        &[],
        20,
        "the user's grants do not show DROP, LOCK TABLES, ALTER, TRIGGER on the table",
        &|| table_id(&db),
    );
    let _ = admin.try_exec(&format!("DROP USER IF EXISTS '{user}'@'%'"));
}

#[test]
fn a_mariadb_lock_held_by_the_application_makes_the_truncate_give_way() {
    let Some(db) = mariadb("truncate_mariadb_gives_way", 300) else {
        return;
    };
    let before = table_id(&db);
    let release = db.hold_transaction("SELECT COUNT(*) FROM sessions");
    let started = Instant::now();
    let (report, err) = clear_json(&db.url, &[], 0);
    let took = started.elapsed();
    drop(release);
    assert_eq!(report["truncate_gave_way"], true, "{report}\n{err}");
    let reason = report["strategy_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the table lock was not granted within 100 ms"),
        "{reason}"
    );
    assert_eq!(report["cleared"], 300);
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(table_id(&db), before);
    assert!(took < Duration::from_secs(4), "{took:?}");
}

/// MariaDB asks for the lock without waiting, and asks again while the truncate's wait
/// lasts: a lock let go within it is taken, and the clear truncates.
#[test]
fn a_mariadb_lock_let_go_within_the_wait_is_taken() {
    let Some(db) = mariadb("truncate_mariadb_retry", 50) else {
        return;
    };
    let before = table_id(&db);
    let release = db.hold_transaction("SELECT COUNT(*) FROM sessions");
    let p = Project::new();
    let mut child = None;
    // The first refused LOCK TABLES (this or another test's): let go of the lock at once.
    let refused = db.after_change(
        "SELECT CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_LOCK_TABLES'",
        || {
            child = Some(
                std::process::Command::new(assert_cmd::cargo::cargo_bin("azu-session"))
                    .args(["--format", "json", "clear", "-f", "-b", "database"])
                    .current_dir(p.root())
                    .env("DATABASE_URL", &db.url)
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("start azu-session"),
            )
        },
    );
    assert!(refused, "no LOCK TABLES was tried");
    drop(release);
    let out = child
        .expect("the clear")
        .wait_with_output()
        .expect("wait for azu-session");
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("a JSON report");
    assert_eq!(report["strategy"], "truncate", "{report}");
    assert_eq!(report["cleared"], 50);
    assert_ne!(table_id(&db), before, "no truncate took place");
}

/// MariaDB: a key that restricts deletes is not a cascade the catalog check sees; the
/// TRUNCATE itself refuses, and the walk takes over, saying why.
#[test]
fn a_mariadb_truncate_refused_by_a_restricting_key_gives_way() {
    let Some(db) = mariadb("truncate_mariadb_restrict", 20) else {
        return;
    };
    db.exec(
        "CREATE TABLE notes (id BIGINT PRIMARY KEY, session BIGINT, FOREIGN KEY (session) REFERENCES sessions (id) ON DELETE RESTRICT) ENGINE = InnoDB",
    );
    let (report, err) = clear_json(&db.url, &[], 0);
    assert_eq!(report["truncate_gave_way"], true, "{report}\n{err}");
    let reason = report["strategy_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(
            "TRUNCATE failed: Cannot truncate a table referenced in a foreign key constraint"
        ),
        "{reason}"
    );
    assert_eq!(report["cleared"], 20);
    assert_eq!(db.count("sessions"), 0);
}

/// MariaDB: a truncate that gave way after taking its lock (here, its count ran over the
/// budget) lets go of the lock before the walk: the application writes meanwhile, without
/// waiting for the table.
#[test]
fn a_mariadb_truncate_that_gave_way_lets_go_of_its_lock() {
    let Some(db) = mariadb("truncate_mariadb_unlock", 100_000) else {
        return;
    };
    let p = Project::new();
    let mut child = None;
    // The walk's first DELETE (this or another test's): then an insert that may not wait
    // for the table.
    let deleting = db.after_change(
        "SELECT CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_DELETE'",
        || {
            child = Some(
                std::process::Command::new(assert_cmd::cargo::cargo_bin("azu-session"))
                    .args(["--format", "json", "clear", "-f", "-b", "database"])
                    .current_dir(p.root())
                    .env("DATABASE_URL", &db.url)
                    .env("AZU_SESSION_TRUNCATE_COUNT_MS", "1")
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("start azu-session"),
            )
        },
    );
    assert!(deleting, "no DELETE was run");
    let inserted = db.try_exec(
        "SET STATEMENT lock_wait_timeout = 0, innodb_lock_wait_timeout = 10 FOR INSERT INTO sessions (session_id, data, expires_at) VALUES ('during', '{}', '2099-01-01 00:00:00')",
    );
    let out = child
        .expect("the clear")
        .wait_with_output()
        .expect("wait for azu-session");
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("a JSON report");
    assert_eq!(report["truncate_gave_way"], true, "{report}");
    assert!(inserted.is_ok(), "the table was still locked: {inserted:?}");
}

#[test]
fn a_mariadb_truncate_counts_exactly_while_the_application_inserts() {
    let Some(db) = mariadb("truncate_mariadb_exact", 20_000) else {
        return;
    };
    let before = table_id(&db);
    exact_under_inserts(&db, 20_000, &|| table_id(&db) != before);
}

#[test]
fn sqlite_says_it_deletes_at_once_or_in_batches() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 7);
    let (report, _) = clear_json(&db.url, &[], 0);
    assert_eq!(report["strategy"], "delete", "{report}");
    assert_eq!(report["cleared"], 7);
    // --batched is about truncating: SQLite keeps its one DELETE.
    db.insert_sessions("sessions", 7, "2099-01-01 00:00:00");
    let (report, _) = clear_json(&db.url, &["--batched"], 0);
    assert_eq!(report["strategy"], "delete", "{report}");
    assert_eq!(report["cleared"], 7);
    db.insert_sessions("sessions", 7, "2099-01-01 00:00:00");
    db.exec("CREATE TRIGGER audit BEFORE DELETE ON sessions BEGIN SELECT 1; END");
    let (report, _) = clear_json(&db.url, &[], 0);
    assert_eq!(report["strategy"], "batched", "{report}");
    assert_eq!(report["cleared"], 7);
    assert_eq!(db.count("sessions"), 0);
}
