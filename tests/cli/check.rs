//! `session:check`: every check's ok and failing case, on real files, in real git
//! repositories and against real Redis, PostgreSQL, MariaDB and SQLite servers.

use std::process::Output;

use serde_json::Value;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, run, stdout};
use crate::support::sql::TestDb;

/// A project as `session:setup -b <backend>` leaves it, whose main file requires the
/// initializers.
fn sound(backend: &str, env: &[(&str, &str)]) -> Project {
    let p = Project::new();
    run(
        p.cmd()
            .args(["setup", "-b", backend])
            .envs(env.iter().copied()),
        0,
    );
    p.write(
        "src/myapp.cr",
        "require \"azu\"\nrequire \"./initializers/*\"\n",
    );
    p
}

/// `session:check <args> --format json` in `p`, exiting `code`: its report.
fn report(p: &Project, args: &[&str], env: &[(&str, &str)], code: i32) -> Value {
    let out = run(
        p.cmd()
            .arg("check")
            .args(args)
            .args(["--format", "json"])
            .envs(env.iter().copied()),
        code,
    );
    serde_json::from_str(&stdout(&out)).expect("the report is JSON")
}

/// The check `id` of `report`: its level, message and fix.
fn check<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
}

#[track_caller]
fn level(report: &Value, id: &str, want: &str) {
    let Some(found) = check(report, id) else {
        panic!("no {id} check in {report:#}");
    };
    assert_eq!(found["level"], want, "{id}: {found:#}");
    if want != "ok" {
        assert!(found["fix"].is_string(), "{id} has no fix: {found:#}");
    }
}

#[track_caller]
fn absent(report: &Value, id: &str) {
    assert!(
        check(report, id).is_none(),
        "{id} should not run: {report:#}"
    );
}

fn text_run(p: &Project, args: &[&str], env: &[(&str, &str)], code: i32) -> Output {
    run(
        p.cmd().arg("check").args(args).envs(env.iter().copied()),
        code,
    )
}

