//! `session:setup`'s next steps: in the order a user takes them, naming the URLs already set
//! (never their passwords) and the database driver chosen, with `.env` loaded in development
//! and real variables in production. The whole output per backend is in setup.rs.

use serde_json::Value;

use crate::support::project::Project;
use crate::support::run::{Says, run, stderr, stdout};

/// A password no output may hold.
const PLANTED: &str = "Pl4ntedPassw0rd";

/// `setup` with `args` (and `env`) in `p`, in text and then (with --force, on the same
/// inputs) in JSON; returns the text output and the JSON report. Neither, nor stderr, holds
/// the planted password.
fn setup_both(p: &Project, args: &[&str], env: &[(&str, &str)]) -> (String, Value) {
    let mut cmd = p.cmd();
    cmd.arg("setup").args(args).envs(env.iter().copied());
    let text_out = run(&mut cmd, 0);
    let mut cmd = p.cmd();
    cmd.args(["--format", "json", "setup", "--force"])
        .args(args)
        .envs(env.iter().copied());
    let json_out = run(&mut cmd, 0);
    for (what, s) in [
        ("stdout", stdout(&text_out)),
        ("stderr", stderr(&text_out)),
        ("JSON stdout", stdout(&json_out)),
        ("JSON stderr", stderr(&json_out)),
    ] {
        assert!(!s.contains(PLANTED), "the password is in the {what}:\n{s}");
    }
    let json = serde_json::from_str(&stdout(&json_out)).expect("one JSON report");
    (stdout(&text_out), json)
}

/// The JSON report's steps as the text output prints them.
fn json_steps(json: &Value) -> String {
    let mut s = String::new();
    for (i, step) in json["next_steps"]
        .as_array()
        .expect("next_steps")
        .iter()
        .enumerate()
    {
        s.push_str(&format!(
            "  {}. {}\n",
            i + 1,
            step["title"].as_str().expect("a title")
        ));
        for d in step["details"].as_array().expect("details") {
            s.push_str(&format!("     {}\n", d.as_str().expect("a detail")));
        }
    }
    s
}

/// Where each of `needles` first is in `text`, asserting each is there and in this order.
fn in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for n in needles {
        let at = text[from..]
            .find(n)
            .unwrap_or_else(|| panic!("`{n}` is not after byte {from} of:\n{text}"));
        from += at + n.len();
    }
}

#[test]
fn the_steps_come_in_the_order_they_are_taken() {
    let p = Project::new();
    let out = run(p.cmd().args(["setup", "-b", "database"]), 0);
    in_order(
        &stdout(&out),
        &[
            "shards install",
            "export DATABASE_URL=\"postgresql://user:password@localhost/myapp\"",
            "set -a; . ./.env; set +a",
            "In production, set SESSION_SECRET and DATABASE_URL as real environment variables instead",
            "azu db:migrate",
            "require \"./initializers/session\"",
        ],
    );
    for backend in ["redis", "memory"] {
        let p = Project::new();
        let out = run(p.cmd().args(["setup", "-b", backend]), 0);
        in_order(
            &stdout(&out),
            &[
                "shards install",
                "Load .env in development, in the shell that runs the app:\n     set -a; . ./.env; set +a    # exports every variable .env sets\n",
                "require \"./initializers/session\"",
            ],
        );
        assert!(!stdout(&out).contains("azu db:migrate"), "{backend}");
    }
}

/// Memory needs no server: no step about the environment beyond loading `.env`, and none
/// that says there is nothing to do.
#[test]
fn memory_has_no_step_that_says_there_is_nothing_to_do() {
    let p = Project::new();
    let (text, json) = setup_both(&p, &["-b", "memory"], &[]);
    for gone in [
        "nothing",
        "Set environment variables",
        "REDIS_URL",
        "DATABASE_URL",
    ] {
        assert!(!text.contains(gone), "`{gone}` in:\n{text}");
    }
    let titles: Vec<&str> = json["next_steps"]
        .as_array()
        .expect("next_steps")
        .iter()
        .map(|s| s["title"].as_str().expect("a title"))
        .collect();
    assert_eq!(
        titles,
        [
            "Install dependencies:",
            "Load .env in development, in the shell that runs the app:",
            "Require the initializer in your application's main file:",
        ]
    );
    assert!(text.contains(
        "     In production, set SESSION_SECRET as a real environment variable instead\n"
    ));
}

