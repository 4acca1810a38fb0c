//! Temporary Azu projects and a runner for the built binary.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A temporary Azu project directory, removed when dropped.
pub struct Project {
    pub dir: TempDir,
}

impl Project {
    /// An empty directory (no shard.yml).
    pub fn empty() -> Self {
        Project {
            dir: tempfile::Builder::new()
                .prefix("azu-session-test-")
                .tempdir()
                .expect("create a temporary directory"),
        }
    }

    /// A project whose shard.yml names the app `myapp`.
    pub fn new() -> Self {
        Self::with_shard(
            "name: myapp\nversion: 0.1.0\n\ndependencies:\n  azu:\n    github: azutoolkit/azu\n",
        )
    }

    pub fn with_shard(shard_yml: &str) -> Self {
        let p = Self::empty();
        p.write("shard.yml", shard_yml);
        p
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directories");
        }
        fs::write(&path, contents).expect("write a project file");
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// A copy of the directory `src` (e.g. one under `examples/`), so a test can change it.
    pub fn copy_of(src: &Path) -> Self {
        let p = Self::empty();
        copy_dir(src, p.root());
        p
    }

    /// The permission bits of a project file.
    pub fn mode(&self, rel: &str) -> u32 {
        fs::metadata(self.path(rel))
            .unwrap_or_else(|e| panic!("stat {rel}: {e}"))
            .permissions()
            .mode()
            & 0o7777
    }

    pub fn set_mode(&self, rel: &str, mode: u32) {
        fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {rel}: {e}"));
    }

    /// The names in a project directory, sorted; empty when it does not exist.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.path(rel)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// The binary, run in this project with a clean environment for the variables it reads.
    pub fn cmd(&self) -> Command {
        let mut cmd = azu();
        cmd.current_dir(self.root());
        cmd
    }

    /// Every file below the root with its bytes (directories as empty entries): compare two
    /// of these to prove a command changed nothing.
    pub fn tree(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        walk(self.root(), self.root(), &mut out);
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read a directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .expect("below the root")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            out.insert(format!("{rel}/"), None);
            walk(root, &path, out);
        } else {
            out.insert(rel, Some(fs::read(&path).expect("read a file")));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a directory");
    for entry in fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// The built binary with the variables it reads removed from its environment, so the
/// developer's shell cannot change a test's outcome.
pub fn azu() -> Command {
    let mut cmd = Command::cargo_bin("azu-session").expect("the azu-session binary is built");
    for var in [
        "SESSION_BACKEND",
        "REDIS_URL",
        "DATABASE_URL",
        "SESSION_SECRET",
        "AZU_ENV",
        "CRYSTAL_ENV",
        "APP_NAME",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
