//! What an error can say of itself: how it is made for a file, how many sessions were
//! cleared before it, and the exit code it ends the process with; and the phrases the
//! messages of failed clears share.

use std::io;
use std::path::{Path, PathBuf};

use super::Error;

impl Error {
    pub fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    pub fn write(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }

    /// Set how many sessions were cleared before this error, where it reports that (an
    /// engine that cannot roll back tells it only by counting again).
    pub fn set_cleared(&mut self, n: u64) {
        match self {
            Error::Database { cleared, .. }
            | Error::Redis { cleared, .. }
            | Error::LockTimeout { cleared, .. }
            | Error::Interrupted { cleared, .. }
            | Error::RowsHidden { cleared, .. }
            | Error::RowsRemain { cleared, .. } => *cleared = n,
            _ => {}
        }
    }

    /// The process exit code for this error (usage errors exit 2 through clap, before this,
    /// and so does a `SESSION_BACKEND` that names no backend; an interrupt exits 130, as a
    /// shell reports a command ended by Ctrl-C).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted { .. } => 130,
            // As `--backend bogus` is: the backend was named wrong, not a failure to act.
            Error::InvalidSessionBackend(_) => 2,
            _ => 1,
        }
    }
}

/// No shard.yml where the project root was looked for; `above` is the one `--path` missed.
pub(super) fn no_shard_yml(dir: &Path, above: Option<&Path>) -> String {
    let dir = dir.display();
    match above {
        Some(root) => format!(
            "no shard.yml in `{dir}`, but `{}` above it has one; pass --path {} (or run without --path from inside the project)",
            root.display(),
            root.display()
        ),
        None => format!(
            "no shard.yml in `{dir}` or any directory above it; run this inside an Azu project (the directory holding shard.yml, or below it) or pass --path <DIR>"
        ),
    }
}

/// How far a failed clear had come, for its message.
pub(super) fn progress(cleared: u64, dry_run: bool) -> String {
    if dry_run {
        "while counting sessions (dry run: nothing was deleted)".to_string()
    } else {
        format!("after clearing {cleared} session(s)")
    }
}

pub(super) fn interrupted_message(cleared: u64, dry_run: bool) -> String {
    if dry_run {
        "interrupted; nothing was deleted".to_string()
    } else {
        format!(
            "interrupted after clearing {cleared} session(s); run the command again to clear the rest"
        )
    }
}

/// A message split into what went wrong and its fix: at the first `; ` outside parentheses
/// and backticks (a value or an aside may hold one). `None` when the message has no fix.
pub fn split_fix(message: &str) -> (&str, Option<&str>) {
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, c) in message.char_indices() {
        match c {
            '`' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ';' if !quoted && depth == 0 && message[i + 1..].starts_with(' ') => {
                return (&message[..i], Some(&message[i + 2..]));
            }
            _ => {}
        }
    }
    (message, None)
}

#[cfg(test)]
mod tests {
    use super::split_fix;

    #[test]
    fn the_fix_follows_the_first_semicolon_outside_asides() {
        assert_eq!(
            split_fix("`DATABASE_URL` is not set; export it or add it to .env"),
            (
                "`DATABASE_URL` is not set",
                Some("export it or add it to .env")
            )
        );
        assert_eq!(
            split_fix("the file `a; b` is gone (DATABASE_URL `x`; a note); create it; then run"),
            (
                "the file `a; b` is gone (DATABASE_URL `x`; a note)",
                Some("create it; then run")
            )
        );
        assert_eq!(split_fix("interrupted"), ("interrupted", None));
    }
}
