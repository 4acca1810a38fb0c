//! `session:stats` against real servers: exact counts and TTL buckets on planted keys, keys
//! outside the prefix left out, every primary of a cluster, and each SQL server's live and
//! expired rows. Nothing is ever changed.

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::redis_cluster::RedisCluster;
use crate::support::run::{Says, run, stdout};
use crate::support::sql::TestDb;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).expect("one JSON document on stdout")
}

/// `n` keys `<prefix><i>` expiring in `seconds` (none: no TTL).
fn plant(server: &RedisServer, prefix: &str, n: usize, seconds: Option<u64>) {
    let mut con = server.con(0);
    let mut pipe = redis::pipe();
    for i in 0..n {
        let cmd = pipe
            .cmd("SET")
            .arg(format!("{prefix}{i}"))
            .arg("{\"user_id\":1}");
        if let Some(s) = seconds {
            cmd.arg("EX").arg(s);
        }
        cmd.ignore();
    }
    pipe.query::<()>(&mut con).expect("plant keys");
}

#[test]
fn redis_counts_and_ttl_buckets_are_exact_and_canaries_are_left_out() {
    let Some(server) = RedisServer::start("stats_redis_buckets") else {
        return;
    };
    plant(&server, "myapp:session:h", 1500, Some(1800)); // within an hour
    plant(&server, "myapp:session:d", 700, Some(7200)); // within a day
    plant(&server, "myapp:session:l", 300, Some(30 * 86_400)); // later
    plant(&server, "myapp:session:n", 3, None); // never: a leak
    // Canaries: near the prefix, not under it.
    plant(&server, "myapp:sessions:", 50, None);
    plant(&server, "other:session:", 50, Some(60));
    plant(&server, "myapp:session", 5, None);
    let before = server.dbsize(0);
    let p = Project::new();

    let out = run(
        p.cmd()
            .args(["session:stats", "-b", "redis"])
            .env("REDIS_URL", server.url()),
        0,
    );
    out.says(&[
        "Backend: redis\n",
        "Pattern: myapp:session:*\n",
        "Sessions: 2503\n",
        "Expiring within an hour: 1500\n",
        "Expiring within a day: 700\n",
        "Expiring later: 300\n",
        "Never expiring (no TTL): 3\n",
        "from MEMORY USAGE of a sample of 1000 key(s))",
    ])
    .warns(&["warning: 3 session key(s) have no TTL and will never expire"]);

    let out = run(
        p.cmd()
            .args(["stats", "-b", "redis", "--format", "json"])
            .env("REDIS_URL", server.url()),
        0,
    );
    let report = json(&out);
    assert_eq!(report["command"], "session:stats");
    assert_eq!(report["sessions"], 2503);
    assert_eq!(
        report["ttl"],
        serde_json::json!({"within_hour": 1500, "within_day": 700, "later": 300, "never": 3})
    );
    let memory = &report["memory"];
    assert_eq!(memory["estimate"], true);
    assert_eq!(memory["sample_size"], 1000);
    let average = memory["average_bytes"].as_u64().expect("a number");
    assert!((16..4096).contains(&average), "{memory}");
    assert_eq!(memory["estimated_bytes"].as_u64(), Some(average * 2503));
    assert_eq!(report["warnings"].as_array().map(Vec::len), Some(1));
    assert!(out.stderr.is_empty(), "JSON mode keeps stderr clean");
    // Read only.
    assert_eq!(server.dbsize(0), before);
}

#[test]
fn redis_prefix_flag_and_an_empty_store() {
    let Some(server) = RedisServer::start("stats_redis_prefix") else {
        return;
    };
    plant(&server, "custom:", 7, Some(100));
    let p = Project::new();
    run(
        p.cmd()
            .args(["stats", "-b", "redis", "--prefix", "custom:"])
            .env("REDIS_URL", server.url()),
        0,
    )
    .says(&["Sessions: 7\n", "Expiring within an hour: 7\n"]);
    let out = run(
        p.cmd()
            .args([
                "stats", "-b", "redis", "--prefix", "none:", "--format", "json",
            ])
            .env("REDIS_URL", server.url()),
        0,
    );
    let report = json(&out);
    assert_eq!(report["sessions"], 0);
    assert_eq!(report["memory"], Value::Null);
    assert_eq!(report["warnings"], serde_json::json!([]));
}

