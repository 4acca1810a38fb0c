//! Command-line types (clap derive). Everything the user can type is declared here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backend::{Backend, BackendParser};
use crate::output::{Color, Format};

mod help;

pub use help::{CHECK_EXIT_CODES, ENVIRONMENT, EXIT_CODES, MAIN_EXAMPLES};
use help::{short, with_environment};

/// The binary's name: what the completion scripts complete and the man page describes.
pub const BIN: &str = "azu-session";

/// Set up and clear session storage for Azu web applications.
#[derive(Debug, Parser)]
#[command(
    name = BIN,
    version,
    about,
    after_help = short(MAIN_EXAMPLES, EXIT_CODES)
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Also accepted before the command (`azu-session --format json session:clear`).
    #[command(flatten)]
    pub output: OutputArgs,
}

impl Cli {
    /// The output options in force: those given after the command, else before it.
    pub fn output(&self) -> OutputArgs {
        let after = match &self.command {
            Command::Setup { output, .. }
            | Command::Clear { output, .. }
            | Command::Stats { output, .. }
            | Command::RotateSecret { output, .. }
            | Command::Check { output, .. } => *output,
            Command::Completions { .. } | Command::Man => OutputArgs::default(),
        };
        OutputArgs {
            format: after.format.or(self.output.format),
            color: after.color.or(self.output.color),
        }
    }

    /// The project options of the command, when it has them.
    pub fn project_mut(&mut self) -> Option<&mut ProjectArgs> {
        match &mut self.command {
            Command::Setup { args, .. } => Some(&mut args.project),
            Command::Clear { args, .. } => Some(&mut args.project),
            Command::Stats { args, .. } => Some(&mut args.project),
            Command::RotateSecret { args, .. } => Some(&mut args.project),
            Command::Check { args, .. } => Some(&mut args.project),
            Command::Completions { .. } | Command::Man => None,
        }
    }
}

