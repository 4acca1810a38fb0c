//! One server's SCAN + UNLINK loop: each batch's UNLINK goes out with the next SCAN.

use redis::aio::MultiplexedConnection;

use super::explain;
use super::pace::Pace;
use crate::clear::Stop;
use crate::clear::plan::RedisTarget;
use crate::error::{Error, Result};

/// Delete every key `target`'s pattern matches on the server behind `con` (or, with
/// `dry_run`, count them). `progress` is told each batch's count as it lands.
///
/// Long on purpose: the pipelined loop's state (the UNLINK in flight, the SCAN sent with it,
/// the running count) is what every exit (done, stopped, failed) must settle, and split
/// into pieces that state would have to travel between them.
pub async fn clear(
    con: &MultiplexedConnection,
    target: &RedisTarget,
    dry_run: bool,
    stop: &Stop,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let pattern = &target.pattern;
    let mut cleared = 0u64;
    let fail = |e: redis::RedisError, cleared: u64| {
        let (reason, fix) = explain(&e);
        Error::Redis {
            url: target.masked_url.clone(),
            cleared,
            dry_run,
            reason,
            fix,
        }
    };

    let count = Pace::measure(con).await.count();
    let (mut cursor, mut keys) = scan(con, 0, pattern, count).await.map_err(|e| fail(e, 0))?;
    if dry_run {
        loop {
            cleared += keys.len() as u64;
            if !keys.is_empty() {
                progress(keys.len() as u64);
            }
            if stop.requested() {
                return Err(Error::Interrupted { cleared, dry_run });
            }
            if cursor == 0 {
                return Ok(cleared);
            }
            (cursor, keys) = scan(con, cursor, pattern, count)
                .await
                .map_err(|e| fail(e, cleared))?;
        }
    }
    // The UNLINK sent last time, whose answer is not awaited before the next commands go
    // out: while the server works on it, this side reads the next SCAN's keys.
    let mut in_flight: Option<Unlinking> = None;
    loop {
        // This batch's next SCAN and its UNLINK go out at once, the SCAN first (the tasks
        // run in the order they are spawned), so its keys come back while the UNLINK runs.
        let next = (cursor != 0).then(|| {
            let (con, pattern) = (con.clone(), pattern.clone());
            tokio::spawn(async move { scan(&con, cursor, &pattern, count).await })
        });
        let sent = in_flight.replace(tokio::spawn(unlink(con.clone(), keys)));
        // The previous batch's UNLINK, sent before that SCAN, answers first.
        let deleted = match answer(sent).await {
            Ok(n) => n,
            Err(e) => {
                // The UNLINK sent after it may still have deleted keys: count them too.
                cleared += answer(in_flight.take()).await.unwrap_or(0);
                return Err(fail(e, cleared));
            }
        };
        cleared += deleted;
        if deleted > 0 {
            progress(deleted);
        }
        let scanned = match next {
            Some(task) if !stop.requested() => Some(answer(Some(task)).await),
            _ => None,
        };
        // Stopping, done or failed: the last UNLINK lands before anything is reported, so
        // the count is exact.
        if !matches!(scanned, Some(Ok(_))) {
            let deleted = answer(in_flight.take())
                .await
                .map_err(|e| fail(e, cleared))?;
            cleared += deleted;
            if deleted > 0 {
                progress(deleted);
            }
        }
        match scanned {
            Some(Ok(found)) => (cursor, keys) = found,
            Some(Err(e)) => return Err(fail(e, cleared)),
            None if stop.requested() => return Err(Error::Interrupted { cleared, dry_run }),
            None => return Ok(cleared),
        }
    }
}

/// An UNLINK sent and not yet answered.
type Unlinking = tokio::task::JoinHandle<redis::RedisResult<u64>>;

/// The answer of a command sent in its own task (nothing when nothing was sent).
async fn answer<T: Default>(
    task: Option<tokio::task::JoinHandle<redis::RedisResult<T>>>,
) -> redis::RedisResult<T> {
    let Some(task) = task else {
        return Ok(T::default());
    };
    task.await.unwrap_or_else(|e| {
        Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "a command's task failed",
            e.to_string(),
        )))
    })
}

/// One SCAN step of `count` keys.
pub(crate) async fn scan(
    con: &MultiplexedConnection,
    cursor: u64,
    pattern: &str,
    count: usize,
) -> redis::RedisResult<(u64, Vec<Vec<u8>>)> {
    let mut con = con.clone();
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count)
        .query_async(&mut con)
        .await
}

async fn unlink(mut con: MultiplexedConnection, keys: Vec<Vec<u8>>) -> redis::RedisResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    redis::cmd("UNLINK").arg(keys).query_async(&mut con).await
}
