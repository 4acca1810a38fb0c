//! Deciding everything `session:clear` will do, before any server is touched: the backend and
//! where it came from, and the URL, key prefix or table.

use std::path::Path;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::backend::{self, Backend, Source};
use crate::clear::sql::Table;
pub use crate::clear::target::{DatabaseTarget, RedisTarget, Target};
use crate::cli::ClearArgs;
use crate::conventions::DEFAULT_TABLE;
use crate::database_url::DatabaseUrl;
use crate::error::{Error, Result};
use crate::initializer::{
    AZU_ENVIRONMENTS, CRYSTAL_ENV, Initializer, Prefix, Selection, Store, StoreKind, Undecided,
};
use crate::project::{self, Env, INITIALIZER};

mod redis;
mod sources;

use redis::{alts_text, redis_target, resolve};

/// Everything `session:clear` will do, decided before any server is touched. Serialized, it
/// gives the JSON report's keys that do not depend on the clear's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ClearPlan {
    #[serde(serialize_with = "backend_name")]
    pub backend: Backend,
    #[serde(rename = "backend_source", serialize_with = "source_key")]
    pub source: Source,
    /// Why a level of the detection chain was passed over, for stderr.
    pub notes: Vec<String>,
    #[serde(flatten)]
    pub target: Target,
    pub dry_run: bool,
    /// Only sessions past their expiry.
    pub expired: bool,
    /// `--force`: delete without asking.
    #[serde(skip)]
    pub force: bool,
    /// How long a SQL statement may wait for another connection's lock.
    #[serde(skip)]
    pub lock_timeout: Duration,
    /// `--batched`: a SQL clear deletes in batches even where it could truncate.
    #[serde(skip)]
    pub batched: bool,
}

/// Why a clear has nothing it can do: it ends after saying so, without a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingToDo {
    /// Memory sessions live in the application's process.
    Memory,
    /// `--expired` on Redis: every session key has a TTL, so the server drops them itself.
    RedisExpiresItself,
}

impl NothingToDo {
    /// Why, in one sentence (the JSON report's `message`).
    pub fn message(self) -> &'static str {
        match self {
            NothingToDo::Memory => {
                "Memory sessions cannot be cleared remotely; restart the application to clear them"
            }
            NothingToDo::RedisExpiresItself => {
                "Redis removes expired sessions itself (every session key has a TTL); nothing to clear"
            }
        }
    }
}

impl Serialize for NothingToDo {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.message())
    }
}

impl ClearPlan {
    /// Whether the clear can do anything at all (and so needs a server).
    pub fn nothing_to_do(&self) -> Option<NothingToDo> {
        match self.target {
            Target::Memory => Some(NothingToDo::Memory),
            Target::Redis(_) if self.expired => Some(NothingToDo::RedisExpiresItself),
            _ => None,
        }
    }

    /// Whether the clear deletes live sessions: not a dry run, not memory, and not
    /// `--expired` (which touches no live session).
    pub fn deletes(&self) -> bool {
        !matches!(self.target, Target::Memory) && !self.dry_run && !self.expired
    }

    /// Whether to ask before going ahead: a clear that deletes, without `--force`.
    pub fn needs_confirmation(&self) -> bool {
        self.deletes() && !self.force
    }
}

fn backend_name<S: Serializer>(backend: &Backend, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(backend.as_str())
}

fn source_key<S: Serializer>(source: &Source, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(source.key())
}

/// Long because it is the detection chain in the order docs/detection.md gives it (initializer,
/// sources, flag, SESSION_BACKEND, default, then the target): each step is a call, and the order
/// is the point.
pub fn plan(args: &ClearArgs) -> Result<ClearPlan> {
    let root = &args.project.path;
    if !root.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
    let env = Env::load(root)?;
    let mut notes = Vec::new();

    let init_path = root.join(INITIALIZER);
    let initializer = read_initializer(args, &init_path, &mut notes)?;

    let mut selected = select_store(initializer.as_ref(), args, &init_path, &env, &mut notes)?;
    // An initializer without any store (or none at all): the store may be in the project's
    // other sources, as real apps on the session shard keep it.
    let discovery;
    let mut found = None;
    if initializer.as_ref().is_none_or(|i| i.stores.is_empty()) && !can_skip_initializer(args) {
        discovery = crate::initializer::discover(root);
        notes.extend(sources::notes(&discovery));
        found = sources::store(&discovery, args, &env)?;
        selected = selected.or(found.map(|f| &f.store));
    }
    if args.backend.is_none()
        && let Some(store) = selected
        && store.kind == StoreKind::Cookie
    {
        return Err(Error::CookieStore(match found {
            Some(f) => f.file.clone(),
            None => init_path,
        }));
    }
    let from_initializer = selected.and_then(|s| backend_of(s.kind));
    let session_backend = env.get("SESSION_BACKEND");
    let (backend, mut source) =
        backend::detect(args.backend, from_initializer, session_backend.as_deref())
            .map_err(Error::InvalidSessionBackend)?;
    let file = match found {
        Some(f) if sources::gives(f, backend) => {
            if source == Source::Initializer {
                source = Source::Sources(f.file.display().to_string());
            }
            f.file.display().to_string()
        }
        _ => INITIALIZER.to_string(),
    };

    let store = store_of(backend, selected, initializer.as_ref());
    let target = match backend {
        Backend::Memory => Target::Memory,
        Backend::Redis => Target::Redis(redis_target(args, store, &file, &env)?),
        Backend::Database => {
            let target = database_target(args, store, &env)?;
            notes.extend(target.url.notes.iter().cloned());
            Target::Database(target)
        }
    };

    // The flag, else the wait the app's own SQLite URL sets, else the default.
    let url_wait = match &target {
        Target::Database(t) => t.url.sqlite.as_ref().and_then(|s| s.busy_timeout),
        _ => None,
    };
    let lock_timeout = args
        .lock_timeout
        .or(url_wait)
        .unwrap_or(crate::clear::sql::DEFAULT_LOCK_TIMEOUT);

    Ok(ClearPlan {
        backend,
        source,
        notes,
        target,
        dry_run: args.dry_run,
        expired: args.expired,
        force: args.force,
        lock_timeout,
        batched: args.batched,
    })
}

