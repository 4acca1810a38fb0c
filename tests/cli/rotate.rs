//! `session:rotate-secret` and `session:clear --rotate-secret`: a new SESSION_SECRET in
//! `.env`, written as setup writes, never printed, and checked writable before the clear
//! deletes anything. Against a private Redis and SQLite.

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;
use std::process::Command;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, run, stderr, stdout, under_terminal};
use crate::support::servers::skip;
use crate::support::sql::TestDb;

/// A `.env` with the secret among lines that must stay byte for byte.
const ENV: &str = "# the app's settings\r\nA=1\r\nexport SESSION_SECRET=\"old-secret\" # rotate me\r\nB='two'\r\n";

/// The value of the last SESSION_SECRET line of `.env` (quotes and comment stripped).
fn secret(p: &Project) -> String {
    let text = p.read(".env");
    let line = text
        .lines()
        .rev()
        .find(|l| {
            l.trim_start_matches("export ")
                .starts_with("SESSION_SECRET=")
        })
        .expect("a SESSION_SECRET line");
    let value = line.split_once('=').expect("an assignment").1;
    let value = value.split(" #").next().unwrap_or(value).trim();
    value.trim_matches(['"', '\'']).to_string()
}

/// The new secret is 64 hex characters, is not `old`, and appears in neither output stream.
fn check_new_secret(p: &Project, old: &str, out: &std::process::Output) -> String {
    let new = secret(p);
    assert_ne!(new, old, "the secret did not change");
    assert_eq!(new.len(), 64, "{new}");
    assert!(new.chars().all(|c| c.is_ascii_hexdigit()), "{new}");
    assert!(!stdout(out).contains(&new), "the secret was printed");
    assert!(!stderr(out).contains(&new), "the secret was printed");
    new
}

/// `.env` as it must be after the rotation: every other line byte for byte, the secret's line
/// keeping its `export`, quotes, comment and CRLF.
fn expected_env(new: &str) -> String {
    ENV.replace("old-secret", new)
}

fn project_with_env() -> Project {
    let p = Project::new();
    p.write("src/myapp.cr", "require \"azu\"\n");
    p.write(".env", ENV);
    p.set_mode(".env", 0o640);
    p
}

const RESTART: &str = "Next: restart the application (src/myapp.cr) so it reads the new SESSION_SECRET; until it restarts, cookies signed with the old secret still work\n";

// ---------------------------------------------------------------- session:rotate-secret

#[test]
fn rotate_secret_replaces_the_secret_in_dotenv() {
    let p = project_with_env();
    let out = run(p.cmd().arg("session:rotate-secret"), 0);
    let new = check_new_secret(&p, "old-secret", &out);
    assert_eq!(p.read(".env"), expected_env(&new));
    assert_eq!(p.mode(".env"), 0o640);
    assert_eq!(
        stdout(&out),
        format!(
            "Replaced SESSION_SECRET in .env with a new one (not shown)\n✓ Session secret rotated\n{RESTART}"
        )
    );
    // Only .env changed: no temporary or kept copy is left behind.
    assert_eq!(p.list(""), [".env", "shard.yml", "src"]);

    // The alias, and JSON.
    let out = run(p.cmd().args(["--format", "json", "rotate-secret"]), 0);
    let newer = check_new_secret(&p, &new, &out);
    assert_eq!(p.read(".env"), expected_env(&newer));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["command"], "session:rotate-secret");
    assert_eq!(json["secret_rotated"], true);
    assert_eq!(json["file"], ".env");
    assert_eq!(json["created"], false);
    assert_eq!(json["restart"], "src/myapp.cr");
}

#[test]
fn rotate_secret_refuses_a_secret_from_the_process_environment() {
    let p = project_with_env();
    let before = p.tree();
    let out = run(
        p.cmd()
            .arg("session:rotate-secret")
            .env("SESSION_SECRET", "from-the-deploy"),
        1,
    );
    assert_eq!(
        stderr(&out),
        "error: SESSION_SECRET comes from this process's environment, not from `./.env`, so it was not rotated (nothing was changed); change it where it is set (the deploy's environment or secrets manager) and restart the application\n"
    );
    assert_eq!(stdout(&out), "");
    assert!(p.tree() == before, "the tree changed");
}

