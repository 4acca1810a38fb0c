//! The cluster as `CLUSTER NODES` describes it: its nodes, which primary holds which slots,
//! and what changed between two readings (a failover or a resharding).

use redis::aio::MultiplexedConnection;

pub(super) async fn read_nodes(
    con: &mut MultiplexedConnection,
) -> std::result::Result<Vec<Node>, String> {
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
pub(super) struct Node {
    pub(super) id: String,
    pub(super) ip: String,
    pub(super) port: u16,
    pub(super) hostname: Option<String>,
    pub(super) flags: Vec<String>,
    /// Slot ranges (`0-5460`), single slots, and migration markers (`[42->-<id>]`,
    /// `[42-<-<id>]`), as listed.
    pub(super) slots: Vec<String>,
}

impl Node {
    pub(super) fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// A primary to scan: every primary that is (or may be) up, and a failed one that still
    /// serves slots (reaching it fails, which is right: its keys cannot be cleared).
    pub(super) fn is_primary(&self) -> bool {
        self.has_flag("master")
            && !self.has_flag("handshake")
            && !self.has_flag("noaddr")
            && (!self.has_flag("fail") || !self.slots.is_empty())
    }

    /// `host:port` as the cluster names the node.
    pub(super) fn addr(&self) -> String {
        join_addr(&self.ip, self.port)
    }

    /// The host to connect to: over TLS the node's announced host name, if it has one
    /// (certificates name hosts), else its address.
    pub(super) fn connect_host(&self, tls: bool) -> &str {
        match &self.hostname {
            Some(name) if tls => name,
            _ => &self.ip,
        }
    }
}

pub(super) fn parse_nodes(text: &str) -> std::result::Result<Vec<Node>, String> {
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
pub(super) struct Layout(Vec<(String, Vec<String>)>);

pub(super) fn layout(nodes: &[Node]) -> Layout {
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

/// How the layout changed between two readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// No slot changed owner.
    None,
    /// Every shard kept exactly its slots, and some have a new primary (a replica promoted
    /// in place of its primary): the old primary's id and the new one's.
    Failover(Vec<(String, String)>),
    /// Slots moved between shards, or a migration started or ended.
    Resharding,
}

impl Layout {
    /// What changed from `self` to `after`.
    pub(super) fn change_to(&self, after: &Layout) -> Change {
        if self == after {
            return Change::None;
        }
        let mut replaced = Vec::new();
        for (old_id, slots) in &self.0 {
            let Some((new_id, _)) = after.0.iter().find(|(_, s)| s == slots) else {
                return Change::Resharding;
            };
            if new_id != old_id {
                replaced.push((old_id.clone(), new_id.clone()));
            }
        }
        // Every shard of `after` is one of `self` (no new shard), and a new primary is not
        // one that held other slots before.
        let same_shards = after
            .0
            .iter()
            .all(|(_, slots)| self.0.iter().any(|(_, s)| s == slots));
        let took_more = replaced
            .iter()
            .any(|(_, new)| self.0.iter().any(|(id, _)| id == new));
        if !same_shards || took_more || self.0.len() != after.0.len() {
            return Change::Resharding;
        }
        Change::Failover(replaced)
    }
}

/// `ip:port` (IPv6 with or without brackets) as host and port; an empty host is kept.
pub(super) fn split_addr(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, port.parse().ok()?))
}

pub(super) fn join_addr(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

/// The seed's URL with another node's host and port: the same scheme, user, password and
/// options. An empty host (a node that does not know its own address) is the seed's.
pub(super) fn node_url(
    seed_url: &str,
    host: &str,
    port: u16,
) -> std::result::Result<String, String> {
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
    fn a_failover_is_told_from_a_resharding() {
        let before = layout(&parse_nodes(NODES).unwrap());
        // Node 30005, a replica of 30002, promoted in its place: the same slots.
        let failover = NODES
            .replace(
                "127.0.0.1:30005@31005 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected",
                "127.0.0.1:30005@31005 master - 0 1426238316232 8 connected 5461-10922",
            )
            .replace(
                "127.0.0.1:30002@31002,node2.example master - 0 1426238316232 2 connected 5461-10922",
                "127.0.0.1:30002@31002,node2.example slave 6ec23923021cf3ffec47632106199cb7f496ce01 0 1426238316232 8 connected",
            );
        assert_eq!(
            before.change_to(&layout(&parse_nodes(&failover).unwrap())),
            Change::Failover(vec![(
                "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1".to_string(),
                "6ec23923021cf3ffec47632106199cb7f496ce01".to_string()
            )])
        );
        assert_eq!(before.change_to(&before), Change::None);
        // One slot moved: a resharding, even with a failover at the same time.
        let moved = failover
            .replace("connected 5461-10922", "connected 5462-10922")
            .replace("connected 10923-16383", "connected 5461 10923-16383");
        assert_eq!(
            before.change_to(&layout(&parse_nodes(&moved).unwrap())),
            Change::Resharding
        );
        // A primary that takes another's slots as well as its own is a resharding.
        let merged = NODES
            .replace("connected 5461-10922", "connected")
            .replace("connected 10923-16383", "connected 5461-10922 10923-16383");
        assert_eq!(
            before.change_to(&layout(&parse_nodes(&merged).unwrap())),
            Change::Resharding
        );
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
}
