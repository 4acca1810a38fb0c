//! A Redis Cluster that refuses part of a clear: a Redis user without a command, a renamed
//! UNLINK; and keys that are not text. Each refusal names what to fix, never a key (a
//! session id is a bearer token), and deletes nothing.

use std::collections::BTreeSet;

use crate::support::project::Project;
use crate::support::redis_cluster::{Options, RedisCluster};
use crate::support::run::{Says, run, stderr, stdout};

const PREFIX: &str = "myapp:session:";

fn sessions(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{PREFIX}{i}")).collect()
}

/// A key under the prefix that is not UTF-8 (and holds a newline and a NUL), planted on the
/// primary that owns its slot; which primary that is.
fn plant_binary_key(cluster: &RedisCluster, primaries: usize) -> (Vec<u8>, usize) {
    let mut key = PREFIX.as_bytes().to_vec();
    key.extend_from_slice(&[0xff, 0xfe, b'\n', 0x00, b'x']);
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(&key)
        .query(&mut cluster.con(0))
        .expect("CLUSTER KEYSLOT");
    let owner = cluster.owners()[slot as usize];
    assert!(owner < primaries, "slot {slot} owned by node {owner}");
    redis::cmd("SET")
        .arg(&key)
        .arg("x")
        .query::<()>(&mut cluster.con(owner))
        .expect("SET a binary key");
    (key, owner)
}

fn dbsizes(cluster: &RedisCluster, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            redis::cmd("DBSIZE")
                .query(&mut cluster.con(i))
                .expect("DBSIZE")
        })
        .collect()
}

/// Every primary's stderr line checks: names the fix, no key, no "run again".
#[track_caller]
fn refused_with(err: &str, want: &str) {
    assert!(err.contains(want), "want {want:?} in: {err}");
    assert!(!err.contains(PREFIX), "a session id was shown: {err}");
    assert!(!err.contains("run the command again"), "{err}");
    assert!(!err.contains('\u{fffd}'), "a key's bytes were shown: {err}");
}

/// Issue 22, items 6 and 7, on a cluster: an ACL user without UNLINK (and one without SCAN)
/// is told which command to grant; a key under the prefix that is not UTF-8 is cleared and
/// counted, never printed.
#[test]
fn cluster_acl_refusals_name_the_command_and_binary_keys_are_counted() {
    let Some(cluster) = RedisCluster::start("cluster_acl_refusals", 3, None) else {
        return;
    };
    let keys = sessions(300);
    let per_node = cluster.plant(&keys);
    assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
    cluster.plant(&["other:session:1".to_string(), "canary".to_string()]);
    let (binary, owner) = plant_binary_key(&cluster, 3);
    // ACL users are each node's own: the same users on every node.
    for i in 0..3 {
        for rule in [
            &["no_unlink", "on", ">pw1", "~*", "+@all", "-unlink"][..],
            &["no_scan", "on", ">pw2", "~*", "+@all", "-scan"],
        ] {
            let mut cmd = redis::cmd("ACL");
            cmd.arg("SETUSER").arg(rule);
            cmd.query::<()>(&mut cluster.con(i)).expect("ACL SETUSER");
        }
    }
    let before = dbsizes(&cluster, 3);
    let port = cluster.nodes[0].port;
    let p = Project::new();
    for (user, want) in [
        (
            "no_unlink:pw1",
            "the Redis user may not run `unlink`; grant it (ACL SETUSER <user> +unlink) or use a user that may",
        ),
        (
            "no_scan:pw2",
            "the Redis user may not run `scan`; grant it (ACL SETUSER <user> +scan) or use a user that may",
        ),
    ] {
        let url = format!("redis://{user}@127.0.0.1:{port}");
        let out = run(
            p.cmd()
                .args(["clear", "-f", "--prefix", PREFIX])
                .env("REDIS_URL", &url),
            1,
        );
        let err = stderr(&out);
        refused_with(&err, want);
        assert!(!err.contains("pw1") && !err.contains("pw2"), "{err}");
        assert!(!stdout(&out).contains("✓"));
        assert_eq!(dbsizes(&cluster, 3), before, "{user}: keys were deleted");
    }

    // The default user clears every key, the binary one counted with the rest.
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", cluster.url(0)),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["cleared"], 301, "{report}");
    assert!(!stdout(&out).contains('\u{fffd}') && !stderr(&out).contains('\u{fffd}'));
    assert_eq!(stderr(&out), "", "nothing to warn about");
    let exists: u64 = redis::cmd("EXISTS")
        .arg(&binary)
        .query(&mut cluster.con(owner))
        .expect("EXISTS");
    assert_eq!(exists, 0);
    let left: BTreeSet<String> = cluster.all_keys();
    assert_eq!(
        left,
        ["other:session:1", "canary"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
}

/// A cluster whose nodes renamed UNLINK away: the error names the command and keeps the
/// keys the server quotes out; nothing is deleted.
#[test]
fn cluster_renamed_unlink_is_named_without_the_keys_it_was_given() {
    let Some(cluster) = RedisCluster::start_with(
        "cluster_renamed_unlink",
        3,
        Options {
            extra: &["--rename-command", "UNLINK", ""],
            ..Options::default()
        },
    ) else {
        return;
    };
    let keys = sessions(200);
    cluster.plant(&keys);
    plant_binary_key(&cluster, 3);
    let before = dbsizes(&cluster, 3);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", PREFIX])
            .env("REDIS_URL", cluster.url(1)),
        1,
    );
    let err = stderr(&out);
    refused_with(
        &err,
        "the server does not offer `UNLINK` (renamed or disabled with rename-command?)",
    );
    assert!(!err.contains("with args beginning with"), "{err}");
    out.says(&["Redis Cluster: 3 primaries\n"]);
    assert_eq!(dbsizes(&cluster, 3), before);
}