#[test]
fn rotate_secret_creates_a_missing_dotenv_mode_0600() {
    let p = Project::new();
    let out = run(p.cmd().arg("rotate-secret"), 0);
    let new = check_new_secret(&p, "", &out);
    assert_eq!(p.read(".env"), format!("SESSION_SECRET={new}\n"));
    assert_eq!(p.mode(".env"), 0o600);
    // No src/myapp.cr: the restart step names no file.
    assert!(
        stdout(&out).starts_with("Created .env with a new SESSION_SECRET (not shown)\n"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).ends_with("Next: restart the application so it reads the new SESSION_SECRET; until it restarts, cookies signed with the old secret still work\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn rotate_secret_writes_through_a_linked_dotenv_and_keeps_a_read_only_mode() {
    let p = project_with_env();
    std::fs::rename(p.path(".env"), p.path("shared.env")).expect("move .env");
    symlink("shared.env", p.path(".env")).expect("link .env");
    p.set_mode("shared.env", 0o444);
    let out = run(p.cmd().arg("rotate-secret"), 0);
    let new = check_new_secret(&p, "old-secret", &out);
    assert!(
        std::fs::symlink_metadata(p.path(".env"))
            .expect("stat .env")
            .file_type()
            .is_symlink()
    );
    assert_eq!(p.read("shared.env"), expected_env(&new));
    assert_eq!(p.mode("shared.env"), 0o444);
    out.says(&["  (through the link to "]);
}

// ---------------------------------------------------------------- session:clear --rotate-secret

#[test]
fn clear_rotate_secret_clears_redis_and_rotates() {
    let Some(server) = RedisServer::start("clear_rotate_secret_clears_redis_and_rotates") else {
        return;
    };
    server.plant(0, "myapp:session:", 300);
    server.set(0, "other:key");
    let p = project_with_env();
    let out = run(
        p.cmd()
            .args(["session:clear", "--force", "--rotate-secret"])
            .env("REDIS_URL", server.url()),
        0,
    );
    let new = check_new_secret(&p, "old-secret", &out);
    assert_eq!(p.read(".env"), expected_env(&new));
    assert_eq!(p.mode(".env"), 0o640);
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert!(server.exists(0, "other:key"));
    let o = stdout(&out);
    assert!(o.contains("Cleared 300 session(s)\n"), "{o}");
    assert!(
        o.contains("Replaced SESSION_SECRET in .env with a new one (not shown)\n"),
        "{o}"
    );
    assert!(o.ends_with(RESTART), "{o}");

    server.plant(0, "myapp:session:", 5);
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f", "--rotate-secret"])
            .env("REDIS_URL", server.url()),
        0,
    );
    check_new_secret(&p, &new, &out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["command"], "session:clear");
    assert_eq!(json["cleared"], 5);
    assert_eq!(json["secret_rotated"], true);
    assert_eq!(json["file"], ".env");
    assert_eq!(json["sessions_during_clear"], 0);
    assert_eq!(json["sessions_during_clear_complete"], true);
    assert_eq!(json["restart"], "src/myapp.cr");
}

/// Sessions written while the clear runs (an app still serving requests) are found by the
/// look after it, and reported as a count with what invalidates them.
#[test]
fn clear_rotate_secret_reports_sessions_written_during_the_clear() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(server) = RedisServer::start("clear_rotate_secret_reports_late_sessions") else {
        return;
    };
    server.plant(0, "myapp:session:", 20_000);
    let p = project_with_env();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut con = server.con(0);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                redis::cmd("SET")
                    .arg(format!("myapp:session:late-{i}"))
                    .arg("{}")
                    .query::<()>(&mut con)
                    .expect("SET");
                i += 1;
            }
            i
        })
    };
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f", "--rotate-secret"])
            .env("REDIS_URL", server.url()),
        0,
    );
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().expect("the writer");
    check_new_secret(&p, "old-secret", &out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let late = json["sessions_during_clear"].as_u64().expect("a count");
    assert!(late > 0 && late <= written, "{late} of {written}: {json}");

    // In text, the count comes with what invalidates those sessions.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut con = server.con(0);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                redis::cmd("SET")
                    .arg(format!("myapp:session:later-{i}"))
                    .arg("{}")
                    .query::<()>(&mut con)
                    .expect("SET");
                i += 1;
            }
        })
    };
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--rotate-secret"])
            .env("REDIS_URL", server.url()),
        0,
    );
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("the writer");
    let o = stdout(&out);
    assert!(
        o.lines().any(|l| l.starts_with("Found ")
            && l.ends_with(" session(s) written while the clear ran; their cookies stop working when the application restarts with the new secret")),
        "{o}"
    );
    assert!(o.ends_with(RESTART), "{o}");
}

