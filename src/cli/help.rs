//! The text `--help` shows besides the options: each command's examples, the exit codes and
//! the environment. Kept here so `cli.rs` stays the list of what can be typed.

/// The exit codes of every command but `session:check`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    failure, refusal or cancelled confirmation (the error says why and how to fix it);
       also a Redis Cluster resharded during session:clear (run it again to clear the
       rest; a failover is followed and the clear finishes), and a Redis clear that found
       no key under its prefix but some under the session shard's own `session:`
  2    usage error: an unknown flag, or a backend that is not redis, database or memory
       (from --backend or SESSION_BACKEND)
  130  interrupted by Ctrl-C (the message says how many sessions were deleted)";

pub const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0    no check is an error
  1    a check is an error (with --strict: or a warning), or the project cannot be read
  2    usage error (unknown flag)";

/// The first ten minutes, for `azu-session --help` and the man page.
pub const MAIN_EXAMPLES: &str = "\
Examples:
  azu-session session:setup                     # a Redis store, a secret in .env, the shards
  azu-session session:setup --backend database  # a DatabaseStore and its migration
  azu-session session:check                     # is the setup sound? (changes nothing)
  azu-session session:clear --dry-run           # how many sessions a clear would delete
  azu-session session:clear --force             # delete them all without asking

Run from anywhere inside the project: the root is the nearest directory holding shard.yml.";

pub const SETUP_EXAMPLES: &str = "\
Examples:
  azu-session session:setup                     # Redis (the default)
  azu-session session:setup --backend database  # PostgreSQL, MySQL or SQLite: see DATABASE_URL
  azu-session session:setup -b memory --force   # replace an existing initializer
  azu-session session:setup -C ~/code/myapp     # a project elsewhere";

pub const CLEAR_EXAMPLES: &str = "\
Examples:
  azu-session session:clear                     # shows what it will delete, then asks
  azu-session session:clear --dry-run           # count only
  azu-session session:clear --force -b redis --prefix 'myapp:session:'
  azu-session session:clear --expired --quiet   # from cron: expired database sessions
  azu-session session:clear --force --rotate-secret  # a security incident";

pub const STATS_EXAMPLES: &str = "\
Examples:
  azu-session session:stats
  azu-session session:stats --format json       # for a monitoring script";

pub const ROTATE_EXAMPLES: &str = "\
Examples:
  azu-session session:rotate-secret             # then restart the application
  azu-session session:rotate-secret -C /var/www/myapp";

pub const CHECK_EXAMPLES: &str = "\
Examples:
  azu-session session:check                     # files, environment and the server
  azu-session session:check --offline --strict  # in CI: no server; a warning fails too";

pub const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  azu-session completions bash > ~/.local/share/bash-completion/completions/azu-session
  azu-session completions zsh > ~/.zfunc/_azu-session   # with fpath+=(~/.zfunc) in .zshrc
  azu-session completions fish > ~/.config/fish/completions/azu-session.fish";

pub const MAN_EXAMPLES: &str = "\
Examples:
  azu-session man | man -l -
  azu-session man > /usr/local/share/man/man1/azu-session.1";

/// The variables the tool reads (from the process, then `.env` in the project root), for
/// `--help` and the man page.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "REDIS_URL",
        "the Redis server (else the initializer's url:, else redis://localhost:6379)",
    ),
    (
        "DATABASE_URL",
        "the database, read as the app's Crystal driver reads it; its scheme (postgres://, mysql://, sqlite3://) picks the driver",
    ),
    (
        "SESSION_SECRET",
        "--rotate-secret replaces it in .env; refused when set in the process",
    ),
    (
        "SESSION_BACKEND",
        "the backend when the initializer does not tell (redis, database or memory, any case)",
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

/// Examples, then the exit codes: what `-h` shows after the options.
pub fn short(examples: &str, exit_codes: &str) -> String {
    format!("{examples}\n\n{exit_codes}")
}

/// What `--help` shows after the options of a command that reads the environment: the
/// examples, the exit codes, then the environment.
pub fn with_environment(examples: &str) -> String {
    let width = ENVIRONMENT.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut text = format!(
        "{}\n\nEnvironment (the process's, then .env in the project root; an empty value is unset):",
        short(examples, EXIT_CODES)
    );
    for (name, meaning) in ENVIRONMENT {
        text.push_str(&format!("\n  {name:width$}"));
        for line in wrap(meaning, WIDTH - width - 4) {
            text.push_str(&format!("  {line}\n  {:width$}", ""));
        }
        text.truncate(text.trim_end().len());
    }
    text
}

/// The width the help's own lists are wrapped to, within clap's 100 columns.
const WIDTH: usize = 98;

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn environment_lines_hang_under_their_meaning() {
        let text = super::with_environment("Examples:");
        for line in text.lines() {
            assert!(line.len() <= super::WIDTH, "{line}");
        }
        assert!(text.contains(
            "\n  DATABASE_URL         the database, read as the app's Crystal driver reads it; its scheme\n                       (postgres://"
        ), "{text}");
    }
}
