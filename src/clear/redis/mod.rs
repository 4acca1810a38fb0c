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

use std::borrow::Cow;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::Stop;
use super::cluster::Cluster;
use super::plan::RedisTarget;
use crate::error::{Error, Result};

mod connect;
mod single;
mod tls;

use connect::MAXCLIENTS_FIX;
pub(crate) use connect::{ConnectFailure, open};
pub use single::clear;
pub(crate) use single::scan;

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

/// The URLs of the nodes `url` names, in order. `REDIS_URL` is one URL, or a list of seed
/// nodes of one Redis Cluster in either of two forms:
///
/// - hosts separated by commas in one URL, sharing its scheme, user, password, database and
///   options: `redis://:pw@h1:7000,h2:7001,h3:7002`;
/// - whole URLs separated by commas: `redis://:pw@h1:7000,redis://h2:7001`. Only the first
///   may carry a user and password; they are used for every node.
///
/// A comma inside a password or an option is part of it (the host list is what lies between
/// the last `@` and the first `/`, `?` or `#`). Unix socket URLs are never split.
pub fn seeds(url: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut first_userinfo = "";
    for (i, piece) in crate::url::split_list(url).into_iter().enumerate() {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err("an empty URL in the comma-separated list".to_string());
        }
        let Some(parts) = UrlParts::of(piece) else {
            out.push(piece.to_string());
            continue;
        };
        let userinfo = if i == 0 {
            first_userinfo = parts.userinfo;
            parts.userinfo
        } else if parts.userinfo.is_empty() {
            first_userinfo
        } else {
            return Err(format!(
                "URL number {} of the list has a user or password: only the first URL may, and its are used for every node",
                i + 1
            ));
        };
        for host in parts.hosts.split(',') {
            match host.trim() {
                "" => return Err(format!("an empty host in the list `{}`", parts.hosts)),
                host => out.push(format!("{}://{userinfo}{host}{}", parts.scheme, parts.tail)),
            }
        }
    }
    // One URL naming one host stays exactly as written.
    if out.len() == 1 {
        return Ok(vec![url.to_string()]);
    }
    Ok(out)
}

/// A TCP Redis URL cut where a host list can be: `scheme://` `userinfo@` `hosts` `tail`.
pub(super) struct UrlParts<'a> {
    scheme: &'a str,
    /// With its `@`, or empty.
    userinfo: &'a str,
    hosts: &'a str,
    /// The path, options and fragment.
    tail: &'a str,
}

impl<'a> UrlParts<'a> {
    /// `host:port` to open a TCP connection to (Redis' port when the URL names none).
    fn tcp_address(&self) -> String {
        let has_port = self
            .hosts
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        if has_port {
            self.hosts.to_string()
        } else {
            format!("{}:6379", self.hosts)
        }
    }

    fn of(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "redis" | "rediss" | "valkey" | "valkeys"
        ) {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => authority.split_at(at + 1),
            None => ("", authority),
        };
        Some(UrlParts {
            scheme,
            userinfo,
            hosts,
            tail,
        })
    }
}

/// The database a Redis URL names: the number in its path (`redis://host/5`) or its `?db=`
/// (`redis://host?db=5`, `redis+unix:///run/redis.sock?db=5`), 0 when it names none. A path
/// and a `?db=` that disagree are refused: which one the app's client reads is not ours to
/// guess on a delete.
pub fn database(url: &str) -> std::result::Result<u32, String> {
    let query_db = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or_default())
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("db="))
        .next_back();
    let parse = |text: &str, whence: &str| {
        text.parse::<u32>()
            .map_err(|_| format!("{whence} `{text}` is not a database number"))
    };
    let query_db = query_db.map(|d| parse(d, "?db=")).transpose()?;
    let path_db = match UrlParts::of(url) {
        Some(parts) => {
            let path = parts.tail.split(['?', '#']).next().unwrap_or_default();
            match path.trim_matches('/') {
                "" => None,
                n => Some(parse(n, "the path")?),
            }
        }
        None => None,
    };
    match (path_db, query_db) {
        (Some(p), Some(q)) if p != q => Err(format!(
            "it names database {p} in its path and {q} in `?db=`; keep one"
        )),
        (p, q) => Ok(p.or(q).unwrap_or(0)),
    }
}

/// A TCP URL's `?db=N` moved into its path, where the redis crate reads it (it reads
/// `?db=` only on unix sockets, and would use database 0).
pub(super) fn db_in_path(url: &str) -> std::result::Result<Cow<'_, str>, String> {
    let db = database(url)?;
    let Some(parts) = UrlParts::of(url) else {
        return Ok(Cow::Borrowed(url));
    };
    let Some((_, query)) = parts.tail.split_once('?') else {
        return Ok(Cow::Borrowed(url));
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, format!("#{f}")),
        None => (query, String::new()),
    };
    if !query.split('&').any(|pair| pair.starts_with("db=")) {
        return Ok(Cow::Borrowed(url));
    }
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("db="))
        .collect();
    let query = if rest.is_empty() {
        String::new()
    } else {
        format!("?{}", rest.join("&"))
    };
    Ok(Cow::Owned(format!(
        "{}://{}{}/{db}{query}{fragment}",
        parts.scheme, parts.userinfo, parts.hosts
    )))
}