#[test]
fn redis_cluster_every_primary_is_measured() {
    let Some(cluster) = RedisCluster::start("stats_cluster", 3, None) else {
        return;
    };
    let sessions: Vec<String> = (0..3000).map(|i| format!("myapp:session:{i}")).collect();
    let per_node = cluster.plant(&sessions);
    assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
    let canaries: Vec<String> = (0..30).map(|i| format!("myapp:sessions:{i}")).collect();
    cluster.plant(&canaries);
    // On each primary, 10 keys get an hour's TTL at most: 30 in all; the rest have none.
    for i in 0..3 {
        let mut con = cluster.con(i);
        for key in cluster.keys(i, "myapp:session:*").iter().take(10) {
            redis::cmd("EXPIRE")
                .arg(key)
                .arg(600)
                .query::<()>(&mut con)
                .expect("EXPIRE");
        }
    }
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["stats", "-b", "redis", "--format", "json"])
            .env("REDIS_URL", cluster.url(1)),
        0,
    );
    let report = json(&out);
    assert_eq!(report["cluster_primaries"], 3);
    assert_eq!(report["sessions"], 3000);
    assert_eq!(report["ttl"]["within_hour"], 30);
    assert_eq!(report["ttl"]["never"], 2970);
    assert_eq!(report["memory"]["sample_size"], 1000);
    run(
        p.cmd()
            .args(["stats", "-b", "redis"])
            .env("REDIS_URL", cluster.url(0)),
        0,
    )
    .says(&[
        "Redis Cluster: 3 primaries (all measured)\n",
        "Sessions: 3000\n",
    ])
    .warns(&["2970 session key(s) have no TTL"]);
    assert_eq!(cluster.all_keys().len(), 3030);
}

/// UTC time `offset` from now, as the session shard's drivers write it.
fn at(offset: Duration) -> String {
    (Utc::now() + offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[test]
fn database_live_and_expired_rows_on_every_server() {
    for db in TestDb::all("stats_database") {
        db.create_sessions("sessions", 4);
        db.insert_sessions("sessions", 5, "2001-02-03 04:05:06");
        db.insert_sessions("sessions", 2, &at(Duration::hours(-1)));
        db.insert_sessions("sessions", 3, &at(Duration::hours(1)));
        db.exec("UPDATE sessions SET created_at = '2020-01-02 03:04:05' WHERE session_id = 's0'");
        db.exec("UPDATE sessions SET created_at = '2024-05-06 07:08:09' WHERE session_id = 's1'");
        let p = Project::new();
        let out = run(
            p.cmd()
                .args(["stats", "-b", "database", "--format", "json"])
                .env("DATABASE_URL", &db.url),
            0,
        );
        let report = json(&out);
        let kind = format!("{:?}", db.kind);
        assert_eq!(report["sessions"], 14, "{kind}: {report}");
        assert_eq!(report["expired"], 7, "{kind}: {report}");
        assert_eq!(report["live"], 7, "{kind}: {report}");
        let oldest = report["oldest_created_at"].as_str().unwrap_or_default();
        let newest = report["newest_created_at"].as_str().unwrap_or_default();
        assert!(
            oldest.starts_with("2020-01-02 03:04:05"),
            "{kind}: {oldest}"
        );
        assert!(
            newest.starts_with("2024-05-06 07:08:09"),
            "{kind}: {newest}"
        );
        let size = &report["table_size"];
        assert!(size["bytes"].as_u64().unwrap_or(0) > 0, "{kind}: {size}");
        assert_eq!(db.count("sessions"), 14, "{kind}: nothing deleted");

        run(
            p.cmd()
                .args(["stats", "-b", "database"])
                .env("DATABASE_URL", &db.url),
            0,
        )
        .says(&[
            "Sessions: 14\n",
            "Live: 7\n",
            "Expired: 7\n",
            "Oldest created_at: 2020-01-02 03:04:05",
            "Size on disk: ",
        ]);
    }
}

#[test]
fn database_missing_table_is_an_error_that_says_so() {
    let db = TestDb::sqlite();
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["stats", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        1,
    );
    out.warns(&["table `sessions` does not exist"]);
}

#[test]
fn memory_says_it_cannot_be_measured() {
    let p = Project::new();
    run(p.cmd().args(["stats", "-b", "memory"]), 0).says(&[
        "Memory sessions cannot be measured",
        "cannot be measured from outside",
    ]);
}

#[test]
fn redis_that_refuses_memory_usage_still_measures_the_rest() {
    let Some(server) = RedisServer::start("stats_redis_no_memory") else {
        return;
    };
    plant(&server, "myapp:session:", 20, Some(100));
    redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "watcher",
            "on",
            ">watch-pw",
            "~*",
            "+@all",
            "-memory",
        ])
        .query::<()>(&mut server.con(0))
        .expect("ACL SETUSER");
    let url = server
        .url()
        .replacen("redis://", "redis://watcher:watch-pw@", 1);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["stats", "-b", "redis"])
            .env("REDIS_URL", &url),
        0,
    );
    out.says(&["Sessions: 20\n", "Memory: not measured\n"])
        .warns(&["memory not measured:", "memory"]);
}

#[test]
fn database_without_expires_at_counts_rows_and_says_what_it_cannot_tell() {
    let db = TestDb::sqlite();
    db.exec("CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id TEXT, data TEXT)");
    db.exec("INSERT INTO sessions (session_id, data) VALUES ('a', '{}'), ('b', '{}')");
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["stats", "-b", "database", "--format", "json"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    let report = json(&out);
    assert_eq!(report["sessions"], 2);
    assert_eq!(report["live"], Value::Null);
    assert_eq!(report["expired"], Value::Null);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("`expires_at`"), "{warnings}");
    assert!(warnings.contains("`created_at`"), "{warnings}");
}
