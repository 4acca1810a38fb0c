//! Faults injected for real: a tree that cannot be written, a full filesystem, servers that
//! die, hang or refuse part-way, and Ctrl-C. The tool must fail cleanly: exit 1 (130 for
//! Ctrl-C), say what happened, leave files whole and delete nothing it was not asked to.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::project::Project;
use crate::support::run::{Says, run, text};
use crate::support::servers::skip;

/// Whether this machine lets the test make a directory immutable (root on ext4 and the like;
/// root ignores permission bits, so `chattr +i` is how a read-only tree is made). Outside CI a
/// machine that cannot is skipped with a note; in CI it is a failure.
fn can(what: &str, probe: impl FnOnce() -> bool, test: &str) -> bool {
    let ok = probe();
    if !ok {
        skip(test, &format!("cannot {what} on this machine"));
    }
    ok
}

fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes directories immutable, and mutable again when dropped (or the temporary directory
/// could not be removed).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn new(paths: &[PathBuf]) -> Self {
        for p in paths {
            assert!(chattr("+i", p), "chattr +i {}", p.display());
        }
        Immutable(paths.to_vec())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            chattr("-i", p);
        }
    }
}

fn chattr_works() -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let ok = chattr("+i", dir.path()) && std::fs::write(dir.path().join("x"), "x").is_err();
    chattr("-i", dir.path());
    ok
}

/// Setup must fail with exit 1 and leave every byte (and no temporary file) behind.
fn setup_fails_cleanly(p: &Project, backend: &str, part: &str) {
    let before = p.tree();
    let out = run(p.cmd().args(["setup", "-b", backend, "--force"]), 1);
    let err = text(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains(part), "{err}");
    assert!(
        p.tree() == before,
        "the tree changed:\nbefore {:?}\nafter  {:?}",
        before.keys().collect::<Vec<_>>(),
        p.tree().keys().collect::<Vec<_>>()
    );
}

/// `PLANTED` sessions and `canaries` on `server`, and a `clear -f` of them started and seen
/// deleting (the project lives as long as the clear).
fn clear_under_way(server: &RedisServer, canaries: &[&str]) -> (Project, std::process::Child) {
    server.plant(0, "myapp:session:", PLANTED);
    for canary in canaries {
        server.set(0, canary);
    }
    let p = Project::new();
    let url = server.url();
    let child = spawn(&p, &["clear", "-f"], &[("REDIS_URL", &url)]);
    wait_until("the clear is under way", Duration::from_secs(30), || {
        server.dbsize(0) < (PLANTED + canaries.len()) as u64
    });
    (p, child)
}

#[test]
fn setup_into_a_read_only_tree_changes_nothing() {
    if !can(
        "make a directory immutable",
        chattr_works,
        "setup_read_only",
    ) {
        return;
    }
    // The whole root read-only: not even src/ can be made.
    let p = Project::new();
    {
        let _ro = Immutable::new(&[p.root().to_path_buf()]);
        setup_fails_cleanly(&p, "database", "cannot write");
    }

    // The initializer's directory writable, the root not: the initializer is staged first,
    // then shard.yml cannot be, and the staged initializer must be taken back.
    let p = Project::new();
    p.write("src/initializers/.keep", "");
    {
        let _ro = Immutable::new(&[p.root().to_path_buf()]);
        setup_fails_cleanly(&p, "redis", "cannot write");
    }

    // The migrations directory read-only, everything else writable.
    let p = Project::new();
    p.write("src/db/migrations/.keep", "");
    {
        let _ro = Immutable::new(&[p.path("src/db/migrations")]);
        setup_fails_cleanly(&p, "database", "cannot write");
    }
}

#[test]
fn setup_with_a_file_where_a_directory_belongs_changes_nothing() {
    let p = Project::new();
    p.write("src", "not a directory");
    setup_fails_cleanly(&p, "memory", "cannot write");

    let p = Project::new();
    p.write("src/db", "not a directory");
    setup_fails_cleanly(&p, "database", "src/db/migrations`: Not a directory");
}

