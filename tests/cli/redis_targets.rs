//! The right Redis server and database: `?db=` on TCP URLs, empty variables, an initializer
//! `url:` that cannot be evaluated, and replicas.

use std::time::{Duration, Instant};

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, finish, run, spawn, stderr, stdout, wait_until};

const PREFIX: &str = "myapp:session:";

/// A server with 7 sessions and a canary in each of databases 0, 3 and 5.
fn three_databases(test: &str) -> Option<RedisServer> {
    let server = RedisServer::start(test)?;
    for db in [0, 3, 5] {
        server.plant(db, PREFIX, 7);
        server.set(db, "canary");
    }
    Some(server)
}

#[test]
fn query_db_selects_the_database_on_a_tcp_url() {
    let Some(server) = three_databases("query_db_on_tcp") else {
        return;
    };
    let p = Project::new();
    let url = format!("{}?db=5", server.url());
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", &url),
        0,
    );
    out.says(&[&format!("Redis URL: {url} (database 5)\n")]);
    out.says(&["Cleared 7 session(s)\n"]);
    assert_eq!(server.count(5, "myapp:session:*"), 0);
    for db in [0, 3] {
        assert_eq!(server.count(db, "myapp:session:*"), 7, "database {db}");
    }
    for db in [0, 3, 5] {
        assert!(server.exists(db, "canary"), "database {db}");
    }

    // JSON says which database.
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "--dry-run", "--prefix", PREFIX])
            .env("REDIS_URL", format!("{}/3", server.url())),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["database"], 3);
    assert_eq!(report["cleared"], 7);

    // A path and a ?db= that agree are one database; that disagree, an error.
    let agree = format!("{}/3?db=3", server.url());
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", &agree),
        0,
    );
    out.says(&["Cleared 7 session(s)\n"]);
    assert_eq!(server.count(3, "myapp:session:*"), 0);
    server.plant(0, "other:", 1);
    let disagree = format!("{}/3?db=0", server.url());
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", &disagree),
        1,
    );
    out.warns(&["names database 3 in its path and 0 in `?db=`; keep one"]);
    assert_eq!(server.count(0, "myapp:session:*"), 7);
}

#[test]
fn an_empty_redis_url_in_the_environment_does_not_hide_dotenv() {
    let (Some(server), Some(other)) = (
        RedisServer::start("empty_redis_url"),
        RedisServer::start("empty_redis_url (other)"),
    ) else {
        return;
    };
    server.plant(0, PREFIX, 4);
    other.plant(0, PREFIX, 6);
    let p = Project::new();
    p.write(".env", &format!("REDIS_URL={}\n", server.url()));
    p.write(
        "src/initializers/session.cr",
        &format!(
            "Session.configure do |c|\n  c.store = RedisStore.new(url: \"{}\", prefix: \"{PREFIX}\")\nend\n",
            other.url()
        ),
    );
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", ""), 0);
    out.says(&["Cleared 4 session(s)\n"]);
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert_eq!(other.count(0, "myapp:session:*"), 6);
}

#[test]
fn an_empty_redis_url_line_in_dotenv_falls_through_to_the_initializers_url() {
    let Some(server) = RedisServer::start("empty_redis_url_in_dotenv") else {
        return;
    };
    server.plant(0, PREFIX, 5);
    server.set(0, "canary");
    let p = Project::new();
    p.write(".env", "SESSION_SECRET=abc\nREDIS_URL=\n");
    p.write(
        "src/initializers/session.cr",
        &format!(
            "Session.configure do |c|\n  c.store = RedisStore.new(url: \"{}\", prefix: \"{PREFIX}\")\nend\n",
            server.url()
        ),
    );
    // Neither the line in `.env` nor an empty one in the process is a URL.
    for empty_in_process in [false, true] {
        server.plant(0, PREFIX, 5);
        let mut cmd = p.cmd();
        cmd.args(["clear", "-f"]);
        if empty_in_process {
            cmd.env("REDIS_URL", "");
        }
        let out = run(&mut cmd, 0);
        out.says(&[
            &format!("Redis URL: {}\n", server.url()),
            "Cleared 5 session(s)\n",
        ]);
        assert_eq!(server.count(0, "myapp:session:*"), 0);
        assert!(server.exists(0, "canary"));
    }
}

