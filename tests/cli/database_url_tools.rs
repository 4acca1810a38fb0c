//! `session:check` and `session:stats` read `DATABASE_URL` as the app does, as the clear
//! does: a relative SQLite path is a file of the project, the Crystal drivers' parameters
//! are understood (`busy_timeout` honoured, `journal_mode` never applied), and a file that
//! cannot be opened is named with the cause.

use std::time::Duration;

use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::database_url::TwoProjects;
use crate::support::project::Project;
use crate::support::run::{run, stderr, stdout, text};
use crate::support::servers::have_binary;

const CRYSTAL_URL: &str =
    "sqlite3://./db/app.db?busy_timeout=5000&journal_mode=wal&max_pool_size=5";

/// Set `p` up for database sessions, with `url` in its `.env`.
fn database_project(p: &Project, url: &str) {
    run(
        p.cmd()
            .args(["setup", "-b", "database"])
            .env("DATABASE_URL", url),
        0,
    );
    p.write(
        "src/myapp.cr",
        "require \"azu\"\nrequire \"./initializers/*\"\n",
    );
    let env = if p.exists(".env") {
        p.read(".env")
    } else {
        String::new()
    };
    p.write(".env", &format!("{env}\nDATABASE_URL={url}\n"));
}

/// The check `id` of a `session:check` JSON report.
fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no {id} check in {report:#}"))
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}{}", stdout(out), stderr(out)))
}

#[test]
fn check_and_stats_read_the_projects_relative_sqlite_file() {
    let t = TwoProjects::new("db/app.db");
    for db in [&t.app_db, &t.other_db] {
        db.exec("CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)");
    }
    t.app_db
        .insert_sessions("sessions", 3, "2000-01-01 00:00:00");
    t.other_db
        .insert_sessions("sessions", 4, "2000-01-01 00:00:00");
    database_project(&t.app, CRYSTAL_URL);

    let out = run(
        &mut t.clear_from_other(&["--format", "json", "stats", "-b", "database"]),
        0,
    );
    let report = json(&out);
    assert_eq!(
        (report["sessions"].clone(), report["expired"].clone()),
        (10.into(), 3.into()),
        "{report:#}"
    );
    assert!(
        text(&out.stderr).is_empty() || !stderr(&out).contains("error"),
        "{}",
        stderr(&out)
    );

    let out = t
        .clear_from_other(&["--format", "json", "check"])
        .output()
        .expect("run session:check");
    let report = json(&out);
    assert_eq!(
        check(&report, "database.reachable")["level"],
        "ok",
        "{report:#}"
    );
    assert!(
        check(&report, "database.reachable")["message"]
            .to_string()
            .contains(&t.app.path("db/app.db").display().to_string()),
        "{report:#}"
    );
    assert_eq!(
        check(&report, "database.table")["level"],
        "ok",
        "{report:#}"
    );
    let share = check(&report, "database.expired_share")["message"].to_string();
    assert!(share.contains("3 of 10"), "{share}");

    // Read only, and the app's journal_mode is not applied to the file.
    assert_eq!(t.app_db.count("sessions"), 10);
    assert_eq!(t.other_db.count("sessions"), 9);
    assert_eq!(t.app_db.strings("PRAGMA journal_mode"), ["delete"]);
}

#[test]
fn check_waits_for_the_apps_write_lock_as_long_as_busy_timeout_says() {
    let t = TwoProjects::new("db/app.db");
    t.app_db
        .exec("CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)");
    database_project(&t.app, CRYSTAL_URL);
    // The app writing for two seconds: readers wait for its exclusive lock.
    let url = t.app_db.url.clone();
    let (held_tx, held) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                sqlx::any::install_default_drivers();
                let mut conn = AnyConnection::connect(&url).await?;
                sqlx::raw_sql(AssertSqlSafe("BEGIN EXCLUSIVE"))
                    .execute(&mut conn)
                    .await?;
                let _ = held_tx.send(());
                tokio::time::sleep(Duration::from_secs(2)).await;
                sqlx::raw_sql(AssertSqlSafe("COMMIT"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
            .expect("hold the write lock");
    });
    held.recv().expect("the lock is held");
    let out = t
        .clear_from_other(&["--format", "json", "check"])
        .output()
        .expect("run session:check");
    writer.join().expect("the writer");
    let report = json(&out);
    assert_eq!(
        check(&report, "database.table")["level"],
        "ok",
        "{report:#}"
    );
}

#[test]
fn an_sqlite_file_this_user_cannot_open_is_named_with_the_cause() {
    if !have_binary("runuser", "sqlite_file_cannot_open") {
        return;
    }
    let t = TwoProjects::new("db/app.db");
    database_project(&t.app, CRYSTAL_URL);
    let file = t.app.path("db/app.db");
    // Root opens anything: the tool runs as `nobody`, who may enter the project but not
    // open the file.
    for dir in [t.app.root().to_path_buf(), t.app.path("db")] {
        t.app.set_mode(
            &dir.strip_prefix(t.app.root())
                .expect("inside")
                .display()
                .to_string(),
            0o755,
        );
    }
    t.app.set_mode("db/app.db", 0o600);
    t.app.set_mode(".env", 0o644);
    let bin = assert_cmd::cargo::cargo_bin("azu-session");
    for args in [
        &["clear", "-b", "database", "--force"][..],
        &["stats", "-b", "database"],
    ] {
        let out = std::process::Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&bin)
            .args(args)
            .arg("-C")
            .arg(t.app.root())
            .current_dir("/")
            .env_remove("DATABASE_URL")
            .output()
            .expect("run as nobody");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("opening `{}`: Permission denied", file.display()))
                && err.contains("cannot open the SQLite database")
                && !err.contains("check that the server is running"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(t.app_db.count("sessions"), 7);
}

#[test]
fn check_names_an_sqlite_path_that_is_a_directory_as_a_database_url_error() {
    let t = TwoProjects::new("db/app.db");
    database_project(&t.app, "sqlite3://./db/sessions.db");
    std::fs::create_dir_all(t.app.path("db/sessions.db")).expect("a directory in its place");
    let out = t
        .clear_from_other(&["--format", "json", "check"])
        .output()
        .expect("run session:check");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let url = check(&report, "database.url");
    assert_eq!(url["level"], "error", "{report:#}");
    let message = url["message"].to_string();
    assert!(
        message.contains(&t.app.path("db/sessions.db").display().to_string())
            && message.contains("is not a file"),
        "{message}"
    );
    assert_eq!(
        url["fix"],
        "check DATABASE_URL, or create the database with the app's migrations (`azu db:migrate`)",
        "{report:#}"
    );
    assert_eq!(check(&report, "store.found")["level"], "ok", "{report:#}");
    // The caller's own database file is not looked at, let alone changed.
    assert_eq!(t.other_db.count("sessions"), 5);
}