/// The store the initializer selects in this environment, if it can be told; a file that
/// selects none says so in a note.
fn select_store<'a>(
    initializer: Option<&'a Initializer>,
    args: &ClearArgs,
    init_path: &Path,
    env: &Env,
    notes: &mut Vec<String>,
) -> Result<Option<&'a Store>> {
    let root = &args.project.path;
    let vars = |name: &str| env.get(name);
    Ok(match initializer.map(|i| i.select(&vars)) {
        None => None,
        Some(Selection::Store(store)) => Some(store),
        Some(Selection::NoStore) => {
            notes.push(format!("{INITIALIZER} configures no session store"));
            None
        }
        Some(Selection::NoneForEnv) => {
            let read = initializer.map(Initializer::variables).unwrap_or_default();
            notes.push(format!(
                "{INITIALIZER} configures no store for {}",
                environment(&read, env)
            ));
            None
        }
        Some(Selection::Undecidable(u)) => undecided(&u, args, init_path, root, env)?,
    })
}

/// The store whose arguments apply: the selected one if it is of `backend`, else the only
/// store of `backend` in the file.
fn store_of<'a>(
    backend: Backend,
    selected: Option<&'a Store>,
    initializer: Option<&'a Initializer>,
) -> Option<&'a Store> {
    selected
        .filter(|s| backend_of(s.kind) == Some(backend))
        .or_else(|| {
            let mut same = initializer
                .iter()
                .flat_map(|i| i.stores.iter())
                .filter(|s| backend_of(s.kind) == Some(backend));
            match (same.next(), same.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })
}

