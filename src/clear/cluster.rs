//! Clearing the session keys of a Redis Cluster.
//!
//! A cluster spreads keys over its primaries by hash slot, and SCAN only walks the node it
//! is sent to. So the primaries are read from the cluster itself (`CLUSTER NODES`, asked of
//! the seed that answered), each is connected to directly with the seed URL's scheme, user
//! and password, and each is scanned to the end of its own cursor, all at once. A batch's
//! keys are unlinked one `UNLINK` per hash slot (a multi-key command across slots fails with
//! CROSSSLOT), pipelined.
//!
//! Slots can move while this runs (a resharding, a failover):
//!
//! - an `UNLINK` answered with MOVED or ASK is sent where the answer points (with `ASKING`
//!   for ASK), up to [`MAX_REDIRECTS`] times; one answered with TRYAGAIN (its keys are split
//!   between the two nodes of a slot being migrated) is retried one key at a time. The count
//!   is what the nodes said they deleted.
//! - a key moved by a migration from a primary not yet scanned to one already scanned is not
//!   seen. So the cluster's slot layout is read again at the end: if it changed, the run
//!   fails with how many were cleared, and says to run again; a second run, on the new
//!   layout, finishes the job.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use redis::aio::MultiplexedConnection;
use redis::cluster_routing::Slot;
use redis::{ErrorKind, RedisError, ServerErrorKind};

use super::Stop;
use super::redis::{ConnectFailure, open, pattern, scan};
use crate::error::{Error, Result};

/// How many MOVED or ASK answers one `UNLINK` may follow before the run gives up on it.
pub const MAX_REDIRECTS: usize = 5;

/// A Redis Cluster with a connection to each of its primaries.
pub struct Cluster {
    /// The URL of the seed that answered: the template for every node's URL.
    seed_url: String,
    seed_masked: String,
    seed_con: MultiplexedConnection,
    /// The slot layout when the primaries were found, to compare with the one at the end.
    layout: Layout,
    primaries: Vec<Primary>,
    /// Connections by `host:port` as the cluster names nodes, for MOVED and ASK answers.
    pool: RefCell<HashMap<String, MultiplexedConnection>>,
}

struct Primary {
    /// `host:port` as the cluster names it (in CLUSTER NODES and in MOVED answers).
    addr: String,
    masked: String,
    con: MultiplexedConnection,
}

/// What one primary's clear did: how many keys it deleted, and the error that stopped it.
type Outcome = (u64, Option<Failure>);

/// Why a primary's clear stopped: the server's words (key names cut out), and what would
/// fix it when running again would not.
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    fix: Option<String>,
}

impl Failure {
    fn of(e: &RedisError) -> Self {
        let (reason, fix) = super::redis::explain(e);
        Failure { reason, fix }
    }
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure { reason, fix: None }
    }
}

impl Cluster {
    /// Read the primaries from the seed behind `seed_con` and connect to every one of them;
    /// a primary that cannot be reached is an error naming it, before anything is deleted.
    pub async fn connect(seed_url: &str, mut seed_con: MultiplexedConnection) -> Result<Self> {
        let seed_masked = crate::url::mask(seed_url);
        let topology_error = |reason: String| Error::RedisTopology {
            url: seed_masked.clone(),
            reason,
        };
        if seed_url
            .split_once("://")
            .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().ends_with("unix"))
        {
            return Err(topology_error(
                "a cluster's primaries are reached over TCP, not through a unix socket; give a redis:// or rediss:// URL of a node".to_string(),
            ));
        }
        let nodes = read_nodes(&mut seed_con).await.map_err(topology_error)?;
        let tls = seed_url.to_ascii_lowercase().starts_with("rediss")
            || seed_url.to_ascii_lowercase().starts_with("valkeys");
        let mut wanted: Vec<(String, String)> = Vec::new();
        for node in nodes.iter().filter(|n| n.is_primary()) {
            let host = node.connect_host(tls);
            let url = node_url(seed_url, host, node.port).map_err(topology_error)?;
            wanted.push((node.addr(), url));
        }
        if wanted.is_empty() {
            return Err(topology_error("CLUSTER NODES lists no primary".to_string()));
        }
        wanted.sort();

