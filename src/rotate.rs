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
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::clear::{self, ClearPlan, Target};
use crate::error::{Error, Result};
use crate::fsutil::{self, DirLock, PlannedWrite};
use crate::output::{self, Output};
use crate::project::{self, DOTENV, Project};
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
    /// Held until the write is done, so setup cannot edit `.env` in between.
    _lock: Option<DirLock>,
}

/// Stage the rotation for the project at `root`; nothing is changed yet.
pub fn prepare(root: &Path) -> Result<Prepared> {
    if !root.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
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
    let main_file = Project::open(root)
        .ok()
        .map(|p| format!("src/{}.cr", p.app_name))
        .filter(|f| root.join(f).is_file());
    Ok(Prepared::Ready(Rotation {
        write,
        created: existing.is_none(),
        through: (target != path).then_some(target),
        main_file,
        _lock: lock,
    }))
}

impl Rotation {
    /// Move the new `.env` into place; returns what to print and report.
    fn commit(self) -> Result<Done> {
        self.write.commit()?;
        Ok(Done {
            created: self.created,
            through: self.through,
            main_file: self.main_file,
        })
    }
}

/// A rotation done.
struct Done {
    created: bool,
    through: Option<PathBuf>,
    main_file: Option<String>,
}

impl Done {
    fn lines(&self) -> Vec<String> {
        let mut lines = vec![if self.created {
            format!("Created {DOTENV} with a new SESSION_SECRET (not shown)")
        } else {
            format!("Replaced SESSION_SECRET in {DOTENV} with a new one (not shown)")
        }];
        if let Some(target) = &self.through {
            lines.push(format!("  (through the link to {})", target.display()));
        }
        lines
    }

    fn restart_line(&self) -> String {
        let app = match &self.main_file {
            Some(file) => format!("the application ({file})"),
            None => "the application".to_string(),
        };
        format!(
            "Next: restart {app} so it reads the new SESSION_SECRET; until it restarts, cookies signed with the old secret still work"
        )
    }

    fn add_to(&self, report: &mut Value) {
        report["secret_rotated"] = json!(true);
        report["file"] = json!(DOTENV);
        report["created"] = json!(self.created);
        report["written_to"] = json!(self.through.as_ref().map(|t| t.display().to_string()));
        report["restart"] = json!(self.main_file);
    }
}

/// `session:rotate-secret`.
pub fn run(root: &Path, out: &Output) -> Result<ExitCode> {
    let done = match prepare(root)? {
        Prepared::Ready(rotation) => rotation.commit()?,
        Prepared::InProcess { dotenv } => {
            return Err(Error::SecretInProcess {
                dotenv,
                cleared: false,
            });
        }
    };
    let mut report = json!({ "command": "session:rotate-secret" });
    done.add_to(&mut report);
    out.lines(&done.lines());
    out.styled(output::SUCCESS, "✓ Session secret rotated");
    out.lines(&[done.restart_line()]);
    out.json(&report);
    Ok(ExitCode::SUCCESS)
}

/// The end of `session:clear --rotate-secret`, after the clear: the rotation moved into
/// place, one more look for sessions written while the clear ran, and the restart step.
pub fn finish_clear(
    rotation: Prepared,
    plan: &ClearPlan,
    mut report: Value,
    out: &Output,
) -> Result<ExitCode> {
    let rotation = match rotation {
        Prepared::Ready(rotation) => rotation,
        Prepared::InProcess { dotenv } => {
            report["secret_rotated"] = json!(false);
            report["secret_source"] = json!("process");
            out.json(&report);
            return Err(Error::SecretInProcess {
                dotenv,
                cleared: !matches!(plan.target, Target::Memory),
            });
        }
    };
    let done = rotation.commit()?;
    done.add_to(&mut report);
    out.lines(&done.lines());
    let late = match look_again(plan) {
        Ok(late) => late,
        Err(err) => {
            out.info(format!(
                "{} cannot look for sessions written during the clear: {err}",
                output::paint(output::WARNING, "note:")
            ));
            None
        }
    };
    report["sessions_during_clear"] = json!(late.map(|l| l.count));
    report["sessions_during_clear_complete"] = json!(late.map(|l| l.complete));
    if let Some(late) = late.filter(|l| l.count > 0) {
        let at_least = if late.complete { "" } else { "at least " };
        out.lines(&[format!(
            "Found {at_least}{} session(s) written while the clear ran; their cookies stop working when the application restarts with the new secret",
            late.count
        )]);
    }
    out.styled(output::SUCCESS, "✓ Session secret rotated");
    out.lines(&[done.restart_line()]);
    out.json(&report);
    Ok(ExitCode::SUCCESS)
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
        let counted = connected.clear(true, &stop, |_| {}).await;
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
