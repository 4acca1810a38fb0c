//! Clearing the session keys of a Redis server: SCAN for `<prefix>*`, UNLINK what it finds.
//!
//! Never KEYS (it walks the whole keyspace in one command and stalls every client) and never
//! FLUSHDB (it would take keys outside the prefix). SCAN walks the keyspace in small steps;
//! UNLINK frees each batch's memory on a background thread. Each batch's UNLINK goes out
//! together with the next SCAN, and its answer is awaited only after the following batch's
//! commands are sent, all on one multiplexed connection: the server always has the next
//! command waiting, and the client holds at most two batches of keys.
//!
//! `REDIS_URL` may name one server or several seed nodes of a Redis Cluster ([`seeds`]); the
//! first seed that answers is asked whether it is a cluster node (`INFO cluster`), and a
//! cluster is cleared primary by primary by [`super::cluster`].

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::Stop;
use super::cluster::Cluster;
use super::plan::RedisTarget;
use crate::error::{Error, Result};

mod connect;
pub mod elsewhere;
mod pace;
mod single;
mod tls;
mod urls;

use connect::MAXCLIENTS_FIX;
pub(crate) use connect::{ConnectFailure, open};
pub use single::clear;
pub(crate) use single::scan;
pub use tls::TlsFiles;
use urls::{UrlParts, db_in_path, unix_aliases};
pub use urls::{database, seeds};

/// Keys asked of each SCAN step, at the least: large enough to keep round trips few on
/// loopback, small enough that no step (or the UNLINK of its keys) holds the server for more
/// than a few milliseconds. A clear asks for twice as many where the round trip is long
/// (see `pace`).
pub const SCAN_COUNT: usize = 1000;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one SCAN or UNLINK may take to answer (the redis crate's 500 ms default is too
/// short for a busy server; a server that stops answering must still end the run).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The SCAN pattern for `prefix`: its glob characters escaped, then `*`.
pub fn pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// A server's error as shown: its words with key names cut out (an error about a command
/// quotes its first arguments, and a session id is a bearer token), and what would fix it
/// when running the command again would not.
/// A refused password (`Some(false)`), or one the server wants and the URL does not give
/// (`Some(true)`).
pub(crate) fn auth_failure(e: &redis::RedisError) -> Option<bool> {
    match e.code() {
        _ if e.kind() == redis::ErrorKind::AuthenticationFailed => Some(false),
        Some("WRONGPASS") => Some(false),
        Some("NOAUTH") => Some(true),
        _ => None,
    }
}

pub(crate) fn explain(e: &redis::RedisError) -> (String, Option<String>) {
    let text = e.to_string();
    let reason = match text.find(", with args beginning with") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    };
    let lower = reason.to_ascii_lowercase();
    let wrong_password = e.kind() == redis::ErrorKind::AuthenticationFailed;
    let fix = match e.code() {
        _ if wrong_password => Some(
            "the user or password in REDIS_URL is not one the server accepts; correct it".to_string(),
        ),
        Some("NOAUTH") => Some(
            "the server wants a password: put it in REDIS_URL (redis://:password@host, or redis://user:password@host for an ACL user)"
                .to_string(),
        ),
        Some("WRONGPASS") => {
            Some("the user or password in REDIS_URL is not one the server accepts; correct it".to_string())
        }
        Some("NOPERM") => Some(match quoted(&reason) {
            Some(command) => format!(
                "the Redis user may not run `{command}`; grant it (ACL SETUSER <user> +{command}) or use a user that may"
            ),
            None => "the Redis user may not touch these keys; grant it the session prefix (ACL SETUSER <user> ~<prefix>*) or use a user that may".to_string(),
        }),
        Some("READONLY") => Some(
            "the server is a read-only replica; point REDIS_URL at the primary".to_string(),
        ),
        _ if lower.contains("max number of clients") => Some(MAXCLIENTS_FIX.to_string()),
        _ if lower.contains("unknown command") => Some(match quoted(&reason) {
            Some(command) => format!(
                "the server does not offer `{command}` (renamed or disabled with rename-command?); let this user run it under its own name"
            ),
            None => "the server does not offer a command this tool needs (SCAN, UNLINK, INFO)".to_string(),
        }),
        _ => None,
    };
    (reason, fix)
}

/// The first `'...'` in a server's message (the command it names).
fn quoted(text: &str) -> Option<String> {
    let (_, rest) = text.split_once('\'')?;
    let (inner, _) = rest.split_once('\'')?;
    (!inner.is_empty()).then(|| inner.to_string())
}

/// Refuse a server that is a replica: a write there (a writable replica) deletes keys the
/// primary keeps, and the app's sessions live on the primary.
pub(crate) async fn ensure_primary(
    con: &mut MultiplexedConnection,
    masked_url: &str,
) -> Result<()> {
    let info: redis::RedisResult<String> =
        redis::cmd("INFO").arg("replication").query_async(con).await;
    let info = info.map_err(|e| info_error(&e, masked_url))?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::to_string)
    };
    if field("role:").as_deref() == Some("slave") {
        let primary = format!(
            "{}:{}",
            field("master_host:").unwrap_or_else(|| "?".into()),
            field("master_port:").unwrap_or_else(|| "?".into())
        );
        return Err(Error::RedisReplica {
            url: masked_url.to_string(),
            primary,
        });
    }
    Ok(())
}

