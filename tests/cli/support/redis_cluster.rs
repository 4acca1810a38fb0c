//! A private Redis Cluster per test: `n` primaries (`redis-server --cluster-enabled yes`) on
//! free loopback ports, every one of the 16384 slots assigned, killed when dropped. Keys
//! are planted on the primary owning their slot, and slots can be migrated between
//! primaries the way `redis-cli --cluster reshard` does it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::redis::{url_for, wait_ready};
use super::servers::{free_port, have_binary};

pub const SLOTS: usize = 16384;

pub struct RedisCluster {
    pub nodes: Vec<ClusterNode>,
    password: Option<String>,
    pub dir: TempDir,
}

pub struct ClusterNode {
    pub port: u16,
    /// The node's cluster id (CLUSTER MYID).
    pub id: String,
    child: Option<Child>,
}

impl RedisCluster {
    /// Start a cluster of `n` primaries, node `i` owning the `i`-th `n`th of the slots; or
    /// `None` (outside CI) when redis-server is not installed.
    pub fn start(test: &str, n: usize, password: Option<&str>) -> Option<Self> {
        if !have_binary("redis-server", test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            password: password.map(str::to_string),
            dir,
        };
        let mut buses = Vec::new();
        for _ in 0..n {
            let (node, bus) = spawn_node(test, cluster.dir.path(), password);
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
        Some(cluster)
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
        url_for(self.password.as_deref(), self.nodes[i].port, 0)
    }

    pub fn con(&self, i: usize) -> redis::Connection {
        redis::Client::open(self.url(i))
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
            let (lo, hi, primary): (usize, usize, Vec<redis::Value>) =
                redis::from_redis_value(range).expect("a CLUSTER SLOTS range");
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

/// Start one cluster-enabled node; its port and cluster bus port are free loopback ports.
fn spawn_node(test: &str, dir: &Path, password: Option<&str>) -> (ClusterNode, u16) {
    for _ in 0..5 {
        let port = free_port();
        let bus = free_port();
        if bus == port {
            continue;
        }
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
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
        if let Some(pw) = password {
            cmd.args(["--requirepass", pw, "--masterauth", pw]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        if wait_ready(&mut child, &url_for(password, port, 0)) {
            let node = ClusterNode {
                port,
                id: String::new(),
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