#[test]
fn clear_rotate_secret_clears_sqlite_and_rotates() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 40);
    let p = project_with_env();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database", "--rotate-secret"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    let new = check_new_secret(&p, "old-secret", &out);
    assert_eq!(p.read(".env"), expected_env(&new));
    assert_eq!(db.count("sessions"), 0);
    let o = stdout(&out);
    assert!(o.contains("Cleared 40 session(s)\n"), "{o}");
    assert!(o.ends_with(RESTART), "{o}");
}

#[test]
fn clear_rotate_secret_with_a_missing_dotenv_creates_it() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 3);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database", "--rotate-secret"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    let new = check_new_secret(&p, "", &out);
    assert_eq!(p.read(".env"), format!("SESSION_SECRET={new}\n"));
    assert_eq!(p.mode(".env"), 0o600);
    assert_eq!(db.count("sessions"), 0);
}

/// The secret comes from the process: the clear (asked for) still happens, the rotation is
/// refused with where to do it, and the exit code says not everything was done.
#[test]
fn clear_rotate_secret_with_the_secret_in_the_process_clears_then_refuses() {
    let Some(server) = RedisServer::start("clear_rotate_secret_secret_in_process") else {
        return;
    };
    server.plant(0, "myapp:session:", 20);
    let p = project_with_env();
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f", "--rotate-secret"])
            .env("REDIS_URL", server.url())
            .env("SESSION_SECRET", "from-the-deploy"),
        1,
    );
    assert_eq!(p.read(".env"), ENV);
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["cleared"], 20);
    assert_eq!(json["secret_rotated"], false);
    assert_eq!(json["secret_source"], "process");
    out.warns(&["SESSION_SECRET comes from this process's environment, not from `./.env`, so it was not rotated (the sessions were cleared); change it where it is set"]);
    assert!(!stderr(&out).contains("from-the-deploy"));
}

/// The question says the secret will be replaced; a no leaves `.env` and the sessions as
/// they were (and nothing staged behind).
#[test]
fn clear_rotate_secret_asks_first_and_a_no_changes_nothing() {
    let Some(server) = RedisServer::start("clear_rotate_secret_asks_first") else {
        return;
    };
    server.plant(0, "myapp:session:", 6);
    let p = project_with_env();
    let env = [("REDIS_URL", server.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = p.tree();
    let text = under_terminal(&p, "session:clear --rotate-secret", &env, "n\n");
    assert!(
        text.contains("Then SESSION_SECRET in .env is replaced with a new one"),
        "{text}"
    );
    assert!(
        text.contains("Operation cancelled; no sessions were cleared"),
        "{text}"
    );
    assert!(p.tree() == before, "the tree changed");
    assert_eq!(server.count(0, "myapp:session:*"), 6);

    let text = under_terminal(&p, "session:clear --rotate-secret", &env, "y\n");
    assert!(text.contains("Cleared 6 session(s)"), "{text}");
    let new = secret(&p);
    assert_eq!(p.read(".env"), expected_env(&new));
    assert!(!text.contains(&new), "the secret was printed");
    assert_eq!(server.count(0, "myapp:session:*"), 0);
}

/// A `.env` git tracks would have the new secret committed: refused, before any clear.
#[test]
fn a_dotenv_tracked_by_git_is_refused_before_the_clear() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 2);
    let p = project_with_env();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(p.root())
            .args(args)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", ".env"]);
    let before = p.tree();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database", "--rotate-secret"])
            .env("DATABASE_URL", &db.url),
        1,
    );
    assert_eq!(
        stderr(&out),
        "error: `./.env` is tracked by git, so a new secret written there would be committed; untrack it with `git rm --cached .env` (and commit that), then run the command again (nothing was changed)\n"
    );
    assert_eq!(db.count("sessions"), 2);
    assert!(p.tree() == before, "the tree changed");
    run(p.cmd().arg("rotate-secret"), 1);
    assert!(p.tree() == before, "the tree changed");
}

