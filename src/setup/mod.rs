//! `session:setup`: [`plan`] decides every file change in memory, refusing before anything is
//! touched; [`write`] then writes all files at once (see `fsutil`). Returns a report; printing
//! is the caller's (`render::setup`).

pub(crate) mod api;
pub(crate) mod dotenv;
pub(crate) mod git;
pub mod shard;
pub mod templates;

use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::backend::Backend;
use crate::cli::{Api, SetupArgs};
use crate::conventions::DEFAULT_REDIS_URL;
use crate::error::{Error, Result};
use crate::fsutil::{self, PlannedWrite};
use crate::project::{
    DOTENV, Dotenv, Env, GITIGNORE, INITIALIZER, MIGRATIONS_DIR, Origin, Project, SHARD_YML,
};

/// The database store `--api shard` writes beside the initializer (the shard has none).
pub const DATABASE_STORE: &str = "src/initializers/session_database_store.cr";

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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

    /// The action on a file that is edited (or not) from what is there (or not).
    fn edit(existed: bool, edited: bool) -> Self {
        match (existed, edited) {
            (_, false) => Action::Keep,
            (false, true) => Action::Create,
            (true, true) => Action::Update,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileAction {
    pub action: Action,
    /// Relative to the project root.
    pub path: String,
    /// Why a file was kept, or that it was written through a symbolic link, when that is
    /// worth saying.
    pub note: Option<String>,
}

/// What setup did. Serialized as the JSON report's `backend`, `app_name` and `files`; the
/// fields it skips are what the next steps are written from (see `render::setup`).
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub backend: Backend,
    /// The configuration API the initializer is written for.
    pub api: Api,
    /// Why that API: `flag`, `default`, or the file that pins the shard.
    pub api_source: String,
    pub app_name: String,
    pub files: Vec<FileAction>,
    /// What the user should know about the code written (printed on stderr).
    pub notes: Vec<String>,
    /// The app's main file (`src/<app>.cr`), when it exists.
    #[serde(skip)]
    pub main_file: Option<String>,
    /// For redis, the REDIS_URL the app will see in development: the process's, else what
    /// `.env` holds once written (password masked); `None` when `.env` sets it empty.
    #[serde(skip)]
    pub redis_url: Option<UrlInUse>,
    /// For the database backend, the DATABASE_URL in use, if any (password masked).
    #[serde(skip)]
    pub database_url: Option<UrlInUse>,
    /// For the database backend, the driver shard and why.
    #[serde(skip)]
    pub driver: Option<Driver>,
}

/// A URL setup found already set (or wrote), and where.
#[derive(Debug, Clone)]
pub struct UrlInUse {
    /// Password masked.
    pub masked: String,
    /// From `.env` (else from the process environment).
    pub in_dotenv: bool,
}

impl UrlInUse {
    fn new(url: &str, origin: Origin) -> Self {
        UrlInUse {
            masked: crate::url::mask(url),
            in_dotenv: origin == Origin::Dotenv,
        }
    }
}

/// The database driver shard setup put in shard.yml (or found there), and why that one.
#[derive(Debug, Clone)]
pub struct Driver {
    pub name: &'static str,
    /// Whether this run added it (else shard.yml already had it).
    pub added: bool,
    pub reason: shard::DriverReason,
}

/// Everything setup will do, decided before any file is touched: the contents of every file
/// it writes, and the report it returns once they are written.
#[derive(Debug)]
pub struct SetupPlan {
    writes: Vec<PlannedWrite>,
    report: SetupReport,
}

impl SetupPlan {
    /// The report, as it will be once the plan is written.
    pub fn report(&self) -> &SetupReport {
        &self.report
    }
}

pub fn run(args: &SetupArgs, now: DateTime<Utc>) -> Result<SetupReport> {
    // One run at a time per project, from the first read to the last write, so two runs
    // never both see a file missing and both create it.
    let _lock = fsutil::lock_dir(&args.project.path)?;
    let project = Project::open(&args.project.path)?;
    // A .env the app's loader would refuse is refused here too, before anything is written.
    let env = Env::load(&project.root)?;
    write(plan(&project, &env, args, now)?)
}

/// Decide every file change: reads the project (and asks git about `.env`), writes nothing.
/// Anything that would refuse the run refuses it here, so a refusal leaves the tree as it was.
///
/// Long because it is the list of files setup writes, in the order the report shows them; each
/// is one call.
pub fn plan(
    project: &Project,
    env: &Env,
    args: &SetupArgs,
    now: DateTime<Utc>,
) -> Result<SetupPlan> {
    let backend = args.backend;
    let chosen = api::choose(args.api, &project.root)?;
    let database_url = env.lookup("DATABASE_URL");
    let url = database_url.as_ref().map(|(url, _)| url.as_str());
    let (driver, driver_reason) = shard::driver_choice(url);
    let mut files = Files::new(project);
    let generated = Generated {
        backend,
        api: chosen.api,
        driver: driver.name,
        force: args.force,
    };
    initializer(&mut files, project, &generated)?;
    if backend == Backend::Database {
        migration(&mut files, project, now)?;
    }

    // shard.yml: the dependencies, the database driver chosen by the DATABASE_URL in use.
    let wanted = shard::required(backend, chosen.api, url);
    let shard_yml = project.path(SHARD_YML);
    let driver = (backend == Backend::Database)
        .then(|| -> Result<Driver> {
            let missing = shard::missing(&shard_yml, &project.shard_yml, &[driver])?;
            Ok(Driver {
                name: driver.name,
                added: !missing.is_empty(),
                reason: driver_reason,
            })
        })
        .transpose()?;
    let edited = shard::add_dependencies(&shard_yml, &project.shard_yml, &wanted)?;
    let action = Action::edit(true, edited.is_some());
    files.add(action, SHARD_YML, edited, 0o644)?;

    // .env: the secret, and for redis the server the initializer falls back to in
    // development, unless the environment already names one (loading .env would replace it).
    let dotenv = env.dotenv();
    let redis_in_process = env
        .lookup("REDIS_URL")
        .filter(|(_, origin)| *origin == Origin::Process);
    let want_redis_url = backend == Backend::Redis && redis_in_process.is_none();
    let edited = dotenv::plan(dotenv, want_redis_url, dotenv::generate_secret)?;
    let writes_secret = edited.is_some();
    let action = Action::edit(dotenv.text.is_some(), writes_secret);
    files.add(action, DOTENV, edited, 0o600)?;
    gitignore(&mut files, project, writes_secret)?;

    let main_file = format!("src/{}.cr", project.app_name);
    let main_file = project.path(&main_file).is_file().then_some(main_file);
    let (writes, files) = files.finish();
    let report = SetupReport {
        backend,
        api: chosen.api,
        api_source: chosen.source.describe(),
        app_name: project.app_name.clone(),
        files,
        notes: api::notes(&chosen, &project.root),
        main_file,
        redis_url: (backend == Backend::Redis)
            .then(|| redis_url(redis_in_process, dotenv))
            .flatten(),
        database_url: database_url
            .filter(|_| backend == Backend::Database)
            .map(|(url, origin)| UrlInUse::new(&url, origin)),
        driver,
    };
    Ok(SetupPlan { writes, report })
}

/// The REDIS_URL the app sees in development: the process's, else what `.env` holds once
/// written (the value it had, else the one the plan appends); `None` for an empty one there.
fn redis_url(in_process: Option<(String, Origin)>, dotenv: &Dotenv) -> Option<UrlInUse> {
    if let Some((url, origin)) = in_process {
        return Some(UrlInUse::new(&url, origin));
    }
    let url = dotenv
        .vars
        .get("REDIS_URL")
        .map_or(DEFAULT_REDIS_URL, String::as_str);
    (!url.is_empty()).then(|| UrlInUse::new(url, Origin::Dotenv))
}

/// Write every file of `plan` at once (or none), and return its report.
pub fn write(plan: SetupPlan) -> Result<SetupReport> {
    fsutil::write_all(&plan.writes)?;
    Ok(plan.report)
}

/// The files a plan touches, in the order the report lists them, and the writes among them.
struct Files<'a> {
    project: &'a Project,
    files: Vec<FileAction>,
    writes: Vec<PlannedWrite>,
}