        let connected = join_all(wanted.iter().map(|(_, url)| open(url)).collect()).await;
        let mut primaries = Vec::with_capacity(wanted.len());
        for ((addr, url), con) in wanted.into_iter().zip(connected) {
            let masked = crate::url::mask(&url);
            match con {
                Ok(mut con) => {
                    // The layout may be older than a failover: each must still be a primary.
                    super::redis::ensure_primary(&mut con, &masked).await?;
                    primaries.push(Primary { addr, masked, con })
                }
                Err(failure) => {
                    return Err(failure.into_error(masked, |url, reason| {
                        Error::RedisPrimaryConnect { url, reason }
                    }));
                }
            }
        }
        let pool = primaries
            .iter()
            .map(|p| (p.addr.clone(), p.con.clone()))
            .collect();
        Ok(Cluster {
            seed_url: seed_url.to_string(),
            seed_masked,
            seed_con,
            layout: layout(&nodes),
            primaries,
            pool: RefCell::new(pool),
        })
    }

    pub fn primaries(&self) -> usize {
        self.primaries.len()
    }

    /// Delete every key under `prefix` on every primary (or, with `dry_run`, count them).
    pub async fn clear(
        &self,
        prefix: &str,
        dry_run: bool,
        stop: &Stop,
        progress: impl FnMut(u64),
    ) -> Result<u64> {
        let pattern = pattern(prefix);
        let progress = RefCell::new(progress);
        let outcomes = join_all(
            self.primaries
                .iter()
                .map(|p| self.clear_primary(p, &pattern, dry_run, stop, &progress))
                .collect(),
        )
        .await;
        let cleared = outcomes.iter().map(|(n, _)| n).sum();
        if stop.requested() {
            // Every primary finished its batch in flight; the sum is what was deleted.
            return Err(Error::Interrupted { cleared, dry_run });
        }
        for (primary, (_, error)) in self.primaries.iter().zip(&outcomes) {
            if let Some(failure) = error {
                return Err(Error::Redis {
                    url: primary.masked.clone(),
                    cleared,
                    dry_run,
                    reason: failure.reason.clone(),
                    fix: failure.fix.clone(),
                });
            }
        }
        if !dry_run {
            let mut con = self.seed_con.clone();
            match read_nodes(&mut con).await {
                Ok(nodes) if layout(&nodes) == self.layout => {}
                Ok(_) => {
                    return Err(Error::RedisResharded {
                        url: self.seed_masked.clone(),
                        cleared,
                    });
                }
                Err(reason) => {
                    return Err(Error::Redis {
                        url: self.seed_masked.clone(),
                        cleared,
                        dry_run,
                        reason: format!(
                            "cannot read the cluster layout again to check that no slot moved: {reason}"
                        ),
                        fix: None,
                    });
                }
            }
        }
        Ok(cleared)
    }

    /// Scan one primary to the end of its cursor, unlinking each batch while the next SCAN
    /// is in flight.
    async fn clear_primary<F: FnMut(u64)>(
        &self,
        primary: &Primary,
        pattern: &str,
        dry_run: bool,
        stop: &Stop,
        progress: &RefCell<F>,
    ) -> Outcome {
        let con = &primary.con;
        let mut cleared = 0u64;
        let (mut cursor, mut keys) = match scan(con, 0, pattern).await {
            Ok(first) => first,
            Err(e) => return (0, Some(Failure::of(&e))),
        };
        loop {
            let (next, (deleted, error)) = if dry_run {
                let n = keys.len() as u64;
                let next = if cursor == 0 {
                    None
                } else {
                    Some(scan(con, cursor, pattern).await)
                };
                (next, (n, None))
            } else if cursor == 0 {
                (None, self.unlink_batch(primary, keys).await)
            } else {
                let (next, done) =
                    tokio::join!(scan(con, cursor, pattern), self.unlink_batch(primary, keys));
                (Some(next), done)
            };
            cleared += deleted;
            if deleted > 0 {
                (progress.borrow_mut())(deleted);
            }
            if error.is_some() || stop.requested() {
                return (cleared, error);
            }
            match next {
                None => return (cleared, None),
                Some(Ok(step)) => (cursor, keys) = step,
                Some(Err(e)) => return (cleared, Some(Failure::of(&e))),
            }
        }
    }

    /// UNLINK one SCAN batch found on `primary`: one command per hash slot, pipelined; the
    /// commands answered with MOVED, ASK or TRYAGAIN are then followed one by one.
    async fn unlink_batch(&self, primary: &Primary, keys: Vec<Vec<u8>>) -> Outcome {
        if keys.is_empty() {
            return (0, None);
        }
        let mut by_slot: HashMap<Slot, Vec<Vec<u8>>> = HashMap::new();
        for key in keys {
            by_slot.entry(Slot::for_key(&key)).or_default().push(key);
        }
        let groups: Vec<Vec<Vec<u8>>> = by_slot.into_values().collect();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for group in &groups {
            pipe.cmd("UNLINK").arg(group);
        }
        let mut con = primary.con.clone();
        let answers: Vec<redis::RedisResult<u64>> = match pipe.query_async(&mut con).await {
            Ok(answers) => answers,
            Err(e) => return (0, Some(Failure::of(&e))),
        };
        let mut deleted = 0;
        let mut redirected = Vec::new();
        for (group, answer) in groups.into_iter().zip(answers) {
            match answer {
                Ok(n) => deleted += n,
                Err(e) => redirected.push((group, e)),
            }
        }
        for (group, e) in redirected {
            let (n, error) = self.follow(primary.addr.clone(), &group, e, false).await;
            deleted += n;
            if error.is_some() {
                return (deleted, error);
            }
        }
        (deleted, None)
    }

    /// Follow the answer `error` to an UNLINK of `keys` (all of one slot) sent to `at`
    /// (with ASKING first if `asking`): to the node a MOVED or ASK names, or key by key after
    /// a TRYAGAIN. Anything else is the error that stops the run.
    async fn follow(
        &self,
        mut at: String,
        keys: &[Vec<u8>],
        mut error: RedisError,
        mut asking: bool,
    ) -> Outcome {
        for _ in 0..MAX_REDIRECTS {
            match error.kind() {
                ErrorKind::Server(ServerErrorKind::Moved | ServerErrorKind::Ask) => {
                    let Some((target, _slot)) = error.redirect_node() else {
                        return (0, Some(Failure::of(&error)));
                    };
                    asking = error.kind() == ErrorKind::Server(ServerErrorKind::Ask);
                    at = target.to_string();
                }
                ErrorKind::Server(ServerErrorKind::TryAgain) if keys.len() > 1 => {
                    let mut deleted = 0;
                    for key in keys {
                        let one = std::slice::from_ref(key);
                        let (n, error) = match self.unlink_at(&at, one, asking).await {
                            Ok(n) => (n, None),
                            Err(Ok(e)) => Box::pin(self.follow(at.clone(), one, e, asking)).await,
                            Err(Err(reason)) => (0, Some(reason.into())),
                        };
                        deleted += n;
                        if error.is_some() {
                            return (deleted, error);
                        }
                    }
                    return (deleted, None);
                }
                _ => return (0, Some(Failure::of(&error))),
            }
            match self.unlink_at(&at, keys, asking).await {
                Ok(n) => return (n, None),
                Err(Ok(e)) => error = e,
                Err(Err(reason)) => return (0, Some(reason.into())),
            }
        }
        (
            0,
            Some(
                format!(
                    "keys of one slot were still moving after {MAX_REDIRECTS} redirections ({})",
                    super::redis::explain(&error).0
                )
                .into(),
            ),
        )
    }

    /// UNLINK `keys` on the node `addr`; the error is the node's answer, or why the node
    /// could not be reached.
    async fn unlink_at(
        &self,
        addr: &str,
        keys: &[Vec<u8>],
        asking: bool,
    ) -> std::result::Result<u64, std::result::Result<RedisError, String>> {
        let mut con = self.con_for(addr).await.map_err(Err)?;
        // ASKING holds for the next command on the connection: both go in one write.
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        if asking {
            pipe.cmd("ASKING").ignore();
        }
        pipe.cmd("UNLINK").arg(keys);
        // With ignore_errors, the node's answer to UNLINK comes back as its own error
        // (MOVED, ASK, ...), not wrapped in a pipeline error.
        let answers: Vec<redis::RedisResult<u64>> = pipe.query_async(&mut con).await.map_err(Ok)?;
        match answers.into_iter().next() {
            Some(answer) => answer.map_err(Ok),
            None => Err(Err("UNLINK got no answer".to_string())),
        }
    }

    /// The connection to the node `addr` (`host:port`), made now if it is not a primary
    /// found at the start.
    async fn con_for(&self, addr: &str) -> std::result::Result<MultiplexedConnection, String> {
        if let Some(con) = self.pool.borrow().get(addr) {
            return Ok(con.clone());
        }
        let (host, port) = split_addr(addr)
            .ok_or_else(|| format!("a key moved to `{addr}`, which is not a node address"))?;
        let url = node_url(&self.seed_url, host, port)?;
        let con = open(&url).await.map_err(|failure: ConnectFailure| {
            format!(
                "a key moved to `{}`, which cannot be reached: {}",
                crate::url::mask(&url),
                failure.reason()
            )
        })?;
        self.pool.borrow_mut().insert(addr.to_string(), con.clone());
        Ok(con)
    }
}

