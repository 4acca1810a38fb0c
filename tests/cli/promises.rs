//! Promises that each need a test of their own: a refusal without a terminal on stdin, a
//! masked URL in every report, and a schema-qualified table that never falls back to another
//! schema's table of the same name.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, run, stderr, stdout};
use crate::support::sql::TestDb;

const PREFIX: &str = "myapp:session:";

/// With stderr a terminal but stdin piped or from /dev/null, a clear without --force must
/// refuse at once: the question could never be answered.
#[test]
fn no_terminal_on_stdin_is_a_refusal_even_with_one_on_stderr() {
    let Some(server) = RedisServer::start("refuse_without_stdin") else {
        return;
    };
    server.plant(0, PREFIX, 3);
    let p = Project::new();
    let bin = assert_cmd::cargo::cargo_bin("azu-session");
    for stdin in ["echo y |", "</dev/null"] {
        let line = match stdin {
            "</dev/null" => format!("{} clear --prefix {PREFIX} </dev/null", bin.display()),
            pipe => format!("{pipe} {} clear --prefix {PREFIX}", bin.display()),
        };
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .current_dir(p.root())
            .env("REDIS_URL", server.url())
            .env("TERM", "xterm")
            .stdin(Stdio::null());
        let out = assert_cmd::Command::from_std(cmd)
            .timeout(Duration::from_secs(10))
            .output()
            .expect("run under script");
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(
            screen.contains(
                "refusing to clear sessions without confirmation: not a terminal; pass --force"
            ),
            "{stdin}: {screen}"
        );
        assert!(
            !screen.contains("Are you sure"),
            "{stdin}: asked anyway: {screen}"
        );
        assert_eq!(server.count(0, "myapp:session:*"), 3, "{stdin}");
    }
}

/// The JSON report of a database clear carries the URL masked, on success.
#[test]
fn the_database_json_report_masks_the_password() {
    let Some(db) = TestDb::postgres("json_masks_database_url") else {
        return;
    };
    db.create_sessions("sessions", 2);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let url = report["url"].as_str().expect("a url");
    assert!(url.starts_with("postgres://azs:****@"), "{url}");
    assert!(!stdout(&out).contains("azs:azs@"), "{}", stdout(&out));
}

/// Setup's next steps show the REDIS_URL of .env masked.
#[test]
fn setup_next_steps_mask_the_redis_password() {
    let p = Project::new();
    p.write(".env", "REDIS_URL=redis://:Hunter2pw@cache:6379\n");
    let out = run(p.cmd().args(["setup", "-b", "redis"]), 0);
    out.says(&["REDIS_URL is in .env (redis://:****@cache:6379)"]);
    assert!(!stdout(&out).contains("Hunter2pw"));
}

/// `--table app.sessions` clears that schema's table; `public.sessions`, a decoy of the same
/// name on the search path, keeps every row.
#[test]
fn a_schema_qualified_table_is_that_schemas_table() {
    let Some(db) = TestDb::postgres("schema_qualified_table") else {
        return;
    };
    db.exec("CREATE SCHEMA app");
    db.create_sessions("app.sessions", 5);
    db.create_sessions("public.sessions", 7);
    let p = Project::new();
    for args in [&["-f"][..], &["--expired"]] {
        run(
            p.cmd()
                .args(["clear", "-b", "database", "--table", "app.sessions"])
                .args(args)
                .env("DATABASE_URL", &db.url),
            0,
        );
    }
    assert_eq!(db.count("app.sessions"), 0);
    assert_eq!(db.count("public.sessions"), 7);
}

/// Output that must hold none of `parts` (a password, and each side of its `@` long enough
/// to be told from other words: `def` is in "default", `p` everywhere).
#[track_caller]
fn no_part_of(parts: &[&str], out: &std::process::Output, what: &str) {
    let (o, e) = (stdout(out), stderr(out));
    for part in parts {
        assert!(
            !o.contains(part) && !e.contains(part),
            "{what}: `{part}` shown:\n--- stdout\n{o}\n--- stderr\n{e}"
        );
    }
}

