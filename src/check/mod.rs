//! `session:check`: is the project's session setup sound? Each check has a stable id, a
//! level and, when not ok, one line saying how to fix it. The project's files are read
//! ([`store`], [`require`], [`secret`], [`files`]); unless `--offline`, the backend the
//! project would use is asked ([`redis`], [`database`]). Nothing is written or deleted, and
//! a server that cannot be reached is a check result, not an error.

mod database;
mod files;
mod redis;
mod require;
mod secret;
mod store;

use std::path::PathBuf;

use serde::Serialize;

use crate::backend::Backend;
use crate::clear::ClearPlan;
use crate::cli::{CheckArgs, ClearArgs};
use crate::error::{Error, Result};
use crate::initializer::{Initializer, Store};
use crate::project::{self, Env, INITIALIZER};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One check's result. The message never holds a secret.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub level: Level,
    pub message: String,
    /// How to fix it, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(id: &'static str, message: impl Into<String>) -> Self {
        Check {
            id,
            level: Level::Ok,
            message: message.into(),
            fix: None,
        }
    }

    pub fn warning(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            id,
            level: Level::Warning,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn error(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            id,
            level: Level::Error,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// An error check saying what `err` says: its message up to the fix, and the fix
    /// (which the message ends with, after `; `), so the line reads as the error does and
    /// no second fix is added to one that has its own.
    pub fn from_error(id: &'static str, err: &Error) -> Self {
        let text = err.to_string();
        let (message, fix) = crate::error::split_fix(&text);
        Check::error(id, message, fix.unwrap_or("see the message"))
    }
}

/// Every check that applies to the project, in a fixed order.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub checks: Vec<Check>,
    pub strict: bool,
    pub offline: bool,
}

impl CheckReport {
    pub fn count(&self, level: Level) -> usize {
        self.checks.iter().filter(|c| c.level == level).count()
    }

    /// No error (with `--strict`, no warning either).
    pub fn passed(&self) -> bool {
        self.count(Level::Error) == 0 && !(self.strict && self.count(Level::Warning) > 0)
    }
}

/// What the checks read of the project, once.
pub(crate) struct Context {
    pub root: PathBuf,
    pub env: Env,
    /// What `session:clear` would clear: the same search for the store, URL, prefix, table.
    pub plan: Result<ClearPlan>,
    /// The backend, when the plan tells it (or tells that it is the database's, whose
    /// `DATABASE_URL` is missing).
    pub backend: Option<Backend>,
    /// The stores the project configures: the initializer's, else those in `src/**/*.cr`.
    pub stores: Vec<Store>,
    /// Whether they came from the initializer.
    pub from_initializer: bool,
}

impl Context {
    fn load(args: &CheckArgs) -> Result<Self> {
        let root = args.project.path.clone();
        if !root.is_dir() {
            return Err(Error::NotADirectory(root));
        }
        let env = Env::load(&root)?;
        let plan = crate::clear::plan(&clear_args(args));
        let backend = match &plan {
            Ok(plan) => Some(plan.backend),
            Err(e) if is_database_url_error(e) => Some(Backend::Database),
            Err(_) => None,
        };
        let init_path = root.join(INITIALIZER);
        let initializer = project::read_text_opt(&init_path)
            .ok()
            .flatten()
            .and_then(|text| Initializer::parse_file(&text, &init_path).ok());
        let mut stores: Vec<Store> = initializer.map(|i| i.stores).unwrap_or_default();
        let from_initializer = !stores.is_empty();
        if stores.is_empty() {
            let found = crate::initializer::discover(&root).found;
            stores = found.into_iter().map(|f| f.store).collect();
        }
        Ok(Context {
            root,
            env,
            plan,
            backend,
            stores,
            from_initializer,
        })
    }

    /// The store the checks judge: the first of the plan's backend, else the first.
    pub fn store(&self) -> Option<&Store> {
        let of_backend = self.stores.iter().find(|s| {
            self.backend.is_some() && crate::clear::plan::backend_of(s.kind) == self.backend
        });
        of_backend.or(self.stores.first())
    }

    /// Whether the app runs in production (`AZU_ENV`, else `CRYSTAL_ENV`).
    pub fn production(&self) -> bool {
        let env = self
            .env
            .get("AZU_ENV")
            .or_else(|| self.env.get(crate::initializer::CRYSTAL_ENV));
        env.is_some_and(|e| e.trim().eq_ignore_ascii_case("production"))
    }
}

/// The arguments a `session:clear --dry-run` with nothing overridden would have: the plan is
/// clear's own, so the search is the same.
fn clear_args(args: &CheckArgs) -> ClearArgs {
    ClearArgs {
        force: false,
        backend: None,
        dry_run: true,
        quiet: true,
        expired: false,
        prefix: None,
        table: None,
        lock_timeout: None,
        batched: false,
        rotate_secret: false,
        project: args.project.clone(),
    }
}

/// Run every check that applies; servers only without `--offline`.
pub fn run(args: &CheckArgs) -> Result<CheckReport> {
    let cx = Context::load(args)?;
    let mut checks = Vec::new();
    checks.extend(store::checks(&cx));
    checks.extend(require::checks(&cx));
    checks.extend(secret::checks(&cx));
    checks.extend(files::checks(&cx));
    checks.extend(database::offline_checks(&cx));
    if !args.offline {
        let runtime = crate::clear::runtime()?;
        checks.extend(runtime.block_on(servers(&cx)));
    }
    Ok(CheckReport {
        checks,
        strict: args.strict,
        offline: args.offline,
    })
}

async fn servers(cx: &Context) -> Vec<Check> {
    match &cx.plan {
        Ok(plan) => match &plan.target {
            crate::clear::Target::Redis(target) => redis::checks(target).await,
            crate::clear::Target::Database(target) => database::checks(target).await,
            crate::clear::Target::Memory => Vec::new(),
        },
        Err(_) => Vec::new(),
    }
}

/// Whether `e` is about `DATABASE_URL` (missing, malformed, or naming an SQLite file that is
/// not there): the store is the database's, and `database.url` says what is wrong.
pub(super) fn is_database_url_error(e: &Error) -> bool {
    matches!(
        e,
        Error::DatabaseUrlMissing | Error::DatabaseUrlInvalid { .. } | Error::SqliteFile { .. }
    )
}