#[test]
fn rotate_secret_conflicts_with_dry_run() {
    let p = project_with_env();
    run(p.cmd().args(["clear", "--dry-run", "--rotate-secret"]), 2);
    assert_eq!(p.read(".env"), ENV);
}

// ---------------------------------------------------------------- a .env that cannot be replaced

fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether an immutable file can be made here (root on ext4 and the like).
fn chattr_works() -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let f = dir.path().join("x");
    if std::fs::write(&f, "x").is_err() {
        return false;
    }
    let ok = chattr("+i", &f) && std::fs::write(&f, "y").is_err();
    chattr("-i", &f);
    ok
}

/// Makes a file immutable, and mutable again when dropped.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        chattr("-i", self.0);
    }
}

/// An immutable `.env`: `--rotate-secret` refuses before deleting anything; without it the
/// clear goes ahead.
#[test]
fn an_immutable_dotenv_refuses_the_clear_only_when_rotating() {
    if !chattr_works() {
        skip(
            "an_immutable_dotenv_refuses_the_clear_only_when_rotating",
            "cannot make a file immutable (chattr +i) on this machine",
        );
        return;
    }
    let Some(server) = RedisServer::start("an_immutable_dotenv_refuses_the_clear") else {
        return;
    };
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 7);
    server.plant(0, "myapp:session:", 30);
    let p = project_with_env();
    let env_path = p.path(".env");
    let ino = std::fs::metadata(&env_path).expect("stat").ino();
    assert!(chattr("+i", &env_path), "chattr +i");
    let _guard = Immutable(&env_path);

    let refused = |extra: &[&str]| {
        let out = run(
            p.cmd()
                .args(["clear", "-f", "--rotate-secret"])
                .args(extra)
                .env("REDIS_URL", server.url())
                .env("DATABASE_URL", &db.url),
            1,
        );
        assert_eq!(
            stderr(&out),
            "error: cannot move the new `./.env` into place: Operation not permitted (os error 1); nothing was changed (every file already moved was put back), so check that file and its directory (permissions, `lsattr`) and run again\n"
        );
        assert_eq!(stdout(&out), "");
    };
    refused(&[]);
    assert_eq!(server.count(0, "myapp:session:*"), 30);
    refused(&["-b", "database"]);
    assert_eq!(db.count("sessions"), 7);
    assert_eq!(p.read(".env"), ENV);
    assert_eq!(std::fs::metadata(&env_path).expect("stat").ino(), ino);
    assert_eq!(p.list(""), [".env", "shard.yml", "src"]);

    // Not asked to rotate: the clear is not held back by .env.
    run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    assert_eq!(db.count("sessions"), 0);
    assert_eq!(p.read(".env"), ENV);
}

/// A read-only `.env` (mode 0444) in a writable directory is replaced, as setup replaces it,
/// and keeps its mode; the clear goes ahead.
#[test]
fn a_read_only_mode_dotenv_is_rotated_and_keeps_its_mode() {
    let Some(server) = RedisServer::start("a_read_only_mode_dotenv_is_rotated") else {
        return;
    };
    server.plant(0, "myapp:session:", 4);
    let p = project_with_env();
    p.set_mode(".env", 0o444);
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--rotate-secret"])
            .env("REDIS_URL", server.url()),
        0,
    );
    let new = check_new_secret(&p, "old-secret", &out);
    assert_eq!(p.read(".env"), expected_env(&new));
    assert_eq!(p.mode(".env"), 0o444);
    assert_eq!(server.count(0, "myapp:session:*"), 0);
}

#[test]
fn outside_a_project_nothing_is_rotated_and_no_env_is_made() {
    let p = Project::empty();
    for args in [
        &["rotate-secret"][..],
        &["clear", "--force", "--rotate-secret"],
    ] {
        let out = run(p.cmd().args(args), 1);
        out.warns(&["no shard.yml in `"]);
        assert!(!p.exists(".env"), "{args:?}");
    }
    assert!(p.list(".").is_empty(), "{:?}", p.list("."));
}