#[test]
fn a_sound_redis_project_passes_and_prints_aligned_lines() {
    let Some(redis) = RedisServer::start_with("check_sound", &["--appendonly", "yes"]) else {
        return;
    };
    let p = sound("redis", &[]);
    let env = [("REDIS_URL", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = p.tree();
    let out = text_run(&p, &[], &env, 0);
    out.says(&[
        "ok       store.found",
        "ok       secret.strength       SESSION_SECRET is 64 bytes\n",
        "ok       redis.reachable       ",
        "ok       redis.persistence     ",
        "ok       redis.eviction        ",
        "ok       initializer.required  src/myapp.cr requires src/initializers/session.cr\n",
        "0 warnings, 0 errors",
    ]);
    let r = report(&p, &[], &env, 0);
    for id in [
        "store.found",
        "store.api",
        "shard.dependencies",
        "initializer.required",
        "secret.set",
        "secret.strength",
        "secret.placeholder",
        "secret.in_source",
        "dotenv.ignored",
        "dotenv.mode",
        "cookies.secure",
        "redis.reachable",
        "redis.persistence",
        "redis.eviction",
    ] {
        level(&r, id, "ok");
    }
    assert_eq!(r["passed"], true);
    assert_eq!(r["command"], "session:check");
    // The secret is never shown.
    let secret = p
        .read(".env")
        .lines()
        .find_map(|l| l.strip_prefix("SESSION_SECRET=").map(str::to_string))
        .expect("setup wrote a secret");
    assert!(!stdout(&out).contains(&secret));
    assert_eq!(p.tree(), before, "session:check changed the project");
}

#[test]
fn redis_without_persistence_warns_and_strict_fails() {
    let Some(redis) = RedisServer::start("check_persistence") else {
        return;
    };
    let p = sound("redis", &[]);
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    let r = report(&p, &[], &env, 0);
    level(&r, "redis.persistence", "warning");
    let r = report(&p, &["--strict"], &env, 1);
    assert_eq!(r["passed"], false);
    text_run(&p, &["--strict"], &env, 1).says(&[
        "warning  redis.persistence",
        "every session vanishes when it restarts",
        "(--strict: warnings count as errors)",
    ]);
}

#[test]
fn an_evicting_redis_warns() {
    let Some(redis) = RedisServer::start("check_eviction") else {
        return;
    };
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut redis.con(0))
        .expect("CONFIG SET");
    let p = sound("redis", &[]);
    let url = redis.url();
    let r = report(&p, &[], &[("REDIS_URL", url.as_str())], 0);
    level(&r, "redis.eviction", "warning");
    let msg = check(&r, "redis.eviction").expect("eviction")["message"].to_string();
    assert!(msg.contains("allkeys-lru"), "{msg}");
}

#[test]
fn an_unreachable_redis_is_an_error_not_a_crash_and_offline_skips_it() {
    let port = crate::support::servers::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let p = sound("redis", &[]);
    let env = [("REDIS_URL", url.as_str())];
    let r = report(&p, &[], &env, 1);
    level(&r, "redis.reachable", "error");
    absent(&r, "redis.persistence");
    let r = report(&p, &["--offline"], &env, 0);
    absent(&r, "redis.reachable");
    assert_eq!(r["offline"], true);
}

#[test]
fn no_store_is_an_error() {
    let p = Project::new();
    let r = report(&p, &["--offline"], &[], 1);
    level(&r, "store.found", "error");
}

#[test]
fn the_documentations_api_with_the_shard_pinned_is_an_error() {
    let p = sound("redis", &[]);
    p.write(
        "shard.lock",
        "version: 2.0\nshards:\n  session:\n    git: https://github.com/azutoolkit/session.git\n    version: 1.0.31\n",
    );
    let r = report(&p, &["--offline"], &[], 1);
    level(&r, "store.api", "error");

    let p = Project::new();
    run(p.cmd().args(["setup", "-b", "redis", "--api", "shard"]), 0);
    p.write("src/myapp.cr", "require \"./initializers/*\"\n");
    p.write(
        "shard.lock",
        "version: 2.0\nshards:\n  session:\n    git: https://github.com/azutoolkit/session.git\n    version: 1.0.31\n",
    );
    level(&report(&p, &["--offline"], &[], 0), "store.api", "ok");
    p.write(
        "shard.lock",
        "version: 2.0\nshards:\n  session:\n    git: https://github.com/azutoolkit/session.git\n    version: 1.0.20\n",
    );
    level(&report(&p, &["--offline"], &[], 1), "store.api", "error");
}

#[test]
fn a_missing_shard_dependency_is_an_error() {
    let p = sound("redis", &[]);
    level(
        &report(&p, &["--offline"], &[], 0),
        "shard.dependencies",
        "ok",
    );
    p.write(
        "shard.yml",
        "name: myapp\nversion: 0.1.0\ndependencies:\n  session:\n    github: azutoolkit/session\n",
    );
    let r = report(&p, &["--offline"], &[], 1);
    level(&r, "shard.dependencies", "error");
    let msg = check(&r, "shard.dependencies").expect("deps")["message"].to_string();
    assert!(msg.contains("lacks redis"), "{msg}");
}

#[test]
fn an_initializer_the_main_file_never_requires_is_an_error() {
    let p = sound("redis", &[]);
    p.write(
        "src/myapp.cr",
        "require \"azu\"\n# require \"./initializers/*\"\n",
    );
    level(
        &report(&p, &["--offline"], &[], 1),
        "initializer.required",
        "error",
    );
    // Through another file, and from the target's main:.
    p.write(
        "shard.yml",
        "name: myapp\nversion: 0.1.0\ntargets:\n  server:\n    main: src/server.cr\ndependencies:\n  session:\n    github: azutoolkit/session\n  redis:\n    github: stefanwille/crystal-redis\n",
    );
    p.write("src/server.cr", "require \"./config/**\"\n");
    p.write(
        "src/config/boot/all.cr",
        "require \"../../initializers/session\"\n",
    );
    level(
        &report(&p, &["--offline"], &[], 0),
        "initializer.required",
        "ok",
    );
}

#[test]
fn the_secret_must_be_set_long_and_no_placeholder() {
    let p = sound("redis", &[]);
    std::fs::remove_file(p.path(".env")).expect("remove .env");
    let r = report(&p, &["--offline"], &[], 1);
    level(&r, "secret.set", "error");
    absent(&r, "dotenv.ignored");

    let short = [("SESSION_SECRET", "abc123")];
    let r = report(&p, &["--offline"], &short, 1);
    level(&r, "secret.set", "ok");
    level(&r, "secret.strength", "error");
    level(&r, "secret.placeholder", "ok");

    // The session shard's built-in default is 32 bytes, and public.
    let default = [("SESSION_SECRET", "1sxc1aNxGHTTZKlK5cpCgufJAqGM4G13")];
    let r = report(&p, &["--offline"], &default, 1);
    level(&r, "secret.strength", "ok");
    level(&r, "secret.placeholder", "error");
    let out = text_run(
        &p,
        &["--offline"],
        &[("SESSION_SECRET", "your-secret-key-here")],
        1,
    );
    out.says(&["error    secret.placeholder"]);
    assert!(!stdout(&out).contains("your-secret-key-here"));
}

#[test]
fn a_secret_literal_in_source_is_an_error_naming_file_and_line_only() {
    let p = sound("redis", &[]);
    level(
        &report(&p, &["--offline"], &[], 0),
        "secret.in_source",
        "ok",
    );
    let literal = "f3a9c0e1d2b4a6978877665544332211aabbccddeeff00112233445566778899";
    p.write(
        "src/config/session.cr",
        &format!("# config.secret = \"commented\"\nSession.configure do |c|\n  c.secret = ENV.fetch(\"SESSION_SECRET\", \"{literal}\")\nend\n"),
    );
    let out = text_run(&p, &["--offline"], &[], 1);
    out.says(&["error    secret.in_source", "src/config/session.cr:3"]);
    assert!(!stdout(&out).contains(literal));
    assert!(!stdout(&out).contains("session.cr:1"));
    p.write(
        "src/config/session.cr",
        "Session.configure do |c|\n  c.secret = \"hunter2hunter2hunter2hunter2hunter2\"\nend\n",
    );
    let out = text_run(&p, &["--offline"], &[], 1);
    out.says(&["src/config/session.cr:2"]);
    assert!(!stdout(&out).contains("hunter2"));
}

#[test]
fn dotenv_must_be_ignored_by_gits_own_rules() {
    let p = sound("redis", &[]);
    level(&report(&p, &["--offline"], &[], 0), "dotenv.ignored", "ok");
    // A negation after the rule: git would commit it.
    p.write(".gitignore", ".env\n!.env\n");
    level(
        &report(&p, &["--offline"], &[], 1),
        "dotenv.ignored",
        "error",
    );
    // In a repository: a nested rule, and core.excludesFile, as git reads them.
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(p.root())
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    p.write(".gitignore", "");
    level(
        &report(&p, &["--offline"], &[], 1),
        "dotenv.ignored",
        "error",
    );
    p.write("excludes", ".env\n");
    let excludes = p.path("excludes");
    git(&[
        "config",
        "core.excludesFile",
        &excludes.display().to_string(),
    ]);
    level(&report(&p, &["--offline"], &[], 0), "dotenv.ignored", "ok");
    // Tracked: ignored rules no longer matter.
    git(&["add", "-f", ".env"]);
    let r = report(&p, &["--offline"], &[], 1);
    level(&r, "dotenv.ignored", "error");
    let msg = check(&r, "dotenv.ignored").expect("ignored")["message"].to_string();
    assert!(msg.contains("committed"), "{msg}");
}

#[test]
fn dotenv_readable_by_others_is_an_error_and_by_its_group_a_warning() {
    let p = sound("redis", &[]);
    p.set_mode(".env", 0o644);
    level(&report(&p, &["--offline"], &[], 1), "dotenv.mode", "error");
    p.set_mode(".env", 0o640);
    level(
        &report(&p, &["--offline"], &[], 0),
        "dotenv.mode",
        "warning",
    );
    p.set_mode(".env", 0o600);
    level(&report(&p, &["--offline"], &[], 0), "dotenv.mode", "ok");
}

#[test]
fn cookies_not_secure_in_production_is_an_error() {
    let p = sound("redis", &[]);
    let init = p.read("src/initializers/session.cr");
    let line = init
        .lines()
        .find(|l| l.trim_start().starts_with("config.secure"))
        .expect("setup writes config.secure")
        .to_string();
    p.write(
        "src/initializers/session.cr",
        &init.replace(&line, "  config.secure = false"),
    );
    let prod = [("AZU_ENV", "production")];
    level(
        &report(&p, &["--offline"], &prod, 1),
        "cookies.secure",
        "error",
    );
    level(
        &report(&p, &["--offline"], &[], 0),
        "cookies.secure",
        "warning",
    );
    p.write(
        "src/initializers/session.cr",
        &init.replace(&line, "  config.secure = true"),
    );
    level(
        &report(&p, &["--offline"], &prod, 0),
        "cookies.secure",
        "ok",
    );
    // Not a check of the shard's API, which has no such setting.
    let p = Project::new();
    run(p.cmd().args(["setup", "-b", "redis", "--api", "shard"]), 0);
    absent(&report(&p, &["--offline"], &prod, 1), "cookies.secure");
}

#[test]
fn memory_sessions_in_production_are_an_error() {
    let p = sound("memory", &[]);
    level(&report(&p, &[], &[], 0), "memory.production", "ok");
    let r = report(&p, &[], &[("AZU_ENV", "production")], 1);
    level(&r, "memory.production", "error");
}

/// A project set up for the database backend on `db`, its table made as the migration makes
/// it (the unique `session_id`; the `expires_at` index only when `indexed`).
fn database_project(db: &TestDb, indexed: bool) -> Project {
    let p = sound("database", &[("DATABASE_URL", &db.url)]);
    db.create_sessions("sessions", 3);
    if indexed {
        db.exec("CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)");
    }
    p
}

#[test]
fn the_database_table_indexes_and_expired_share_on_every_server() {
    for db in TestDb::all("check_database") {
        let kind = db.kind;
        let env = [("DATABASE_URL", db.url.as_str())];
        let p = database_project(&db, false);
        let r = report(&p, &[], &env, 1);
        for id in ["database.url", "database.migration", "database.reachable"] {
            level(&r, id, "ok");
        }
        level(&r, "database.table", "error");
        let msg = check(&r, "database.table").expect("table")["message"].to_string();
        assert!(msg.contains("an index on expires_at"), "{kind:?}: {msg}");
        assert!(!msg.contains("session_id"), "{kind:?}: {msg}");

        db.exec("CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)");
        let before = db.count("sessions");
        let r = report(&p, &[], &env, 0);
        level(&r, "database.table", "ok");
        level(&r, "database.expired_share", "ok");

        db.insert_sessions("sessions", 5, "2001-02-03 04:05:06");
        let r = report(&p, &[], &env, 0);
        level(&r, "database.expired_share", "warning");
        let found = check(&r, "database.expired_share").expect("share");
        assert!(
            found["message"].to_string().contains("5 of 8"),
            "{kind:?}: {found}"
        );
        assert!(found["fix"].to_string().contains("--expired"), "{kind:?}");
        assert_eq!(db.count("sessions"), before + 5, "{kind:?}: rows changed");
    }
}

#[test]
fn a_missing_table_or_url_or_migration_is_reported() {
    let db = TestDb::sqlite();
    let env = [("DATABASE_URL", db.url.as_str())];
    let p = sound("database", &env);
    let r = report(&p, &[], &env, 1);
    level(&r, "database.table", "error");
    absent(&r, "database.expired_share");

    let r = report(&p, &[], &[], 1);
    level(&r, "store.found", "ok");
    level(&r, "database.url", "error");
    absent(&r, "database.reachable");

    for name in p.list("src/db/migrations") {
        std::fs::remove_file(p.path(&format!("src/db/migrations/{name}"))).expect("remove");
    }
    level(
        &report(&p, &["--offline"], &env, 0),
        "database.migration",
        "warning",
    );
}

#[test]
fn an_unreachable_database_is_an_error_not_a_crash() {
    let port = crate::support::servers::free_port();
    let url = format!("postgres://azs:secretpw@127.0.0.1:{port}/nothing");
    let env = [("DATABASE_URL", url.as_str())];
    let p = sound("database", &env);
    let out = text_run(&p, &[], &env, 1);
    out.says(&["error    database.reachable"]);
    assert!(!stdout(&out).contains("secretpw"));
}

#[test]
fn check_is_in_help() {
    run(crate::support::project::azu().arg("--help"), 0).says(&["session:check"]);
    run(crate::support::project::azu().args(["check", "--help"]), 0).says(&[
        "--offline",
        "--strict",
        "Exit codes:",
    ]);
    run(crate::support::project::azu().args(["check", "--bogus"]), 2);
}

#[test]
fn a_redis_cluster_is_checked_on_every_primary() {
    let Some(mut cluster) =
        crate::support::redis_cluster::RedisCluster::start("check_cluster", 3, None)
    else {
        return;
    };
    let p = sound("redis", &[]);
    let url = cluster.url(0);
    let env = [("REDIS_URL", url.as_str())];
    let r = report(&p, &[], &env, 0);
    level(&r, "redis.reachable", "ok");
    let msg = check(&r, "redis.reachable").expect("reachable")["message"].to_string();
    assert!(msg.contains("all 3 cluster primaries answer"), "{msg}");
    level(&r, "redis.persistence", "warning");
    cluster.kill(2);
    let r = report(&p, &[], &env, 1);
    level(&r, "redis.reachable", "error");
}

#[test]
fn a_store_kept_in_the_apps_own_sources_is_found_and_must_be_required() {
    let p = Project::new();
    run(p.cmd().args(["setup", "-b", "redis", "--api", "shard"]), 0);
    let store = p.read("src/initializers/session.cr");
    std::fs::remove_file(p.path("src/initializers/session.cr")).expect("move the store");
    p.write("src/config/session.cr", &store);
    p.write("src/myapp.cr", "require \"./config/*\"\n");
    let r = report(&p, &["--offline"], &[], 0);
    level(&r, "store.found", "ok");
    let msg = check(&r, "store.found").expect("found")["message"].to_string();
    assert!(msg.contains("src/config/session.cr"), "{msg}");
    level(&r, "initializer.required", "ok");
    p.write("src/myapp.cr", "require \"./initializers/*\"\n");
    let out = text_run(&p, &["--offline"], &[], 1);
    out.says(&[
        "error    initializer.required  src/myapp.cr does not require src/config/session.cr",
    ]);
    // `client_secret:` is not the session secret.
    p.write(
        "src/myapp.cr",
        "require \"./config/*\"\nOAUTH = {client_secret: \"abcdef\"}\n",
    );
    level(
        &report(&p, &["--offline"], &[], 0),
        "secret.in_source",
        "ok",
    );
}

#[test]
fn a_table_without_a_unique_session_id_is_an_error_on_every_server() {
    for db in TestDb::all("check_not_unique") {
        let env = [("DATABASE_URL", db.url.as_str())];
        let p = sound("database", &env);
        db.exec("CREATE TABLE sessions (id BIGINT PRIMARY KEY, session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, expires_at TIMESTAMP NULL)");
        // Unique only together with another column: session_id alone may repeat.
        db.exec("CREATE UNIQUE INDEX sessions_pair ON sessions (session_id, id)");
        db.exec("CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)");
        let r = report(&p, &[], &env, 1);
        level(&r, "database.table", "error");
        let msg = check(&r, "database.table").expect("table")["message"].to_string();
        assert!(
            msg.contains("a unique index on session_id"),
            "{:?}: {msg}",
            db.kind
        );
        assert!(!msg.contains("expires_at"), "{:?}: {msg}", db.kind);
    }
}

/// MariaDB: a `table:` of another database than the URL's is looked up in that database's
/// catalog. The URL's own database holds a `sessions` without the `expires_at` index, so a
/// check that dropped the schema would find it and fail.
#[test]
fn a_mariadb_table_of_another_database_is_checked_there() {
    let (Some(db), Some(other)) = (
        TestDb::mysql("check_other_database"),
        TestDb::mysql("check_other_database_2"),
    ) else {
        return;
    };
    let env = [("DATABASE_URL", db.url.as_str())];
    let p = database_project(&db, false);
    other.create_sessions("sessions", 3);
    other.exec("CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)");
    let init = p.read("src/initializers/session.cr");
    let qualified = format!("table: \"{}.sessions\"", other.name);
    assert!(init.contains("table: \"sessions\""), "{init}");
    p.write(
        "src/initializers/session.cr",
        &init.replace("table: \"sessions\"", &qualified),
    );
    let r = report(&p, &[], &env, 0);
    level(&r, "database.table", "ok");
    let msg = check(&r, "database.table").expect("table")["message"].to_string();
    assert!(msg.contains(&format!("{}.sessions", other.name)), "{msg}");
}
