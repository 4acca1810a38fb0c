//! `session:clear` against a real Redis Cluster: three local primaries, every slot assigned.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::redis_cluster::{Options, RedisCluster};
use crate::support::run::{Says, run, stderr, stdout};
use crate::support::servers::free_port;
use crate::support::tls::Certs;

fn cluster_lines(url_shown: &str, primaries: usize, n: usize) -> String {
    format!(
        "Clearing sessions...\nBackend: redis\nRedis URL: {url_shown}\nRedis Cluster: {primaries} primaries\nClearing Redis sessions with pattern: myapp:session:*\nCleared {n} session(s)\n✓ Sessions cleared successfully\n"
    )
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Keys outside the prefix `myapp:session:`, some of them in `slot_tag`'s slot.
fn canaries(slot_tag: &str) -> Vec<String> {
    let mut out: Vec<String> = [
        "myapp:session",
        "myapp:sessions:",
        "other:session:",
        "MYAPP:SESSION:",
        "xmyapp:session:",
    ]
    .iter()
    .flat_map(|p| keys(p, 12))
    .collect();
    out.push(format!("canary:{slot_tag}"));
    out.push(format!("myapp:sessions:{slot_tag}"));
    out
}

fn set(keys: &[String]) -> BTreeSet<String> {
    keys.iter().cloned().collect()
}

#[test]
fn cluster_clears_every_primary_and_keeps_canaries() {
    let Some(cluster) = RedisCluster::start("cluster_clears_every_primary", 3, Some("cl-pw"))
    else {
        return;
    };
    let sessions = keys("myapp:session:", 3000);
    let canaries = canaries("{x}");
    let per_node = cluster.plant(&sessions);
    assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
    let per_node = cluster.plant(&canaries);
    assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
    let p = Project::new();
    let port = |i: usize| cluster.nodes[i].port;
    let dead = free_port();

    // A dry run, given two seeds as hosts of one URL, the first not answering.
    let seeds = format!("redis://:cl-pw@127.0.0.1:{dead},127.0.0.1:{}", port(1));
    let out = run(
        p.cmd()
            .args(["clear", "--dry-run"])
            .env("REDIS_URL", &seeds),
        0,
    );
    assert_eq!(
        stdout(&out),
        format!(
            "Counting sessions (dry run: nothing will be deleted)...\nBackend: redis\nRedis URL: redis://:****@127.0.0.1:{dead},127.0.0.1:{}\nRedis Cluster: 3 primaries\nCounting Redis sessions with pattern: myapp:session:*\nWould clear 3000 session(s)\nDry run: no sessions were cleared\n",
            port(1)
        )
    );
    assert_eq!(cluster.all_keys().len(), 3000 + canaries.len());

    // The clear, given one node: the tool finds the others.
    let out = run(
        p.cmd()
            .args(["clear", "--force"])
            .env("REDIS_URL", cluster.url(2)),
        0,
    );
    assert_eq!(
        stdout(&out),
        cluster_lines(&format!("redis://:****@127.0.0.1:{}", port(2)), 3, 3000)
    );
    assert!(!stdout(&out).contains("cl-pw") && !stderr(&out).contains("cl-pw"));
    for i in 0..3 {
        assert_eq!(
            cluster.keys(i, "myapp:session:*"),
            BTreeSet::new(),
            "node {i}"
        );
    }
    assert_eq!(cluster.all_keys(), set(&canaries));

    // Seeds as whole URLs, the password in the first: a second run finds nothing.
    let seeds = format!(
        "redis://:cl-pw@127.0.0.1:{dead},redis://127.0.0.1:{}",
        port(0)
    );
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &seeds), 0);
    // The canaries look like sessions of other apps: named on every primary's keys, and
    // no success line (see elsewhere.rs).
    assert_eq!(
        stdout(&out),
        cluster_lines(
            &format!(
                "redis://:****@127.0.0.1:{dead},redis://127.0.0.1:{}",
                port(0)
            ),
            3,
            0
        )
        .replace("✓ Sessions cleared successfully\n", "")
    );
    out.warns(&[
        "but 12 keys match other:session:*",
        "but 12 keys match xmyapp:session:*",
    ]);
    assert_eq!(cluster.all_keys(), set(&canaries));

    // The JSON report says it is a cluster too.
    cluster.plant(&keys("myapp:session:", 7));
    let out = run(
        p.cmd()
            .args(["--format", "json", "clear", "-f"])
            .env("REDIS_URL", cluster.url(1)),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["cluster_primaries"], 3, "{report}");
    assert_eq!(report["cleared"], 7, "{report}");
    assert_eq!(
        report["url"],
        format!("redis://:****@127.0.0.1:{}", port(1)),
        "{report}"
    );
    assert_eq!(cluster.all_keys(), set(&canaries));
}

