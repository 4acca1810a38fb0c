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
//! - a key moved from a primary not yet scanned to one already scanned is not seen. So the
//!   cluster's slot layout is read again at the end and compared shard by shard. The same
//!   slot ranges under a new primary is a failover: each such shard is scanned and cleared
//!   again on its new primary (the old one's error, if it stopped, is forgiven), and the
//!   layout read again, up to [`MAX_FAILOVER_ROUNDS`] times. Slots that moved between shards
//!   is a resharding: the run fails with how many were cleared, and says to run again; a
//!   second run, on the new layout, finishes the job.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use redis::RedisError;
use redis::aio::MultiplexedConnection;

use super::Stop;
use super::redis::{SCAN_COUNT, TlsFiles, open, scan};
use crate::error::{Error, Result};

mod layout;
mod unlink;

use layout::{Change, Layout, Node, layout, node_url, read_nodes};

/// How many MOVED or ASK answers one `UNLINK` may follow before the run gives up on it.
pub const MAX_REDIRECTS: usize = 5;
/// How many failovers in a row a run follows (clearing each new primary again) before it
/// asks to be run again.
pub const MAX_FAILOVER_ROUNDS: usize = 3;

/// A Redis Cluster with a connection to each of its primaries.
pub struct Cluster {
    /// The URL of the seed that answered: the template for every node's URL.
    seed_url: String,
    seed_masked: String,
    seed_con: MultiplexedConnection,
    /// Whether nodes are reached over TLS (by their announced host names, if any).
    tls: bool,
    /// The client certificate and CA files every node's connection uses.
    files: TlsFiles,
    /// The slot layout when the primaries were found, to compare with the one at the end.
    layout: Layout,
    primaries: Vec<Primary>,
    /// Connections by `host:port` as the cluster names nodes, for MOVED and ASK answers.
    pool: RefCell<HashMap<String, MultiplexedConnection>>,
}

struct Primary {
    /// The node's cluster id.
    id: String,
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