/// A tmpfs of `size`, unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallFs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn setup_on_a_full_filesystem_changes_nothing() {
    let mut fs = None;
    if !can(
        "mount a small tmpfs",
        || {
            fs = SmallFs::mount("256k");
            fs.is_some()
        },
        "setup_full_filesystem",
    ) {
        return;
    }
    let fs = fs.expect("mounted");
    let root = fs.path().join("app");
    std::fs::create_dir(&root).unwrap();
    // A shard.yml big enough that its rewritten copy cannot fit once the disk is filled.
    let shard = format!(
        "name: myapp\n{}dependencies:\n  azu:\n    github: azutoolkit/azu\n",
        "# padding line\n".repeat(4000)
    );
    std::fs::write(root.join("shard.yml"), &shard).unwrap();
    // Fill what is left but a few KiB.
    let mut filler = std::fs::File::create(fs.path().join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);
    let filler_len = std::fs::metadata(fs.path().join("filler")).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(fs.path().join("filler"))
        .unwrap()
        .set_len(filler_len.saturating_sub(8 * 1024))
        .unwrap();

    let listing = |dir: &Path| {
        let mut names: Vec<String> = walk(dir);
        names.sort();
        names
    };
    let before = listing(&root);
    let shard_before = std::fs::read(root.join("shard.yml")).unwrap();
    let out = crate::support::project::azu()
        .args(["setup", "-b", "redis", "-C"])
        .arg(&root)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot write"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(listing(&root), before, "files were left behind");
    assert_eq!(std::fs::read(root.join("shard.yml")).unwrap(), shard_before);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read a directory") {
        let path = e.expect("a directory entry").path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

// ---------------------------------------------------------------- servers that fail

use std::time::{Duration, Instant};

use crate::support::redis::RedisServer;
use crate::support::run::{finish, interrupt, spawn, stderr, wait_until};
use crate::support::sql::{Kind, TestDb};

const PLANTED: usize = 200_000;

#[test]
fn ctrl_c_stops_after_the_batch_in_flight_and_reports_the_exact_count() {
    let Some(server) = RedisServer::start("ctrl_c_redis") else {
        return;
    };
    let (p, child) = clear_under_way(&server, &["canary"]);
    // Hold every write for a moment so a batch is surely in flight when Ctrl-C lands.
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .arg("WRITE")
        .query::<()>(&mut server.con(0))
        .expect("CLIENT PAUSE");
    interrupt(&child);
    let out = finish(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let remaining = server.count(0, "myapp:session:*");
    assert!(remaining > 0, "it ran to the end instead of stopping");
    let err = stderr(&out);
    let expected = format!(
        "error: interrupted after clearing {} session(s); run the command again to clear the rest",
        PLANTED - remaining
    );
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");
    assert!(server.exists(0, "canary"));

    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    assert!(text(&out.stdout).contains(&format!("Cleared {remaining} session(s)")));
    assert!(server.exists(0, "canary"));
}

#[test]
fn ctrl_c_during_a_database_clear_reports_the_exact_count() {
    let Some(db) = TestDb::postgres("ctrl_c_postgres") else {
        return;
    };
    db.create_sessions("sessions", 60_000);
    db.slow_deletes("sessions", 300);
    let p = Project::new();
    let child = spawn(
        &p,
        &["clear", "-f", "-b", "database"],
        &[("DATABASE_URL", &db.url)],
    );
    wait_until("the clear is under way", Duration::from_secs(30), || {
        db.count("sessions") < 60_000
    });
    interrupt(&child);
    let out = finish(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let remaining = db.count("sessions");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "interrupted after clearing {} session(s)",
            60_000 - remaining
        )),
        "remaining {remaining}:\n{err}"
    );
}

