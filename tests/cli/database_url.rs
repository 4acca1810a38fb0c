//! `DATABASE_URL` as the app's Crystal driver reads it: relative SQLite paths belong to the
//! project, not to the directory the tool was started in, and the parameters the Crystal
//! drivers take are understood.

use std::path::Path;
use std::time::Duration;

use crate::support::project::{Project, azu};
use crate::support::run::{Says, run, stderr, stdout};
use crate::support::sql::TestDb;

/// Two projects with SQLite sessions in `db/app.db` each: the one cleared, and the caller's,
/// a canary whose rows must survive every clear of the other.
pub(crate) struct TwoProjects {
    pub(crate) app: Project,
    pub(crate) app_db: TestDb,
    pub(crate) other: Project,
    pub(crate) other_db: TestDb,
}

impl TwoProjects {
    pub(crate) fn new(file: &str) -> Self {
        let app = Project::new();
        let other = Project::new();
        let app_db = TestDb::sqlite_at(&app.path(file));
        let other_db = TestDb::sqlite_at(&other.path(file));
        app_db.create_sessions("sessions", 7);
        other_db.create_sessions("sessions", 5);
        TwoProjects {
            app,
            app_db,
            other,
            other_db,
        }
    }

    /// `azu-session <args> -C <app>`, started in the other project.
    pub(crate) fn clear_from_other(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = azu();
        cmd.current_dir(self.other.root())
            .args(args)
            .arg("-C")
            .arg(self.app.root());
        cmd
    }
}