async fn read_nodes(con: &mut MultiplexedConnection) -> std::result::Result<Vec<Node>, String> {
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(con)
        .await
        .map_err(|e| format!("CLUSTER NODES failed: {e}"))?;
    parse_nodes(&text)
}

/// One line of `CLUSTER NODES`:
/// `<id> <ip:port@cport[,hostname[,aux=value...]]> <flags> <primary> <ping> <pong> <epoch>
/// <link> <slot>...`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    id: String,
    ip: String,
    port: u16,
    hostname: Option<String>,
    flags: Vec<String>,
    /// Slot ranges (`0-5460`), single slots, and migration markers (`[42->-<id>]`,
    /// `[42-<-<id>]`), as listed.
    slots: Vec<String>,
}

impl Node {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// A primary to scan: every primary that is (or may be) up, and a failed one that still
    /// serves slots (reaching it fails, which is right: its keys cannot be cleared).
    fn is_primary(&self) -> bool {
        self.has_flag("master")
            && !self.has_flag("handshake")
            && !self.has_flag("noaddr")
            && (!self.has_flag("fail") || !self.slots.is_empty())
    }

    /// `host:port` as the cluster names the node.
    fn addr(&self) -> String {
        join_addr(&self.ip, self.port)
    }

    /// The host to connect to: over TLS the node's announced host name, if it has one
    /// (certificates name hosts), else its address.
    fn connect_host(&self, tls: bool) -> &str {
        match &self.hostname {
            Some(name) if tls => name,
            _ => &self.ip,
        }
    }
}