/// Keys of a slot in the middle of a migration sit on both its nodes: those found on the
/// importing node are answered MOVED there (it does not own the slot), then ASK by the
/// owner (it no longer has them); the tool follows both and deletes them all in one run.
#[test]
fn cluster_keys_of_a_slot_being_migrated_are_cleared_through_moved_and_ask() {
    let Some(cluster) = RedisCluster::start("cluster_slot_being_migrated", 3, Some("mig-pw"))
    else {
        return;
    };
    let tagged = keys("myapp:session:{user42}:", 40);
    let slot = cluster.slots_of(&tagged[..1])[0];
    let from = cluster.owners()[slot as usize];
    let to = (from + 1) % 3;
    let spread = keys("myapp:session:", 1000);
    let canaries = canaries("{user42}");
    cluster.plant(&spread);
    cluster.plant(&tagged);
    cluster.plant(&canaries);

    cluster.begin_migration(slot, from, to);
    assert_eq!(cluster.migrate_keys(slot, from, to, 20), 20);
    let on = |node: usize| cluster.keys(node, "myapp:session:{user42}:*").len();
    assert!(
        on(from) > 0 && on(to) > 0,
        "the slot's sessions are on both nodes: {} and {}",
        on(from),
        on(to)
    );

    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("REDIS_URL", cluster.url(to)),
        0,
    );
    let shown = format!("redis://:****@127.0.0.1:{}", cluster.nodes[to].port);
    assert_eq!(stdout(&out), cluster_lines(&shown, 3, 1040));
    assert_eq!(cluster.all_keys(), set(&canaries));
    assert_eq!(
        cluster.count_in_slot(to, slot) + cluster.count_in_slot(from, slot),
        2
    );
}

/// A slot moves to another primary while a run is under way (the run is held up on a third
/// primary with CLIENT PAUSE WRITE): the run sees the layout change, fails saying how many
/// it cleared and to run again, and the second run, on the new layout, clears the rest and
/// no canary.
#[test]
fn cluster_slot_moved_during_a_run_is_reported_and_a_second_run_clears_the_rest() {
    let Some(cluster) = RedisCluster::start("cluster_slot_moved_during_a_run", 3, Some("rs-pw"))
    else {
        return;
    };
    let (a, b, c) = (0, 1, 2);
    // A tag whose slot node a owns.
    let tags: Vec<String> = (0..200).map(|i| format!("{{t{i}}}")).collect();
    let probes: Vec<String> = tags.iter().map(|t| format!("x{t}")).collect();
    let owners = cluster.owners();
    let (tag, slot) = tags
        .iter()
        .zip(cluster.slots_of(&probes))
        .find(|(_, slot)| owners[*slot as usize] == a)
        .expect("a tag in a slot of node a");
    let tagged = keys(&format!("myapp:session:{tag}:"), 30);
    let spread = keys("myapp:session:", 600);
    let canaries = canaries(tag);
    let per_node = cluster.plant(&spread);
    assert!(per_node[c] > 0, "{per_node:?}");
    cluster.plant(&tagged);
    cluster.plant(&canaries);
    let planted = spread.len() + tagged.len();

    // Hold every write on node c, start the run, and wait until it has read the layout.
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query::<()>(&mut cluster.con(c))
        .expect("CLIENT PAUSE");
    let p = Project::new();
    let mut clearing = ClearUnderWay::start(&p, &cluster.url(a));

    // Move the slot from a to b, with its keys, as a resharding does; then let c go on.
    cluster.begin_migration(slot, a, b);
    cluster.migrate_keys(slot, a, b, 1000);
    for node in [b, a] {
        redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg("NODE")
            .arg(&cluster.nodes[b].id)
            .query::<()>(&mut cluster.con(node))
            .expect("CLUSTER SETSLOT NODE");
    }
    redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query::<()>(&mut cluster.con(c))
        .expect("CLIENT UNPAUSE");

    let (code, shown, err) = clearing.finish();
    assert_eq!(code, Some(1), "{shown}\n{err}");
    assert!(!shown.contains("Cleared"), "{shown}");
    let remaining = (0..3)
        .map(|i| cluster.keys(i, "myapp:session:*").len())
        .sum::<usize>();
    let cleared = planted - remaining;
    assert!(
        err.contains(&format!(
            "error: the slots of the Redis Cluster at `redis://:****@127.0.0.1:{}` moved between shards while {cleared} session(s) were cleared (a resharding), so keys that moved may have been missed; run the command again to clear the rest\n",
            cluster.nodes[a].port
        )),
        "{err}"
    );

    // New sessions land in the moved slot (now on b); the second run clears them and
    // whatever the first left.
    let late = keys(&format!("myapp:session:{tag}:late:"), 10);
    let per_node = cluster.plant(&late);
    assert_eq!(per_node[b], late.len());
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("REDIS_URL", cluster.url(a)),
        0,
    );
    assert_eq!(
        stdout(&out),
        cluster_lines(
            &format!("redis://:****@127.0.0.1:{}", cluster.nodes[a].port),
            3,
            remaining + late.len()
        )
    );
    assert_eq!(cluster.all_keys(), set(&canaries));
}

