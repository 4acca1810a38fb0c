//! Command-line types (clap derive). Everything the user can type is declared here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backend::Backend;
use crate::output::{Color, Format};

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    failure, refusal or cancelled confirmation (the error says why and how to fix it);
       also a Redis Cluster resharded during session:clear (run it again to clear the
       rest; a failover is followed and the clear finishes)
  2    usage error (unknown flag or backend)
  130  interrupted by Ctrl-C (the message says how many sessions were deleted)";

const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0    no check is an error
  1    a check is an error (with --strict: or a warning), or the project cannot be read
  2    usage error (unknown flag)";

/// The binary's name: what the completion scripts complete and the man page describes.
pub const BIN: &str = "azu-session";

/// The variables the tool reads (from the process, then `.env` in the project root), for
/// `--help` and the man page.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "REDIS_URL",
        "the Redis server (else the initializer's url:, else redis://localhost:6379)",
    ),
    (
        "DATABASE_URL",
        "the database, read as the app's Crystal driver reads it",
    ),
    (
        "SESSION_SECRET",
        "--rotate-secret replaces it in .env; refused when set in the process",
    ),
    (
        "SESSION_BACKEND",
        "the backend when the initializer does not tell",
    ),
    (
        "CRYSTAL_ENV",
        "the Azu environment a per-environment initializer branches on",
    ),
    (
        "AZU_ENV",
        "the same, for initializers that read it (as the documentation's do)",
    ),
    (
        "REDIS_TLS_CERT_FILE",
        "with REDIS_TLS_KEY_FILE: a client certificate for rediss:// (a relative path in .env is from the project root)",
    ),
    ("REDIS_TLS_KEY_FILE", "the key of REDIS_TLS_CERT_FILE"),
    (
        "REDIS_TLS_CA_FILE",
        "CAs to trust for rediss:// instead of the system's",
    ),
    (
        "SSL_CERT_FILE",
        "CAs to trust for TLS, read by the system's certificate loader (from the process only, not .env)",
    ),
];

/// `session:clear --help`: the exit codes, then the environment.
fn clear_long_help() -> String {
    let width = ENVIRONMENT.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut text = format!(
        "{EXIT_CODES}\n\nEnvironment (the process's, then .env in the project root; an empty value is unset):"
    );
    for (name, meaning) in ENVIRONMENT {
        text.push_str(&format!("\n  {name:width$}  {meaning}"));
    }
    text
}

/// Set up and clear session storage for Azu web applications.
#[derive(Debug, Parser)]
#[command(name = BIN, version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Output format: lines for people, or one JSON object for scripts
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// When to use color (NO_COLOR is honoured under auto)
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the session initializer (and, for the database backend, its migration), add the
    /// shard dependencies and a session secret.
    ///
    /// The secret goes to .env, which is kept out of git as git decides it (a `.env` line is
    /// added to .gitignore when git would not ignore it). A .env that git already tracks is
    /// refused, nothing written: the secret would be committed; untrack it with
    /// `git rm --cached .env` (and commit that) first.
    #[command(name = "session:setup", visible_alias = "setup", after_help = EXIT_CODES)]
    Setup(SetupArgs),

    /// Delete every session from the configured backend, logging out all users.
    ///
    /// On a Redis Cluster every primary is cleared. A failover during the clear (a replica
    /// promoted to serve the same slots) is followed: the new primary is cleared and the
    /// clear finishes. A resharding (slots moved between shards) ends it with exit code 1,
    /// saying how many sessions were cleared; run it again to clear the rest.
    #[command(
        name = "session:clear",
        visible_alias = "clear",
        after_help = EXIT_CODES,
        after_long_help = clear_long_help()
    )]
    Clear(ClearArgs),

    /// Measure the configured backend without changing it: how many sessions, and for Redis
    /// their memory (estimated from a sample) and TTL spread, for a database live and expired
    /// rows, oldest and newest, and the table's size on disk.
    #[command(
        name = "session:stats",
        visible_alias = "stats",
        after_help = EXIT_CODES,
        after_long_help = clear_long_help()
    )]
    Stats(StatsArgs),

    /// Replace SESSION_SECRET in .env with a new random one (never shown), invalidating every
    /// session cookie once the application restarts.
    #[command(
        name = "session:rotate-secret",
        visible_alias = "rotate-secret",
        after_help = EXIT_CODES
    )]
    RotateSecret(RotateArgs),

    /// Check that the project's session setup is sound (store, shard, secret, .env, cookies)
    /// and, unless --offline, that its backend answers; nothing is written or deleted.
    #[command(name = "session:check", visible_alias = "check", after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),

    /// Print a shell completion script (bash, zsh or fish)
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Print the man page (roff)
    Man,
}