fn parse_nodes(text: &str) -> std::result::Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("unexpected CLUSTER NODES line `{line}`");
        if fields.len() < 8 {
            return Err(bad());
        }
        let mut endpoint = fields[1].split(',');
        let address = endpoint.next().unwrap_or_default();
        let hostname = endpoint
            .next()
            .filter(|h| !h.is_empty() && !h.contains('='))
            .map(str::to_string);
        let host_port = address.split('@').next().unwrap_or_default();
        let (ip, port) = split_addr(host_port).ok_or_else(bad)?;
        nodes.push(Node {
            id: fields[0].to_string(),
            ip: ip.to_string(),
            port,
            hostname,
            flags: fields[2].split(',').map(str::to_string).collect(),
            slots: fields[8..].iter().map(|s| s.to_string()).collect(),
        });
    }
    Ok(nodes)
}

/// Which primary holds which slots, and which slots are being migrated: what must not
/// change while the cluster is cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout(Vec<(String, Vec<String>)>);

fn layout(nodes: &[Node]) -> Layout {
    let mut owners: Vec<(String, Vec<String>)> = nodes
        .iter()
        .filter(|n| n.has_flag("master") && !n.slots.is_empty())
        .map(|n| {
            let mut slots = n.slots.clone();
            slots.sort();
            (n.id.clone(), slots)
        })
        .collect();
    owners.sort();
    Layout(owners)
}

/// `ip:port` (IPv6 with or without brackets) as host and port; an empty host is kept.
fn split_addr(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, port.parse().ok()?))
}