/// The error for an INFO the server refused: what would fix it where that can be told
/// (a missing password is not a missing INFO permission).
pub(crate) fn info_error(e: &redis::RedisError, masked_url: &str) -> Error {
    if let Some(none_given) = auth_failure(e) {
        return Error::RedisAuth {
            url: masked_url.to_string(),
            none_given,
        };
    }
    match explain(e) {
        (reason, Some(fix)) if e.code() != Some("NOPERM") || reason.contains("'info") => {
            Error::RedisRefused {
                url: masked_url.to_string(),
                reason,
                fix,
            }
        }
        (reason, _) => Error::RedisInfo {
            url: masked_url.to_string(),
            reason,
        },
    }
}

/// Where `REDIS_URL` leads: a connection to one server, or to a Redis Cluster's primaries.
pub enum RedisConnection {
    Single(MultiplexedConnection),
    Cluster(Box<Cluster>),
}

impl RedisConnection {
    /// The number of primaries, for a cluster.
    pub fn primaries(&self) -> Option<usize> {
        match self {
            RedisConnection::Single(_) => None,
            RedisConnection::Cluster(cluster) => Some(cluster.primaries()),
        }
    }

    /// A connection to each server that holds keys: the one server, or every primary.
    pub fn connections(&self) -> Vec<MultiplexedConnection> {
        match self {
            RedisConnection::Single(con) => vec![con.clone()],
            RedisConnection::Cluster(cluster) => cluster.primary_connections(),
        }
    }

    /// Delete every key `target`'s pattern matches (or, with `dry_run`, count them);
    /// `progress` is told each batch's count as it lands.
    pub async fn clear(
        &self,
        target: &RedisTarget,
        dry_run: bool,
        stop: &Stop,
        progress: impl FnMut(u64),
    ) -> Result<u64> {
        match self {
            RedisConnection::Single(con) => clear(con, target, dry_run, stop, progress).await,
            RedisConnection::Cluster(cluster) => {
                cluster
                    .clear(&target.pattern, dry_run, stop, progress)
                    .await
            }
        }
    }
}

/// Connect to the first seed in `target`'s URL that answers and find out whether it is a
/// cluster node; for a cluster, connect to every primary. Nothing is deleted here.
pub async fn connect_target(target: &RedisTarget) -> Result<RedisConnection> {
    let seeds = seeds(&target.url).map_err(|reason| Error::RedisUrlInvalid {
        url: target.masked_url.clone(),
        reason,
    })?;
    let mut failures = Vec::new();
    let mut answered = None;
    for seed in &seeds {
        match open(seed, &target.tls).await {
            Ok(con) => {
                answered = Some((seed, con));
                break;
            }
            Err(failure) => failures.push((seed, failure)),
        }
    }
    let Some((seed, mut con)) = answered else {
        return Err(no_seed_answered(failures));
    };
    let masked = crate::url::mask(seed);
    let cluster = cluster_enabled(&mut con)
        .await
        .map_err(|e| info_error(&e, &masked))?;
    match (cluster, seeds.len()) {
        (false, 1) => {
            ensure_primary(&mut con, &masked).await?;
            Ok(RedisConnection::Single(con))
        }
        (false, count) => Err(Error::RedisNotCluster { url: masked, count }),
        (true, _) => Ok(RedisConnection::Cluster(Box::new(
            Cluster::connect(seed, con, target.tls.clone()).await?,
        ))),
    }
}

/// The error for seeds none of which answered: a single seed's own error, else a TLS or
/// certificate-store problem (the same on every node, and the one to fix first), else the
/// list of what each said.
fn no_seed_answered(mut failures: Vec<(&String, ConnectFailure)>) -> Error {
    let special = failures.iter().position(|(_, f)| {
        !matches!(
            f,
            ConnectFailure::Other(_) | ConnectFailure::Unreachable { .. }
        )
    });
    if failures.len() == 1 || special.is_some() {
        let (seed, failure) = failures.swap_remove(special.unwrap_or(0));
        return failure.into_error(crate::url::mask(seed), |url, reason, fix| {
            Error::RedisConnect {
                url,
                reason,
                fix: fix.unwrap_or_else(|| {
                    "check that the server is running and REDIS_URL is right".to_string()
                }),
            }
        });
    }
    Error::RedisSeeds {
        tried: failures
            .iter()
            .map(|(seed, failure)| format!("`{}`: {}", crate::url::mask(seed), failure.reason()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

async fn cluster_enabled(con: &mut MultiplexedConnection) -> redis::RedisResult<bool> {
    let info: String = redis::cmd("INFO").arg("cluster").query_async(con).await?;
    Ok(info.lines().any(|line| line.trim() == "cluster_enabled:1"))
}

#[cfg(test)]
mod tests {
    use super::pattern;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(pattern("myapp:session:"), "myapp:session:*");
        assert_eq!(pattern("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f*");
    }
}