#[test]
fn cluster_unreachable_primary_is_named_and_nothing_is_cleared() {
    let Some(mut cluster) = RedisCluster::start("cluster_unreachable_primary", 3, Some("down-pw"))
    else {
        return;
    };
    let per_node = cluster.plant(&keys("myapp:session:", 300));
    cluster.kill(2);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("REDIS_URL", cluster.url(0)),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot connect to the Redis Cluster primary `redis://:****@127.0.0.1:{}` (nothing was cleared): ",
            cluster.nodes[2].port
        )),
        "{err}"
    );
    assert!(
        err.contains("every primary must be reachable from here"),
        "{err}"
    );
    assert!(!err.contains("down-pw") && !stdout(&out).contains("down-pw"));
    assert!(!stdout(&out).contains("Cleared"), "{}", stdout(&out));
    for (i, &planted) in per_node.iter().enumerate().take(2) {
        assert_eq!(
            cluster.keys(i, "myapp:session:*").len(),
            planted,
            "node {i}"
        );
    }
}

#[test]
fn several_seeds_of_a_standalone_server_are_refused() {
    let Some(server) = RedisServer::start("several_seeds_standalone") else {
        return;
    };
    server.plant(0, "myapp:session:", 5);
    let p = Project::new();
    let url = format!("redis://127.0.0.1:{0},127.0.0.1:{0}", server.port);
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    out.warns(&[&format!(
            "error: REDIS_URL names 2 Redis nodes, but `redis://127.0.0.1:{}` is not in cluster mode (cluster_enabled:0); give the URL of one standalone server, or nodes of one Redis Cluster\n",
            server.port
        )]);
    assert_eq!(server.dbsize(0), 5);
}

#[test]
fn seeds_none_of_which_answer_are_each_named_masked() {
    let (d1, d2) = (free_port(), free_port());
    let p = Project::new();
    let url = format!("redis://:seed-pw@127.0.0.1:{d1},127.0.0.1:{d2}");
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot connect to any Redis node in REDIS_URL (`redis://:****@127.0.0.1:{d1}`: "
        )) && err.contains(&format!(", `redis://:****@127.0.0.1:{d2}`: ")),
        "{err}"
    );
    assert!(
        err.contains("; check that the servers are running"),
        "{err}"
    );
    assert!(!err.contains("seed-pw"));

    // A password in a later URL of a list is refused before connecting, masked.
    let url = format!("redis://:one-pw@127.0.0.1:{d1},redis://:two-pw@127.0.0.1:{d2}");
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let err = stderr(&out);
    assert!(
        err.contains("URL number 2 of the list has a user or password"),
        "{err}"
    );
    assert!(!err.contains("one-pw") && !err.contains("two-pw"), "{err}");
}

