//! Rotating `SESSION_SECRET`: `session:rotate-secret`, and `session:clear --rotate-secret`
//! for a security incident.
//!
//! The new secret (32 bytes from the operating system, hex) goes into `.env` in place of the
//! old one, edited as setup edits it (see `setup::dotenv`) and written as setup writes (see
//! `fsutil`). The write is staged first, before the clear deletes anything, so a `.env` that
//! cannot be replaced refuses the whole command. The secret itself is never printed.
//!
//! When `SESSION_SECRET` is set in the process's environment, the app reads that one and not
//! `.env`'s: a new value in `.env` would change nothing, so it is not written and the command
//! says where the secret must be rotated instead (exit 1). `clear --rotate-secret` still
//! clears in that case, since the clear was asked for and does not depend on the secret.
//! With no `.env`, the app used the shard's default secret: `.env` is created (mode 0600).
//! A `.env` tracked by git is refused, as setup refuses it: the new secret would be committed.

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::clear::{self, ClearPlan, ClearReport, Target};
use crate::error::{Error, Result};
use crate::fsutil::{self, DirLock, PlannedWrite};
use crate::project::{self, DOTENV, Project};
use crate::restart::Service;
use crate::setup::{dotenv, git};

/// What a rotation can do, found before anything changes.
pub enum Prepared {
    /// The new `.env` is staged, ready to move into place.
    Ready(Rotation),
    /// `SESSION_SECRET` comes from the process's environment: nothing to write.
    InProcess { dotenv: PathBuf },
}

/// A staged rotation of the secret in `.env`.
pub struct Rotation {
    write: fsutil::Prepared,
    /// Whether `.env` is new.
    created: bool,
    /// The file written, when `.env` is a symbolic link to it.
    through: Option<PathBuf>,
    /// The app's main file (`src/<app>.cr`), when it exists.
    main_file: Option<String>,
    /// The service running the app, when the project says (see `restart`).
    service: Option<Service>,
    /// Held until the write is done, so setup cannot edit `.env` in between.
    _lock: Option<DirLock>,
}

/// Stage the rotation for the project at `root`; nothing is changed yet.
pub fn prepare(root: &Path) -> Result<Prepared> {
    // Outside an Azu project there is no app to read the secret: no `.env` is made there.
    let project = match Project::open(root) {
        Err(e @ (Error::NotADirectory(_) | Error::NoShardYml { .. })) => return Err(e),
        opened => opened.ok(),
    };
    let path = root.join(DOTENV);
    if std::env::var("SESSION_SECRET").is_ok_and(|v| !v.is_empty()) {
        return Ok(Prepared::InProcess { dotenv: path });
    }
    let lock = fsutil::lock_dir(root)?;
    // As setup: a secret is never written where git would commit it.
    if git::env_file(root, None)? == git::EnvFile::Tracked {
        return Err(Error::DotenvTrackedRotate(path));
    }
    let existing = project::read_text_opt(&path)?;
    let secret = dotenv::generate_secret()?;
    let text = dotenv::rotate(&path, existing.as_deref(), &secret)?;
    let target = fsutil::resolve(&path)?;
    let write = fsutil::prepare(&[PlannedWrite {
        path: target.clone(),
        contents: text.into_bytes(),
        new_mode: 0o600,
    }])?;
    let app = project.map(|p| p.app_name);
    let main_file = app
        .as_ref()
        .map(|app| format!("src/{app}.cr"))
        .filter(|f| root.join(f).is_file());
    let service = crate::restart::find(root, app.as_deref());
    Ok(Prepared::Ready(Rotation {
        write,
        created: existing.is_none(),
        through: (target != path).then_some(target),
        main_file,
        service,
        _lock: lock,
    }))
}

impl Rotation {
    /// Move the new `.env` into place.
    fn commit(self) -> Result<Rotated> {
        self.write.commit()?;
        Ok(Rotated {
            secret_rotated: true,
            file: DOTENV,
            created: self.created,
            through: self.through,
            main_file: self.main_file,
            service: self.service,
        })
    }
}

/// A rotation done. Serialized, the keys it adds to a JSON report.
#[derive(Debug, Serialize)]
pub struct Rotated {
    /// Always true here (the report's flag).
    pub secret_rotated: bool,
    /// The file the secret is in, as the project names it.
    pub file: &'static str,
    /// Whether `.env` is new.
    pub created: bool,
    /// The file written, when `.env` is a symbolic link to it.
    #[serde(rename = "written_to", serialize_with = "shown_path")]
    pub through: Option<PathBuf>,
    /// The app's main file (`src/<app>.cr`), when it exists: what to restart.
    #[serde(rename = "restart")]
    pub main_file: Option<String>,
    /// The service running the app (a Procfile's web process, a systemd unit in the
    /// project), when it can tell: what the restart step names.
    #[serde(rename = "restart_service")]
    pub service: Option<Service>,
}

