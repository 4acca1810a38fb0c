//! A newcomer's first minutes: backends named as people name them, a dry run that says it
//! counts, a progress rate that reads as a number, and commands run from inside the project
//! rather than at its root.

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, run, stderr, stdout, under_terminal};
use crate::support::sql::TestDb;

// ---------------------------------------------------------------- backends

/// A SQL engine's name is the `database` backend: one line saying so, from the flag (exit 2)
/// and from SESSION_BACKEND (exit 2 as well: a backend named wrong, wherever it is named).
#[test]
fn sql_engine_names_point_to_the_database_backend() {
    let p = Project::new();
    for (value, engine) in [
        ("postgres", "PostgreSQL"),
        ("postgresql", "PostgreSQL"),
        ("pg", "PostgreSQL"),
        ("mysql", "MySQL"),
        ("MariaDB", "MariaDB"),
        ("sqlite", "SQLite"),
        ("sqlite3", "SQLite"),
    ] {
        for command in ["clear", "setup", "stats"] {
            let out = run(p.cmd().args([command, "-b", value]), 2);
            assert_eq!(
                stderr(&out),
                format!(
                    "error: `{value}` is not a backend: {engine} database sessions are the `database` backend; use --backend database (the driver comes from DATABASE_URL)\n"
                ),
                "{command} -b {value}"
            );
            assert_eq!(stdout(&out), "");
        }
        let out = run(
            p.cmd().args(["clear", "-f"]).env("SESSION_BACKEND", value),
            2,
        );
        assert_eq!(
            stderr(&out),
            format!(
                "error: SESSION_BACKEND is `{value}`, which is not a backend: {engine} database sessions are the `database` backend; set SESSION_BACKEND=database (the driver comes from DATABASE_URL)\n"
            )
        );
    }
    // JSON says the same, with the same exit code.
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--format", "json"])
            .env("SESSION_BACKEND", "postgres"),
        2,
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).expect("a JSON error");
    assert_eq!(json["exit_code"], 2);
    let out = run(
        p.cmd().args(["clear", "-b", "bogus", "--format", "json"]),
        2,
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).expect("a JSON error");
    assert_eq!(json["exit_code"], 2);
    assert_eq!(
        json["error"],
        "`bogus` is not a backend; use one of redis, database, memory"
    );
}

/// `-b Redis` works as `SESSION_BACKEND=Redis` does.
#[test]
fn backends_are_read_in_any_case() {
    let p = Project::new();
    for value in ["Memory", "MEMORY", "memory"] {
        run(p.cmd().args(["clear", "-b", value]), 0).says(&[
            "Backend: memory\n",
            "Memory sessions cannot be cleared remotely",
        ]);
    }
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 2);
    run(
        p.cmd()
            .args(["clear", "--dry-run", "--backend=Database"])
            .env("DATABASE_URL", &db.url),
        0,
    )
    .says(&["Backend: database\n", "Would clear 2 session(s)\n"]);
    let setup = Project::new();
    run(setup.cmd().args(["setup", "-b", "Memory"]), 0);
    assert!(
        setup
            .read("src/initializers/session.cr")
            .contains("MemoryStore")
    );
}

/// A usage error is one line saying where to read more, and clap's tip below it.
#[test]
fn usage_errors_are_short() {
    let p = Project::new();
    let out = run(p.cmd().args(["clear", "--dry-runn"]), 2);
    assert_eq!(
        stderr(&out),
        "error: unexpected argument '--dry-runn' found; see `azu-session session:clear --help`\n  tip: a similar argument exists: '--dry-run'\n"
    );
    let out = run(p.cmd().args(["completions"]), 2);
    assert_eq!(
        stderr(&out),
        "error: the following required arguments were not provided: <SHELL>; see `azu-session completions --help`\n"
    );
    // The output options belong to the session commands only.
    let out = run(p.cmd().args(["completions", "bash", "--format", "json"]), 2);
    assert!(stderr(&out).contains("unexpected argument '--format' found"));
    let out = run(p.cmd().args(["--color", "never", "man"]), 2);
    assert_eq!(
        stderr(&out),
        "error: --format and --color apply to the session:* commands; `man` takes neither\n"
    );
    // ... before or after the command.
    run(
        p.cmd().args(["--color", "never", "clear", "-b", "memory"]),
        0,
    );
    run(
        p.cmd().args(["clear", "-b", "memory", "--color", "never"]),
        0,
    );
}

// ---------------------------------------------------------------- dry run and progress