/// A DATABASE_URL in `.env` is named with its password masked, and picks the driver; the
/// documentation's placeholder URL is not shown.
#[test]
fn a_database_url_in_dotenv_is_named_masked_and_picks_the_driver() {
    let p = Project::new();
    p.write(
        ".env",
        &format!("DATABASE_URL=mysql://app:{PLANTED}@db.internal:3306/myapp\n"),
    );
    let (text, json) = setup_both(&p, &["-b", "database"], &[]);
    let masked = "mysql://app:****@db.internal:3306/myapp";
    assert!(
        text.contains(&format!(
            "     DATABASE_URL is in .env ({masked}); change it there to use another database\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "     mysql, the MySQL driver, was added to shard.yml: DATABASE_URL's scheme is `mysql`\n"
        ),
        "{text}"
    );
    assert!(!text.contains("postgresql://user:password"), "{text}");
    assert!(!text.contains("run setup again"), "{text}");
    assert!(p.read("shard.yml").contains("crystal-lang/crystal-mysql"));
    // The JSON run found the driver there already; otherwise its steps are the text's.
    let steps = json_steps(&json);
    assert!(steps.contains(&format!("DATABASE_URL is in .env ({masked})")));
    assert_eq!(
        steps.replace("is already in shard.yml", "was added to shard.yml"),
        text.split("Next steps:\n")
            .nth(1)
            .and_then(|t| t.split("\n\n").next())
            .map(|t| format!("{t}\n"))
            .expect("the steps")
    );
    for file in ["src/initializers/session.cr", "shard.yml", ".gitignore"] {
        assert!(!p.read(file).contains(PLANTED), "{file}");
    }
}

/// A DATABASE_URL in the process environment: named masked; each scheme its driver, and a
/// scheme setup does not know is not repeated (without one, the text before `:` may be a
/// user name).
#[test]
fn a_database_url_in_the_environment_is_named_masked_with_its_driver() {
    let cases = [
        (
            format!("postgresql://app:{PLANTED}@db/myapp"),
            "postgresql://app:****@db/myapp",
            "pg, the PostgreSQL driver, was added to shard.yml: DATABASE_URL's scheme is `postgresql`",
        ),
        (
            format!("sqlite3://./db/app.db?password={PLANTED}"),
            "sqlite3://./db/app.db?password=****",
            "sqlite3, the SQLite driver, was added to shard.yml: DATABASE_URL's scheme is `sqlite3`",
        ),
        (
            format!("oracle://admin:{PLANTED}@db/myapp"),
            "oracle://admin:****@db/myapp",
            "pg, the PostgreSQL driver, was added to shard.yml: DATABASE_URL's scheme names no other driver, so setup chose the default",
        ),
    ];
    for (url, masked, driver) in cases {
        let p = Project::new();
        let (text, _) = setup_both(&p, &["-b", "database"], &[("DATABASE_URL", &url)]);
        assert!(
            text.contains(&format!(
                "     DATABASE_URL is set in the environment ({masked}); the app must see the same value\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("     {driver}\n")), "{text}");
        assert!(!text.contains("`oracle`"), "{text}");
    }
}

/// No DATABASE_URL: pg, said to be the default, with the way to another driver.
#[test]
fn without_a_database_url_pg_is_named_as_the_default() {
    let p = Project::new();
    let out = run(p.cmd().args(["setup", "-b", "database"]), 0);
    out.says(&[
        "     shards install\n     pg, the PostgreSQL driver, was added to shard.yml: DATABASE_URL is not set, so setup chose the default\n     (for MySQL or SQLite: set DATABASE_URL to a mysql:// or sqlite3:// URL, then run setup again with --force)\n",
    ]);
    // What that line says to do works: the driver follows, pg stays.
    let out = run(
        p.cmd()
            .args(["setup", "-b", "database", "--force"])
            .env("DATABASE_URL", "mysql://root@localhost/myapp"),
        0,
    );
    out.says(&[
        "     mysql, the MySQL driver, was added to shard.yml: DATABASE_URL's scheme is `mysql`\n",
    ]);
    let shard = p.read("shard.yml");
    assert!(
        shard.contains("  mysql:\n") && shard.contains("  pg:\n"),
        "{shard}"
    );
}

/// A driver shard.yml already has is named as there, not as added.
#[test]
fn a_driver_already_in_shard_yml_is_named_as_such() {
    let p = Project::new();
    p.write(
        "shard.yml",
        "name: myapp\nversion: 0.1.0\n\ndependencies:\n  mysql:\n    github: crystal-lang/crystal-mysql\n",
    );
    let out = run(
        p.cmd()
            .args(["setup", "-b", "database"])
            .env("DATABASE_URL", "mariadb://db/myapp"),
        0,
    );
    out.says(&["     mysql, the MySQL driver, is already in shard.yml: DATABASE_URL's scheme is `mariadb`\n"]);
}

/// A REDIS_URL in the process environment is named masked, and `.env` gets no localhost
/// line that loading it would put in its place.
#[test]
fn a_redis_url_in_the_environment_is_named_masked_and_not_shadowed_in_dotenv() {
    let p = Project::new();
    let url = format!("redis://:{PLANTED}@cache.internal:6380/2");
    let (text, json) = setup_both(&p, &["-b", "redis"], &[("REDIS_URL", &url)]);
    let line = "REDIS_URL is set in the environment (redis://:****@cache.internal:6380/2); the app must see the same value";
    assert!(text.contains(&format!("     {line}\n")), "{text}");
    assert!(json_steps(&json).contains(line), "{json}");
    let env = p.read(".env");
    assert!(!env.contains("REDIS_URL"), "{env}");
    assert!(!p.read("src/initializers/session.cr").contains(PLANTED));
    assert!(text.contains(
        "     In production, set SESSION_SECRET and REDIS_URL as real environment variables instead\n"
    ));
}

/// One in `.env` too: masked, named as `.env`'s; the process's wins when both are set (as
/// for the app started without loading `.env`).
#[test]
fn a_redis_url_in_dotenv_is_named_masked() {
    let p = Project::new();
    p.write(
        ".env",
        &format!("REDIS_URL=rediss://user:{PLANTED}@cache:6380\n"),
    );
    let (text, _) = setup_both(&p, &["-b", "redis"], &[]);
    assert!(
        text.contains("     REDIS_URL is in .env (rediss://user:****@cache:6380); change it there to use another server\n"),
        "{text}"
    );
    let p = Project::new();
    p.write(
        ".env",
        &format!("REDIS_URL=rediss://user:{PLANTED}@cache:6380\n"),
    );
    let (text, _) = setup_both(&p, &["-b", "redis"], &[("REDIS_URL", "redis://other:6379")]);
    assert!(
        text.contains("     REDIS_URL is set in the environment (redis://other:6379)"),
        "{text}"
    );
}

/// An empty `REDIS_URL=` in `.env` names no server (development falls back to localhost):
/// the documentation's line says what to set.
#[test]
fn an_empty_redis_url_in_dotenv_gets_the_documentations_line() {
    let p = Project::new();
    p.write(".env", "REDIS_URL=\n");
    let out = run(p.cmd().args(["setup", "-b", "redis"]), 0);
    out.says(&["     export REDIS_URL=\"redis://localhost:6379\"\n"]);
    assert!(!stdout(&out).contains("REDIS_URL is in .env ()"));
}