#[test]
fn an_initializer_url_that_cannot_be_evaluated_is_an_error() {
    let Some(server) = RedisServer::start("unevaluable_url") else {
        return;
    };
    server.plant(0, PREFIX, 3);
    let p = Project::new();
    for (url, want) in [
        (
            "\"redis://#{ENV[\"AZS_TEST_REDIS_HOST\"]}:6379\"",
            "uses `AZS_TEST_REDIS_HOST`, which is not set",
        ),
        (
            "ENV[\"AZS_TEST_REDIS_URL\"]",
            "uses `AZS_TEST_REDIS_URL`, which is not set",
        ),
        ("Config.redis_url", "cannot evaluate `Config.redis_url`"),
    ] {
        p.write(
            "src/initializers/session.cr",
            &format!(
                "Session.configure do |c|\n  c.store = RedisStore.new(url: {url}, prefix: \"{PREFIX}\")\nend\n"
            ),
        );
        let out = run(p.cmd().args(["clear", "-f"]), 1);
        assert!(stderr(&out).contains(want), "{url}: {}", stderr(&out));
    }
    assert_eq!(server.count(0, "myapp:session:*"), 3);
}

#[test]
fn a_replica_is_refused_and_named_its_primary() {
    a_replica_is_refused("no");
}

/// A replica as Redis makes one by default (`replica-read-only yes`): refused as a replica,
/// naming its primary, before any UNLINK could be answered `READONLY`.
#[test]
fn a_default_read_only_replica_is_refused_and_named_its_primary() {
    a_replica_is_refused("yes");
}

fn a_replica_is_refused(read_only: &str) {
    let Some(primary) = RedisServer::start(&format!("replica_primary_{read_only}")) else {
        return;
    };
    let port = primary.port.to_string();
    let Some(replica) = RedisServer::start_with(
        &format!("replica_replica_{read_only}"),
        &[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--replica-read-only",
            read_only,
        ],
    ) else {
        return;
    };
    primary.plant(0, PREFIX, 9);
    let deadline = Instant::now() + Duration::from_secs(20);
    while replica.count(0, "myapp:session:*") < 9 {
        assert!(Instant::now() < deadline, "the replica never caught up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let p = Project::new();
    for args in [
        &["clear", "-f", "--prefix", PREFIX][..],
        &["clear", "--dry-run", "--prefix", PREFIX],
    ] {
        let out = run(p.cmd().args(args).env("REDIS_URL", replica.url()), 1);
        out.warns(&[&format!(
            "is a replica of `127.0.0.1:{port}`: the sessions live on the primary, and a write here would not reach it; point REDIS_URL at the primary (`127.0.0.1:{port}`)\n"
        )]);
        assert!(!stdout(&out).contains("✓"));
        assert!(!stderr(&out).contains("run the command again"));
        assert!(!stderr(&out).contains("READONLY"));
    }
    assert_eq!(replica.count(0, "myapp:session:*"), 9);
    assert_eq!(primary.count(0, "myapp:session:*"), 9);
}

/// Run a clear of `PREFIX` against `url` that must fail; its stderr.
fn failing_clear(url: &str) -> String {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", url),
        1,
    );
    stderr(&out)
}

fn acl(server: &RedisServer, rule: &[&str]) {
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER");
    for part in rule {
        cmd.arg(*part);
    }
    cmd.query::<()>(&mut server.con(0)).expect("ACL SETUSER");
}

#[test]
fn each_refusal_says_what_would_fix_it_and_no_session_id_is_shown() {
    let Some(server) = RedisServer::start("redis_refusals") else {
        return;
    };
    server.plant(0, PREFIX, 5);
    let port = server.port;
    acl(
        &server,
        &["no_unlink", "on", ">pw1", "~*", "+@all", "-unlink"],
    );
    acl(&server, &["other_keys", "on", ">pw2", "~other:*", "+@all"]);
    acl(&server, &["no_scan", "on", ">pw3", "~*", "+@all", "-scan"]);
    acl(&server, &["default", "on", ">pw0", "~*", "+@all"]);

    // (user info, what the error must say)
    let cases = [
        (
            "",
            "wants a password, and REDIS_URL gives none; put it in REDIS_URL",
        ),
        (
            ":wrong@",
            "refused the user or password in REDIS_URL; correct them in REDIS_URL",
        ),
        ("no_unlink:pw1@", "may not run `unlink`"),
        ("other_keys:pw2@", "may not touch these keys"),
        (
            "no_scan:pw3@",
            "may not run `scan`; grant it (ACL SETUSER <user> +scan)",
        ),
    ];
    for (userinfo, want) in cases {
        let err = failing_clear(&format!("redis://{userinfo}127.0.0.1:{port}"));
        assert!(err.contains(want), "{userinfo}: {err}");
        // None of these is fixed by trying again, nor by an INFO permission.
        assert!(!err.contains("run the command again"), "{userinfo}: {err}");
        assert!(!err.contains("INFO command"), "{userinfo}: {err}");
        assert!(
            !err.contains("myapp:session:"),
            "a session id was shown: {err}"
        );
    }
    let mut admin = redis::Client::open(format!("redis://:pw0@127.0.0.1:{port}"))
        .expect("a URL")
        .get_connection()
        .expect("connect");
    let left: u64 = redis::cmd("DBSIZE").query(&mut admin).expect("DBSIZE");
    assert_eq!(left, 5);
}

#[test]
fn a_renamed_unlink_is_named_without_the_keys_it_was_given() {
    let Some(server) =
        RedisServer::start_with("redis_renamed_unlink", &["--rename-command", "UNLINK", ""])
    else {
        return;
    };
    server.plant(0, PREFIX, 3);
    let err = failing_clear(&server.url());
    assert!(err.contains("does not offer `UNLINK`"), "{err}");
    assert!(
        !err.contains("myapp:session:"),
        "a session id was shown: {err}"
    );
    assert_eq!(server.count(0, "myapp:session:*"), 3);
}

#[test]
fn a_full_server_says_maxclients() {
    let Some(server) = RedisServer::start_with("redis_maxclients", &["--maxclients", "1"]) else {
        return;
    };
    // The one client the server allows, busy for a few seconds.
    let url = server.url();
    let holder = std::thread::spawn(move || {
        let mut con = redis::Client::open(url)
            .expect("a URL")
            .get_connection()
            .expect("connect");
        let _: Option<(String, String)> = redis::cmd("BLPOP")
            .arg("azs-nothing")
            .arg(4)
            .query(&mut con)
            .unwrap_or(None);
    });
    std::thread::sleep(Duration::from_millis(500));
    let err = failing_clear(&server.url());
    assert!(err.contains("maxclients"), "{err}");
    holder.join().expect("the holder");
}

#[test]
fn keys_that_are_not_text_are_cleared_and_never_printed() {
    let Some(server) = RedisServer::start("redis_binary_keys") else {
        return;
    };
    server.plant(0, PREFIX, 2);
    let mut key = PREFIX.as_bytes().to_vec();
    key.extend_from_slice(&[0xff, 0xfe, b'\n', 0x00]);
    redis::cmd("SET")
        .arg(&key)
        .arg("x")
        .query::<()>(&mut server.con(0))
        .expect("SET");
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", server.url()),
        0,
    );
    out.says(&["Cleared 3 session(s)\n"]);
    assert_eq!(server.dbsize(0), 0);
}