#[test]
fn redis_killed_mid_clear_fails_at_once_and_a_second_run_clears_the_rest() {
    // With every write on disk before it is answered, a crash loses no acknowledged UNLINK.
    let Some(mut server) = RedisServer::start_with(
        "redis_killed_mid_clear",
        &["--appendonly", "yes", "--appendfsync", "always"],
    ) else {
        return;
    };
    let (p, child) = clear_under_way(&server, &["canary", "myapp:sessions", "other:session:1"]);
    server.kill();
    let started = Instant::now();
    let out = finish(child, Duration::from_secs(15));
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "no retry loop: it must fail at once"
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let cleared: usize = err
        .split("failed after clearing ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in: {err}"));
    assert!(
        err.contains("run the command again to clear the rest"),
        "{err}"
    );

    server.restart();
    let remaining = server.count(0, "myapp:session:*");
    // Every deletion it reported is durable (more may be, if the last answer was lost).
    assert!(
        remaining <= PLANTED - cleared,
        "reported {cleared}, but {remaining} of {PLANTED} remain"
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    assert!(text(&out.stdout).contains(&format!("Cleared {remaining} session(s)")));
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    for canary in ["canary", "myapp:sessions", "other:session:1"] {
        assert!(server.exists(0, canary), "{canary}");
    }
}

#[test]
fn a_frozen_redis_or_a_silent_socket_ends_the_run_within_the_timeout() {
    let Some(server) = RedisServer::start("frozen_redis") else {
        return;
    };
    server.plant(0, "myapp:session:", 10);
    let p = Project::new();

    // Accepts connections (the kernel does) but answers nothing.
    server.signal("-STOP");
    let started = Instant::now();
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        1,
    );
    server.signal("-CONT");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    out.warns(&[&format!("no answer from 127.0.0.1:{} in 5 s", server.port)]);
    assert_eq!(server.dbsize(0), 10);

    // A listening socket that never reads.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let started = Instant::now();
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("REDIS_URL", format!("redis://:pw@127.0.0.1:{port}")),
        1,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("`redis://:****@127.0.0.1:{port}`"))
            && err.contains(&format!("no answer from 127.0.0.1:{port} in 5 s")),
        "{err}"
    );
}

/// The N of "failed after clearing N session(s)" in `err`.
fn cleared_in(err: &str) -> usize {
    let (_, rest) = err
        .split_once("failed after clearing ")
        .unwrap_or_else(|| panic!("no \"failed after clearing\" in:\n{err}"));
    rest.split_once(' ')
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no count after \"failed after clearing\" in:\n{err}"))
}

/// A server frozen (SIGSTOP) mid-clear: the run ends at the 5 s timeout with the count of
/// the deletions the server confirmed.
///
/// A bare freeze cannot give an exact count, so the test asserts the bound that is the
/// promise: the loop keeps two UNLINKs out at once (src/clear/redis/single.rs), and the
/// server may have run either before it stopped, or run them from its socket buffer after
/// SIGCONT, without the answers ever reaching the tool. So what is gone is at least the
/// count shown and at most two batches (two SCAN replies of COUNT 1000, a few more when a
/// hash bucket holds several keys) more, never fewer. The second half makes it exact: writes
/// are paused (CLIENT PAUSE WRITE) before the freeze, so no UNLINK can land unanswered, and
/// the count must equal what is gone, as a_connection_cut_while_writes_are_paused_... does
/// for a cut connection.
#[test]
fn redis_frozen_mid_clear_ends_the_run_with_the_count_so_far() {
    for paused in [false, true] {
        let Some(server) = RedisServer::start("redis_frozen_mid_clear") else {
            return;
        };
        let (_p, child) = clear_under_way(&server, &["canary"]);
        let mut con = server.con(0);
        if paused {
            redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(60_000)
                .arg("WRITE")
                .query::<()>(&mut con)
                .expect("CLIENT PAUSE");
            // Let every answer already sent reach the tool.
            std::thread::sleep(Duration::from_millis(300));
        }
        server.signal("-STOP");
        let out = finish(child, Duration::from_secs(20));
        server.signal("-CONT");
        if paused {
            redis::cmd("CLIENT")
                .arg("UNPAUSE")
                .query::<()>(&mut con)
                .expect("CLIENT UNPAUSE");
        }
        // Whatever the server read before the tool hung up has run by now.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(": timed out; run the command again"), "{err}");
        let remaining = server.count(0, "myapp:session:*");
        assert!(remaining > 0, "it ran to the end instead of failing");
        let (gone, shown) = (PLANTED - remaining, cleared_in(&err));
        if paused {
            assert_eq!(
                shown, gone,
                "paused: {remaining} of {PLANTED} remain:\n{err}"
            );
        } else {
            assert!(
                shown <= gone && gone <= shown + 3000,
                "{gone} gone, {shown} shown:\n{err}"
            );
        }
        assert!(server.exists(0, "canary"));
    }
}