    fn into_error(self, url: String, cleared: u64, dry_run: bool) -> Error {
        Error::Redis {
            url,
            cleared,
            dry_run,
            reason: self.reason,
            fix: self.fix,
        }
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
    ///
    /// Long because connecting is one sequence (read the layout, connect each primary, check
    /// each is still one) whose failures all name the node; split, each part would need the
    /// whole state.
    pub async fn connect(
        seed_url: &str,
        mut seed_con: MultiplexedConnection,
        files: TlsFiles,
    ) -> Result<Self> {
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
        let mut wanted: Vec<(String, String, String)> = Vec::new();
        for node in nodes.iter().filter(|n| n.is_primary()) {
            let host = node.connect_host(tls);
            let url = node_url(seed_url, host, node.port).map_err(topology_error)?;
            wanted.push((node.addr(), url, node.id.clone()));
        }
        if wanted.is_empty() {
            return Err(topology_error("CLUSTER NODES lists no primary".to_string()));
        }
        wanted.sort();

        let connected =
            join_all(wanted.iter().map(|(_, url, _)| open(url, &files)).collect()).await;
        let mut primaries = Vec::with_capacity(wanted.len());
        for ((addr, url, id), con) in wanted.into_iter().zip(connected) {
            let masked = crate::url::mask(&url);
            match con {
                Ok(mut con) => {
                    // The layout may be older than a failover: each must still be a primary.
                    super::redis::ensure_primary(&mut con, &masked).await?;
                    primaries.push(Primary {
                        id,
                        addr,
                        masked,
                        con,
                    })
                }
                Err(failure) => {
                    return Err(failure.into_error(masked, |url, reason, _| {
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
            tls,
            files,
            layout: layout(&nodes),
            primaries,
            pool: RefCell::new(pool),
        })
    }

    /// A connection to each primary.
    pub fn primary_connections(&self) -> Vec<MultiplexedConnection> {
        self.primaries.iter().map(|p| p.con.clone()).collect()
    }

    pub fn primaries(&self) -> usize {
        self.primaries.len()
    }

    /// Delete every key `pattern` matches on every primary (or, with `dry_run`, count them).
    ///
    /// Long on purpose: the first pass and the failover rounds after it share the running
    /// count and the list of primaries that failed, which decide the one error (or count)
    /// the whole run ends with.
    pub async fn clear(
        &self,
        pattern: &str,
        dry_run: bool,
        stop: &Stop,
        progress: impl FnMut(u64),
    ) -> Result<u64> {
        let progress = RefCell::new(progress);
        let outcomes = join_all(
            self.primaries
                .iter()
                .map(|p| self.clear_primary(p, pattern, dry_run, stop, &progress))
                .collect(),
        )
        .await;
        let mut cleared: u64 = outcomes.iter().map(|(n, _)| n).sum();
        if stop.requested() {
            // Every primary finished its batch in flight; the sum is what was deleted.
            return Err(Error::Interrupted { cleared, dry_run });
        }
        let mut failed: Vec<(String, String, Failure)> = self
            .primaries
            .iter()
            .zip(outcomes)
            .filter_map(|(p, (_, error))| error.map(|e| (p.id.clone(), p.masked.clone(), e)))
            .collect();
        if dry_run {
            return match telling(failed) {
                Some((_, url, failure)) => Err(failure.into_error(url, cleared, dry_run)),
                None => Ok(cleared),
            };
        }
        // Read the layout again: slots that moved between shards may hide keys not seen; a
        // shard whose replica took over from its primary is cleared again on the new one.
        let mut known = self.layout.clone();
        for _ in 0..MAX_FAILOVER_ROUNDS {
            let mut con = self.seed_con.clone();
            let nodes = match read_nodes(&mut con).await {
                Ok(nodes) => nodes,
                Err(reason) => {
                    if let Some((_, url, failure)) = telling(failed) {
                        return Err(failure.into_error(url, cleared, dry_run));
                    }
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
            };
            let now = layout(&nodes);
            let replaced = match known.change_to(&now) {
                Change::None => {
                    return match telling(failed) {
                        Some((_, url, failure)) => Err(failure.into_error(url, cleared, dry_run)),
                        None => Ok(cleared),
                    };
                }
                Change::Resharding => {
                    if let Some((_, url, failure)) = telling(failed) {
                        return Err(failure.into_error(url, cleared, dry_run));
                    }
                    return Err(Error::RedisResharded {
                        url: self.seed_masked.clone(),
                        cleared,
                    });
                }
                Change::Failover(replaced) => replaced,
            };
            // A primary replaced by its replica is done with: its shard is cleared again
            // on the new primary, whatever stopped it.
            failed.retain(|(id, _, _)| !replaced.iter().any(|(old, _)| old == id));
            let mut successors = Vec::new();
            for (_, new_id) in &replaced {
                let node = nodes.iter().find(|n| &n.id == new_id);
                let Some(node) = node else { continue };
                match self.successor(node).await {
                    Ok(primary) => successors.push(primary),
                    Err((url, reason)) => failed.push((new_id.clone(), url, reason.into())),
                }
            }
            let outcomes = join_all(
                successors
                    .iter()
                    .map(|p| self.clear_primary(p, pattern, dry_run, stop, &progress))
                    .collect(),
            )
            .await;
            cleared += outcomes.iter().map(|(n, _)| n).sum::<u64>();
            if stop.requested() {
                return Err(Error::Interrupted { cleared, dry_run });
            }
            for (primary, (_, error)) in successors.iter().zip(outcomes) {
                if let Some(failure) = error {
                    failed.push((primary.id.clone(), primary.masked.clone(), failure));
                }
            }
            known = now;
        }
        Err(Error::RedisFailovers {
            url: self.seed_masked.clone(),
            cleared,
            rounds: MAX_FAILOVER_ROUNDS,
        })
    }

    /// The primary that took over from a replaced one: connected (through the pool of
    /// nodes MOVED answers led to, if it is there), and still a primary.
    async fn successor(&self, node: &Node) -> std::result::Result<Primary, (String, String)> {
        let host = node.connect_host(self.tls);
        let url = node_url(&self.seed_url, host, node.port)
            .map_err(|reason| (self.seed_masked.clone(), reason))?;
        let masked = crate::url::mask(&url);
        let addr = node.addr();
        let pooled = self.pool.borrow().get(&addr).cloned();
        let mut con = match pooled {
            Some(con) => con,
            None => {
                let con = open(&url, &self.files)
                    .await
                    .map_err(|failure| (masked.clone(), failure.reason().to_string()))?;
                self.pool.borrow_mut().insert(addr.clone(), con.clone());
                con
            }
        };
        super::redis::ensure_primary(&mut con, &masked)
            .await
            .map_err(|e| (masked.clone(), e.to_string()))?;
        Ok(Primary {
            id: node.id.clone(),
            addr,
            masked,
            con,
        })
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
        let (mut cursor, mut keys) = match scan(con, 0, pattern, SCAN_COUNT).await {
            Ok(first) => first,
            Err(e) => return (0, Some(Failure::of(&e))),
        };
        loop {
            let (next, (deleted, error)) = if dry_run {
                let n = keys.len() as u64;
                let next = if cursor == 0 {
                    None
                } else {
                    Some(scan(con, cursor, pattern, SCAN_COUNT).await)
                };
                (next, (n, None))
            } else if cursor == 0 {
                (None, self.unlink_batch(primary, keys).await)
            } else {
                let (next, done) = tokio::join!(
                    scan(con, cursor, pattern, SCAN_COUNT),
                    self.unlink_batch(primary, keys)
                );
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
}

/// Of the primaries that failed, the one to report: the first whose failure names a fix (a
/// refusal such as a renamed command reaches every primary, and a primary whose connection
/// the same refusal cut short reports only a broken pipe), else the first.
fn telling(mut failed: Vec<(String, String, Failure)>) -> Option<(String, String, Failure)> {
    let at = failed.iter().position(|f| f.2.fix.is_some()).unwrap_or(0);
    (at < failed.len()).then(|| failed.swap_remove(at))
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
