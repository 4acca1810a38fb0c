//! A store found in the text, made into a [`Store`], and what a clear needs of it in either
//! API: its Redis key prefix ([`Store::redis_prefix`]) and server ([`Store::redis_url`]).

use super::client::{self, RedisUrl};
use super::forms::{self, Api, Form};
use super::lexer::Lexed;
use super::{Alt, Branch, ReadError, Store, StoreKind, args};

use crate::conventions::SHARD_DEFAULT_PREFIX;

/// A Redis store's key prefix, as far as the source tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefix {
    /// Given as `prefix:` or `key_prefix:` (the documentation's API): resolve it.
    Given(Vec<Alt>),
    /// None given: the shard's own, [`SHARD_DEFAULT_PREFIX`].
    Shard,
    /// The shard's prefix under crystal-redis's `namespace:` (a client made with
    /// `Redis.new(namespace: ns)` writes `<ns>::session:<uuid>`; an empty namespace is none).
    Namespaced(Vec<Alt>),
}

impl Prefix {
    /// The prefix, its alternatives resolved by `resolve` (the plan's own resolution, so that
    /// `ENV` lookups and their errors are the same as for any argument).
    pub fn resolve<E>(
        &self,
        mut resolve: impl FnMut(&[Alt]) -> Result<String, E>,
    ) -> Result<String, E> {
        Ok(match self {
            Prefix::Given(alts) => resolve(alts)?,
            Prefix::Shard => SHARD_DEFAULT_PREFIX.to_string(),
            Prefix::Namespaced(ns) => match resolve(ns)? {
                ns if ns.is_empty() => SHARD_DEFAULT_PREFIX.to_string(),
                ns => format!("{ns}::{SHARD_DEFAULT_PREFIX}"),
            },
        })
    }
}

/// The [`Store`] that `found` is, with its arguments, API and client.
pub(super) fn build(
    text: &str,
    lexed: &Lexed,
    found: &forms::Found,
    branches: Vec<Branch>,
) -> Result<Store, ReadError> {
    let masked = lexed.masked.as_str();
    let list = match found.args_at {
        Some(at) => args::span(masked, at, lexed)?,
        None => None,
    };
    let args = list
        .map(|(a, b)| args::parse(&text[a..b], &masked[a..b]))
        .unwrap_or_default();
    let split = list
        .map(|(a, b)| client::split(masked, a, b))
        .unwrap_or_default();
    let shard_args = split
        .iter()
        .any(|(n, ..)| matches!(n.as_deref(), None | Some("client" | "pool")));
    let api = if found.shard_syntax || shard_args {
        Api::Shard
    } else {
        Api::Docs
    };
    let redis = matches!(found.kind, StoreKind::Redis | StoreKind::ClusteredRedis);
    let client = (api == Api::Shard && redis && found.form != Form::Declared)
        .then(|| client::of_store(text, masked, list));
    Ok(Store {
        kind: found.kind,
        line: lexed.line_of(found.start),
        args,
        branches,
        file: None,
        api,
        form: found.form,
        holder: forms::holder(masked, found.start),
        client,
    })
}

impl Store {
    /// The Redis server it uses: a `url:` argument (either API), else the shard client's
    /// (`client:`/`pool:`), else crystal-redis's default. A store only declared by
    /// `Session.use_store` gives [`RedisUrl::NotSeen`].
    pub fn redis_url(&self) -> RedisUrl {
        if self.form == Form::Declared {
            return RedisUrl::NotSeen;
        }
        if let Some(url) = self.arg(&["url"]) {
            return RedisUrl::Url(url.to_vec());
        }
        match &self.client {
            Some(c) => c.url.clone(),
            None => RedisUrl::Default,
        }
    }

    /// Its Redis key prefix: a `prefix:`/`key_prefix:` argument, else the shard's
    /// `session:` (under the client's `namespace:`, if it has one). The shard's `RedisStore`
    /// has no prefix argument, so for it this is always the shard's prefix.
    pub fn redis_prefix(&self) -> Prefix {
        if let Some(p) = self.arg(&["prefix", "key_prefix"]) {
            return Prefix::Given(p.to_vec());
        }
        match self.client.as_ref().and_then(|c| c.namespace.as_ref()) {
            Some(ns) => Prefix::Namespaced(ns.clone()),
            None => Prefix::Shard,
        }
    }

    /// Whether clearing it clears the same sessions as `other`: the same kind of store with
    /// the same prefix, table and server.
    pub fn same_target(&self, other: &Store) -> bool {
        let redis = matches!(self.kind, StoreKind::Redis | StoreKind::ClusteredRedis);
        self.kind == other.kind
            && self.arg(&["table", "table_name"]) == other.arg(&["table", "table_name"])
            && self.arg(&["url"]) == other.arg(&["url"])
            && (!redis
                || (self.redis_prefix() == other.redis_prefix()
                    && self.redis_url() == other.redis_url()))
    }
}