#[test]
fn a_redis_user_without_info_is_told_to_allow_it() {
    let Some(server) = RedisServer::start("redis_user_without_info") else {
        return;
    };
    server.plant(0, "myapp:session:", 4);
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("sessions")
        .arg("on")
        .arg(">limited-pw")
        .arg("~*")
        .arg("+scan")
        .arg("+unlink")
        .query::<()>(&mut server.con(0))
        .expect("ACL SETUSER");
    let p = Project::new();
    let url = format!("redis://sessions:limited-pw@127.0.0.1:{}", server.port);
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `redis://sessions:****@127.0.0.1:{}` refused the tool's commands: ",
            server.port
        )) && err
            .contains("the Redis user may not run `info`; grant it (ACL SETUSER <user> +info)"),
        "{err}"
    );
    assert!(!err.contains("limited-pw"));
    assert_eq!(server.dbsize(0), 4);
}

/// A cluster that speaks TLS only (clients, cluster bus and replication), each primary with
/// a replica, and clients must show a certificate the private CA signed: cleared through
/// rediss:// with SSL_CERT_FILE trusting the CA and the client certificate from
/// REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE.
#[test]
fn cluster_over_tls_with_client_certificates_clears_every_primary() {
    let test = "cluster_over_tls";
    let Some(certs) = Certs::make(test) else {
        return;
    };
    let options = Options {
        password: Some("tls-cl-pw"),
        replicas: true,
        tls: Some(&certs),
        auth_clients: true,
        ..Options::default()
    };
    let Some(cluster) = RedisCluster::start_with(test, 3, options) else {
        return;
    };
    let sessions = keys("myapp:session:", 2000);
    let canaries = canaries("{tls}");
    let per_node = cluster.plant(&sessions);
    assert!(per_node[..3].iter().all(|&n| n > 0), "{per_node:?}");
    cluster.plant(&canaries);
    let url = cluster.url(1);
    assert!(url.starts_with("rediss://:tls-cl-pw@127.0.0.1:"), "{url}");
    let shown = format!("rediss://:****@127.0.0.1:{}", cluster.nodes[1].port);
    let p = Project::new();
    let cmd = || {
        let mut cmd = p.cmd();
        for var in [
            "SSL_CERT_DIR",
            "REDIS_TLS_CERT_FILE",
            "REDIS_TLS_KEY_FILE",
            "REDIS_TLS_CA_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(["clear", "-f"])
            .env("REDIS_URL", &url)
            .env("SSL_CERT_FILE", &certs.ca);
        cmd
    };

    // No client certificate: refused, saying what to set; nothing is deleted.
    let out = run(&mut cmd(), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `{shown}` wants a TLS client certificate ("
        )) && err.contains("; set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE"),
        "{err}"
    );
    assert!(!err.contains("tls-cl-pw"), "{err}");
    assert_eq!(cluster.all_keys().len(), sessions.len() + canaries.len());

    // A client certificate signed by another CA: refused with the certificate's message;
    // nothing is deleted.
    let Some(other) = Certs::make(test) else {
        return;
    };
    let out = run(
        cmd()
            .env("REDIS_TLS_CERT_FILE", &other.client_cert)
            .env("REDIS_TLS_KEY_FILE", &other.client_key),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `{shown}` refused the TLS client certificate in REDIS_TLS_CERT_FILE ("
        )) && err.contains(
            "); use a certificate and key signed by a CA the server trusts (its tls-ca-cert-file)\n"
        ),
        "{err}"
    );
    assert!(!err.contains("tls-cl-pw"), "{err}");
    assert!(!stdout(&out).contains("Cleared"));
    assert_eq!(cluster.all_keys().len(), sessions.len() + canaries.len());

    let out = run(
        cmd()
            .env("REDIS_TLS_CERT_FILE", &certs.client_cert)
            .env("REDIS_TLS_KEY_FILE", &certs.client_key),
        0,
    );
    assert_eq!(stdout(&out), cluster_lines(&shown, 3, 2000));
    assert!(!stdout(&out).contains("tls-cl-pw") && !stderr(&out).contains("tls-cl-pw"));
    for i in 0..cluster.nodes.len() {
        assert_eq!(
            cluster.keys(i, "myapp:session:*"),
            BTreeSet::new(),
            "node {i}"
        );
    }
    assert_eq!(cluster.all_keys(), set(&canaries));
}