/// Issue 22's forms through the binary: `unix://...?db=2&pass=abc@def` against a real unix
/// socket Redis whose password is `abc@def`, in the URL line, JSON's `url`, and errors.
#[test]
fn a_unix_socket_password_with_an_at_is_never_shown() {
    let password = "abc@def";
    let Some(server) =
        RedisServer::start_unix("unix_password_with_at", &["--requirepass", password])
    else {
        return;
    };
    server.plant(2, PREFIX, 4);
    let socket = server.socket().display().to_string();
    let p = Project::new();
    let url = format!("unix://{socket}?db=2&pass={password}");
    let shown = format!("unix://{socket}?db=2&pass=****");

    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 0);
    out.says(&[
        &format!("Redis URL: {shown} (database 2)\n"),
        "Cleared 4 session(s)\n",
    ]);
    no_part_of(&["abc@def", "abc", "@def"], &out, "text");

    server.plant(2, PREFIX, 3);
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f"])
            .env("REDIS_URL", &url),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["url"], shown.as_str());
    assert_eq!(report["cleared"], 3);
    no_part_of(&["abc@def", "abc", "@def"], &out, "JSON");

    // Errors: a database the server does not have, and a wrong password, as text and JSON.
    for (bad_url, what) in [
        (
            format!("unix://{socket}?db=99&pass={password}"),
            "no database 99",
        ),
        (
            format!("unix://{socket}?db=2&pass=abc@dex"),
            "a wrong password",
        ),
    ] {
        for format in ["text", "json"] {
            let out = run(
                p.cmd()
                    .args(["--format", format, "clear", "-f"])
                    .env("REDIS_URL", &bad_url),
                1,
            );
            assert!(
                stderr(&out).contains(&format!("unix://{socket}?db=")),
                "{what}: {}",
                stderr(&out)
            );
            no_part_of(&["abc@def", "abc", "@def", "@dex"], &out, what);
        }
    }
}

/// A database URL with its credentials in the query (`?user=u&password=p@ss`): the error
/// (text and JSON) never holds the password, and nothing up to the `@` of it either.
#[test]
fn a_database_password_in_the_query_is_never_shown() {
    let p = Project::new();
    let url = "postgres://127.0.0.1/db?user=u&password=p@ss";
    for format in ["text", "json"] {
        let out = run(
            p.cmd()
                .args(["--format", format, "clear", "-f", "-b", "database"])
                .env("DATABASE_URL", url),
            1,
        );
        let err = stderr(&out);
        assert!(
            err.contains("postgres://127.0.0.1/db?user=****&password=****"),
            "{format}: {err}"
        );
        no_part_of(&["p@ss", "@ss"], &out, format);
    }
    // Its JSON report on a dry run that cannot connect: an error object, masked the same.
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "--dry-run", "-b", "database"])
            .env("DATABASE_URL", url),
        1,
    );
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("password=****"))
    );
    no_part_of(&["p@ss", "@ss"], &out, "dry run");
}

/// SQLite: the tool opens only the URL's file, and no URL parameter (crystal-sqlite3's or
/// ours) attaches another, so `--table aux.sessions` names a database that is not attached
/// on its connection. Whether or not a file `aux` holds a sessions table, every command
/// refuses with the fix (pass --table), and `main.sessions`, the decoy of the same name,
/// keeps every row; `--table main.sessions` is that table.
#[test]
fn an_sqlite_schema_qualified_table_never_falls_back_to_main() {
    let dir = tempfile::tempdir().expect("a directory");
    let db = TestDb::sqlite_at(&dir.path().join("app.sqlite3"));
    db.create_sessions("sessions", 5);
    // The file an app could have attached as `aux`, with sessions of its own.
    let aux = TestDb::sqlite_at(&dir.path().join("aux.sqlite3"));
    aux.create_sessions("sessions", 4);
    let p = Project::new();
    for table in ["aux.sessions", "temp.sessions"] {
        for args in [
            &["clear", "-f"][..],
            &["clear", "-f", "--expired"],
            &["clear", "--dry-run"],
            &["stats"],
        ] {
            let out = run(
                p.cmd()
                    .args(args)
                    .args(["-b", "database", "--table", table])
                    .env("DATABASE_URL", &db.url),
                1,
            );
            let err = crate::support::run::stderr(&out);
            assert!(
                err.contains(&format!("table `{table}` does not exist in `"))
                    && err.contains("pass --table"),
                "{args:?} {table}: {err}"
            );
        }
    }
    assert_eq!(db.count("sessions"), 5);
    assert_eq!(aux.count("sessions"), 4);
    run(
        p.cmd()
            .args(["clear", "-f", "-b", "database", "--table", "main.sessions"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(aux.count("sessions"), 4);
}
