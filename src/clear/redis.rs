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
use redis::{AsyncConnectionConfig, Client};

use super::Stop;
use super::cluster::Cluster;
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
struct UrlParts<'a> {
    scheme: &'a str,
    /// With its `@`, or empty.
    userinfo: &'a str,
    hosts: &'a str,
    /// The path, options and fragment.
    tail: &'a str,
}

impl<'a> UrlParts<'a> {
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
fn db_in_path(url: &str) -> std::result::Result<Cow<'_, str>, String> {
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

/// Where `REDIS_URL` leads: one server, or a Redis Cluster.
pub enum RedisTarget {
    Single(MultiplexedConnection),
    Cluster(Box<Cluster>),
}

impl RedisTarget {
    /// The number of primaries, for a cluster.
    pub fn primaries(&self) -> Option<usize> {
        match self {
            RedisTarget::Single(_) => None,
            RedisTarget::Cluster(cluster) => Some(cluster.primaries()),
        }
    }

    /// Delete every key under `prefix` (or, with `dry_run`, count them); `progress` is told
    /// each batch's count as it lands.
    pub async fn clear(
        &self,
        masked_url: &str,
        prefix: &str,
        dry_run: bool,
        stop: &Stop,
        progress: impl FnMut(u64),
    ) -> Result<u64> {
        match self {
            RedisTarget::Single(con) => {
                clear(con, masked_url, prefix, dry_run, stop, progress).await
            }
            RedisTarget::Cluster(cluster) => cluster.clear(prefix, dry_run, stop, progress).await,
        }
    }
}

/// Connect to the first seed in `url` that answers and find out whether it is a cluster
/// node; for a cluster, connect to every primary. Nothing is deleted here.
pub async fn connect_target(url: &str) -> Result<RedisTarget> {
    let seeds = seeds(url).map_err(|reason| Error::RedisUrlInvalid {
        url: crate::url::mask(url),
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
            Ok(RedisTarget::Single(con))
        }
        (false, count) => Err(Error::RedisNotCluster { url: masked, count }),
        (true, _) => Ok(RedisTarget::Cluster(Box::new(
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

/// Why a connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectFailure {
    /// The server's certificate is signed by a CA that is not trusted here.
    Untrusted(String),
    /// The server's certificate is refused for another reason (expired, other host, ...).
    Refused(String),
    /// The trusted certificates named by SSL_CERT_FILE or SSL_CERT_DIR cannot be loaded.
    Roots {
        var: &'static str,
        path: String,
        reason: String,
    },
    /// The URL itself does not parse: no server was asked.
    InvalidUrl(String),
    /// The server refused us for a reason that has a known fix (a password, maxclients).
    Fixable {
        reason: String,
        fix: String,
    },
    Other(String),
}

impl ConnectFailure {
    pub(crate) fn reason(&self) -> &str {
        match self {
            ConnectFailure::Untrusted(r)
            | ConnectFailure::Refused(r)
            | ConnectFailure::Other(r)
            | ConnectFailure::InvalidUrl(r)
            | ConnectFailure::Fixable { reason: r, .. }
            | ConnectFailure::Roots { reason: r, .. } => r,
        }
    }

    /// The error for a connection to `masked_url`; `other` makes it for a failure that is
    /// not about TLS.
    pub(crate) fn into_error(
        self,
        masked_url: String,
        other: impl FnOnce(String, String) -> Error,
    ) -> Error {
        match self {
            ConnectFailure::Untrusted(reason) => Error::RedisTlsUntrusted {
                url: masked_url,
                reason,
            },
            ConnectFailure::Refused(reason) => Error::RedisTlsRefused {
                url: masked_url,
                reason,
            },
            ConnectFailure::Roots { var, path, reason } => {
                Error::RedisTlsRoots { var, path, reason }
            }
            ConnectFailure::InvalidUrl(reason) => Error::RedisUrlInvalid {
                url: masked_url,
                reason,
            },
            ConnectFailure::Fixable { reason, fix } => Error::RedisRefused {
                url: masked_url,
                reason,
                fix,
            },
            ConnectFailure::Other(reason) => other(masked_url, reason),
        }
    }
}

/// A connection to the one server `url` names, within [`CONNECT_TIMEOUT`].
pub(crate) async fn open(url: &str) -> std::result::Result<MultiplexedConnection, ConnectFailure> {
    let url = unix_aliases(url);
    let url = db_in_path(&url).map_err(ConnectFailure::InvalidUrl)?;
    let client =
        Client::open(url.as_ref()).map_err(|e| ConnectFailure::InvalidUrl(e.to_string()))?;
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
        Ok(Err(e)) => match classify(&e) {
            // A server that is full says so as it accepts, then closes; our client only
            // sees the closed connection. Ask again and read what it says.
            ConnectFailure::Other(reason) => match refusal(&url).await {
                Some(said) => Err(match explain_text(&said) {
                    Some(fix) => ConnectFailure::Fixable { reason: said, fix },
                    None => ConnectFailure::Other(said),
                }),
                None => Err(ConnectFailure::Other(reason)),
            },
            failure => Err(failure),
        },
        Err(_) => Err(ConnectFailure::Other(format!(
            "no answer in {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Sort a connection error: a certificate that does not verify, certificates that cannot be
/// loaded, or anything else.
fn classify(e: &redis::RedisError) -> ConnectFailure {
    // The crate's own connect timeout and ours are the same 5 s: say it one way.
    if e.is_timeout() {
        return ConnectFailure::Other(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()));
    }
    let reason = e.to_string();
    if let Some(cert) = certificate_error(e) {
        return match cert {
            // No trusted CA of that name, or one of that name that did not sign it.
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature => {
                ConnectFailure::Untrusted(reason)
            }
            // rustls' text for a wrong host has a `;` of its own.
            _ => ConnectFailure::Refused(reason.replace("; ", ", ")),
        };
    }
    // rustls-native-certs reads SSL_CERT_FILE / SSL_CERT_DIR instead of the system store
    // when they are set; one that cannot be read fails every TLS connection.
    for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let path = value.to_string_lossy().into_owned();
        let unreadable = std::env::split_paths(&value)
            .find_map(|p| std::fs::metadata(&p).err().map(|err| (p, err)));
        if let Some((p, err)) = unreadable {
            return ConnectFailure::Roots {
                var,
                path: p.display().to_string(),
                reason: err.to_string(),
            };
        }
        if !path.is_empty() && reason.contains(&path) {
            return ConnectFailure::Roots { var, path, reason };
        }
    }
    match explain(e) {
        (reason, Some(fix)) => ConnectFailure::Fixable { reason, fix },
        _ => ConnectFailure::Other(reason),
    }
}

/// What a plain TCP server at `url` says unasked as a connection opens (Redis at maxclients
/// sends its error and closes), within a moment; `None` for TLS, sockets or silence.
async fn refusal(url: &str) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let parts = UrlParts::of(url)?;
    if !parts.scheme.eq_ignore_ascii_case("redis") || parts.hosts.contains(',') {
        return None;
    }
    let addr = if parts
        .hosts
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        parts.hosts.to_string()
    } else {
        format!("{}:6379", parts.hosts)
    };
    let wait = Duration::from_millis(500);
    let mut stream = tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(wait, stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let said = String::from_utf8_lossy(&buf[..n]);
    said.strip_prefix('-').map(|e| e.trim().to_string())
}

/// The fix for a server's refusal known only by its text.
fn explain_text(text: &str) -> Option<String> {
    text.to_ascii_lowercase()
        .contains("max number of clients")
        .then(|| MAXCLIENTS_FIX.to_string())
}

const MAXCLIENTS_FIX: &str = "the server has as many clients as its maxclients allows; close idle ones or raise maxclients, then run the command again";

/// The certificate error rustls gave, wherever it sits in the error's chain (the redis
/// crate keeps an I/O error as an `Arc<dyn Error>`, tokio-rustls wraps rustls' error in an
/// I/O error).
fn certificate_error(e: &redis::RedisError) -> Option<&rustls::CertificateError> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let err: &(dyn std::error::Error + 'static) = match err.downcast_ref::<Shared>() {
            Some(shared) => shared.as_ref(),
            None => err,
        };
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(cert)) =
            inner.or_else(|| err.downcast_ref::<rustls::Error>())
        {
            return Some(cert);
        }
        source = err.source();
    }
    None
}

/// A unix socket URL with `password=` / `username=` spelled the way the redis crate reads
/// them (`pass=` / `user=`): it would silently ignore the long names.
fn unix_aliases(url: &str) -> Cow<'_, str> {
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

/// Delete every key under `prefix` on the server behind `con` (or, with `dry_run`, count
/// them). `progress` is told each batch's count as it lands.
pub async fn clear(
    con: &MultiplexedConnection,
    masked_url: &str,
    prefix: &str,
    dry_run: bool,
    stop: &Stop,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let pattern = pattern(prefix);
    let mut cleared = 0u64;
    let fail = |e: redis::RedisError, cleared: u64| {
        let (reason, fix) = explain(&e);
        Error::Redis {
            url: masked_url.to_string(),
            cleared,
            dry_run,
            reason,
            fix,
        }
    };

    let (mut cursor, mut keys) = scan(con, 0, &pattern).await.map_err(|e| fail(e, 0))?;
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
            (cursor, keys) = scan(con, cursor, &pattern)
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
            tokio::spawn(async move { scan(&con, cursor, &pattern).await })
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

pub(crate) async fn scan(
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

async fn unlink(mut con: MultiplexedConnection, keys: Vec<Vec<u8>>) -> redis::RedisResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    redis::cmd("UNLINK").arg(keys).query_async(&mut con).await
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