/// A replica takes over from its primary (CLUSTER FAILOVER) while a run is under way: the
/// run sees the same slot ranges under a new primary, clears that shard again there, and
/// finishes with an exact count, every session key gone and every canary kept.
#[test]
fn cluster_failover_during_a_run_is_followed_and_the_run_finishes() {
    let Some((cluster, sessions, canaries)) =
        failover_cluster("cluster_failover_during_a_run", 100_000)
    else {
        return;
    };
    let (old, new) = (0, 3);
    let p = Project::new();
    let mut run = ClearUnderWay::start(&p, &cluster.url(1));

    // The replica takes over; wait until the seed knows it.
    redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query::<()>(&mut cluster.con(new))
        .expect("CLUSTER FAILOVER");
    wait_promoted(&cluster, new);
    // Sessions made on the new primary meanwhile, in the shard that failed over.
    let late: Vec<String> = keys("myapp:session:late:", 300);
    let slots = cluster.slots_of(&late);
    let late: Vec<String> = late
        .into_iter()
        .zip(slots)
        .filter(|(_, slot)| usize::from(*slot) < 16384 / 3)
        .map(|(key, _)| key)
        .collect();
    let mut pipe = redis::pipe();
    for key in &late {
        pipe.cmd("SET").arg(key).arg("{}").ignore();
    }
    pipe.query::<()>(&mut cluster.con(new))
        .expect("SET late keys");
    redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query::<()>(&mut cluster.con(old))
        .expect("CLIENT UNPAUSE");

    let (code, shown, err) = run.finish();
    assert_eq!(code, Some(0), "{shown}\n{err}");
    assert!(
        shown.ends_with(&format!(
            "Cleared {} session(s)\n✓ Sessions cleared successfully\n",
            sessions.len() + late.len()
        )),
        "{shown}\n{err}"
    );
    for i in 0..cluster.nodes.len() {
        assert_eq!(
            cluster.keys(i, "myapp:session:*"),
            BTreeSet::new(),
            "node {i}"
        );
    }
    assert_eq!(cluster.all_keys(), set(&canaries));
}

/// A primary dies while a run is under way on it and its replica takes over: the failure of
/// the dead primary is not the run's, since its shard is cleared again on the new one; the
/// run finishes with an exact count. (A run that kept that failure would exit 1.)
#[test]
fn cluster_primary_killed_during_a_run_is_replaced_and_the_run_finishes() {
    let Some((mut cluster, sessions, _)) =
        failover_cluster("cluster_primary_killed_during_a_run", 30_000)
    else {
        return;
    };
    let (old, new) = (0, 3);
    let p = Project::new();
    let mut run = ClearUnderWay::start(&p, &cluster.url(1));
    cluster.kill(old);
    redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .arg("TAKEOVER")
        .query::<()>(&mut cluster.con(new))
        .expect("CLUSTER FAILOVER TAKEOVER");
    wait_promoted(&cluster, new);

    let (code, shown, err) = run.finish();
    assert_eq!(code, Some(0), "{shown}\n{err}");
    assert!(
        shown.ends_with(&format!(
            "Cleared {} session(s)\n✓ Sessions cleared successfully\n",
            sessions.len()
        )),
        "{shown}\n{err}"
    );
    for i in 1..cluster.nodes.len() {
        assert_eq!(
            cluster.keys(i, "myapp:session:*"),
            BTreeSet::new(),
            "node {i}"
        );
    }
}

/// Three primaries, node 3 the replica of node 0, holding `n` session keys on every primary
/// and the canaries; every write held on node 0 (`CLIENT PAUSE WRITE`), so that a run is
/// still under way there when node 3 takes over. The cluster, the sessions and the canaries.
fn failover_cluster(test: &str, n: usize) -> Option<(RedisCluster, Vec<String>, Vec<String>)> {
    let cluster = RedisCluster::start_with(
        test,
        3,
        Options {
            password: Some("fo-pw"),
            replicas: true,
            ..Options::default()
        },
    )?;
    assert_eq!(cluster.nodes[3].replica_of, Some(0));
    let sessions = keys("myapp:session:", n);
    let canaries = canaries("{fo}");
    let per_node = cluster.plant(&sessions);
    assert!(per_node[..3].iter().all(|&n| n > 0), "{per_node:?}");
    cluster.plant(&canaries);
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query::<()>(&mut cluster.con(0))
        .expect("CLIENT PAUSE");
    Some((cluster, sessions, canaries))
}

/// `clear -f` against a cluster, started and read until it has begun clearing.
struct ClearUnderWay {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    shown: String,
}