/// How the session commands print: only they take these (a completion script and the man
/// page have no format and no color).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
pub struct OutputArgs {
    /// Output format: lines for people, or one JSON object for scripts [default: text]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// When to use color (NO_COLOR is honoured under auto) [default: auto]
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<Color>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the session initializer, src/initializers/session.cr (and, for the database
    /// backend, a migration), and add the shard dependencies and a session secret.
    ///
    /// Files: it writes src/initializers/session.cr and, for --backend database,
    /// src/db/migrations/<timestamp>_create_sessions.cr; it edits shard.yml (adds the session
    /// shard and the backend's shards under dependencies:), .env (adds a random
    /// SESSION_SECRET) and .gitignore (adds a `.env` line when git would not ignore .env).
    /// Every file is checked before any is written, and a refusal leaves them all as they
    /// were.
    ///
    /// The secret goes to .env, which is kept out of git as git decides it. A .env that git
    /// already tracks is refused, nothing written: the secret would be committed; untrack it
    /// with `git rm --cached .env` (and commit that) first.
    #[command(
        name = "session:setup",
        visible_alias = "setup",
        after_help = short(help::SETUP_EXAMPLES, EXIT_CODES)
    )]
    Setup {
        #[command(flatten)]
        args: SetupArgs,
        #[command(flatten)]
        output: OutputArgs,
    },

    /// Delete every session from the configured backend, logging out all users.
    ///
    /// On a Redis Cluster every primary is cleared. A failover during the clear (a replica
    /// promoted to serve the same slots) is followed: the new primary is cleared and the
    /// clear finishes. A resharding (slots moved between shards) ends it with exit code 1,
    /// saying how many sessions were cleared; run it again to clear the rest.
    #[command(
        name = "session:clear",
        visible_alias = "clear",
        after_help = short(help::CLEAR_EXAMPLES, EXIT_CODES),
        after_long_help = with_environment(help::CLEAR_EXAMPLES)
    )]
    Clear {
        #[command(flatten)]
        args: ClearArgs,
        #[command(flatten)]
        output: OutputArgs,
    },

    /// Measure the configured backend without changing it: how many sessions, and for Redis
    /// their memory (estimated from a sample) and TTL spread, for a database live and expired
    /// rows, oldest and newest, and the table's size on disk.
    #[command(
        name = "session:stats",
        visible_alias = "stats",
        after_help = short(help::STATS_EXAMPLES, EXIT_CODES),
        after_long_help = with_environment(help::STATS_EXAMPLES)
    )]
    Stats {
        #[command(flatten)]
        args: StatsArgs,
        #[command(flatten)]
        output: OutputArgs,
    },

    /// Replace SESSION_SECRET in .env with a new random one (never shown), invalidating every
    /// session cookie once the application restarts.
    #[command(
        name = "session:rotate-secret",
        visible_alias = "rotate-secret",
        after_help = short(help::ROTATE_EXAMPLES, EXIT_CODES)
    )]
    RotateSecret {
        #[command(flatten)]
        args: RotateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },

    /// Check that the project's session setup is sound (store, shard, secret, .env, cookies)
    /// and, unless --offline, that its backend answers; nothing is written or deleted.
    #[command(
        name = "session:check",
        visible_alias = "check",
        after_help = short(help::CHECK_EXAMPLES, CHECK_EXIT_CODES)
    )]
    Check {
        #[command(flatten)]
        args: CheckArgs,
        #[command(flatten)]
        output: OutputArgs,
    },

    /// Print a shell completion script (bash, zsh or fish)
    #[command(after_help = help::COMPLETIONS_EXAMPLES)]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Print the man page (roff)
    #[command(after_help = help::MAN_EXAMPLES)]
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
    /// The project root (the directory holding shard.yml) [default: the current directory or
    /// the nearest one above it holding shard.yml]
    #[arg(
        short = 'C',
        long = "path",
        value_name = "DIR",
        default_value = ".",
        hide_default_value = true
    )]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// Session backend to configure (a PostgreSQL, MySQL or SQLite database is `database`:
    /// the driver comes from DATABASE_URL)
    #[arg(short, long, value_parser = BackendParser, default_value_t = Backend::Redis)]
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

    /// The backend to clear instead of the detected one (detected: the store in
    /// src/initializers/session.cr, else SESSION_BACKEND, else redis)
    ///
    /// Without this flag the backend is detected: the store src/initializers/session.cr configures (in the current environment; when it
    /// configures none, the one store the project's other sources under src/ make), else
    /// SESSION_BACKEND, else redis. Where it came from is said on stderr. A PostgreSQL,
    /// MySQL or SQLite database is `database`: the driver comes from DATABASE_URL.
    #[arg(short, long, value_parser = BackendParser)]
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

    /// The Redis key prefix: the keys `<PREFIX>*` are cleared [default: the store's
    /// `prefix:` in src/initializers/session.cr (the session shard's `session:` when it gives
    /// none), else `<app>:session:`, <app> being shard.yml's name]
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// The sessions table, `name` or `schema.name` [default: the store's `table:` in
    /// src/initializers/session.cr, else `sessions`]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,

    /// How long to wait for a table lock another connection holds before giving up
    /// (SQL backends; default 5, or SQLite's busy_timeout from DATABASE_URL)
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub lock_timeout: Option<std::time::Duration>,

    /// Delete in short batches even where the table could be truncated (PostgreSQL, MariaDB)
    ///
    /// A full clear of a PostgreSQL or MariaDB table truncates it when that is exact and
    /// harmless: no trigger or rule on delete, no row-level security, no foreign key
    /// referencing it, a user allowed to truncate, the table lock granted within 0.1 s and
    /// its rows counted under it within 0.15 s (else the batches take over). With this flag
    /// it always goes in batches, each its own short transaction, as --expired does.
    /// --dry-run and the JSON report's `strategy` say which a clear takes, and why.
    #[arg(long)]
    pub batched: bool,

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
    /// The backend to measure instead of the detected one (detected: the store in
    /// src/initializers/session.cr, else SESSION_BACKEND, else redis)
    ///
    /// Without this flag the backend is detected as session:clear detects it: the store src/initializers/session.cr configures (when
    /// it configures none, the one store the project's other sources under src/ make), else
    /// SESSION_BACKEND, else redis. A PostgreSQL, MySQL or SQLite database is `database`:
    /// the driver comes from DATABASE_URL.
    #[arg(short, long, value_parser = BackendParser)]
    pub backend: Option<Backend>,

    /// No progress display and no context notes on stderr (errors and warnings still show)
    #[arg(short, long)]
    pub quiet: bool,

    /// The Redis key prefix: the keys `<PREFIX>*` are measured [default: as session:clear's,
    /// the store's `prefix:`, else `<app>:session:`]
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// The sessions table [default: the store's `table:`, else `sessions`]
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
            batched: false,
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
