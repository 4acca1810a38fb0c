//! Unlinking one SCAN batch of a cluster primary: one `UNLINK` per hash slot, pipelined,
//! and the answers MOVED, ASK and TRYAGAIN followed.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use redis::cluster_routing::Slot;
use redis::{ErrorKind, RedisError, ServerErrorKind};

use super::layout::{node_url, split_addr};
use super::{Cluster, Failure, MAX_REDIRECTS, Outcome, Primary};
use crate::clear::redis::{ConnectFailure, open};

impl Cluster {
    /// UNLINK one SCAN batch found on `primary`: one command per hash slot, pipelined; the
    /// commands answered with MOVED, ASK or TRYAGAIN are then followed one by one.
    ///
    /// Long because MOVED, ASK and TRYAGAIN answers are handled where the batch is, so a
    /// redirected key is retried against the node the answer names without losing the count.
    pub(super) async fn unlink_batch(&self, primary: &Primary, keys: Vec<Vec<u8>>) -> Outcome {
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
        // Groups that MOVED or ASK send to another node go there together, one pipeline per
        // node (after a failover, a whole batch moves to the new primary); what answers with
        // a redirection again, or TRYAGAIN, is followed group by group.
        let mut by_target: HashMap<(String, bool), Vec<Vec<Vec<u8>>>> = HashMap::new();
        let mut one_by_one = Vec::new();
        for (group, e) in redirected {
            let kind = e.kind();
            match (kind, e.redirect_node()) {
                (
                    ErrorKind::Server(ServerErrorKind::Moved | ServerErrorKind::Ask),
                    Some((target, _)),
                ) => {
                    let asking = kind == ErrorKind::Server(ServerErrorKind::Ask);
                    by_target
                        .entry((target.to_string(), asking))
                        .or_default()
                        .push(group);
                }
                _ => one_by_one.push((primary.addr.clone(), group, e, false)),
            }
        }
        for ((target, asking), groups) in by_target {
            let answers = match self.unlink_groups_at(&target, &groups, asking).await {
                Ok(answers) => answers,
                Err(Ok(e)) => return (deleted, Some(Failure::of(&e))),
                Err(Err(reason)) => return (deleted, Some(reason.into())),
            };
            for (group, answer) in groups.into_iter().zip(answers) {
                match answer {
                    Ok(n) => deleted += n,
                    Err(e) => one_by_one.push((target.clone(), group, e, asking)),
                }
            }
        }
        for (at, group, e, asking) in one_by_one {
            let (n, error) = self.follow(at, &group, e, asking).await;
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
                    crate::clear::redis::explain(&error).0
                )
                .into(),
            ),
        )
    }

    /// UNLINK each group of keys (each of one slot) on the node `addr`, pipelined, with
    /// `ASKING` before each if `asking`: each group's answer, or the pipeline's error, or why
    /// the node could not be reached.
    async fn unlink_groups_at(
        &self,
        addr: &str,
        groups: &[Vec<Vec<u8>>],
        asking: bool,
    ) -> std::result::Result<Vec<redis::RedisResult<u64>>, std::result::Result<RedisError, String>>
    {
        let mut con = self.con_for(addr).await.map_err(Err)?;
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for group in groups {
            if asking {
                pipe.cmd("ASKING").ignore();
            }
            pipe.cmd("UNLINK").arg(group);
        }
        let answers: Vec<redis::RedisResult<u64>> = pipe.query_async(&mut con).await.map_err(Ok)?;
        if answers.len() != groups.len() {
            return Err(Err(format!(
                "{} UNLINK commands got {} answers",
                groups.len(),
                answers.len()
            )));
        }
        Ok(answers)
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
    pub(super) async fn con_for(
        &self,
        addr: &str,
    ) -> std::result::Result<MultiplexedConnection, String> {
        if let Some(con) = self.pool.borrow().get(addr) {
            return Ok(con.clone());
        }
        let (host, port) = split_addr(addr)
            .ok_or_else(|| format!("a key moved to `{addr}`, which is not a node address"))?;
        let url = node_url(&self.seed_url, host, port)?;
        let con = open(&url, &self.files)
            .await
            .map_err(|failure: ConnectFailure| {
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
