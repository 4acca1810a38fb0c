//! SQL failures that running the command again cannot fix, on MariaDB and SQLite: each says
//! what to fix instead, and nothing is deleted.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::project::Project;
use crate::support::run::{run, stderr, stdout};
use crate::support::servers::skip;
use crate::support::sql::{Kind, TestDb};

/// `azu-session clear -b database <args>` with `DATABASE_URL` set to `url`.
fn clear(p: &Project, url: &str, args: &[&str], code: i32) -> std::process::Output {
    run(
        p.cmd()
            .args(["clear", "-b", "database"])
            .args(args)
            .env("DATABASE_URL", url),
        code,
    )
}

/// A MariaDB user allowed only `SELECT` on the test database, made (and dropped) by the
/// server's administrator: the test user may not make users.
struct ReadOnlyUser {
    root: String,
    name: String,
}

impl ReadOnlyUser {
    fn new(db: &TestDb, test: &str) -> Option<Self> {
        let root = std::env::var("AZU_SESSION_TEST_MYSQL_ROOT_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".to_string());
        let name = format!("azs_ro_{}", std::process::id());
        let admin = TestDb::attach(&root);
        if let Err(e) = admin.try_exec(&format!(
            "CREATE USER IF NOT EXISTS '{name}'@'%' IDENTIFIED BY 'ro';\n\
             GRANT SELECT ON `{}`.* TO '{name}'@'%'",
            db.name
        )) {
            skip(
                test,
                &format!(
                    "cannot make a MariaDB user as {root} ({e}); set AZU_SESSION_TEST_MYSQL_ROOT_URL"
                ),
            );
            return None;
        }
        Some(ReadOnlyUser { root, name })
    }

    fn url(&self, db: &TestDb) -> String {
        let (_, rest) = db.url.split_once('@').expect("a URL with a user");
        format!("mysql://{}:ro@{rest}", self.name)
    }
}

impl Drop for ReadOnlyUser {
    fn drop(&mut self) {
        let _ = TestDb::attach(&self.root)
            .try_exec(&format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}

#[test]
fn mariadb_permission_denied_says_what_to_grant() {
    let Some(db) = TestDb::mysql("mariadb_permission_denied") else {
        return;
    };
    db.create_sessions("sessions", 3);
    let Some(user) = ReadOnlyUser::new(&db, "mariadb_permission_denied") else {
        return;
    };
    let p = Project::new();
    let url = user.url(&db);
    // The dry run only reads: allowed.
    let out = clear(&p, &url, &["--dry-run"], 0);
    assert!(
        stdout(&out).contains("Would clear 3 session(s)"),
        "{}",
        stdout(&out)
    );
    for args in [&["--force"][..], &["--expired"]] {
        let out = clear(&p, &url, args, 1);
        let err = stderr(&out);
        assert!(
            err.contains("DELETE command denied")
                && err.contains("the database user may not do this to `sessions`: grant it SELECT and DELETE on the table")
                && !err.contains("run the command again"),
            "{args:?}: {err}"
        );
        assert!(!stdout(&out).contains('✓'));
    }
    assert_eq!(db.count("sessions"), 3);
}

/// Makes a file immutable (root ignores permission bits), and mutable again when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: &Path, test: &str) -> Option<Self> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip(
                test,
                "cannot make a file immutable (chattr +i) on this machine",
            );
            return None;
        }
        Some(Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_sqlite_file_says_it_cannot_be_written() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("app.db");
    let db = TestDb::sqlite_at(&path);
    assert_eq!(db.kind, Kind::Sqlite);
    db.create_sessions("sessions", 3);
    let Some(_frozen) = Immutable::new(&path, "read_only_sqlite") else {
        return;
    };
    let p = Project::new();
    // Reading is still possible: the dry run counts.
    let out = clear(&p, &db.url, &["--dry-run"], 0);
    assert!(
        stdout(&out).contains("Would clear 3 session(s)"),
        "{}",
        stdout(&out)
    );
    for args in [&["--force"][..], &["--expired"]] {
        let out = clear(&p, &db.url, args, 1);
        let err = stderr(&out);
        assert!(
            err.contains(&path.display().to_string())
                && err.contains("cannot be written")
                && !err.contains("run the command again")
                && !err.contains("point DATABASE_URL at the primary"),
            "{args:?}: {err}"
        );
    }
    drop(_frozen);
    assert_eq!(db.count("sessions"), 3);
}