fn join_addr(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

/// The seed's URL with another node's host and port: the same scheme, user, password and
/// options. An empty host (a node that does not know its own address) is the seed's.
fn node_url(seed_url: &str, host: &str, port: u16) -> std::result::Result<String, String> {
    let mut url = redis::parse_redis_url(seed_url)
        .ok_or_else(|| format!("`{}` is not a Redis URL", crate::url::mask(seed_url)))?;
    if !host.is_empty() && host != "?" {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        url.set_host(Some(&host))
            .map_err(|e| format!("the cluster names a node `{host}`: {e}"))?;
    }
    url.set_port(Some(port))
        .map_err(|()| format!("cannot give `{}` a port", crate::url::mask(seed_url)))?;
    Ok(url.to_string())
}

/// Run every future to its end, concurrently on this task; their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,,shard-id=69bc hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,node2.example master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 127.0.0.1:30006@31006 master,fail - 1426238316232 0 6 disconnected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca :30001@31001 myself,master - 0 0 1 connected 0-5460 [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
aaaa 10.0.0.9:30007@31007 handshake - 0 0 0 disconnected
bbbb [::1]:30008@31008 master - 0 0 7 connected 42
";

    #[test]
    fn reads_cluster_nodes() {
        let nodes = parse_nodes(NODES).unwrap();
        let primaries: Vec<String> = nodes
            .iter()
            .filter(|n| n.is_primary())
            .map(Node::addr)
            .collect();
        assert_eq!(
            primaries,
            ["127.0.0.1:30002", "127.0.0.1:30003", ":30001", "::1:30008"]
        );
        let node2 = &nodes[1];
        assert_eq!(node2.hostname.as_deref(), Some("node2.example"));
        assert_eq!(node2.connect_host(true), "node2.example");
        assert_eq!(node2.connect_host(false), "127.0.0.1");
        assert_eq!(nodes[0].hostname, None);
        assert_eq!(
            nodes[5].slots,
            [
                "0-5460",
                "[5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]"
            ]
        );
        assert!(parse_nodes("abc 127.0.0.1 master").is_err());
        assert!(parse_nodes("a b:c master - 0 0 1 connected").is_err());
    }

    #[test]
    fn layout_changes_with_slots_and_migrations_only() {
        let before = layout(&parse_nodes(NODES).unwrap());
        // A ping, a flag or an address changing is not a layout change.
        let pinged = NODES
            .replace("1426238318243", "1426238399999")
            .replace("master,fail", "master,fail?");
        assert_eq!(layout(&parse_nodes(&pinged).unwrap()), before);
        // A slot that changes owner is; so is a migration that starts or ends.
        let moved = NODES
            .replace("connected 5461-10922", "connected 5462-10922")
            .replace("connected 0-5460 ", "connected 0-5461 ");
        assert_ne!(layout(&parse_nodes(&moved).unwrap()), before);
        let done = NODES.replace(" [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]", "");
        assert_ne!(layout(&parse_nodes(&done).unwrap()), before);
    }

    #[test]
    fn node_urls_keep_the_seed_credentials_and_scheme() {
        assert_eq!(
            node_url("redis://:pw@seed:7000", "10.0.0.2", 7001).unwrap(),
            "redis://:pw@10.0.0.2:7001"
        );
        assert_eq!(
            node_url(
                "rediss://user:p%40ss@seed.example:7000/0?protocol=resp3",
                "n2.example",
                7002
            )
            .unwrap(),
            "rediss://user:p%40ss@n2.example:7002/0?protocol=resp3"
        );
        assert_eq!(
            node_url("redis://seed:7000", "", 7003).unwrap(),
            "redis://seed:7003"
        );
        assert_eq!(
            node_url("redis://127.0.0.1:7000", "::1", 7004).unwrap(),
            "redis://[::1]:7004"
        );
        assert_eq!(split_addr("[::1]:7004"), Some(("::1", 7004)));
        assert_eq!(split_addr("::1:7004"), Some(("::1", 7004)));
        assert_eq!(split_addr("nohost"), None);
    }

    #[test]
    fn join_all_keeps_order() {
        let rt = crate::clear::runtime().unwrap();
        let out = rt.block_on(join_all(
            [30u64, 10, 20]
                .into_iter()
                .map(|ms| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    ms
                })
                .collect(),
        ));
        assert_eq!(out, [30, 10, 20]);
    }
}
