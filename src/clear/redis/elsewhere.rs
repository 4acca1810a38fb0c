//! After a Redis clear (or dry run) that found no key under its prefix: a short look for keys
//! that look like sessions under another prefix, so that a clear aimed at the wrong prefix
//! never ends in a bare success while every session is still there (the session shard
//! writes `session:<id>` whatever the app's documentation-style initializer says).
//!
//! The look is bounded: at most [`LOOK_STEPS`] SCAN steps in all (spread over a cluster's
//! primaries), each asking for [`SCAN_COUNT`] keys, so a huge keyspace costs no more than a
//! moment. It only counts; nothing is deleted.

use std::collections::BTreeMap;

use redis::aio::MultiplexedConnection;
use serde::Serialize;

use super::{SCAN_COUNT, pattern};
use crate::conventions::SHARD_DEFAULT_PREFIX;

/// SCAN steps the look may take in all: about 100,000 keys examined.
pub const LOOK_STEPS: usize = 100;
/// What a session key's prefix ends with, for the look.
const MARK: &str = "session:";
/// At most this many other prefixes are named.
const MAX_NAMED: usize = 5;

/// Keys under another prefix that look like sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Elsewhere {
    pub prefix: String,
    pub pattern: String,
    /// Keys counted under it.
    pub keys: u64,
    /// Whether the whole keyspace was looked at (else `keys` is a lower bound).
    pub complete: bool,
}

impl Elsewhere {
    /// Whether these are under the session shard's own prefix: the one place the shard's
    /// `RedisStore` can write, so most likely the app's own sessions.
    pub fn shards(&self) -> bool {
        self.prefix == SHARD_DEFAULT_PREFIX
    }

    /// The warning for a clear whose own prefix, `own` (pattern `own_pattern`), matched
    /// nothing.
    pub fn warning(&self, own: &str, own_pattern: &str) -> String {
        let whose = if self.shards() {
            " (the session shard's own prefix)"
        } else {
            ""
        };
        let (least, bound) = if self.complete {
            ("", String::new())
        } else {
            (
                "at least ",
                format!(" in a look at about {} keys", LOOK_STEPS * SCAN_COUNT),
            )
        };
        let quote = |s: &str| s.replace('\'', "'\\''");
        format!(
            "no key matches {own_pattern}, but {least}{} keys match {}{whose}{bound}; pass --prefix '{}' to clear them, or --prefix '{}' if they are not this app's",
            self.keys,
            self.pattern,
            quote(&self.prefix),
            quote(own),
        )
    }
}

/// Keys that look like sessions (a prefix ending in `session:`) under prefixes other than
/// `own`, on the servers behind `cons`: the shard's `session:` first, then the most keys.
pub async fn look(cons: &[MultiplexedConnection], own: &str) -> redis::RedisResult<Vec<Elsewhere>> {
    let steps = (LOOK_STEPS / cons.len().max(1)).max(1);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut complete = true;
    for con in cons {
        let mut cursor = 0u64;
        for step in 0.. {
            if step == steps {
                complete = false;
                break;
            }
            let (next, keys) = super::scan(con, cursor, &format!("*{MARK}*"), SCAN_COUNT).await?;
            for key in keys {
                if let Some(prefix) = prefix_of(&key)
                    && prefix != own
                {
                    *counts.entry(prefix).or_default() += 1;
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    let mut found: Vec<Elsewhere> = counts
        .into_iter()
        .map(|(prefix, keys)| Elsewhere {
            pattern: pattern(&prefix),
            prefix,
            keys,
            complete,
        })
        .collect();
    found.sort_by_key(|e| (e.prefix != SHARD_DEFAULT_PREFIX, std::cmp::Reverse(e.keys)));
    found.truncate(MAX_NAMED);
    Ok(found)
}

/// A key's prefix up to and including its first `session:` (keys that are not text have
/// none).
fn prefix_of(key: &[u8]) -> Option<String> {
    let key = std::str::from_utf8(key).ok()?;
    let end = key.find(MARK)? + MARK.len();
    Some(key[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_the_first_session_mark() {
        assert_eq!(prefix_of(b"session:abc"), Some("session:".into()));
        assert_eq!(prefix_of(b"blog:session:1"), Some("blog:session:".into()));
        assert_eq!(
            prefix_of(b"a:session:b:session:c"),
            Some("a:session:".into())
        );
        assert_eq!(prefix_of(b"sessions:1"), None);
        assert_eq!(prefix_of(&[0xff, b's']), None);
    }

    #[test]
    fn the_warning_names_the_prefix_to_pass() {
        let e = Elsewhere {
            prefix: "session:".into(),
            pattern: "session:*".into(),
            keys: 30,
            complete: true,
        };
        assert_eq!(
            e.warning("docs:session:", "docs:session:*"),
            "no key matches docs:session:*, but 30 keys match session:* (the session shard's own prefix); pass --prefix 'session:' to clear them, or --prefix 'docs:session:' if they are not this app's"
        );
        let e = Elsewhere {
            prefix: "it's:session:".into(),
            pattern: "it's:session:*".into(),
            keys: 2,
            complete: false,
        };
        assert_eq!(
            e.warning("a:session:", "a:session:*"),
            "no key matches a:session:*, but at least 2 keys match it's:session:* in a look at about 100000 keys; pass --prefix 'it'\\''s:session:' to clear them, or --prefix 'a:session:' if they are not this app's"
        );
    }
}