/// A prefix written with Crystal escapes is the prefix the app uses.
#[test]
fn prefix_escapes_are_read_as_crystal_reads_them() {
    let Some(server) = RedisServer::start("prefix_escapes") else {
        return;
    };
    let p = Project::new();
    for written in [
        r"myapp\u{3a}session:",
        r"myapp\u003asession:",
        r"myapp\x3asession:",
        r"myapp\072session:",
        r"myapp\u{3a}session\u{3A}",
    ] {
        server.plant(0, PREFIX, 4);
        server.set(0, "myappu{3a}session:canary");
        p.write(
            "src/initializers/session.cr",
            &format!(
                "Session.configure do |c|\n  c.store = RedisStore.new(url: \"{}\", prefix: \"{written}\")\nend\n",
                server.url()
            ),
        );
        let out = run(p.cmd().args(["clear", "-f"]), 0);
        assert!(
            stdout(&out).contains("pattern: myapp:session:*\n")
                && stdout(&out).contains("Cleared 4 session(s)\n"),
            "{written}: {}",
            stdout(&out)
        );
        assert_eq!(server.count(0, "myapp:session:*"), 0, "{written}");
        assert!(server.exists(0, "myappu{3a}session:canary"));
    }
    // An escape Crystal refuses leaves the prefix unevaluated: an error, nothing deleted.
    server.plant(0, PREFIX, 2);
    p.write(
        "src/initializers/session.cr",
        &format!(
            "Session.configure do |c|\n  c.store = RedisStore.new(url: \"{}\", prefix: \"myapp\\xZZ\")\nend\n",
            server.url()
        ),
    );
    let out = run(p.cmd().args(["clear", "-f"]), 1);
    out.warns(&["pass the prefix with --prefix"]);
    assert_eq!(server.count(0, "myapp:session:*"), 2);
}

