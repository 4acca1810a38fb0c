//! The Redis server a shard-API store talks to, read from its `client:` or `pool:` argument:
//! `Redis.new(url: ...)`, `Redis.new(host:, port:, database:, password:)`,
//! `Redis::PooledClient.new(...)` (crystal-redis), `Session::ConnectionPool.new(...)` with a
//! `Session::ConnectionPoolConfig.new(redis_host:, redis_port:, ...)`. Values are kept as
//! alternatives ([`Alt`]), to be resolved as the documentation form's `url:` is.

use std::sync::LazyLock;

use regex::Regex;

use super::args;
use super::{Alt, Part};

/// Where a store's Redis server is, as far as the source tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisUrl {
    /// Nothing is given: crystal-redis's default, `redis://localhost:6379` (the plan's
    /// `REDIS_URL`, when set, still comes first).
    Default,
    /// A URL (`url:` of the documentation's store, or of `Redis.new`), to be resolved like
    /// any argument.
    Url(Vec<Alt>),
    /// The server given in parts (`Redis.new(host:, port:)`, a pool's configuration): build
    /// the URL with [`UrlParts::url`] once each part is resolved.
    Parts(UrlParts),
    /// An expression this reader cannot follow (a variable, a method of the project's, a Unix
    /// socket), as written: the plan must not guess; `REDIS_URL` or `--url`-like input decides,
    /// else it is an error naming this text.
    Unresolvable(String),
    /// The store's construction was not seen (`Session.use_store` names only a type).
    NotSeen,
}

/// A Redis server given in parts; `None` is crystal-redis's default for that part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlParts {
    pub host: Option<Vec<Alt>>,
    pub port: Option<Vec<Alt>>,
    pub database: Option<Vec<Alt>>,
    pub password: Option<Vec<Alt>>,
    /// `ssl: true`: the scheme is `rediss`.
    pub tls: bool,
}

impl UrlParts {
    /// The URL these parts make, each part resolved by `resolve` (host `localhost` and port
    /// 6379 when not given); the password is percent-encoded.
    pub fn url<E>(
        &self,
        mut resolve: impl FnMut(&[Alt]) -> Result<String, E>,
        invalid: impl Fn(String) -> E,
    ) -> Result<String, E> {
        let mut get = |p: &Option<Vec<Alt>>| p.as_deref().map(&mut resolve).transpose();
        let host = get(&self.host)?.unwrap_or_else(|| "localhost".to_string());
        let port = get(&self.port)?.unwrap_or_else(|| "6379".to_string());
        let database = get(&self.database)?;
        let password = get(&self.password)?;
        let scheme = if self.tls { "rediss" } else { "redis" };
        let mut url = url::Url::parse(&format!("{scheme}://{host}:{port}"))
            .map_err(|e| invalid(format!("{host}:{port}: {e}")))?;
        if let Some(p) = password {
            url.set_password(Some(&p))
                .map_err(|()| invalid(format!("{host}: no password can go with this host")))?;
        }
        if let Some(db) = database {
            url.set_path(&db);
        }
        Ok(url.to_string())
    }
}

/// A shard store's connection: its server, and crystal-redis's key namespace (`namespace:`),
/// which makes every key `<namespace>::<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub url: RedisUrl,
    pub namespace: Option<Vec<Alt>>,
}

impl Client {
    const DEFAULT: Client = Client {
        url: RedisUrl::Default,
        namespace: None,
    };
}

static REDIS_NEW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:::)?Redis(?:\s*::\s*PooledClient)?\s*\.\s*new\b").expect("a valid regex")
});
static POOL_NEW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:::)?Session\s*::\s*)?ConnectionPool\s*\.\s*new\b").expect("a valid regex")
});
static POOL_CONFIG_NEW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:::)?Session\s*::\s*)?ConnectionPoolConfig\s*\.\s*new\b")
        .expect("a valid regex")
});

/// Top-level arguments of the list `masked[a..b]`: each with its name (`None` when
/// positional) and the span of its value.
pub fn split(masked: &str, a: usize, b: usize) -> Vec<(Option<String>, usize, usize)> {
    let bytes = masked.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = a;
    for i in a..=b {
        match bytes.get(i).filter(|_| i < b) {
            Some(b'(' | b'[' | b'{') => depth += 1,
            Some(b')' | b']' | b'}') => depth -= 1,
            Some(b',') | None if depth == 0 => {
                let seg = &masked[start..i];
                let lead = seg.len() - seg.trim_start().len();
                let s = seg.trim_start();
                let name_len = s
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                let rest = &s[name_len..];
                let (name, vstart) =
                    if name_len > 0 && rest.starts_with(':') && !rest.starts_with("::") {
                        (Some(s[..name_len].to_string()), start + lead + name_len + 1)
                    } else {
                        (None, start + lead)
                    };
                if !masked[vstart..i].trim().is_empty() {
                    out.push((name, vstart, i));
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// The argument list that follows `at` in `masked` (`(...)`), as a span inside the parentheses.
fn list_after(masked: &str, at: usize, end: usize) -> Option<(usize, usize)> {
    let b = masked.as_bytes();
    let i = at + masked[at..end].len() - masked[at..end].trim_start().len();
    if b.get(i) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().take(end).skip(i) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((i + 1, j));
                }
            }
            _ => {}
        }
    }
    None
}

fn value(text: &str, masked: &str, a: usize, b: usize) -> Vec<Alt> {
    let t = text[a..b].trim();
    // A number (`6380`, `1_0`) is its digits.
    if t.starts_with(|c: char| c.is_ascii_digit())
        && t.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return vec![Alt::Literal(vec![Part::Text(t.replace('_', ""))])];
    }
    args::alternatives(&text[a..b], &masked[a..b])
}