impl ClearUnderWay {
    fn start(p: &Project, url: &str) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("azu-session"))
            .args(["clear", "-f"])
            .current_dir(p.root())
            .env_remove("SESSION_BACKEND")
            .env_remove("AZU_ENV")
            .env("REDIS_URL", url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start azu-session");
        let mut out = BufReader::new(child.stdout.take().expect("the child's stdout"));
        let mut shown = String::new();
        while !shown.contains("Clearing Redis sessions with pattern:") {
            let n = out.read_line(&mut shown).expect("read the child's stdout");
            assert!(n > 0, "the run ended early:\n{shown}");
        }
        assert!(shown.contains("Redis Cluster: 3 primaries\n"), "{shown}");
        ClearUnderWay { child, out, shown }
    }

    /// Wait for the run: its exit code, stdout and stderr.
    fn finish(&mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().expect("wait for azu-session");
        let mut shown = std::mem::take(&mut self.shown);
        self.out.read_to_string(&mut shown).expect("read the rest");
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr
                .read_to_string(&mut err)
                .expect("read the child's stderr");
        }
        (status.code(), shown, err)
    }
}

/// Wait until node `new` is a primary holding slots, as node 1 sees it.
fn wait_promoted(cluster: &RedisCluster, new: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let id = cluster.nodes[new].id.clone();
    loop {
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut cluster.con(1))
            .expect("CLUSTER NODES");
        let promoted = nodes
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("master") && l.contains("connected 0-"));
        if promoted {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failover:\n{nodes}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A prefix holding glob characters is matched literally on every primary: the SCAN pattern
/// escapes them, so keys the unescaped glob would also match are kept.
#[test]
fn cluster_clear_takes_a_glob_prefix_literally() {
    let Some(cluster) = RedisCluster::start("cluster_glob_prefix", 3, None) else {
        return;
    };
    let p = Project::new();
    // (prefix, keys the raw pattern `{prefix}*` would match too, but that must stay)
    let cases: [(&str, &[&str]); 3] = [
        ("a*b:", &["aXb:", "ab:", "a-long-b:", "a*bb:"]),
        ("s[1]:", &["s1:", "s1:x", "s[1]x:"]),
        (r"q?\z:", &["qX\\z:", "q?z:", "qz\\z:"]),
    ];
    for (prefix, decoys) in cases {
        let sessions = keys(prefix, 60);
        let decoys: Vec<String> = decoys.iter().flat_map(|d| keys(d, 20)).collect();
        let per_node = cluster.plant(&sessions);
        assert!(per_node.iter().all(|&n| n > 0), "{prefix}: {per_node:?}");
        let per_node = cluster.plant(&decoys);
        assert!(per_node.iter().all(|&n| n > 0), "{prefix}: {per_node:?}");

        let out = run(
            p.cmd()
                .args(["clear", "-f", "--prefix", prefix])
                .env("REDIS_URL", cluster.url(0)),
            0,
        );
        assert!(
            stdout(&out).contains("Cleared 60 session(s)\n"),
            "{prefix}: {}",
            stdout(&out)
        );
        assert_eq!(cluster.all_keys(), set(&decoys), "{prefix}");
        for i in 0..3 {
            redis::cmd("FLUSHALL")
                .query::<()>(&mut cluster.con(i))
                .expect("FLUSHALL");
        }
    }
}

/// The progress of a cluster clear counts the keys as every primary's batches land: never
/// stuck at 0, never past the total.
#[test]
fn cluster_progress_counts_the_batches() {
    let test = "cluster_progress_counts_the_batches";
    if !crate::support::servers::have_binary("script", test) {
        return;
    }
    let Some(cluster) = RedisCluster::start(test, 3, None) else {
        return;
    };
    let sessions = keys("myapp:session:", 300_000);
    cluster.plant(&sessions);
    let p = Project::new();
    let url = cluster.url(0);
    let screen = crate::support::run::under_terminal(
        &p,
        "clear -f --prefix myapp:session:",
        &[("REDIS_URL", url.as_str())],
        "",
    );
    assert!(screen.contains("Cleared 300000 session(s)"), "{screen}");
    // The text before the first display is not a count.
    let counts = &crate::redis_targets::progress_counts(&screen, "cleared")[1..];
    assert!(!counts.is_empty(), "no progress shown: {screen}");
    assert!(
        counts.iter().any(|&n| n > 0) && counts.iter().all(|&n| n <= 300_000),
        "{counts:?}"
    );
    assert_eq!(cluster.all_keys(), BTreeSet::new());
}
