//! Output for scripts and people: `--format json`, `--color`, NO_COLOR, progress, `--quiet`.

use serde_json::Value;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{run, text, under_terminal};
use crate::support::servers::have_binary;
use crate::support::sql::TestDb;

/// The one JSON object a stream must hold, and nothing else.
fn one_json(bytes: &[u8]) -> Value {
    let s = text(bytes);
    assert_eq!(s.lines().count(), 1, "expected one JSON line, got:\n{s}");
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn setup_json_report() {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["session:setup", "-b", "database", "--format", "json"]),
        0,
    );
    let v = one_json(&out.stdout);
    assert_eq!(v["command"], "session:setup");
    assert_eq!(v["backend"], "database");
    assert_eq!(v["app_name"], "myapp");
    let files = v["files"].as_array().expect("files");
    let actions: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f["action"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions[0],
        (
            "create".to_string(),
            "src/initializers/session.cr".to_string()
        )
    );
    assert!(
        actions[1].1.starts_with("src/db/migrations/")
            && actions[1].1.ends_with("_create_sessions.cr")
    );
    assert_eq!(actions[2], ("update".to_string(), "shard.yml".to_string()));
    let steps = v["next_steps"].as_array().expect("next_steps");
    let titles: Vec<&str> = steps
        .iter()
        .map(|s| s["title"].as_str().expect("a title"))
        .collect();
    assert_eq!(
        titles,
        [
            "Install dependencies:",
            "Set environment variables (SESSION_SECRET is already in .env):",
            "Load .env in development, in the shell that runs azu db:migrate and the app:",
            "Run migrations:",
            "Require the initializer in your application's main file:",
        ]
    );
    assert_eq!(steps[3]["details"][0], "azu db:migrate");
    assert_eq!(text(&out.stderr), "");
    // The same steps as the text output, line for line.
    let q = Project::new();
    let lines = run(q.cmd().args(["session:setup", "-b", "database"]), 0);
    let mut from_json = String::from("Next steps:\n");
    for (i, step) in steps.iter().enumerate() {
        from_json.push_str(&format!(
            "  {}. {}\n",
            i + 1,
            step["title"].as_str().unwrap()
        ));
        for d in step["details"].as_array().expect("details") {
            from_json.push_str(&format!("     {}\n", d.as_str().unwrap()));
        }
    }
    assert!(
        text(&lines.stdout).contains(&format!("\n{from_json}\n")),
        "{from_json}\n---\n{}",
        text(&lines.stdout)
    );
    // the secret is not in the report
    let secret = p
        .read(".env")
        .lines()
        .find_map(|l| l.strip_prefix("SESSION_SECRET=").map(str::to_string))
        .unwrap();
    assert!(!text(&out.stdout).contains(&secret));
}

#[test]
fn clear_json_report_for_redis() {
    let Some(server) = RedisServer::start_with("clear_json_redis", &["--requirepass", "pw-in-url"])
    else {
        return;
    };
    server.plant(0, "myapp:session:", 42);
    server.set(0, "other");
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--format", "json"])
            .env("REDIS_URL", server.url()),
        0,
    );
    let v = one_json(&out.stdout);
    assert_eq!(v["command"], "session:clear");
    assert_eq!(v["backend"], "redis");
    assert_eq!(v["backend_source"], "default");
    assert_eq!(v["url"], format!("redis://:****@127.0.0.1:{}", server.port));
    assert_eq!(v["prefix"], "myapp:session:");
    assert_eq!(v["pattern"], "myapp:session:*");
    assert_eq!(v["cleared"], 42);
    assert_eq!(v["dry_run"], false);
    assert_eq!(text(&out.stderr), "", "JSON mode keeps stderr for errors");
    assert!(!text(&out.stdout).contains("pw-in-url"));
    assert!(server.exists(0, "other"));
}

#[test]
fn clear_json_report_for_a_database_and_memory() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 12);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database", "--format", "json"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    let v = one_json(&out.stdout);
    assert_eq!(
        (
            v["backend"].as_str(),
            v["table"].as_str(),
            v["cleared"].as_u64()
        ),
        (Some("database"), Some("sessions"), Some(12))
    );
    assert_eq!(v["backend_source"], "flag");

    let out = run(
        p.cmd().args(["clear", "-b", "memory", "--format", "json"]),
        0,
    );
    let v = one_json(&out.stdout);
    assert_eq!(v["backend"], "memory");
    assert_eq!(v["cleared"], 0);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("cannot be cleared remotely")
    );
}