/// The client of a shard store whose argument list is `masked[a..b]` (`None` for no list).
pub fn of_store(text: &str, masked: &str, list: Option<(usize, usize)>) -> Client {
    let Some((a, b)) = list else {
        return Client::DEFAULT;
    };
    let args = split(masked, a, b);
    let arg = args
        .iter()
        .find(|(n, ..)| matches!(n.as_deref(), Some("client" | "pool" | "config")))
        .or_else(|| args.iter().find(|(n, ..)| n.is_none()));
    match arg {
        None => Client::DEFAULT,
        Some(&(_, s, e)) => of_value(text, masked, s, e),
    }
}

/// The client an expression (`masked[a..b]`) makes.
fn of_value(text: &str, masked: &str, a: usize, b: usize) -> Client {
    let trimmed_start = a + masked[a..b].len() - masked[a..b].trim_start().len();
    let trimmed_end = a + masked[a..b].trim_end().len();
    let (a, b) = (trimmed_start, trimmed_end);
    let m = &masked[a..b];
    let unresolvable = || Client {
        url: RedisUrl::Unresolvable(text[a..b].to_string()),
        namespace: None,
    };
    let whole_call = |re: &Regex| -> Option<Option<(usize, usize)>> {
        let end = a + re.find(m)?.end();
        match list_after(masked, end, b) {
            Some((s, e)) if masked[e + 1..b].trim().is_empty() => Some(Some((s, e))),
            None if masked[end..b].trim().is_empty() => Some(None),
            _ => None,
        }
    };
    if let Some(list) = whole_call(&REDIS_NEW_RE) {
        return redis_new(text, masked, list).unwrap_or_else(unresolvable);
    }
    if let Some(list) = whole_call(&POOL_NEW_RE) {
        return match list
            .map(|(s, e)| split(masked, s, e))
            .unwrap_or_default()
            .as_slice()
        {
            [] => Client::DEFAULT,
            [(None | Some(_), s, e)] => of_value(text, masked, *s, *e),
            _ => unresolvable(),
        };
    }
    if let Some(list) = whole_call(&POOL_CONFIG_NEW_RE) {
        return pool_config(text, masked, list).unwrap_or_else(unresolvable);
    }
    unresolvable()
}

/// `Redis.new(...)`: `url:` overrides every other part; positional arguments follow the
/// constructor's order (host, port, unixsocket, password, database, url).
fn redis_new(text: &str, masked: &str, list: Option<(usize, usize)>) -> Option<Client> {
    const ORDER: [&str; 6] = ["host", "port", "unixsocket", "password", "database", "url"];
    let mut parts = UrlParts::default();
    let mut url = None;
    let mut namespace = None;
    let args = list.map(|(s, e)| split(masked, s, e)).unwrap_or_default();
    for (i, (name, s, e)) in args.iter().enumerate() {
        let name = match name {
            Some(n) => n.as_str(),
            None => ORDER.get(i)?,
        };
        let v = value(text, masked, *s, *e);
        match name {
            "host" => parts.host = Some(v),
            "port" => parts.port = Some(v),
            "password" => parts.password = Some(v),
            "database" => parts.database = Some(v),
            "url" => url = Some(v),
            "namespace" => namespace = Some(v),
            "ssl" => match masked[*s..*e].trim() {
                "true" => parts.tls = true,
                "false" => {}
                _ => return None,
            },
            // A Unix socket, a TLS context: not a server this tool can reach by URL.
            "unixsocket" | "ssl_context" => return None,
            _ => {}
        }
    }
    let url = match url {
        Some(u) => RedisUrl::Url(u),
        None if parts == UrlParts::default() => RedisUrl::Default,
        None => RedisUrl::Parts(parts),
    };
    Some(Client { url, namespace })
}

/// `Session::ConnectionPoolConfig.new(redis_host:, redis_port:, redis_database:,
/// redis_password:)` (size and timeout are the pool's own).
fn pool_config(text: &str, masked: &str, list: Option<(usize, usize)>) -> Option<Client> {
    const ORDER: [&str; 6] = [
        "size",
        "timeout",
        "redis_host",
        "redis_port",
        "redis_database",
        "redis_password",
    ];
    let mut parts = UrlParts::default();
    let args = list.map(|(s, e)| split(masked, s, e)).unwrap_or_default();
    for (i, (name, s, e)) in args.iter().enumerate() {
        let name = match name {
            Some(n) => n.as_str(),
            None => ORDER.get(i)?,
        };
        let v = Some(value(text, masked, *s, *e));
        match name {
            "redis_host" => parts.host = v,
            "redis_port" => parts.port = v,
            "redis_database" => parts.database = v,
            "redis_password" => parts.password = v,
            _ => {}
        }
    }
    let url = if parts == UrlParts::default() {
        RedisUrl::Default
    } else {
        RedisUrl::Parts(parts)
    };
    Some(Client {
        url,
        namespace: None,
    })
}
