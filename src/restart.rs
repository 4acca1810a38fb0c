//! What to restart after the secret is rotated, when the project says it: a `Procfile`'s
//! `web` process, or a systemd unit kept in the project whose `ExecStart` runs the app.
//!
//! Only what is certain: a `Procfile` is the process list its platform (Heroku, Dokku,
//! foreman, overmind) restarts from, and its `web` process is the one serving cookies; a unit
//! file counts only when it names the app (`shard.yml`'s `name:`) in `ExecStart`. A compose
//! file is not read: which of its services builds this project takes a YAML reading of
//! `build:` contexts that would be a guess more often than not.

use std::path::Path;

use serde::Serialize;

/// A service that runs the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Service {
    /// The `web` line of `Procfile` (its command is not shown: it may hold a secret, as in
    /// `web: SESSION_SECRET=... bin/app`).
    Procfile { name: String },
    /// A systemd unit file in the project (its file name, `myapp.service`).
    Systemd { name: String, file: String },
}

impl Service {
    /// How the restart step names it.
    pub fn describe(&self) -> String {
        match self {
            Service::Procfile { name } => format!("the `{name}` process of Procfile"),
            Service::Systemd { name, file } => {
                format!("the systemd service {name} (`systemctl restart {name}`, from {file})")
            }
        }
    }
}

/// Directories a unit file is looked for in, besides the root.
const UNIT_DIRS: &[&str] = &["", "deploy", "config", "systemd"];

/// The service running the app in the project at `root` (app `app`), if it can tell.
pub fn find(root: &Path, app: Option<&str>) -> Option<Service> {
    if let Some(service) = procfile(root) {
        return Some(service);
    }
    let app = app?;
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".service"))
            .collect();
        names.sort();
        for name in names {
            let rel = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let Ok(text) = std::fs::read_to_string(root.join(&rel)) else {
                continue;
            };
            if runs_app(&text, app) {
                return Some(Service::Systemd { name, file: rel });
            }
        }
    }
    None
}

/// `Procfile`'s `web:` line.
fn procfile(root: &Path) -> Option<Service> {
    let text = std::fs::read_to_string(root.join("Procfile")).ok()?;
    text.lines().find_map(|line| {
        let (name, command) = line.split_once(':')?;
        let (name, command) = (name.trim(), command.trim());
        (name == "web" && !command.is_empty()).then(|| Service::Procfile {
            name: name.to_string(),
        })
    })
}

/// Whether a unit's `ExecStart=` runs `app`: a word of the command is the app's name or a
/// path ending in it (`bin/myapp`, `/srv/myapp/bin/myapp`, `src/myapp.cr`).
fn runs_app(unit: &str, app: &str) -> bool {
    unit.lines()
        .filter_map(|l| l.trim().strip_prefix("ExecStart="))
        .flat_map(str::split_whitespace)
        .any(|word| {
            let last = word.rsplit('/').next().unwrap_or(word);
            last == app || last == format!("{app}.cr")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_procfile_web_line_is_the_service() {
        let dir = project(&[(
            "Procfile",
            "release: bin/migrate\nweb:  bin/myapp -p $PORT\n",
        )]);
        assert_eq!(
            find(dir.path(), Some("myapp")),
            Some(Service::Procfile { name: "web".into() })
        );
        let dir = project(&[("Procfile", "worker: bin/jobs\n")]);
        assert_eq!(find(dir.path(), Some("myapp")), None);
    }

    #[test]
    fn a_unit_file_counts_only_when_it_runs_the_app() {
        let dir = project(&[
            (
                "deploy/other.service",
                "[Service]\nExecStart=/usr/bin/redis-server\n",
            ),
            (
                "deploy/myapp-web.service",
                "[Service]\nExecStart=/srv/myapp/bin/myapp --port 80\n",
            ),
        ]);
        assert_eq!(
            find(dir.path(), Some("myapp")),
            Some(Service::Systemd {
                name: "myapp-web.service".into(),
                file: "deploy/myapp-web.service".into()
            })
        );
        assert_eq!(find(dir.path(), Some("myapplication")), None);
        assert_eq!(find(dir.path(), None), None);
        let dir = project(&[("app.service", "ExecStart=crystal run src/myapp.cr\n")]);
        assert!(matches!(
            find(dir.path(), Some("myapp")),
            Some(Service::Systemd { .. })
        ));
    }
}