#[test]
fn a_redis_dry_run_counts_and_says_so() {
    let Some(server) = RedisServer::start("a_redis_dry_run_counts_and_says_so") else {
        return;
    };
    server.plant(0, "myapp:session:", 4);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "--dry-run"])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        stdout(&out),
        format!(
            "Counting sessions (dry run: nothing will be deleted)...\nBackend: redis\nRedis URL: {}\nCounting Redis sessions with pattern: myapp:session:*\nWould clear 4 session(s)\nDry run: no sessions were cleared\n",
            server.url()
        )
    );
    // The clear itself keeps the documentation's line.
    run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    )
    .says(&["\nClearing Redis sessions with pattern: myapp:session:*\nCleared 4 session(s)\n"]);
}

/// The progress display's rate is a whole number with thousands separators.
#[test]
fn the_progress_rate_is_a_whole_number() {
    if !crate::support::servers::have_binary("script", "the_progress_rate_is_a_whole_number") {
        return;
    }
    let Some(server) = RedisServer::start("the_progress_rate_is_a_whole_number") else {
        return;
    };
    server.plant(0, "myapp:session:", 300_000);
    let p = Project::new();
    let screen = under_terminal(&p, "clear --dry-run", &[("REDIS_URL", &server.url())], "");
    assert!(screen.contains("Would clear 300000 session(s)"), "{screen}");
    let rates: Vec<&str> = screen
        .split(" sessions counted (")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    assert!(!rates.is_empty(), "no progress shown: {screen}");
    for rate in &rates {
        let number = rate
            .strip_suffix("/s")
            .unwrap_or_else(|| panic!("{rate:?}"));
        assert!(
            !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit() || c == ',')
                && number.split(',').skip(1).all(|group| group.len() == 3),
            "{rate:?} is not a whole number with separators: {screen}"
        );
    }
    assert!(
        rates.iter().any(|r| r.contains(',')),
        "no rate reached a thousand per second: {rates:?}"
    );
}

// ---------------------------------------------------------------- the project root

/// Run from below the root, every command finds shard.yml above, as cargo finds
/// Cargo.toml, and says which root it took.
#[test]
fn commands_run_from_a_subdirectory_find_the_project() {
    let p = Project::new();
    p.write("src/models/.keep", "");
    let sub = p.path("src/models");
    let root = p.root().display().to_string();
    let note = format!("(project root: {root})\n");

    let out = run(p.cmd().current_dir(&sub).args(["setup", "-b", "memory"]), 0);
    assert!(stderr(&out).contains(&note), "{}", stderr(&out));
    assert!(p.exists("src/initializers/session.cr"));
    assert!(p.exists(".env"));
    assert!(!p.exists("src/models/.env") && !p.exists("src/models/src"));

    // The initializer just written is found from below, and so is `.env`.
    let out = run(p.cmd().current_dir(&sub).args(["clear"]), 0);
    out.says(&["Backend: memory\n"])
        .warns(&[&note, "(detected from src/initializers/session.cr)"]);
    let out = run(p.cmd().current_dir(&sub).args(["check", "--offline"]), 1);
    out.says(&[
        "store.found",
        "memory store (detected from src/initializers/session.cr)",
    ]);
    let out = run(p.cmd().current_dir(&sub).args(["stats"]), 0);
    out.warns(&[&note]);
    let before = p.read(".env");
    run(p.cmd().current_dir(&sub).args(["rotate-secret"]), 0).warns(&[&note]);
    assert_ne!(p.read(".env"), before, "the root's .env was rotated");

    // At the root itself, nothing is said; --quiet and JSON say nothing either.
    let out = run(p.cmd().args(["clear"]), 0);
    assert!(!stderr(&out).contains("project root"), "{}", stderr(&out));
    let out = run(p.cmd().current_dir(&sub).args(["clear", "-q"]), 0);
    assert_eq!(stderr(&out), "");
}

/// An explicit `--path` is taken as it is: a directory without shard.yml is refused, naming
/// the root above it when there is one.
#[test]
fn an_explicit_path_is_not_searched_upward() {
    let p = Project::new();
    p.write("src/.keep", "");
    let src = p.path("src");
    let out = run(p.cmd().args(["setup", "-b", "memory", "-C"]).arg(&src), 1);
    assert_eq!(
        stderr(&out),
        format!(
            "error: no shard.yml in `{}`, but `{}` above it has one; pass --path {} (or run without --path from inside the project)\n",
            src.display(),
            p.root().display(),
            p.root().display()
        )
    );
    assert!(!p.exists("src/src") && !p.exists("src/initializers"));

    // Outside any project, the message says where it looked.
    let empty = Project::empty();
    let out = run(empty.cmd().args(["setup", "-b", "memory"]), 1);
    assert_eq!(
        stderr(&out),
        format!(
            "error: no shard.yml in `{}` or any directory above it; run this inside an Azu project (the directory holding shard.yml, or below it) or pass --path <DIR>\n",
            empty.root().display()
        )
    );
}
