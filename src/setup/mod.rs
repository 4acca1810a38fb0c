//! `session:setup`: plan every file change in memory, refuse before touching anything, then
//! write all files at once (see `fsutil`). Returns a report; printing is the caller's.

pub(crate) mod dotenv;
pub(crate) mod git;
pub mod shard;
pub mod templates;

use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::backend::Backend;
use crate::cli::SetupArgs;
use crate::error::{Error, Result};
use crate::fsutil::{self, PlannedWrite};
use crate::project::{self, DOTENV, GITIGNORE, INITIALIZER, MIGRATIONS_DIR, Project, SHARD_YML};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Overwrite,
    Update,
    Keep,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Overwrite => "overwrite",
            Action::Update => "update",
            Action::Keep => "keep",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileAction {
    pub action: Action,
    /// Relative to the project root.
    pub path: String,
    /// Why a file was kept, or that it was written through a symbolic link, when that is
    /// worth saying.
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SetupReport {
    pub backend: Backend,
    pub app_name: String,
    pub files: Vec<FileAction>,
    /// The app's main file (`src/<app>.cr`), when it exists.
    pub main_file: Option<String>,
    /// For redis, the REDIS_URL that `.env` now holds (password masked).
    pub redis_url: Option<String>,
    /// For the database backend, the DATABASE_URL in use, if any (password masked).
    pub database_url: Option<UrlInUse>,
}

/// A URL setup found already set, and where.
#[derive(Debug, Clone)]
pub struct UrlInUse {
    /// Password masked.
    pub masked: String,
    /// From `.env` (else from the process environment).
    pub in_dotenv: bool,
}

pub fn run(args: &SetupArgs, now: DateTime<Utc>) -> Result<SetupReport> {
    // One run at a time per project, from the first read to the last write, so two runs
    // never both see a file missing and both create it.
    let _lock = fsutil::lock_dir(&args.project.path)?;
    let project = Project::open(&args.project.path)?;
    let backend = args.backend;
    let mut files = Vec::new();
    let mut writes = Vec::new();
    let mut plan = |action: Action, rel: String, contents: Option<String>, mode: u32| {
        let path = project.path(&rel);
        // A symbolic link is written through: the file it points to is the one replaced.
        let target = fsutil::resolve(&path)?;
        let note = (target != path).then(|| format!("through the link to {}", target.display()));
        if let Some(contents) = contents {
            writes.push(PlannedWrite {
                path: target,
                contents: contents.into_bytes(),
                new_mode: mode,
            });
        }
        files.push(FileAction {
            action,
            path: rel,
            note,
        });
        Ok::<(), Error>(())
    };

    // The initializer: the one file --force is about.
    let initializer_exists = project.path(INITIALIZER).exists();
    if initializer_exists && !args.force {
        return Err(Error::AlreadyExists(INITIALIZER.to_string()));
    }
    let action = if initializer_exists {
        Action::Overwrite
    } else {
        Action::Create
    };
    let text = templates::initializer(&project.app_name, backend)?;
    plan(action, INITIALIZER.to_string(), Some(text), 0o644)?;

    // The migration: one per project, ever; an existing one is kept even with --force, since
    // a second would fail `azu db:migrate` and rewriting an applied one changes history.
    let mut migration_kept = false;
    if backend == Backend::Database {
        match existing_migration(&project.path(MIGRATIONS_DIR))? {
            Some(name) => {
                plan(Action::Keep, format!("{MIGRATIONS_DIR}/{name}"), None, 0)?;
                migration_kept = true;
            }
            None => {
                let version = templates::migration_version(now);
                let text = templates::migration(&version)?;
                let rel = format!("{MIGRATIONS_DIR}/{version}_create_sessions.cr");
                plan(Action::Create, rel, Some(text), 0o644)?;
            }
        }
    }

    // shard.yml: the dependencies.
    // A .env the app's loader would refuse is refused here too, before anything is written;
    // what it holds is read by the same parser.
    let dotenv_path = project.path(DOTENV);
    let dotenv_text = project::read_text_opt(&dotenv_path)?;
    let dotenv_vars = match &dotenv_text {
        Some(text) => project::parse_dotenv(&dotenv_path, text)?,
        None => Default::default(),
    };
    let database_url_in_process = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
    let database_url = database_url_in_process
        .clone()
        .or_else(|| dotenv_vars.get("DATABASE_URL").cloned());
    let wanted = shard::required(backend, database_url.as_deref());
    let edited = shard::add_dependencies(&project.path(SHARD_YML), &project.shard_yml, &wanted)?;
    let action = if edited.is_some() {
        Action::Update
    } else {
        Action::Keep
    };
    plan(action, SHARD_YML.to_string(), edited, 0o644)?;

    // .env: the secret (and, for redis, the URL the initializer falls back to).
    let edited = dotenv::plan(
        &dotenv_path,
        dotenv_text.as_deref(),
        backend == Backend::Redis,
        dotenv::generate_secret,
    )?;
    let action = match (&dotenv_text, &edited) {
        (_, None) => Action::Keep,
        (None, Some(_)) => Action::Create,
        (Some(_), Some(_)) => Action::Update,
    };
    let redis_url = match (backend, &edited) {
        (Backend::Redis, Some(text)) => project::parse_dotenv(&dotenv_path, text)?
            .get("REDIS_URL")
            .map(|u| crate::url::mask(u)),
        (Backend::Redis, None) => dotenv_vars.get("REDIS_URL").map(|u| crate::url::mask(u)),
        _ => None,
    };
    let writes_secret = edited.is_some();
    plan(action, DOTENV.to_string(), edited, 0o600)?;

    // .gitignore: .env must never be committed, as git itself decides it.
    let gitignore = project::read_text_opt(&project.path(GITIGNORE))?;
    let env_file = git::env_file(&project.root, gitignore.as_deref())?;
    if env_file == git::EnvFile::Tracked && writes_secret {
        return Err(Error::DotenvTracked(project.path(DOTENV)));
    }
    let edited = match env_file {
        git::EnvFile::Ignored => None,
        git::EnvFile::NotIgnored | git::EnvFile::Tracked => {
            Some(dotenv::with_env_line(gitignore.as_deref()))
        }
    };
    if let Some(text) = &edited
        && !git::ignores_env(&project.root, text)?
    {
        return Err(Error::GitignoreInvalid {
            path: project.path(GITIGNORE),
            reason: "a `.env` line added at its end still does not ignore .env".to_string(),
        });
    }
    let action = match (&gitignore, &edited) {
        (_, None) => Action::Keep,
        (None, Some(_)) => Action::Create,
        (Some(_), Some(_)) => Action::Update,
    };
    plan(action, GITIGNORE.to_string(), edited, 0o644)?;

    fsutil::write_all(&writes)?;

    if migration_kept
        && let Some(f) = files
            .iter_mut()
            .find(|f| f.path.starts_with(MIGRATIONS_DIR))
    {
        f.note = Some("a sessions migration already exists".to_string());
    }
    let main_file = format!("src/{}.cr", project.app_name);
    let main_file = project.path(&main_file).is_file().then_some(main_file);
    Ok(SetupReport {
        backend,
        app_name: project.app_name,
        files,
        main_file,
        redis_url,
        database_url: database_url
            .filter(|_| backend == Backend::Database)
            .map(|url| UrlInUse {
                masked: crate::url::mask(&url),
                in_dotenv: database_url_in_process.is_none(),
            }),
    })
}

/// The name of an existing `*_create_sessions.cr` in the migrations directory, if any.
fn existing_migration(dir: &Path) -> Result<Option<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read(dir, e)),
    };
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with("_create_sessions.cr"))
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}
