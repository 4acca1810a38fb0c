//! Every `--help` and `-h`, snapshotted whole: the help is how a newcomer learns the tool, so
//! a change to it is reviewed as the user reads it. clap wraps to the terminal's width; the
//! width is pinned (COLUMNS) so the snapshots do not depend on where the tests run.

use crate::support::project::azu;
use crate::support::run::{run, stdout};

/// Every command, with the main one first (aliases print the same help as their command).
const COMMANDS: &[&[&str]] = &[
    &[],
    &["session:setup"],
    &["session:clear"],
    &["session:stats"],
    &["session:rotate-secret"],
    &["session:check"],
    &["completions"],
    &["man"],
];

fn help(command: &[&str], flag: &str) -> String {
    let out = run(
        azu()
            .args(command)
            .arg(flag)
            .env("COLUMNS", "100")
            .env_remove("TERM"),
        0,
    );
    stdout(&out)
}

fn name(command: &[&str]) -> String {
    match command.first() {
        None => "main".to_string(),
        Some(c) => c.replace(':', "_"),
    }
}

#[test]
fn every_long_help() {
    for command in COMMANDS {
        insta::assert_snapshot!(format!("long_{}", name(command)), help(command, "--help"));
    }
}

#[test]
fn every_short_help() {
    for command in COMMANDS {
        insta::assert_snapshot!(format!("short_{}", name(command)), help(command, "-h"));
    }
}

/// `help <command>` and an alias's `--help` say what the command's own `--help` says.
#[test]
fn aliases_and_the_help_command_print_the_same_help() {
    for (command, alias) in [
        ("session:setup", "setup"),
        ("session:clear", "clear"),
        ("session:stats", "stats"),
        ("session:rotate-secret", "rotate-secret"),
        ("session:check", "check"),
    ] {
        let own = help(&[command], "--help");
        assert_eq!(help(&[alias], "--help"), own, "{alias}");
        assert_eq!(help(&["help"], command), own, "help {command}");
    }
}

/// The words each help must hold, wherever clap wraps them: the detection chain, the
/// defaults, the files setup edits, and the output options only where they act.
#[test]
fn help_teaches_the_tool() {
    let words = |command: &[&str], flag: &str| {
        help(command, flag)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let clear = words(&["clear"], "--help");
    for said in [
        "Without this flag the backend is detected: the store src/initializers/session.cr configures",
        "else SESSION_BACKEND, else redis",
        "A PostgreSQL, MySQL or SQLite database is `database`: the driver comes from DATABASE_URL",
        "[default: the store's `prefix:` in src/initializers/session.cr (the session shard's `session:` when it gives none), else `<app>:session:`",
        "else `sessions`]",
        "Examples:",
        "Exit codes:",
        "Environment",
    ] {
        assert!(
            clear.contains(said),
            "clear --help lacks {said:?}:\n{clear}"
        );
    }
    let setup = words(&["setup"], "--help");
    for said in [
        "it writes src/initializers/session.cr and, for --backend database, src/db/migrations/<timestamp>_create_sessions.cr",
        "it edits shard.yml",
        ".env (adds a random SESSION_SECRET)",
        ".gitignore (adds a `.env` line when git would not ignore .env)",
        "Examples:",
    ] {
        assert!(
            setup.contains(said),
            "setup --help lacks {said:?}:\n{setup}"
        );
    }
    for command in ["setup", "clear", "stats", "rotate-secret", "check"] {
        for flag in ["--help", "-h"] {
            let text = words(&[command], flag);
            assert!(
                text.contains("--format <FORMAT>") && text.contains("--color <WHEN>"),
                "{command} {flag}"
            );
            assert!(text.contains("Examples: azu-session "), "{command} {flag}");
        }
    }
    for command in ["completions", "man"] {
        for flag in ["--help", "-h"] {
            let text = words(&[command], flag);
            assert!(
                !text.contains("--format") && !text.contains("--color"),
                "{command} {flag} offers an option it ignores:\n{text}"
            );
            assert!(text.contains("Examples: azu-session "), "{command} {flag}");
        }
    }
}
