//! Measuring the session keys of a Redis server or of every primary of a Redis Cluster.
//!
//! SCAN only, never KEYS: one step of [`SCAN_COUNT`] keys at a time, as `session:clear` walks
//! them. Each step's keys get their `PTTL` in one pipeline (one short command per key), and
//! while the sample is not full, their `MEMORY USAGE` too; the next SCAN goes out only once
//! those are answered, so the server never has more than one step's work from this tool.

use redis::aio::MultiplexedConnection;
use serde::Serialize;

use crate::clear::plan::RedisTarget;
use crate::clear::redis::{SCAN_COUNT, connect_target, explain, scan};
use crate::error::{Error, Result};

/// At most how many keys' `MEMORY USAGE` is asked: the memory of all session keys is
/// estimated from these (the first keys SCAN finds, in the server's hash order).
pub const SAMPLE_SIZE: usize = 1000;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How many session keys expire within an hour, within a day (and not an hour), later, or
/// never (no TTL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TtlSpread {
    pub within_hour: u64,
    pub within_day: u64,
    pub later: u64,
    pub never: u64,
}

impl TtlSpread {
    /// Count one key by its `PTTL` answer; `false` for a key that is gone (expired or
    /// deleted since SCAN found it), which is not counted.
    fn add(&mut self, pttl: i64) -> bool {
        match pttl {
            -1 => self.never += 1,
            ms if ms < 0 => return false,
            ms if ms <= HOUR_MS => self.within_hour += 1,
            ms if ms <= DAY_MS => self.within_day += 1,
            _ => self.later += 1,
        }
        true
    }
}

/// The memory of the session keys, estimated from a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryEstimate {
    /// Always true: the bytes are the sample's average times the number of sessions.
    pub estimate: bool,
    pub estimated_bytes: u64,
    /// Keys whose `MEMORY USAGE` was asked.
    pub sample_size: u64,
    pub average_bytes: u64,
}

/// What a Redis measurement found.
#[derive(Debug, Clone, Serialize)]
pub struct RedisStats {
    pub sessions: u64,
    /// The primaries of the Redis Cluster measured, when the URL leads to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_primaries: Option<usize>,
    pub ttl: TtlSpread,
    /// `None` when there is no key to sample, or the server refused `MEMORY USAGE`.
    pub memory: Option<MemoryEstimate>,
    /// Why memory could not be measured, when the server refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_unavailable: Option<String>,
    #[serde(skip)]
    sampled_bytes: u64,
    #[serde(skip)]
    sampled: u64,
}

impl RedisStats {
    /// The warnings the numbers call for.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.ttl.never > 0 {
            out.push(format!(
                "{} session key(s) have no TTL and will never expire: a leak that grows until Redis runs out of memory; make the store set an expiry (its ttl: or timeout:), and expire or delete the keys already written",
                self.ttl.never
            ));
        }
        if let Some(reason) = &self.memory_unavailable {
            out.push(format!("memory not measured: {reason}"));
        }
        out
    }

    fn finish(&mut self) {
        self.memory = (self.sampled > 0 && self.memory_unavailable.is_none()).then(|| {
            let average = self.sampled_bytes / self.sampled;
            MemoryEstimate {
                estimate: true,
                estimated_bytes: average.saturating_mul(self.sessions),
                sample_size: self.sampled,
                average_bytes: average,
            }
        });
    }
}

/// Measure the keys `target`'s pattern matches on every server that holds keys;
/// `progress` is told each step's count of sessions.
pub async fn measure(target: &RedisTarget, mut progress: impl FnMut(u64)) -> Result<RedisStats> {
    let connection = connect_target(target).await?;
    let mut stats = RedisStats {
        sessions: 0,
        cluster_primaries: connection.primaries(),
        ttl: TtlSpread::default(),
        memory: None,
        memory_unavailable: None,
        sampled_bytes: 0,
        sampled: 0,
    };
    for con in connection.connections() {
        measure_server(&con, target, &mut stats, &mut progress)
            .await
            .map_err(|e| fail(&e, target))?;
    }
    stats.finish();
    Ok(stats)
}

fn fail(e: &redis::RedisError, target: &RedisTarget) -> Error {
    let (reason, fix) = explain(e);
    Error::Measure {
        store: "Redis",
        url: target.masked_url.clone(),
        reason,
        fix,
    }
}

/// One server's keys, step by step.
async fn measure_server(
    con: &MultiplexedConnection,
    target: &RedisTarget,
    stats: &mut RedisStats,
    progress: &mut impl FnMut(u64),
) -> redis::RedisResult<()> {
    let mut cursor = 0;
    loop {
        let (next, keys) = scan(con, cursor, &target.pattern, SCAN_COUNT).await?;
        if !keys.is_empty() {
            let found = step(con, &keys, stats).await?;
            stats.sessions += found;
            progress(found);
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// One SCAN step's keys: their TTLs, and their memory while the sample is not full. How
/// many of them still existed.
async fn step(
    con: &MultiplexedConnection,
    keys: &[Vec<u8>],
    stats: &mut RedisStats,
) -> redis::RedisResult<u64> {
    let mut con = con.clone();
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("PTTL").arg(key);
    }
    let ttls: Vec<i64> = pipe.query_async(&mut con).await?;
    let found = ttls.iter().filter(|&&ms| stats.ttl.add(ms)).count() as u64;

    let room = SAMPLE_SIZE.saturating_sub(stats.sampled as usize);
    if room > 0 && stats.memory_unavailable.is_none() {
        let mut pipe = redis::pipe();
        for key in keys.iter().take(room.min(SCAN_COUNT)) {
            pipe.cmd("MEMORY").arg("USAGE").arg(key);
        }
        match pipe.query_async::<Vec<Option<u64>>>(&mut con).await {
            Ok(sizes) => {
                for bytes in sizes.into_iter().flatten() {
                    stats.sampled += 1;
                    stats.sampled_bytes += bytes;
                }
            }
            // A server that refuses MEMORY USAGE (an ACL, a managed service) still has the
            // rest measured.
            Err(e) if e.code().is_some() => stats.memory_unavailable = Some(explain(&e).0),
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_buckets() {
        let mut spread = TtlSpread::default();
        for ms in [-1, -2, 0, HOUR_MS, HOUR_MS + 1, DAY_MS, DAY_MS + 1] {
            spread.add(ms);
        }
        assert_eq!(
            spread,
            TtlSpread {
                within_hour: 2,
                within_day: 2,
                later: 1,
                never: 1
            }
        );
    }
}
