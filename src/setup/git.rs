//! Whether `.env` is ignored by git, decided the way git decides it: inside a repository by
//! git itself (`git check-ignore`, which knows every `.gitignore`, `.git/info/exclude` and
//! `core.excludesFile`), elsewhere by the project's `.gitignore` read with git's own rules
//! (negations, anchors, globs) by the `ignore` crate.

use std::path::Path;
use std::process::{Command, Stdio};

use ignore::gitignore::GitignoreBuilder;

use crate::error::{Error, Result};

/// What git does with `.env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFile {
    /// Ignored: it will never be committed.
    Ignored,
    /// Not ignored: a `.env` line must be added to `.gitignore`.
    NotIgnored,
    /// Already in the repository: a secret written there would be committed.
    Tracked,
}

/// `git -C root <args>`: its exit code, or `None` when git cannot be run.
fn git(root: &Path, args: &[&str]) -> Option<i32> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .and_then(|s| s.code())
}

/// How git treats `root/.env` now; `gitignore` is the project's `.gitignore` text, read when
/// `root` is not inside a repository (or git is not installed).
pub fn env_file(root: &Path, gitignore: Option<&str>) -> Result<EnvFile> {
    if git(root, &["rev-parse", "--is-inside-work-tree"]) == Some(0) {
        if git(root, &["ls-files", "--error-unmatch", "--", ".env"]) == Some(0) {
            return Ok(EnvFile::Tracked);
        }
        match git(root, &["check-ignore", "-q", "--", ".env"]) {
            Some(0) => return Ok(EnvFile::Ignored),
            Some(1) => return Ok(EnvFile::NotIgnored),
            // 128: git could not say; read the file below.
            _ => {}
        }
    }
    Ok(if ignores_env(root, gitignore.unwrap_or(""))? {
        EnvFile::Ignored
    } else {
        EnvFile::NotIgnored
    })
}

/// Whether `.gitignore` text ignores `root/.env`, by git's rules.
pub fn ignores_env(root: &Path, gitignore: &str) -> Result<bool> {
    let mut builder = GitignoreBuilder::new(root);
    for line in gitignore.lines() {
        // A line git would reject is one git skips; so do we.
        let _ = builder.add_line(None, line);
    }
    let matcher = builder.build().map_err(|e| Error::GitignoreInvalid {
        path: root.join(".gitignore"),
        reason: e.to_string(),
    })?;
    Ok(matcher.matched(root.join(".env"), false).is_ignore())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_rules_as_git_reads_them() {
        let root = Path::new("/srv/app");
        let cases = [
            ("", false),
            (".env\n", true),
            ("/.env\n", true),
            (".env*\n", true),
            ("*.env\n", true),
            ("**/.env\n", true),
            (".env\n!.env\n", false),
            ("!.env\n.env\n", true),
            ("# .env\n", false),
            (".env/\n", false),
            ("config/.env\n", false),
            ("\\.env\n", true),
        ];
        for (text, ignored) in cases {
            assert_eq!(ignores_env(root, text).ok(), Some(ignored), "{text:?}");
        }
    }
}
