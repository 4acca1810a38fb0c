//! The store (found, which kind, where, which API and whether the pinned shard compiles it),
//! the shard dependencies it needs, and memory sessions in production.

use crate::backend::{Backend, Source};
use crate::clear::Target;
use crate::cli::Api;
use crate::initializer::Api as StoreApi;
use crate::project::SHARD_YML;
use crate::setup::{api, shard};

use super::{Check, Context};

const SETUP_FIX: &str = "run `azu-session session:setup` to write src/initializers/session.cr";

pub(super) fn checks(cx: &Context) -> Vec<Check> {
    let mut checks = vec![found(cx)];
    checks.extend(api_check(cx));
    checks.extend(dependencies(cx));
    checks.extend(memory(cx));
    checks
}

fn found(cx: &Context) -> Check {
    let plan = match &cx.plan {
        Ok(plan) => plan,
        Err(crate::error::Error::DatabaseUrlMissing) => {
            return Check::ok("store.found", "database store (DATABASE_URL is not set)");
        }
        Err(e) if super::is_database_url_error(e) => {
            return Check::ok("store.found", "database store (see database.url)");
        }
        // An error of its own (SESSION_BACKEND naming no backend, a store that cannot be
        // told) says its own fix.
        Err(e) => return Check::from_error("store.found", e),
    };
    let place = match &plan.target {
        Target::Redis(t) => format!("{}, prefix {}", t.masked_url, t.prefix),
        Target::Database(t) => format!("{}, table {}", t.url.shown, t.table.plain()),
        Target::Memory => "in the application's process".to_string(),
    };
    let what = format!("{} store {}: {place}", plan.backend, plan.source.describe());
    match plan.source {
        Source::Default => Check::error(
            "store.found",
            "no session store found in src/initializers/session.cr or src/**/*.cr",
            SETUP_FIX,
        ),
        _ => Check::ok("store.found", what),
    }
}

/// The store's API against the session shard pinned in shard.lock.
fn api_check(cx: &Context) -> Option<Check> {
    let store = cx.store()?;
    let api = match store.api {
        StoreApi::Docs => Api::Docs,
        StoreApi::Shard => Api::Shard,
    };
    let name = format!("{} API", api.as_str());
    let pinned = match api::pinned(&cx.root) {
        Ok(p) => p,
        Err(e) => return Some(Check::from_error("store.api", &e)),
    };
    let Some((file, version)) = pinned else {
        return Some(Check::ok(
            "store.api",
            format!("{name}; nothing pins the session shard (no shard.lock)"),
        ));
    };
    let new_enough = api::parse_version(&version).is_some_and(|v| v >= api::FIRST_SHARD_API);
    Some(match api {
        Api::Docs => Check::error(
            "store.api",
            format!(
                "the store is written in the Azu documentation's API, which session {version} (pinned in {file}) does not compile"
            ),
            "run `azu-session session:setup --api shard --force` to write the shard's API",
        ),
        Api::Shard if !new_enough => Check::error(
            "store.api",
            format!(
                "the store is written in the shard's API, which needs session 1.0.30 or later; {file} pins {version}"
            ),
            "run `shards update session`",
        ),
        Api::Shard => Check::ok(
            "store.api",
            format!("{name}; {file} pins session {version}"),
        ),
    })
}

/// shard.yml has what the store's backend and API need.
fn dependencies(cx: &Context) -> Option<Check> {
    let backend = cx.backend?;
    let api = match cx.store().map(|s| s.api) {
        Some(StoreApi::Shard) => Api::Shard,
        _ => Api::Docs,
    };
    let url = cx.env.get("DATABASE_URL");
    let wanted = shard::required(backend, api, url.as_deref());
    let path = cx.root.join(SHARD_YML);
    let missing =
        crate::project::read_text(&path).and_then(|text| shard::missing(&path, &text, &wanted));
    Some(match missing {
        Err(e) => Check::from_error("shard.dependencies", &e),
        Ok(m) if m.is_empty() => {
            let names: Vec<&str> = wanted.iter().map(|s| s.name).collect();
            Check::ok(
                "shard.dependencies",
                format!("shard.yml has {}", names.join(", ")),
            )
        }
        Ok(m) => {
            let names: Vec<&str> = m.iter().map(|s| s.name).collect();
            Check::error(
                "shard.dependencies",
                format!("shard.yml lacks {}", names.join(", ")),
                "run `azu-session session:setup` (it adds them), then `shards install`",
            )
        }
    })
}

/// Memory sessions in production: lost on every restart, not shared between processes.
fn memory(cx: &Context) -> Option<Check> {
    if cx.backend != Some(Backend::Memory) {
        return None;
    }
    Some(if cx.production() {
        Check::error(
            "memory.production",
            "memory sessions in production: lost on every restart and not shared between processes",
            "use Redis or the database in production (`azu-session session:setup --backend redis`)",
        )
    } else {
        Check::ok("memory.production", "memory sessions outside production")
    })
}