impl<'a> Files<'a> {
    fn new(project: &'a Project) -> Self {
        Files {
            project,
            files: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// `rel` gets `action`; `contents`, when given, is written to it (a new file with `mode`).
    fn add(
        &mut self,
        action: Action,
        rel: impl Into<String>,
        contents: Option<String>,
        mode: u32,
    ) -> Result<&mut FileAction> {
        let rel = rel.into();
        let path = self.project.path(&rel);
        // A symbolic link is written through: the file it points to is the one replaced.
        let target = fsutil::resolve(&path)?;
        let note = (target != path).then(|| format!("through the link to {}", target.display()));
        if let Some(contents) = contents {
            self.writes.push(PlannedWrite {
                path: target,
                contents: contents.into_bytes(),
                new_mode: mode,
            });
        }
        self.files.push(FileAction {
            action,
            path: rel,
            note,
        });
        let last = self.files.len() - 1;
        Ok(&mut self.files[last])
    }

    fn finish(self) -> (Vec<PlannedWrite>, Vec<FileAction>) {
        (self.writes, self.files)
    }
}

/// What the generated Crystal is written for.
struct Generated {
    backend: Backend,
    api: Api,
    /// The database driver shard (`pg`, `mysql`, `sqlite3`).
    driver: &'static str,
    force: bool,
}

/// The initializer, and for the shard API's database backend the store beside it: the files
/// --force is about.
fn initializer(files: &mut Files, project: &Project, generated: &Generated) -> Result<()> {
    let mut add = |rel: &str, text: String| -> Result<()> {
        let exists = project.path(rel).exists();
        if exists && !generated.force {
            return Err(Error::AlreadyExists(rel.to_string()));
        }
        let action = if exists {
            Action::Overwrite
        } else {
            Action::Create
        };
        files.add(action, rel, Some(text), 0o644)?;
        Ok(())
    };
    let app = &project.app_name;
    match generated.api {
        Api::Docs => add(INITIALIZER, templates::initializer(app, generated.backend)?),
        Api::Shard => {
            let text = templates::shard_initializer(app, generated.backend, generated.driver)?;
            add(INITIALIZER, text)?;
            if generated.backend == Backend::Database {
                add(DATABASE_STORE, templates::shard_database_store()?)?;
            }
            Ok(())
        }
    }
}

/// The migration: one per project, ever; an existing one is kept even with --force, since a
/// second would fail `azu db:migrate` and rewriting an applied one changes history.
fn migration(files: &mut Files, project: &Project, now: DateTime<Utc>) -> Result<()> {
    match existing_migration(&project.path(MIGRATIONS_DIR))? {
        Some(name) => {
            let kept = files.add(Action::Keep, format!("{MIGRATIONS_DIR}/{name}"), None, 0)?;
            kept.note = Some("a sessions migration already exists".to_string());
        }
        None => {
            let version = templates::migration_version(now);
            let text = templates::migration(&version)?;
            let rel = format!("{MIGRATIONS_DIR}/{version}_create_sessions.cr");
            files.add(Action::Create, rel, Some(text), 0o644)?;
        }
    }
    Ok(())
}

/// .gitignore: .env must never be committed, as git itself decides it.
fn gitignore(files: &mut Files, project: &Project, writes_secret: bool) -> Result<()> {
    let gitignore = crate::project::read_text_opt(&project.path(GITIGNORE))?;
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
    let action = Action::edit(gitignore.is_some(), edited.is_some());
    files.add(action, GITIGNORE, edited, 0o644)?;
    Ok(())
}

/// The name of an existing `*_create_sessions.cr` in the migrations directory, if any.
pub(crate) fn existing_migration(dir: &Path) -> Result<Option<String>> {
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::cli::ProjectArgs;

    /// Every file under `root`, with its contents.
    fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).expect("read the test tree") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path.strip_prefix(root).expect("under root");
                    files.push((rel.display().to_string(), fs::read(&path).expect("read")));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn the_plan_writes_nothing_and_says_what_write_will_do() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        fs::write(root.join(SHARD_YML), "name: myapp\nversion: 0.1.0\n").expect("write");
        let kept = format!("{MIGRATIONS_DIR}/20200101000000_create_sessions.cr");
        fs::create_dir_all(root.join(MIGRATIONS_DIR)).expect("mkdir");
        fs::write(root.join(&kept), "# applied\n").expect("write");
        let before = tree(root);

        let args = SetupArgs {
            backend: Backend::Database,
            force: false,
            api: None,
            project: ProjectArgs {
                path: root.to_path_buf(),
            },
        };
        let project = Project::open(root).expect("the project");
        let env = Env::load(root).expect("no .env");
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 9, 5, 7)
            .single()
            .expect("a time");
        let plan = plan(&project, &env, &args, now).expect("a plan");
        assert_eq!(tree(root), before, "planning wrote something");

        let files: Vec<(Action, &str, Option<&str>)> = plan
            .report()
            .files
            .iter()
            .map(|f| (f.action, f.path.as_str(), f.note.as_deref()))
            .collect();
        assert_eq!(
            files,
            [
                (Action::Create, INITIALIZER, None),
                (
                    Action::Keep,
                    kept.as_str(),
                    Some("a sessions migration already exists")
                ),
                (Action::Update, SHARD_YML, None),
                (Action::Create, DOTENV, None),
                (Action::Create, GITIGNORE, None),
            ]
        );

        let report = write(plan).expect("written");
        assert_eq!(report.files.len(), 5);
        for path in [INITIALIZER, DOTENV, GITIGNORE] {
            assert!(root.join(path).is_file(), "{path} not written");
        }
        assert_eq!(
            fs::read_to_string(root.join(&kept)).expect("read"),
            "# applied\n"
        );
    }
}