#[test]
fn a_database_connection_killed_mid_clear_fails_with_the_count_and_the_url_masked() {
    let servers = [
        TestDb::postgres("db_killed_mid_clear"),
        TestDb::mysql("db_killed_mid_clear"),
    ];
    for db in servers.into_iter().flatten() {
        db.create_sessions("sessions", 80_000);
        db.slow_deletes("sessions", 300); // eight batches: the run is surely mid-way below
        let p = Project::new();
        let url = db.url.clone();
        let child = spawn(
            &p,
            &["clear", "-f", "-b", "database"],
            &[("DATABASE_URL", &url)],
        );
        wait_until("the clear is under way", Duration::from_secs(30), || {
            db.count("sessions") < 80_000
        });
        // The server ends the tool's connection, as a restart or an administrator would.
        match db.kind {
            Kind::Postgres => {
                db.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
            }
            _ => {
                for id in db.other_connection_ids() {
                    let _ = db.try_exec(&format!("KILL CONNECTION {id}"));
                }
            }
        }
        let out = finish(child, Duration::from_secs(15));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{:?}: {err}", db.kind);
        let remaining = db.count("sessions") as usize;
        assert!(remaining > 0, "{:?}: it finished before the kill", db.kind);
        assert!(
            err.contains(&format!(
                "failed after clearing {} session(s)",
                80_000 - remaining
            )),
            "{:?}: remaining {remaining}:\n{err}",
            db.kind
        );
        assert!(err.contains("azs:****@") && !err.contains(":azs@"), "{err}");
    }
}

#[test]
fn sessions_updated_during_a_postgres_clear_are_all_cleared() {
    updated_during_a_postgres_clear("updates_during_clear", false);
}

/// The same for `--expired`, which has no finishing pass after its batches: a batch that
/// came up short because rows moved must not end it.
#[test]
fn sessions_updated_during_a_postgres_expired_clear_are_all_cleared() {
    updated_during_a_postgres_clear("updates_during_expired_clear", true);
}

/// 60,000 sessions (expired ones for `expired`) cleared while the application updates them.
fn updated_during_a_postgres_clear(test: &str, expired: bool) {
    let Some(db) = TestDb::postgres(test) else {
        return;
    };
    db.create_sessions("sessions", 0);
    let when = if expired {
        "2001-01-01 00:00:00"
    } else {
        "2099-01-01 00:00:00"
    };
    db.insert_sessions("sessions", 60_000, when);
    db.slow_deletes("sessions", 100);
    // The application keeps writing its sessions, one at a time, while the clear runs: an
    // UPDATE moves a row to a new ctid, which a batch that picked it before then misses.
    let updater = {
        let url = db.url.clone();
        std::thread::spawn(move || {
            TestDb::attach(&url).try_exec(
                "DO $$ BEGIN FOR i IN 1..40000 LOOP UPDATE sessions SET data = data || 'x' WHERE id = (i * 7919) % 60000 + 1; COMMIT; END LOOP; END $$",
            )
        })
    };
    let p = Project::new();
    let which: &[&str] = if expired { &["--expired"] } else { &[] };
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .args(which)
            .env("DATABASE_URL", &db.url),
        0,
    );
    let _ = updater.join().expect("the updater thread");
    assert_eq!(db.count("sessions"), 0, "{}", text(&out.stdout));
    let said = if expired {
        "Cleared 60000 expired session(s)"
    } else {
        "Cleared 60000 session(s)"
    };
    assert!(text(&out.stdout).contains(said), "{}", text(&out.stdout));
}