#[test]
fn a_relative_sqlite_url_clears_the_projects_database_not_the_callers() {
    let forms = [
        ("sqlite3://./db/app.db", "db/app.db"),
        ("sqlite3:./db/app.db", "db/app.db"),
        ("sqlite3:db/app.db", "db/app.db"),
        ("sqlite3://db/app.db", "db/app.db"),
        ("sqlite:db/app.db", "db/app.db"),
        ("sqlite://db/app.db", "db/app.db"),
        ("sqlite3://./db/app%2Edb", "db/app.db"),
        ("sqlite3://./db/my+app.db", "db/my app.db"),
        ("sqlite3://app.sqlite3", "app.sqlite3"),
    ];
    for (url, file) in forms {
        let t = TwoProjects::new(file);
        let out = run(
            t.clear_from_other(&["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", url),
            0,
        );
        assert!(
            stdout(&out).contains("Cleared 7 session(s)\n"),
            "{url}: {}",
            stdout(&out)
        );
        assert_eq!(t.app_db.count("sessions"), 0, "{url}");
        assert_eq!(t.other_db.count("sessions"), 5, "{url}: the caller's rows");
        // The context line names the file that was opened.
        let scheme = url.split(':').next().unwrap_or_default();
        let line = format!(
            "(Database URL: {scheme}://{})\n",
            t.app.path(file).display()
        );
        assert!(stderr(&out).contains(&line), "{url}: {}", stderr(&out));
    }
}

#[test]
fn a_relative_sqlite_url_in_the_projects_env_file_and_every_mode() {
    let t = TwoProjects::new("db/app.db");
    t.app.write(
        ".env",
        "DATABASE_URL=sqlite3://./db/app.db?busy_timeout=5000\n",
    );
    let app_file = t.app.path("db/app.db");

    // JSON names the resolved file too.
    let out = run(
        &mut t.clear_from_other(&["--format", "json", "clear", "--dry-run", "-b", "database"]),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        report["url"],
        format!("sqlite3://{}?busy_timeout=5000", app_file.display())
    );
    assert_eq!(report["cleared"], 7);
    assert_eq!(t.app_db.count("sessions"), 7);

    // --expired: only the app's expired rows, none of the caller's.
    t.app_db
        .insert_sessions("sessions", 3, "2000-01-01 00:00:00");
    t.other_db
        .insert_sessions("sessions", 4, "2000-01-01 00:00:00");
    let out = run(
        &mut t.clear_from_other(&["clear", "--expired", "-b", "database"]),
        0,
    );
    out.says(&["Cleared 3 expired session(s)\n"]);
    assert_eq!(t.app_db.count("sessions"), 7);
    assert_eq!(t.other_db.count("sessions"), 9);

    let out = run(
        &mut t.clear_from_other(&["clear", "-f", "-b", "database"]),
        0,
    );
    out.says(&["Cleared 7 session(s)\n"]);
    assert_eq!(t.app_db.count("sessions"), 0);
    assert_eq!(t.other_db.count("sessions"), 9);
}

#[test]
fn a_missing_sqlite_file_is_named_and_not_created() {
    let t = TwoProjects::new("db/app.db");
    let before_app = t.app.tree();
    let before_other = t.other.tree();
    for (url, file) in [
        ("sqlite3://./db/missing.db", "db/missing.db"),
        ("sqlite3:nowhere/app.db", "nowhere/app.db"),
    ] {
        let out = run(
            t.clear_from_other(&["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", url),
            1,
        );
        let want = format!(
            "error: the SQLite database `{}` does not exist",
            t.app.path(file).display()
        );
        assert!(stderr(&out).contains(&want), "{url}: {}", stderr(&out));
    }
    assert_eq!(t.app.tree(), before_app, "nothing created in the project");
    assert_eq!(t.other.tree(), before_other, "nothing created where it ran");
    assert_eq!(t.other_db.count("sessions"), 5);
}

#[test]
fn sqlite_parameters_of_the_crystal_driver_are_understood() {
    let p = Project::new();
    let db = TestDb::sqlite_at(&p.path("db/app.db"));
    db.create_sessions("sessions", 6);
    db.exec("PRAGMA journal_mode = DELETE");
    let url = format!(
        "sqlite3://{}?busy_timeout=5000&journal_mode=wal&synchronous=normal&cache_size=-2000&wal_autocheckpoint=100&max_pool_size=10&checkout_timeout=3.0&retry_attempts=2",
        p.path("db/app.db").display()
    );
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        0,
    );
    out.says(&["Cleared 6 session(s)\n"]);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    // journal_mode is stored in the file: a clear must not change it.
    assert!(
        !p.path("db/app.db-wal").exists(),
        "the file was put in WAL mode"
    );
    let mode: Vec<String> = db.strings("PRAGMA journal_mode");
    assert_eq!(mode, ["delete"]);

    // A parameter no Crystal driver reads is a note, not a failure.
    let t = TwoProjects::new("db/app.db");
    let out = run(
        t.clear_from_other(&["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", "sqlite3://./db/app.db?frobnicate=1"),
        0,
    );
    out.says(&["Cleared 7 session(s)\n"]);
    assert_eq!(t.other_db.count("sessions"), 5);
    out.warns(&[
        "note: DATABASE_URL parameter `frobnicate` is not one crystal-sqlite3 reads; ignored",
    ]);
}

/// A second connection holds SQLite's write lock; the clear waits for it as long as the URL's
/// `busy_timeout` says.
#[test]
fn sqlite_busy_timeout_is_how_long_a_clear_waits_for_the_apps_write_lock() {
    let t = TwoProjects::new("db/app.db");
    let hold = || {
        t.app_db
            .hold_transaction("UPDATE sessions SET data = data WHERE id = 1")
    };

    // No wait: the lock held by the app's transaction stops the clear, rows intact.
    let release = hold();
    let out = run(
        t.clear_from_other(&["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", "sqlite3://./db/app.db?busy_timeout=0"),
        1,
    );
    out.warns(&["stayed locked by another connection for 0 s: another connection is writing to the database file (nothing was deleted)"]);
    release.send(()).expect("the lock holder is waiting");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(t.app_db.count("sessions"), 7);

    // A long wait: the lock goes after six seconds (longer than our client's own default
    // of five) and the clear goes through.
    let release = hold();
    let letting_go = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(6));
        let _ = release.send(());
    });
    let out = run(
        t.clear_from_other(&["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", "sqlite3://./db/app.db?busy_timeout=20000"),
        0,
    );
    letting_go.join().expect("the lock holder");
    out.says(&["Cleared 7 session(s)\n"]);
    assert_eq!(t.app_db.count("sessions"), 0);
    assert_eq!(t.other_db.count("sessions"), 5);
}

/// crystal-sqlite3 leaves foreign keys off unless the URL turns them on: a clear cascades
/// exactly where the app's own deletes would.
#[test]
fn sqlite_foreign_keys_follow_the_url() {
    for (query, carts_left) in [("", 7), ("?foreign_keys=on", 0), ("?foreign_keys=0", 7)] {
        let t = TwoProjects::new("db/app.db");
        for db in [&t.app_db, &t.other_db] {
            db.exec(
                "CREATE TABLE carts (id INTEGER PRIMARY KEY, session INTEGER REFERENCES sessions(id) ON DELETE CASCADE);\nINSERT INTO carts (session) SELECT id FROM sessions",
            );
        }
        let out = run(
            t.clear_from_other(&["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", format!("sqlite3://./db/app.db{query}")),
            0,
        );
        assert!(stdout(&out).contains("Cleared 7 session(s)\n"), "{query}");
        assert_eq!(t.app_db.count("carts"), carts_left, "{query}");
        assert_eq!(t.other_db.count("carts"), 5, "{query}");
        assert_eq!(t.other_db.count("sessions"), 5, "{query}");
    }
}

/// `url` with `params` added to its query.
fn with_query(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

#[test]
fn postgres_parameters_of_the_crystal_driver_are_understood() {
    let Some(db) = TestDb::postgres("postgres_parameters") else {
        return;
    };
    db.create_sessions("sessions", 5);
    let p = Project::new();
    let url = with_query(
        &db.url,
        "max_pool_size=5&initial_pool_size=1&retry_delay=0.5&application_name=azs_test&sslmode=prefer&auth_methods=scram-sha-256,md5",
    );
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        0,
    );
    out.says(&["Cleared 5 session(s)\n"]);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));

    // `dbname` and `options` are passed over by crystal-pg, so they must not lead the clear
    // to another database or schema: the URL's own database is cleared.
    db.insert_sessions("sessions", 2, "2099-01-01 00:00:00");
    let url = with_query(
        &db.url,
        "dbname=postgres&options=-c%20search_path%3Dnowhere",
    );
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        0,
    );
    out.says(&["Cleared 2 session(s)\n"]);
    for key in ["dbname", "options"] {
        out.warns(&[&format!(
            "note: DATABASE_URL parameter `{key}` is not one crystal-pg reads; ignored"
        )]);
    }
}

