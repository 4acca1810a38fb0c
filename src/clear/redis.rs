//! Clearing the session keys of a Redis server: SCAN for `<prefix>*`, UNLINK what it finds.
//!
//! Never KEYS (it walks the whole keyspace in one command and stalls every client) and never
//! FLUSHDB (it would take keys outside the prefix). SCAN walks the keyspace in small steps;
//! UNLINK frees each batch's memory on a background thread. The next SCAN is sent while the
//! previous batch is being unlinked, on the same multiplexed connection, so the server always
//! has the next command waiting and the client holds one batch of keys at a time.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};

use crate::error::{Error, Result};

/// Keys asked of each SCAN step: large enough to keep round trips few, small enough that no
/// step (or the UNLINK of its keys) holds the server for more than about a millisecond.
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

pub async fn connect(url: &str) -> Result<MultiplexedConnection> {
    let masked = crate::url::mask(url);
    let connect_error = |reason: String| Error::RedisConnect {
        url: masked.clone(),
        reason,
    };
    let client =
        Client::open(url).map_err(|e| connect_error(format!("not a valid Redis URL ({e})")))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    // The whole handshake (TCP, TLS, AUTH, SELECT) must finish in time, not just the connect.
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(Ok(con)) => Ok(con),
        Ok(Err(e)) => Err(connect_error(e.to_string())),
        Err(_) => Err(connect_error(format!(
            "no answer in {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Delete every key under `prefix` on the server behind `con` (or, with `dry_run`, count
/// them). `progress` is told each batch's count as it lands.
pub async fn clear(
    con: &MultiplexedConnection,
    masked_url: &str,
    prefix: &str,
    dry_run: bool,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let pattern = pattern(prefix);
    let mut cleared = 0u64;
    let fail = |e: redis::RedisError, cleared: u64| Error::Redis {
        url: masked_url.to_string(),
        cleared,
        reason: e.to_string(),
    };

    let (mut cursor, mut keys) = scan(con, 0, &pattern).await.map_err(|e| fail(e, 0))?;
    loop {
        let (next, deleted) = if dry_run {
            let n = keys.len() as u64;
            let next = if cursor == 0 {
                None
            } else {
                Some(scan(con, cursor, &pattern).await)
            };
            (next, Ok(n))
        } else if cursor == 0 {
            (None, unlink(con, keys).await)
        } else {
            let (next, deleted) = tokio::join!(scan(con, cursor, &pattern), unlink(con, keys));
            (Some(next), deleted)
        };
        let deleted = deleted.map_err(|e| fail(e, cleared))?;
        cleared += deleted;
        if deleted > 0 {
            progress(deleted);
        }
        match next {
            None => return Ok(cleared),
            Some(result) => (cursor, keys) = result.map_err(|e| fail(e, cleared))?,
        }
    }
}

async fn scan(
    con: &MultiplexedConnection,
    cursor: u64,
    pattern: &str,
) -> redis::RedisResult<(u64, Vec<Vec<u8>>)> {
    let mut con = con.clone();
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_COUNT)
        .query_async(&mut con)
        .await
}

async fn unlink(con: &MultiplexedConnection, keys: Vec<Vec<u8>>) -> redis::RedisResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    let mut con = con.clone();
    redis::cmd("UNLINK").arg(keys).query_async(&mut con).await
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