/// The shells `completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Where the Azu project lives.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// The project root (the directory holding shard.yml)
    #[arg(short = 'C', long = "path", value_name = "DIR", default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// Session backend to configure
    #[arg(short, long, value_enum, default_value_t = Backend::Redis)]
    pub backend: Backend,

    /// Overwrite an existing src/initializers/session.cr
    #[arg(short, long)]
    pub force: bool,

    /// Which configuration API to write: the Azu documentation's, or the session shard's
    /// (1.0.30 and later) [default: shard when shard.lock pins the shard at 1.0.30 or later,
    /// else docs]
    #[arg(long, value_enum, value_name = "API")]
    pub api: Option<Api>,

    #[command(flatten)]
    pub project: ProjectArgs,
}

/// The configuration API a generated initializer is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// The Azu documentation's (`RedisStore.new(url:, prefix:, ttl:)`, ...)
    Docs,
    /// The session shard's, as released (1.0.30 and later)
    Shard,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Docs => "docs",
            Api::Shard => "shard",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ClearArgs {
    /// Skip the confirmation prompt (required when not run from a terminal)
    #[arg(short, long)]
    pub force: bool,

    /// Override the detected backend
    #[arg(short, long, value_enum)]
    pub backend: Option<Backend>,

    /// Count what would be cleared; delete nothing
    #[arg(long)]
    pub dry_run: bool,

    /// No progress display and no context notes on stderr (errors still show)
    #[arg(short, long)]
    pub quiet: bool,

    /// Delete only expired sessions (database: rows whose expires_at is past by the server's
    /// clock; SQLite's text and Unix-seconds values are compared as times, whatever their
    /// format, and rows whose value SQLite cannot read as a time are left and counted in a
    /// warning); no confirmation needed, since no live session is touched
    #[arg(long)]
    pub expired: bool,

    /// Override the Redis key prefix (the keys `<PREFIX>*` are cleared)
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// Override the sessions table
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,

    /// How long to wait for a table lock another connection holds before giving up
    /// (SQL backends; default 5, or SQLite's busy_timeout from DATABASE_URL)
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub lock_timeout: Option<std::time::Duration>,

    /// Also replace SESSION_SECRET in .env with a new random one, checked writable before
    /// anything is deleted (for a security incident: stolen cookies stop working once the
    /// application restarts)
    #[arg(long, conflicts_with = "dry_run")]
    pub rotate_secret: bool,

    #[command(flatten)]
    pub project: ProjectArgs,
}

/// `session:stats`: where the sessions are, found as `session:clear` finds them.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// Override the detected backend
    #[arg(short, long, value_enum)]
    pub backend: Option<Backend>,

    /// No progress display and no context notes on stderr (errors and warnings still show)
    #[arg(short, long)]
    pub quiet: bool,

    /// Override the Redis key prefix (the keys `<PREFIX>*` are measured)
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// Override the sessions table
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,

    #[command(flatten)]
    pub project: ProjectArgs,
}

impl StatsArgs {
    /// The same request as `session:clear --dry-run` would make: the plan that finds the
    /// store is clear's own, so both commands always look at the same sessions.
    pub fn as_clear(&self) -> ClearArgs {
        ClearArgs {
            force: false,
            backend: self.backend,
            dry_run: true,
            quiet: self.quiet,
            expired: false,
            prefix: self.prefix.clone(),
            table: self.table.clone(),
            lock_timeout: None,
            rotate_secret: false,
            project: self.project.clone(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Check only the project's files and environment; connect to no server
    #[arg(long)]
    pub offline: bool,

    /// Count warnings as errors (exit 1 when any check is not ok)
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

/// A number of seconds, whole or not, from 0 to a day.
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("`{s}` is not between 0 and 86400 seconds"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}