/// The project's initializer, if it has one; a broken one is passed over with a note when
/// the flags say everything it would have told.
fn read_initializer(
    args: &ClearArgs,
    init_path: &Path,
    notes: &mut Vec<String>,
) -> Result<Option<Initializer>> {
    Ok(match project::read_text_opt(init_path) {
        Ok(Some(text)) => match Initializer::parse_file(&text, init_path) {
            Ok(init) => Some(init),
            Err(e) if can_skip_initializer(args) => {
                notes.push(format!("{INITIALIZER} skipped: {e}"));
                None
            }
            Err(e) => {
                return Err(Error::InitializerUnreadable {
                    path: init_path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        },
        Ok(None) => None,
        Err(Error::NotUtf8(_)) if can_skip_initializer(args) => {
            notes.push(format!("{INITIALIZER} skipped: it is not UTF-8 text"));
            None
        }
        Err(e) => return Err(e),
    })
}

/// The database (`DATABASE_URL`, required) and the sessions table: the flag, else the
/// store's `table:`, else the shard's default.
fn database_target(args: &ClearArgs, store: Option<&Store>, env: &Env) -> Result<DatabaseTarget> {
    let raw = env.get("DATABASE_URL").ok_or(Error::DatabaseUrlMissing)?;
    let url = DatabaseUrl::parse(&raw, &args.project.path)?;
    let name = match (
        &args.table,
        store.and_then(|s| s.arg(&["table", "table_name"])),
    ) {
        (Some(t), _) => t.clone(),
        (None, Some(alts)) => {
            resolve(alts, env).map_err(|_| Error::InvalidTable(alts_text(alts)))?
        }
        (None, None) => DEFAULT_TABLE.to_string(),
    };
    let table = Table::parse(&name).ok_or(Error::InvalidTable(name))?;
    Ok(DatabaseTarget { url, table })
}

/// The store to use when the initializer's choice hangs on conditions this tool cannot
/// evaluate: with --backend, the one store of that backend the choice may fall on (or none,
/// when the flags say the rest); without, an error listing the stores.
///
/// Long because the error it builds must list every store and condition as written, and the
/// flags can settle the question before it is asked.
fn undecided<'a>(
    u: &Undecided<'a>,
    args: &ClearArgs,
    init_path: &Path,
    root: &Path,
    env: &Env,
) -> Result<Option<&'a Store>> {
    if let Some(backend) = args.backend {
        let same: Vec<&Store> = u
            .candidates
            .iter()
            .copied()
            .filter(|s| backend_of(s.kind) == Some(backend))
            .collect();
        match same.first() {
            None => return Ok(None),
            Some(first) if same.iter().all(|s| s.same_target(first)) => return Ok(Some(first)),
            Some(_) if can_skip_initializer(args) => return Ok(None),
            Some(_) => {}
        }
    }
    let mut per_kind: std::collections::HashMap<StoreKind, usize> = Default::default();
    for s in &u.candidates {
        *per_kind.entry(s.kind).or_default() += 1;
    }
    let mut stores: Vec<String> = u
        .candidates
        .iter()
        .map(|s| candidate(s, per_kind.get(&s.kind) > Some(&1), root, env))
        .collect();
    if u.maybe_none {
        stores.push("no store".to_string());
    }
    let mut conditions = u
        .conditions
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    // The variables they read, which decide them where the app runs.
    if !u.reads.is_empty() {
        conditions.push_str(&format!(", which read {}", u.reads.join(" and ")));
    }
    let path = init_path
        .strip_prefix(root)
        .unwrap_or(init_path)
        .to_path_buf();
    if u.variables.is_empty() {
        return Err(Error::InitializerUndecidable {
            path,
            stores: stores.join(" or "),
            conditions,
        });
    }
    // Only Azu's environment can leave a condition on a variable open: CRYSTAL_ENV names
    // no member of `Azu::Environment` (the app itself would not start).
    let reason = match crate::initializer::azu_environment(&|n: &str| env.get(n)) {
        Err(value) => format!(
            "{CRYSTAL_ENV} is `{value}`, which names no Azu environment ({})",
            AZU_ENVIRONMENTS.join(", ")
        ),
        Ok(_) => "they read the environment".to_string(),
    };
    Err(Error::InitializerUndecidableEnv {
        path,
        stores: stores.join(" or "),
        conditions,
        reason,
        variables: u.variables.join(" or "),
    })
}

/// `RedisStore (line 4)`, a store the choice may fall on; beside another of its kind
/// (`twin`), with what tells them apart: ``RedisStore (line 4, prefix `prod:`)``,
/// ``DatabaseStore (line 6, table `sessions`)``.
fn candidate(s: &Store, twin: bool, root: &Path, env: &Env) -> String {
    let place = s.place(root);
    if !twin {
        return format!("{} ({place})", s.kind.name());
    }
    let detail = match s.kind {
        StoreKind::Redis | StoreKind::ClusteredRedis => {
            let prefix = s.redis_prefix();
            let shown =
                prefix
                    .resolve(|alts| resolve(alts, env))
                    .unwrap_or_else(|_| match &prefix {
                        Prefix::Given(alts) | Prefix::Namespaced(alts) => alts_text(alts),
                        Prefix::Shard => String::new(),
                    });
            format!(", prefix `{shown}`")
        }
        StoreKind::Database => match s.arg(&["table", "table_name"]) {
            Some(alts) => format!(
                ", table `{}`",
                resolve(alts, env).unwrap_or_else(|_| alts_text(alts))
            ),
            None => format!(", table `{DEFAULT_TABLE}`"),
        },
        _ => String::new(),
    };
    format!("{} ({place}{detail})", s.kind.name())
}

/// The environment the initializer's conditions were read in, for notes: `AZU_ENV=staging`,
/// `CRYSTAL_ENV=development (unset)`, `CACHE unset`.
fn environment(names: &[String], env: &Env) -> String {
    if names.is_empty() {
        return "this environment".to_string();
    }
    names
        .iter()
        .map(|n| match env.get(n) {
            Some(v) => format!("{n}={v}"),
            None if n == "AZU_ENV" || n == CRYSTAL_ENV => format!("{n}=development (unset)"),
            None => format!("{n} unset"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A broken initializer need not stop a run that is told everything it would have read.
fn can_skip_initializer(args: &ClearArgs) -> bool {
    match args.backend {
        Some(Backend::Memory) => true,
        Some(Backend::Redis) => args.prefix.is_some(),
        Some(Backend::Database) => args.table.is_some(),
        None => false,
    }
}

pub(crate) fn backend_of(kind: StoreKind) -> Option<Backend> {
    match kind {
        StoreKind::Redis | StoreKind::ClusteredRedis => Some(Backend::Redis),
        StoreKind::Database => Some(Backend::Database),
        StoreKind::Memory => Some(Backend::Memory),
        StoreKind::Cookie => None,
    }
}