/// A server's error as shown: its words with key names cut out (an error about a command
/// quotes its first arguments, and a session id is a bearer token), and what would fix it
/// when running the command again would not.
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
        match open(seed).await {
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
            Cluster::connect(seed, con).await?,
        ))),
    }
}

/// The error for seeds none of which answered: a single seed's own error, else a TLS or
/// certificate-store problem (the same on every node, and the one to fix first), else the
/// list of what each said.
fn no_seed_answered(mut failures: Vec<(&String, ConnectFailure)>) -> Error {
    let special = failures
        .iter()
        .position(|(_, f)| !matches!(f, ConnectFailure::Other(_)));
    if failures.len() == 1 || special.is_some() {
        let (seed, failure) = failures.swap_remove(special.unwrap_or(0));
        return failure.into_error(crate::url::mask(seed), |url, reason| Error::RedisConnect {
            url,
            reason,
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

/// A unix socket URL with `password=` / `username=` spelled the way the redis crate reads
/// them (`pass=` / `user=`): it would silently ignore the long names.
pub(super) fn unix_aliases(url: &str) -> Cow<'_, str> {
    let is_unix = url
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().ends_with("unix"));
    let Some((base, query)) = url.split_once('?').filter(|_| is_unix) else {
        return Cow::Borrowed(url);
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let has = |key: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(key))
    };
    let renamed: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "password" if !has("pass") => format!("pass={value}"),
                "username" if !has("user") => format!("user={value}"),
                _ => pair.to_string(),
            }
        })
        .collect();
    let mut out = format!("{base}?{}", renamed.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{pattern, seeds, unix_aliases};

    #[test]
    fn seed_lists() {
        let one = |u: &str| vec![u.to_string()];
        for single in [
            "redis://localhost:6379",
            "redis://:pa,ss@host:6379/2",
            "redis://host:6379/0?name=a,b",
            "redis+unix:///tmp/a,b.sock?db=1",
            "not a url, really",
        ] {
            assert_eq!(seeds(single).unwrap(), one(single), "{single}");
        }
        assert_eq!(
            seeds("redis://:p,w@h1:7000,h2:7001 , [::1]:7002/0?protocol=resp3").unwrap(),
            [
                "redis://:p,w@h1:7000/0?protocol=resp3",
                "redis://:p,w@h2:7001/0?protocol=resp3",
                "redis://:p,w@[::1]:7002/0?protocol=resp3",
            ]
        );
        assert_eq!(
            seeds("rediss://u:a,b@h1:7000,rediss://h2:7001/1, rediss://h3,h4").unwrap(),
            [
                "rediss://u:a,b@h1:7000",
                "rediss://u:a,b@h2:7001/1",
                "rediss://u:a,b@h3",
                "rediss://u:a,b@h4"
            ]
        );
        assert_eq!(
            seeds("redis://h1:7000,redis://h2:7001").unwrap(),
            ["redis://h1:7000", "redis://h2:7001"]
        );
        let refused = seeds("redis://:one@h1:7000,redis://:two@h2:7001").unwrap_err();
        assert!(
            refused.contains("URL number 2") && !refused.contains("two"),
            "{refused}"
        );
        assert!(seeds("redis://h1:7000,,h2:7001").is_err());
        assert!(seeds("redis://h1:7000,").is_err());
        assert!(seeds("redis://h1:7000,redis://h2,").is_err());
    }

    #[test]
    fn every_accepted_seed_list_is_masked_whole() {
        for accepted in [
            "redis://:one@h1:7000,h2:7001",
            "redis://u:one@h1:7000,redis://h2:7001,redis://h3:7002/0?protocol=3",
        ] {
            assert!(seeds(accepted).is_ok());
            assert!(!crate::url::mask(accepted).contains("one"), "{accepted}");
        }
        // A refused list is still masked URL by URL wherever it is shown.
        assert!(seeds("redis://:one@h1:7000,redis://:two@h2:7001").is_err());
        assert_eq!(
            crate::url::mask("redis://:one@h1:7000,redis://u:two@h2:7001"),
            "redis://:****@h1:7000,redis://u:****@h2:7001"
        );
    }

    #[test]
    fn unix_urls_take_long_parameter_names() {
        assert_eq!(
            unix_aliases("redis+unix:///tmp/r.sock?db=2&password=s&username=u"),
            "redis+unix:///tmp/r.sock?db=2&pass=s&user=u"
        );
        for unchanged in [
            "redis+unix:///tmp/r.sock?db=2&pass=s",
            "redis+unix:///tmp/r.sock?pass=a&password=b",
            "redis://h/?password=x",
            "unix:///tmp/r.sock",
        ] {
            assert_eq!(unix_aliases(unchanged), unchanged);
        }
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(pattern("myapp:session:"), "myapp:session:*");
        assert_eq!(pattern("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f*");
    }
}
