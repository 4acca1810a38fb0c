//! A private Redis Cluster per test: `n` primaries (`redis-server --cluster-enabled yes`) on
//! free loopback ports, every one of the 16384 slots assigned, killed when dropped; with
//! [`Options`], each primary with a replica, and every node speaking TLS only (its cluster
//! bus and replication too). Keys are planted on the primary owning their slot, and slots
//! can be migrated between primaries the way `redis-cli --cluster reshard` does it. The
//! test's own connections go through each node's unix socket.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::redis::{url_for, wait_ready};
use super::servers::{free_port, have_binary};
use super::tls::Certs;

pub const SLOTS: usize = 16384;

pub struct RedisCluster {
    pub nodes: Vec<ClusterNode>,
    password: Option<String>,
    tls: bool,
    pub dir: TempDir,
}

pub struct ClusterNode {
    /// The port clients use (over TLS, the TLS port).
    pub port: u16,
    /// The node's cluster id (CLUSTER MYID).
    pub id: String,
    /// For a replica, the index of its primary.
    pub replica_of: Option<usize>,
    socket: PathBuf,
    child: Option<Child>,
}

/// How a cluster is made beyond its primaries.
#[derive(Default, Clone, Copy)]
pub struct Options<'a> {
    pub password: Option<&'a str>,
    /// Give each primary one replica: node `n + i` replicates node `i`.
    pub replicas: bool,
    /// Speak TLS only, with these certificates; clients must show a certificate the CA
    /// signed when `auth_clients`.
    pub tls: Option<&'a Certs>,
    pub auth_clients: bool,
    /// More `redis-server` arguments for every node (e.g. `--rename-command`).
    pub extra: &'a [&'a str],
}

impl RedisCluster {
    /// Start a cluster of `n` primaries, node `i` owning the `i`-th `n`th of the slots; or
    /// `None` (outside CI) when redis-server is not installed.
    pub fn start(test: &str, n: usize, password: Option<&str>) -> Option<Self> {
        Self::start_with(
            test,
            n,
            Options {
                password,
                ..Options::default()
            },
        )
    }