/// The count in "failed after clearing N" must be exact. With every write held (`CLIENT
/// PAUSE ... WRITE`), the UNLINK in flight cannot land; the tool's connection is then cut
/// (by the server, or by killing the server), so N must equal the sessions actually gone.
#[test]
fn a_connection_cut_while_writes_are_paused_reports_the_exact_count() {
    for cut in ["client kill", "server killed"] {
        let Some(mut server) = RedisServer::start_with(
            "redis_cut_while_paused",
            &["--appendonly", "yes", "--appendfsync", "always"],
        ) else {
            return;
        };
        let (_p, child) = clear_under_way(&server, &["canary"]);
        let mut con = server.con(0);
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(10_000)
            .arg("WRITE")
            .query::<()>(&mut con)
            .expect("CLIENT PAUSE");
        // Let every answer already sent reach the tool.
        std::thread::sleep(Duration::from_millis(300));
        if cut == "client kill" {
            redis::cmd("CLIENT")
                .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
                .query::<u64>(&mut con)
                .expect("CLIENT KILL");
        } else {
            server.kill();
        }
        let out = finish(child, Duration::from_secs(15));
        assert_eq!(out.status.code(), Some(1), "{cut}: {}", stderr(&out));
        if cut == "client kill" {
            redis::cmd("CLIENT")
                .arg("UNPAUSE")
                .query::<()>(&mut con)
                .expect("CLIENT UNPAUSE");
        } else {
            server.restart();
        }
        let remaining = server.count(0, "myapp:session:*");
        assert!(remaining > 0, "{cut}: it ran to the end instead of failing");
        let err = stderr(&out);
        let expected = format!("failed after clearing {} session(s)", PLANTED - remaining);
        assert!(
            err.contains(&expected),
            "{cut}: {remaining} of {PLANTED} remain, expected {expected:?} in:\n{err}"
        );
        assert!(server.exists(0, "canary"), "{cut}");
    }
}

/// A batch the server refuses mid-clear (here an ACL that forbids one key: its whole UNLINK
/// is refused) fails the run with the exact count of what is gone, the UNLINK of the batch
/// after it, already sent, included.
#[test]
fn redis_refused_batch_mid_clear_counts_the_batch_in_flight() {
    let Some(server) = RedisServer::start("redis_refused_batch_mid_clear") else {
        return;
    };
    let planted = 20_000;
    server.plant(0, "myapp:session:", planted);
    server.set(0, "myapp:session:forbidden");
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("limited")
        .arg("on")
        .arg(">pw")
        .arg("~myapp:session:[0-9]*")
        .arg("+@all")
        .query::<()>(&mut server.con(0))
        .expect("ACL SETUSER");
    let p = Project::new();
    let url = server.url().replacen("redis://", "redis://limited:pw@", 1);
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let err = stderr(&out);
    assert!(
        err.contains("NOPERM") || err.contains("permission"),
        "{err}"
    );
    assert!(server.exists(0, "myapp:session:forbidden"));
    // What is gone: the numbered keys not left (the refused batch's are all left).
    let gone = planted + 1 - server.count(0, "myapp:session:*");
    assert!(gone < planted, "nothing was refused:\n{err}");
    assert_eq!(cleared_in(&err), gone, "{err}");
}
