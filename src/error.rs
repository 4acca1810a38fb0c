//! The one error type. Every message says what went wrong and, after a semicolon, how to fix
//! it; paths are carried in the variants so the message names the right file.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("`{}` is not a directory; pass the project root with --path", .0.display())]
    NotADirectory(PathBuf),

    #[error(
        "no shard.yml in `{}`; run this in the root of an Azu project or pass --path <DIR>",
        .0.display()
    )]
    NoShardYml(PathBuf),

    #[error("`{}` is not valid YAML ({reason}); fix the file and run again", .path.display())]
    ShardYmlInvalid { path: PathBuf, reason: String },

    #[error("`{}` has no `name:`; add `name: <app>` to it and run again", .0.display())]
    ShardYmlNoName(PathBuf),

    #[error(
        "`dependencies:` in `{}` is not a mapping; make it a mapping of shard names and run again",
        .0.display()
    )]
    ShardYmlDependenciesNotMapping(PathBuf),

    #[error("cannot add dependencies to `{}` without changing its meaning ({reason}); add them by hand: {wanted}", .path.display())]
    ShardYmlEdit {
        path: PathBuf,
        reason: String,
        wanted: String,
    },

    #[error("cannot read `{}`: {reason}; fix the line or remove it", .path.display())]
    DotenvInvalid { path: PathBuf, reason: String },

    #[error("`{0}` already exists; pass --force to overwrite")]
    AlreadyExists(String),

    #[error("`{}` is not UTF-8 text; fix or remove it and run again", .0.display())]
    NotUtf8(PathBuf),

    #[error("cannot read `{}`: {source}; check that it exists and is readable", .path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error("cannot write `{}`: {source}; check the directory's permissions and free space (nothing was changed)", .path.display())]
    Write { path: PathBuf, source: io::Error },

    #[error(
        "cannot generate the secret: {0}; check that the operating system's random generator is available"
    )]
    Random(String),

    #[error("cannot render `{template}`: {reason}; this is a bug, please report it")]
    Template {
        template: &'static str,
        reason: String,
    },
}

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

    /// The process exit code for this error (usage errors exit 2 through clap, before this).
    pub fn exit_code(&self) -> u8 {
        1
    }
}