#[test]
fn postgres_tls_parameters_reach_the_client() {
    let Some(db) = TestDb::postgres("postgres_tls_parameters") else {
        return;
    };
    db.create_sessions("sessions", 2);
    let p = Project::new();
    let ssl_on = db.strings("SHOW ssl") == ["on"];

    let out = run(
        p.cmd()
            .args(["clear", "--dry-run", "-b", "database"])
            .env("DATABASE_URL", with_query(&db.url, "sslmode=disable")),
        0,
    );
    out.says(&["Would clear 2 session(s)\n"]);

    let out = p
        .cmd()
        .args(["clear", "--dry-run", "-b", "database"])
        .env("DATABASE_URL", with_query(&db.url, "sslmode=require"))
        .output()
        .expect("run");
    if ssl_on {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    } else {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }

    // A CA file named relative to the project is read from the project root.
    let out = run(
        p.cmd().args(["clear", "--dry-run", "-b", "database"]).env(
            "DATABASE_URL",
            with_query(&db.url, "sslmode=verify-full&sslrootcert=certs/ca.pem"),
        ),
        1,
    );
    let want = format!(
        "sslrootcert `certs/ca.pem` is `{}`, which does not exist",
        p.path("certs/ca.pem").display()
    );
    out.warns(&[&want]);

    let out = run(
        p.cmd()
            .args(["clear", "--dry-run", "-b", "database"])
            .env("DATABASE_URL", with_query(&db.url, "sslmode=sometimes")),
        1,
    );
    out.warns(&["sslmode `sometimes` is not one of disable"]);
    assert_eq!(db.count("sessions"), 2);
}