/// On a terminal, a dry run's progress counts; it never says sessions were cleared.
#[test]
fn a_dry_run_counts_on_a_terminal() {
    let Some(server) = RedisServer::start("dry_run_progress") else {
        return;
    };
    server.plant(0, PREFIX, 300_000);
    let p = Project::new();
    let screen = crate::support::run::under_terminal(
        &p,
        &format!("clear --dry-run --prefix {PREFIX}"),
        &[("REDIS_URL", &server.url())],
        "",
    );
    assert!(screen.contains("Would clear 300000 session(s)"), "{screen}");
    assert!(screen.contains("sessions counted"), "{screen}");
    assert!(!screen.contains("sessions cleared"), "{screen}");
}

/// The counts a progress display showed: the number before each ` sessions {done} (`.
pub(crate) fn progress_counts(screen: &str, done: &str) -> Vec<u64> {
    screen
        .split(&format!(" sessions {done} ("))
        .map(|before| {
            let digits = before
                .rsplit(|c: char| !(c.is_ascii_digit() || c == ','))
                .next()
                .unwrap_or("");
            digits.replace(',', "").parse().unwrap_or(0)
        })
        .collect()
}

/// The progress of a Redis clear counts the keys as their batches land, in a dry run and in
/// a clear: never stuck at 0, never past the total.
#[test]
fn redis_progress_counts_the_batches() {
    let test = "redis_progress_counts_the_batches";
    if !crate::support::servers::have_binary("script", test) {
        return;
    }
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    server.plant(0, PREFIX, 300_000);
    let p = Project::new();
    let url = server.url();
    let env = [("REDIS_URL", url.as_str())];
    for (args, done, last) in [
        (
            "clear --dry-run",
            "counted",
            "Would clear 300000 session(s)",
        ),
        ("clear -f", "cleared", "Cleared 300000 session(s)"),
    ] {
        let screen =
            crate::support::run::under_terminal(&p, &format!("{args} --prefix {PREFIX}"), &env, "");
        assert!(screen.contains(last), "{screen}");
        // The text before the first display is not a count.
        let counts = &progress_counts(&screen, done)[1..];
        assert!(!counts.is_empty(), "no progress shown: {screen}");
        assert!(
            counts.iter().any(|&n| n > 0) && counts.iter().all(|&n| n <= 300_000),
            "{done}: {counts:?}"
        );
    }
    assert_eq!(server.count(0, "myapp:session:*"), 0);
}

/// A server that becomes a read-only replica after the check that it is a primary: its
/// `READONLY` answer to UNLINK says to point REDIS_URL at the primary, not to try again.
#[test]
fn a_readonly_answer_says_to_use_the_primary() {
    let Some(primary) = RedisServer::start("readonly_answer_primary") else {
        return;
    };
    let Some(server) = RedisServer::start("readonly_answer") else {
        return;
    };
    primary.plant(0, "other:", 2);
    server.plant(0, PREFIX, 50);
    let mut admin = server.con(0);
    // Writes wait (reads and INFO do not): the clear connects, checks, SCANs, and its
    // UNLINK waits until the server has become a replica.
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(20000)
        .arg("WRITE")
        .query::<()>(&mut admin)
        .expect("CLIENT PAUSE");
    let p = Project::new();
    let url = server.url();
    let child = spawn(
        &p,
        &["clear", "-f", "--prefix", PREFIX],
        &[("REDIS_URL", url.as_str())],
    );
    wait_until("the clear's UNLINK waits", Duration::from_secs(15), || {
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query(&mut admin)
            .expect("CLIENT LIST");
        clients.contains("cmd=unlink")
    });
    redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port)
        .query::<()>(&mut admin)
        .expect("REPLICAOF");
    redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query::<()>(&mut admin)
        .expect("CLIENT UNPAUSE");
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed after clearing 0 session(s): ReadOnly: You can't write against a read only replica.")
            && err.contains("the server is a read-only replica; point REDIS_URL at the primary"),
        "{err}"
    );
    assert!(!err.contains("run the command again"), "{err}");
    assert!(
        !err.contains("myapp:session:"),
        "a session id was shown: {err}"
    );
    assert!(!stdout(&out).contains("✓"));
    // The primary, and what it holds, untouched.
    assert_eq!(primary.dbsize(0), 2);
}