    pub fn start_with(test: &str, n: usize, options: Options<'_>) -> Option<Self> {
        if !have_binary("redis-server", test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            password: options.password.map(str::to_string),
            tls: options.tls.is_some(),
            dir,
        };
        let mut buses = Vec::new();
        for _ in 0..n {
            let (node, bus) = spawn_node(test, cluster.dir.path(), &options);
            cluster.nodes.push(node);
            buses.push(bus);
        }
        for i in 0..n {
            let mut con = cluster.con(i);
            let (lo, hi) = (i * SLOTS / n, (i + 1) * SLOTS / n - 1);
            redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(lo)
                .arg(hi)
                .query::<()>(&mut con)
                .expect("CLUSTER ADDSLOTSRANGE");
            redis::cmd("CLUSTER")
                .arg("SET-CONFIG-EPOCH")
                .arg(i + 1)
                .query::<()>(&mut con)
                .expect("CLUSTER SET-CONFIG-EPOCH");
            cluster.nodes[i].id = redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut con)
                .expect("CLUSTER MYID");
        }
        let mut first = cluster.con(0);
        for (node, bus) in cluster.nodes.iter().zip(&buses).skip(1) {
            redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(node.port)
                .arg(*bus)
                .query::<()>(&mut first)
                .expect("CLUSTER MEET");
        }
        cluster.wait_until_agreed(test);
        if options.replicas {
            cluster.add_replicas(test, &options);
        }
        Some(cluster)
    }

    /// Start a replica for each primary, introduce it to the cluster, make it replicate its
    /// primary, and wait until every replica has synchronised and every node agrees.
    fn add_replicas(&mut self, test: &str, options: &Options<'_>) {
        let n = self.nodes.len();
        for i in 0..n {
            let (mut node, bus) = spawn_node(test, self.dir.path(), options);
            node.replica_of = Some(i);
            redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(node.port)
                .arg(bus)
                .query::<()>(&mut self.con(0))
                .expect("CLUSTER MEET");
            self.nodes.push(node);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for r in n..2 * n {
            let primary = self.nodes[r - n].id.clone();
            // The replica must know its primary first: retry while gossip spreads.
            loop {
                let done = redis::cmd("CLUSTER")
                    .arg("REPLICATE")
                    .arg(&primary)
                    .query::<()>(&mut self.con(r));
                if done.is_ok() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{test}: CLUSTER REPLICATE: {done:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            self.nodes[r].id = redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut self.con(r))
                .expect("CLUSTER MYID");
        }
        loop {
            let synced = (n..2 * n).all(|r| {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut self.con(r))
                    .expect("INFO replication");
                info.lines().any(|l| l.trim() == "master_link_status:up")
            });
            let agreed = (0..2 * n).all(|i| {
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query(&mut self.con(i))
                    .expect("CLUSTER NODES");
                with_flag(&nodes, "slave") == n && with_flag(&nodes, "master") == n
            });
            if synced && agreed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{test}: the replicas did not synchronise in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until every node says `cluster_state:ok` and knows every primary.
    fn wait_until_agreed(&self, test: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let n = self.nodes.len();
        loop {
            let agreed = (0..n).all(|i| {
                let mut con = self.con(i);
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut con)
                    .expect("CLUSTER INFO");
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query(&mut con)
                    .expect("CLUSTER NODES");
                info.lines().any(|l| l.trim() == "cluster_state:ok")
                    && nodes.lines().filter(|l| l.contains("master")).count() == n
            });
            if agreed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{test}: the cluster did not reach cluster_state:ok in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL of node `i`, as the tool is given it.
    pub fn url(&self, i: usize) -> String {
        let url = url_for(self.password.as_deref(), self.nodes[i].port, 0);
        if self.tls {
            url.replacen("redis://", "rediss://", 1)
        } else {
            url
        }
    }

    /// A connection to node `i` through its unix socket.
    pub fn con(&self, i: usize) -> redis::Connection {
        redis::Client::open(socket_url(&self.nodes[i].socket, self.password.as_deref()))
            .expect("a valid Redis URL")
            .get_connection()
            .expect("connect to a cluster node")
    }

    /// The slot of each key, as the cluster computes it.
    pub fn slots_of(&self, keys: &[String]) -> Vec<u16> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("CLUSTER").arg("KEYSLOT").arg(key);
        }
        pipe.query(&mut self.con(0)).expect("CLUSTER KEYSLOT")
    }

    /// The node owning each slot, from node 0's CLUSTER SLOTS.
    pub fn owners(&self) -> Vec<usize> {
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.con(0))
            .expect("CLUSTER SLOTS");
        let mut owners = vec![usize::MAX; SLOTS];
        for range in ranges {
            // The range, its primary, then its replicas.
            let range: Vec<redis::Value> =
                redis::from_redis_value(range).expect("a CLUSTER SLOTS range");
            let (lo, hi, primary): (usize, usize, Vec<redis::Value>) =
                redis::from_redis_value(redis::Value::Array(range[..3].to_vec()))
                    .expect("a CLUSTER SLOTS range");
            let port: u16 =
                redis::from_redis_value(primary[1].clone()).expect("a CLUSTER SLOTS port");
            let node = self
                .nodes
                .iter()
                .position(|n| n.port == port)
                .expect("a known node");
            owners[lo..=hi].fill(node);
        }
        owners
    }

    /// SET each key (value `{"user_id":1}`) on the primary owning its slot; returns how
    /// many went to each node.
    pub fn plant(&self, keys: &[String]) -> Vec<usize> {
        let slots = self.slots_of(keys);
        let owners = self.owners();
        let mut pipes: Vec<redis::Pipeline> = self.nodes.iter().map(|_| redis::pipe()).collect();
        let mut per_node = vec![0; self.nodes.len()];
        for (key, slot) in keys.iter().zip(slots) {
            let node = owners[slot as usize];
            pipes[node]
                .cmd("SET")
                .arg(key)
                .arg("{\"user_id\":1}")
                .ignore();
            per_node[node] += 1;
        }
        for (i, pipe) in pipes.iter().enumerate() {
            if per_node[i] > 0 {
                pipe.query::<()>(&mut self.con(i)).expect("plant keys");
            }
        }
        per_node
    }

    /// The keys node `i` holds that match `pattern` (SCAN: any node answers for its own).
    pub fn keys(&self, i: usize, pattern: &str) -> BTreeSet<String> {
        super::redis::scan_match::<String>(&mut self.con(i), pattern)
            .into_iter()
            .collect()
    }

    /// Every key on every node.
    pub fn all_keys(&self) -> BTreeSet<String> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].child.is_some())
            .flat_map(|i| self.keys(i, "*"))
            .collect()
    }

    /// How many keys of `slot` node `i` holds.
    pub fn count_in_slot(&self, i: usize, slot: u16) -> usize {
        redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(slot)
            .query(&mut self.con(i))
            .expect("CLUSTER COUNTKEYSINSLOT")
    }

    /// Start moving `slot` from node `from` to node `to` (IMPORTING on `to`, MIGRATING on
    /// `from`), as `redis-cli --cluster reshard` does.
    pub fn begin_migration(&self, slot: u16, from: usize, to: usize) {
        let setslot = |node: usize, state: &str, id: &str| {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(state)
                .arg(id)
                .query::<()>(&mut self.con(node))
                .expect("CLUSTER SETSLOT");
        };
        setslot(to, "IMPORTING", &self.nodes[from].id);
        setslot(from, "MIGRATING", &self.nodes[to].id);
    }

    /// MIGRATE up to `n` of the keys of `slot` from node `from` to node `to`; how many moved.
    pub fn migrate_keys(&self, slot: u16, from: usize, to: usize, n: usize) -> usize {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(n)
            .query(&mut self.con(from))
            .expect("CLUSTER GETKEYSINSLOT");
        if keys.is_empty() {
            return 0;
        }
        let mut migrate = redis::cmd("MIGRATE");
        migrate
            .arg("127.0.0.1")
            .arg(self.nodes[to].port)
            .arg("")
            .arg(0)
            .arg(5000);
        if let Some(pw) = &self.password {
            migrate.arg("AUTH").arg(pw);
        }
        migrate
            .arg("KEYS")
            .arg(&keys)
            .query::<()>(&mut self.con(from))
            .expect("MIGRATE");
        keys.len()
    }

    /// Give `slot` to node `to` on every node (the new owner first), ending its migration.
    pub fn end_migration(&self, slot: u16, to: usize) {
        let mut order: Vec<usize> = vec![to];
        order.extend((0..self.nodes.len()).filter(|&i| i != to));
        for i in order {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("NODE")
                .arg(&self.nodes[to].id)
                .query::<()>(&mut self.con(i))
                .expect("CLUSTER SETSLOT NODE");
        }
    }

    /// Stop node `i` (its peers still list it as the primary of its slots).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How many nodes of a CLUSTER NODES listing have `flag`.
