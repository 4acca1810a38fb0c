//! Redis: reachable (round-trip time, version; for a cluster every primary), persistence
//! (no RDB and no AOF: sessions vanish on restart) and an eviction policy that can drop
//! sessions. Read-only commands only: PING, INFO, CONFIG GET.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use crate::clear::RedisTarget;
use crate::clear::redis::{RedisConnection, connect_target};

use super::Check;

/// The longest the whole connection (every primary of a cluster) may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);
/// The longest one command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(5);

pub(super) async fn checks(target: &RedisTarget) -> Vec<Check> {
    let url = &target.masked_url;
    let connection = match tokio::time::timeout(CONNECT_LIMIT, connect_target(target)).await {
        Ok(Ok(c)) => c,
        // The error says what is wrong and how to fix it.
        Ok(Err(e)) => return vec![Check::from_error("redis.reachable", &e)],
        Err(_) => {
            return vec![Check::error(
                "redis.reachable",
                format!("{url} did not answer in {} s", CONNECT_LIMIT.as_secs()),
                "check that every server REDIS_URL leads to can be reached from here",
            )];
        }
    };
    let cons = connection.connections();
    let mut servers = Vec::new();
    for con in &cons {
        match server(con.clone()).await {
            Ok(s) => servers.push(s),
            Err((reason, fix)) => {
                return vec![Check::error(
                    "redis.reachable",
                    format!("{url}: {reason}"),
                    fix.unwrap_or_else(|| "run the check again".to_string()),
                )];
            }
        }
    }
    let worst = servers.iter().map(|s| s.rtt).max().unwrap_or_default();
    let version = servers
        .first()
        .map(|s| s.version.clone())
        .unwrap_or_default();
    let reached = match &connection {
        RedisConnection::Single(_) => format!("{url} answers"),
        RedisConnection::Cluster(_) => {
            format!("{url}: all {} cluster primaries answer", cons.len())
        }
    };
    vec![
        Check::ok(
            "redis.reachable",
            format!(
                "{reached} (Redis {version}, round trip {:.1} ms)",
                worst.as_secs_f64() * 1000.0
            ),
        ),
        persistence(&servers),
        eviction(&servers),
    ]
}

/// What one server says of itself.
struct Server {
    rtt: Duration,
    version: String,
    /// `None`: CONFIG GET refused (a managed server).
    persists: Option<bool>,
    policy: String,
}

/// What the server says of itself; the reason and the fix, if one is known, when it fails.
async fn server(mut con: MultiplexedConnection) -> Result<Server, (String, Option<String>)> {
    let started = Instant::now();
    let _: String = query(&mut con, &redis::cmd("PING")).await?;
    let rtt = started.elapsed();
    let info: String = query(&mut con, &redis::cmd("INFO")).await?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or("?")
            .to_string()
    };
    let save: Result<Vec<String>, _> =
        query(&mut con, redis::cmd("CONFIG").arg("GET").arg("save")).await;
    let aof: Result<Vec<String>, _> =
        query(&mut con, redis::cmd("CONFIG").arg("GET").arg("appendonly")).await;
    let persists = match (save, aof) {
        (Ok(save), Ok(aof)) => Some(
            save.get(1).is_some_and(|s| !s.trim().is_empty())
                || aof.get(1).is_some_and(|a| a == "yes"),
        ),
        _ => None,
    };
    Ok(Server {
        rtt,
        version: field("redis_version:"),
        persists,
        policy: field("maxmemory_policy:"),
    })
}

async fn query<T: redis::FromRedisValue>(
    con: &mut MultiplexedConnection,
    cmd: &redis::Cmd,
) -> Result<T, (String, Option<String>)> {
    match tokio::time::timeout(COMMAND_LIMIT, cmd.query_async(con)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(crate::clear::redis::explain(&e)),
        Err(_) => Err((format!("no answer in {} s", COMMAND_LIMIT.as_secs()), None)),
    }
}

fn persistence(servers: &[Server]) -> Check {
    let id = "redis.persistence";
    if servers.iter().any(|s| s.persists == Some(false)) {
        return Check::warning(
            id,
            "the server saves neither RDB snapshots nor an AOF: every session vanishes when it restarts",
            "enable persistence (`appendonly yes`, or a `save` rule) in redis.conf",
        );
    }
    if servers.iter().any(|s| s.persists.is_none()) {
        return Check::ok(
            id,
            "persistence could not be read (CONFIG GET refused); the provider's settings apply",
        );
    }
    Check::ok(id, "the server persists its data (RDB or AOF)")
}

fn eviction(servers: &[Server]) -> Check {
    let id = "redis.eviction";
    match servers
        .iter()
        .find(|s| s.policy != "noeviction" && s.policy != "?")
    {
        Some(s) => Check::warning(
            id,
            format!(
                "maxmemory-policy is {}: when memory fills, Redis evicts keys, sessions included (they all have a TTL)",
                s.policy
            ),
            "set `maxmemory-policy noeviction` (or keep sessions on a Redis of their own)",
        ),
        None => Check::ok(
            id,
            "maxmemory-policy is noeviction: sessions are never evicted",
        ),
    }
}