/// The local socket, named as libpq does (`host=` a directory) and as crystal-pg does (the
/// socket file itself), with credentials and no host.
#[test]
fn postgres_unix_socket_in_host_parameter() {
    let Some(db) = TestDb::postgres("postgres_unix_socket") else {
        return;
    };
    let port = db.scalar("SELECT inet_server_port()");
    let socket = format!(".s.PGSQL.{port}");
    let dir = ["/var/run/postgresql", "/run/postgresql", "/tmp"]
        .into_iter()
        .find(|d| Path::new(d).join(&socket).exists())
        .expect("the server's unix socket in a usual directory")
        .to_string();
    db.create_sessions("sessions", 3);
    let p = Project::new();
    let (user, password) = ("azs", "azs");
    for host in [dir.clone(), format!("{dir}/{socket}")] {
        let url = format!("postgres://{user}:{password}@/{}?host={host}", db.name);
        db.insert_sessions("sessions", 1, "2099-01-01 00:00:00");
        let before = db.count("sessions");
        let out = run(
            p.cmd()
                .args(["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", &url),
            0,
        );
        assert!(
            stdout(&out).contains(&format!("Cleared {before} session(s)\n")),
            "{host}: {}",
            stdout(&out)
        );
        assert_eq!(db.count("sessions"), 0, "{host}");
    }
}

#[test]
fn mysql_database_parameter_and_socket_as_crystal_mysql_reads_them() {
    let (Some(db), Some(canary)) = (
        TestDb::mysql("mysql_database_parameter"),
        TestDb::mysql("mysql_database_parameter (canary)"),
    ) else {
        return;
    };
    db.create_sessions("sessions", 4);
    canary.create_sessions("sessions", 6);
    let p = Project::new();

    // `database=` wins over the path, as crystal-mysql reads it.
    let url = with_query(
        &canary.url,
        &format!(
            "database={}&max_pool_size=3&encoding=utf8mb4_general_ci&ssl-mode=disabled",
            db.name
        ),
    );
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        0,
    );
    out.says(&["Cleared 4 session(s)\n"]);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(canary.count("sessions"), 6);

    // The unix socket: no host, the socket's path, the database by `database=`.
    let socket = db.strings("SELECT @@socket")[0].clone();
    db.insert_sessions("sessions", 3, "2099-01-01 00:00:00");
    let url = format!("mysql://azs:azs@{socket}?database={}", db.name);
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        0,
    );
    out.says(&["Cleared 3 session(s)\n"]);
    assert_eq!(canary.count("sessions"), 6);

    // TLS modes in crystal-mysql's spelling reach the client.
    let have_ssl = db.strings("SELECT @@have_ssl")[0].clone();
    let out = p
        .cmd()
        .args(["clear", "--dry-run", "-b", "database"])
        .env("DATABASE_URL", with_query(&db.url, "ssl-mode=REQUIRED"))
        .output()
        .expect("run");
    let want = if have_ssl == "YES" { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(want), "{}", stderr(&out));
    let out = run(
        p.cmd()
            .args(["clear", "--dry-run", "-b", "database"])
            .env("DATABASE_URL", with_query(&db.url, "ssl-mode=verify-ca")),
        1,
    );
    out.warns(&["ssl-mode `verify-ca` is not one of disabled"]);
    assert_eq!(canary.count("sessions"), 6);
}

#[test]
fn setup_names_the_database_url_in_use() {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["setup", "-b", "database"])
            .env("DATABASE_URL", "mysql://app:Hunter2pw@db/myapp"),
        0,
    );
    let text = stdout(&out);
    assert!(
        text.contains(
            "DATABASE_URL is set in the environment (mysql://app:****@db/myapp); the app must see the same value"
        ),
        "{text}"
    );
    assert!(!text.contains("Hunter2pw"), "{text}");
    assert!(!text.contains("postgresql://user:password"), "{text}");
    assert!(p.read("shard.yml").contains("crystal-lang/crystal-mysql"));

    let p = Project::new();
    p.write(".env", "DATABASE_URL=sqlite3://./db/app.db\n");
    let out = run(p.cmd().args(["setup", "-b", "database"]), 0);
    out.says(&[
        "DATABASE_URL is in .env (sqlite3://./db/app.db); change it there to use another database",
    ]);
    assert!(p.read("shard.yml").contains("crystal-lang/crystal-sqlite3"));
}