fn with_flag(nodes: &str, flag: &str) -> usize {
    nodes
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|flags| flags.split(',').any(|f| f == flag))
        })
        .count()
}

fn socket_url(socket: &Path, password: Option<&str>) -> String {
    let pass = password.map(|p| format!("?pass={p}")).unwrap_or_default();
    format!("redis+unix://{}{pass}", socket.display())
}

/// Start one cluster-enabled node; its port and cluster bus port are free loopback ports.
fn spawn_node(test: &str, dir: &Path, options: &Options<'_>) -> (ClusterNode, u16) {
    for _ in 0..5 {
        let port = free_port();
        let bus = free_port();
        if bus == port {
            continue;
        }
        let socket = dir.join(format!("node-{port}.sock"));
        let mut cmd = Command::new("redis-server");
        match options.tls {
            None => {
                cmd.args(["--port", &port.to_string()]);
            }
            Some(certs) => {
                let auth = if options.auth_clients { "yes" } else { "no" };
                cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                    .args(["--tls-cluster", "yes", "--tls-replication", "yes"])
                    .arg("--tls-cert-file")
                    .arg(&certs.cert)
                    .arg("--tls-key-file")
                    .arg(&certs.key)
                    .arg("--tls-client-cert-file")
                    .arg(&certs.client_cert)
                    .arg("--tls-client-key-file")
                    .arg(&certs.client_key)
                    .arg("--tls-ca-cert-file")
                    .arg(&certs.ca)
                    .args(["--tls-auth-clients", auth]);
            }
        }
        cmd.args(["--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--unixsocketperm", "700"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus.to_string(),
            ])
            .arg("--cluster-config-file")
            .arg(dir.join(format!("nodes-{port}.conf")))
            .args(["--cluster-node-timeout", "5000"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir);
        if let Some(pw) = options.password {
            cmd.args(["--requirepass", pw, "--masterauth", pw]);
        }
        cmd.args(options.extra);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        if wait_ready(&mut child, &socket_url(&socket, options.password)) {
            let node = ClusterNode {
                port,
                id: String::new(),
                replica_of: None,
                socket,
                child: Some(child),
            };
            return (node, bus);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{test}: a cluster node did not start");
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
