//! The ways a store is written, found in the masked text: the documentation's
//! `RedisStore.new(url:, prefix:, ttl:)`, and the session shard's `Session::RedisStore(T).new(...)`,
//! `.provider(...)` (shard 1.0.27 and earlier), `.with_pool(...)`, `PooledRedisStore(T).new`,
//! and `Session.use_store(Session::RedisStore(T))`, which names a store's type (and so its kind)
//! without making one. Whatever holds the store (`config.store =`, `config.provider =`, a
//! constant) is read from what comes before it on its line.

use std::sync::LazyLock;

use regex::Regex;

use super::StoreKind;

/// Which configuration API a store is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The Azu documentation's: `RedisStore.new(url:, prefix:, ttl:)`, `MemoryStore.new(ttl:)`
    /// (no type argument). No released shard compiles it; it is what `session:setup` writes by
    /// default.
    Docs,
    /// The session shard's: a type argument (`Session::RedisStore(UserSession)`), or
    /// `.provider`/`.with_pool`, or `client:`/`pool:` arguments, or `Session.use_store`.
    Shard,
}

/// How the store is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `X.new(...)`.
    New,
    /// `X(T).provider(...)` (shard 1.0.27 and earlier).
    Provider,
    /// `RedisStore(T).with_pool(...)`.
    WithPool,
    /// `Session.use_store(X(T))`: only the store's type is named; the store itself is made
    /// somewhere this reader did not see, so its arguments are unknown.
    Declared,
}

/// One store found: where its text starts, where its argument list may start, and what it is.
#[derive(Debug, Clone)]
pub struct Found {
    pub start: usize,
    /// Just after `.new`/`.provider`/`.with_pool` (where an argument list may follow); for a
    /// declared store, `None`.
    pub args_at: Option<usize>,
    pub kind: StoreKind,
    pub form: Form,
    /// Whether it has a type argument, or is written as the shard writes it (`.provider`,
    /// `PooledRedisStore`, `use_store`).
    pub shard_syntax: bool,
}

static NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\b[A-Z][A-Za-z0-9_]*::)*\b(ClusteredRedisStore|PooledRedisStore|RedisStore|SessionDatabaseStore|DatabaseStore|MemoryStore|CookieStore)\b",
    )
    .expect("a valid regex")
});
static USE_STORE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\buse_store\s*\(").expect("a valid regex"));

/// How far a type argument may reach (`RedisStore(App::Sessions::UserSession)`), so that a
/// stray `(` costs no more than this.
const MAX_TYPE_ARG: usize = 512;

fn kind_of(name: &str) -> Option<StoreKind> {
    Some(match name {
        "RedisStore" | "PooledRedisStore" => StoreKind::Redis,
        "ClusteredRedisStore" => StoreKind::ClusteredRedis,
        // `SessionDatabaseStore` is the store `session:setup --api shard` writes for the
        // database (the shard has none); it keeps its rows in the default table.
        "DatabaseStore" | "SessionDatabaseStore" => StoreKind::Database,
        "MemoryStore" => StoreKind::Memory,
        "CookieStore" => StoreKind::Cookie,
        _ => return None,
    })
}

fn skip_ws(b: &[u8], mut i: usize, newlines: bool) -> usize {
    while i < b.len()
        && (b[i] == b' ' || b[i] == b'\t' || b[i] == b'\r' || (newlines && b[i] == b'\n'))
    {
        i += 1;
    }
    i
}

/// The index just after the `)` closing the `(` at `open`, within `MAX_TYPE_ARG` bytes.
fn close_paren(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(open).take(MAX_TYPE_ARG) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            b'"' | b'\'' | b';' => return None,
            _ => {}
        }
    }
    None
}

/// After a store's name ending at `end`: its type argument's end (or `end`), and whether it
/// has one.
fn after_type_arg(b: &[u8], end: usize) -> (usize, bool) {
    let i = skip_ws(b, end, false);
    if b.get(i) == Some(&b'(')
        && let Some(close) = close_paren(b, i)
    {
        return (close, true);
    }
    (end, false)
}

/// Every store constructed or declared in `masked`, in text order.
pub fn find(masked: &str) -> Vec<Found> {
    let b = masked.as_bytes();
    let mut out = Vec::new();
    // The spans of `use_store(...)` argument lists: a store named there is a type.
    let mut declared: Vec<(usize, usize)> = Vec::new();
    for m in USE_STORE_RE.find_iter(masked) {
        let open = m.end() - 1;
        if let Some(close) = close_paren(b, open) {
            declared.push((open, close));
        }
    }
    for caps in NAME_RE.captures_iter(masked) {
        let (Some(whole), Some(name)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let Some(kind) = kind_of(name.as_str()) else {
            continue;
        };
        let (after, typed) = after_type_arg(b, whole.end());
        let pooled = name.as_str() == "PooledRedisStore";
        let i = skip_ws(b, after, true);
        if b.get(i) == Some(&b'.') {
            let j = skip_ws(b, i + 1, true);
            let ident_len = b[j..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            let form = match &masked[j..j + ident_len] {
                "new" => Form::New,
                "provider" => Form::Provider,
                "with_pool" => Form::WithPool,
                _ => continue,
            };
            // `new?`/`new!` are other methods.
            if matches!(b.get(j + ident_len), Some(b'?' | b'!')) {
                continue;
            }
            out.push(Found {
                start: whole.start(),
                args_at: Some(j + ident_len),
                kind,
                form,
                shard_syntax: typed || pooled || form != Form::New,
            });
        } else if declared
            .iter()
            .any(|&(open, close)| open < whole.start() && whole.end() <= close)
        {
            out.push(Found {
                start: whole.start(),
                args_at: None,
                kind,
                form: Form::Declared,
                shard_syntax: true,
            });
        }
    }
    out
}

static HOLDER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(@{0,2}[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[a-z_][A-Za-z0-9_]*)*)\s*(?:\|\|)?=\s*$")
        .expect("a valid regex")
});

/// What the store at `start` is assigned to, as written (`config.store`, `STORE`), when an
/// assignment precedes it on its line.
pub fn holder(masked: &str, start: usize) -> Option<String> {
    let line_start = masked[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &masked[line_start..start];
    // `==`, `!=`, `<=`, `>=` compare; they do not assign.
    let trimmed = before.trim_end();
    if trimmed.ends_with("==")
        || trimmed.ends_with("!=")
        || trimmed.ends_with("<=")
        || trimmed.ends_with(">=")
    {
        return None;
    }
    HOLDER_RE
        .captures(before)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().split_whitespace().collect::<String>())
}
