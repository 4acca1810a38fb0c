//! The right Redis server and database: `?db=` on TCP URLs, empty variables, an initializer
//! `url:` that cannot be evaluated, and replicas.

use std::time::{Duration, Instant};

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{run, stderr, stdout};

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
    assert!(
        stdout(&out).contains(&format!("Redis URL: {url} (database 5)\n")),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("Cleared 7 session(s)\n"));
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
    assert!(stdout(&out).contains("Cleared 7 session(s)\n"));
    assert_eq!(server.count(3, "myapp:session:*"), 0);
    server.plant(0, "other:", 1);
    let disagree = format!("{}/3?db=0", server.url());
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", &disagree),
        1,
    );
    assert!(
        stderr(&out).contains("names database 3 in its path and 0 in `?db=`; keep one"),
        "{}",
        stderr(&out)
    );
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
    assert!(
        stdout(&out).contains("Cleared 4 session(s)\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    assert_eq!(other.count(0, "myapp:session:*"), 6);
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
    let Some(primary) = RedisServer::start("replica_primary") else {
        return;
    };
    let port = primary.port.to_string();
    let Some(replica) = RedisServer::start_with(
        "replica_replica",
        &[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--replica-read-only",
            "no",
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
        assert!(
            stderr(&out).contains(&format!("is a replica of `127.0.0.1:{port}`")),
            "{}",
            stderr(&out)
        );
        assert!(!stdout(&out).contains("✓"));
    }
    assert_eq!(replica.count(0, "myapp:session:*"), 9);
    assert_eq!(primary.count(0, "myapp:session:*"), 9);
}