#[test]
fn errors_are_json_with_the_same_exit_codes() {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database", "--format", "json"]),
        1,
    );
    assert_eq!(text(&out.stdout), "");
    let v = one_json(&out.stderr);
    assert_eq!(v["exit_code"], 1);
    assert_eq!(
        v["error"],
        "`DATABASE_URL` is not set; export it or add it to .env"
    );

    let out = run(
        p.cmd()
            .args(["clear", "--format", "json"])
            .env("REDIS_URL", "redis://127.0.0.1:1"),
        1,
    );
    let v = one_json(&out.stderr);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not a terminal; pass --force"),
        "{v}"
    );

    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "mongo", "--format", "json"]),
        2,
    );
    let v = one_json(&out.stderr);
    assert_eq!(v["exit_code"], 2);
    assert!(v["error"].as_str().unwrap().contains("mongo"), "{v}");

    let out = run(
        p.cmd()
            .args(["session:setup", "--format=json", "--nonsense"]),
        2,
    );
    assert_eq!(one_json(&out.stderr)["exit_code"], 2);
}

#[test]
fn color_only_when_asked_or_on_a_terminal() {
    let p = Project::new();
    let esc = "\u{1b}[";
    let out = run(
        p.cmd().args(["setup", "-b", "memory", "--color", "always"]),
        0,
    );
    assert!(
        text(&out.stdout).contains(esc),
        "--color always colors even a pipe"
    );

    let p = Project::new();
    let out = run(p.cmd().args(["setup", "-b", "memory"]), 0);
    assert!(
        !text(&out.stdout).contains(esc),
        "no color into a pipe by default"
    );

    let p = Project::new();
    let out = run(
        p.cmd().args(["setup", "-b", "memory", "--color", "never"]),
        0,
    );
    assert!(!text(&out.stdout).contains(esc));
}

#[test]
fn no_color_is_honoured_on_a_terminal() {
    if !have_binary("script", "no_color_is_honoured") {
        return;
    }
    let esc = "\u{1b}[";
    let p = Project::new();
    let colored = under_terminal(&p, "setup -b memory", &[], "");
    assert!(colored.contains(esc), "a terminal gets color: {colored:?}");
    let p = Project::new();
    let plain = under_terminal(&p, "setup -b memory", &[("NO_COLOR", "1")], "");
    assert!(
        plain.contains("Session setup completed") && !plain.contains(esc),
        "{plain:?}"
    );
}

#[test]
fn progress_shows_on_a_terminal_and_not_with_quiet_or_in_logs() {
    if !have_binary("script", "progress_on_a_terminal") {
        return;
    }
    let db = TestDb::sqlite();
    let p = Project::new();
    let env = [("DATABASE_URL", db.url.as_str())];

    db.create_sessions("sessions", 60_000);
    let shown = under_terminal(&p, "clear -f -b database", &env, "");
    assert!(
        shown.contains("sessions cleared"),
        "no progress on a terminal: {shown:?}"
    );
    assert!(
        shown.contains("60,000") || shown.contains("60000"),
        "{shown:?}"
    );
    assert!(shown.contains("Cleared 60000 session(s)"), "{shown:?}");

    db.insert_sessions("sessions", 60_000, "2099-01-01 00:00:00");
    let quiet = under_terminal(&p, "clear -f -q -b database", &env, "");
    assert!(
        quiet.contains("Cleared 60000 session(s)") && !quiet.contains("sessions cleared"),
        "{quiet:?}"
    );
    assert!(
        !quiet.contains("(from --backend)"),
        "--quiet drops the context notes: {quiet:?}"
    );

    // Not a terminal: logs stay clean.
    db.insert_sessions("sessions", 60_000, "2099-01-01 00:00:00");
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    assert!(
        !text(&out.stderr).contains("sessions cleared"),
        "{}",
        text(&out.stderr)
    );
}