fn shown_path<S: Serializer>(path: &Option<PathBuf>, s: S) -> std::result::Result<S::Ok, S::Error> {
    path.as_ref().map(|p| p.display().to_string()).serialize(s)
}

/// The report of `session:rotate-secret`.
#[derive(Debug, Serialize)]
pub struct RotateReport {
    pub command: &'static str,
    #[serde(flatten)]
    pub rotated: Rotated,
}

/// `session:rotate-secret`.
pub fn run(root: &Path) -> Result<RotateReport> {
    let rotated = match prepare(root)? {
        Prepared::Ready(rotation) => rotation.commit()?,
        Prepared::InProcess { dotenv } => {
            return Err(Error::SecretInProcess {
                dotenv,
                cleared: false,
            });
        }
    };
    Ok(RotateReport {
        command: "session:rotate-secret",
        rotated,
    })
}

/// The report of `session:clear --rotate-secret`: the clear's, and what became of the
/// secret.
#[derive(Debug, Serialize)]
pub struct ClearRotateReport<'p> {
    #[serde(flatten)]
    pub clear: ClearReport<'p>,
    #[serde(flatten)]
    pub rotation: AfterClear,
}

/// What became of the secret after the clear.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AfterClear {
    /// Replaced in `.env`, then one more look for sessions written while the clear ran.
    Rotated {
        #[serde(flatten)]
        rotated: Rotated,
        /// How many (`None`: nothing to look at, or the look failed).
        sessions_during_clear: Option<u64>,
        /// Whether the look counted them all (it is bounded in time).
        sessions_during_clear_complete: Option<bool>,
        /// Why the look failed, if it did (`null` when it did not).
        #[serde(rename = "sessions_during_clear_error")]
        look_failed: Option<String>,
    },
    /// `SESSION_SECRET` comes from the process's environment: nothing was written.
    InProcess {
        secret_rotated: bool,
        secret_source: &'static str,
        #[serde(skip)]
        dotenv: PathBuf,
    },
}

impl ClearRotateReport<'_> {
    /// The error the command ends with once its report is out: a secret set in the
    /// process was not rotated.
    pub fn error(&self) -> Option<Error> {
        match &self.rotation {
            AfterClear::Rotated { .. } => None,
            AfterClear::InProcess { dotenv, .. } => Some(Error::SecretInProcess {
                dotenv: dotenv.clone(),
                cleared: !matches!(self.clear.plan.target, Target::Memory),
            }),
        }
    }
}

/// The end of `session:clear --rotate-secret`, after the clear: the rotation moved into
/// place (`rotated` is told of it at once: the look that follows may take seconds), one
/// more look for sessions written while the clear ran.
pub fn finish_clear<'p>(
    rotation: Prepared,
    clear: ClearReport<'p>,
    rotated: impl FnOnce(&Rotated),
) -> Result<ClearRotateReport<'p>> {
    let rotation = match rotation {
        Prepared::Ready(rotation) => rotation.commit()?,
        Prepared::InProcess { dotenv } => {
            return Ok(ClearRotateReport {
                clear,
                rotation: AfterClear::InProcess {
                    secret_rotated: false,
                    secret_source: "process",
                    dotenv,
                },
            });
        }
    };
    rotated(&rotation);
    let (late, look_failed) = match look_again(clear.plan) {
        Ok(late) => (late, None),
        Err(err) => (None, Some(err.to_string())),
    };
    Ok(ClearRotateReport {
        clear,
        rotation: AfterClear::Rotated {
            rotated: rotation,
            sessions_during_clear: late.map(|l| l.count),
            sessions_during_clear_complete: late.map(|l| l.complete),
            look_failed,
        },
    })
}

/// After a full clear, how many sessions the store holds again: one more count of the same
/// keys or rows (every one of them was written while the clear ran). `None` when there is
/// nothing to look at (memory, or only expired sessions were cleared).
fn look_again(plan: &ClearPlan) -> Result<Option<Late>> {
    if plan.expired || matches!(plan.target, Target::Memory) {
        return Ok(None);
    }
    let mut count = plan.clone();
    count.dry_run = true;
    let stop = clear::Stop::default();
    let runtime = clear::runtime()?;
    let outcome = runtime.block_on(async {
        let connected = clear::connect(&count, &stop).await?;
        // Bounded: a server the app keeps writing to is not walked again at length.
        let deadline = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(LOOK_FOR).await;
                stop.request();
            })
        };
        let counted = connected.clear(&count, &stop, |_| {}).await;
        deadline.abort();
        counted
    });
    match outcome {
        Ok(outcome) => Ok(Some(Late {
            count: outcome.count,
            complete: true,
        })),
        Err(Error::Interrupted { cleared, .. }) => Ok(Some(Late {
            count: cleared,
            complete: false,
        })),
        Err(e) => Err(e),
    }
}

/// How long the look after the clear may take.
const LOOK_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// Sessions found after the clear: all of them, or at least `count` when the look ran out
/// of time.
#[derive(Debug, Clone, Copy)]
struct Late {
    count: u64,
    complete: bool,
}
