//! `session:setup --api shard`: the generated code judged by the Crystal compiler.
//!
//! In CI every variant (redis, memory, database on pg, mysql and sqlite3) is type-checked
//! against the stand-in of the session shard's public API in `tests/fixtures/shard-standin`.
//! With `AZU_SESSION_TEST_SHARDS` naming a folder of the real shards (docs/development.md),
//! each variant is also built and run against real servers: a small program creates sessions
//! through the configured store, and `session:clear` must then delete exactly those.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, run, stderr, stdout, text};
use crate::support::servers::{have_binary, skip_optional};
use crate::support::sql::{Kind, TestDb};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The real shards, when the environment names a folder of them.
fn real_shards(test: &str) -> Option<PathBuf> {
    match std::env::var_os("AZU_SESSION_TEST_SHARDS").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            for shard in ["session", "redis", "pool", "db", "pg", "mysql", "sqlite3"] {
                assert!(
                    dir.join(shard).join("shard.yml").is_file(),
                    "AZU_SESSION_TEST_SHARDS={} has no `{shard}` shard",
                    dir.display()
                );
            }
            Some(dir)
        }
        None => {
            skip_optional(
                test,
                "AZU_SESSION_TEST_SHARDS is not set (a folder of the real shards; see docs/development.md)",
            );
            None
        }
    }
}

/// A generated project ready to compile `program` (from the fixtures) against `shards`.
struct App {
    p: Project,
    cache: tempfile::TempDir,
    program: &'static str,
}

impl App {
    /// `session:setup --api shard` with `args` and `env` in a new project.
    fn generate(args: &[&str], env: &[(&str, &str)], shards: &Path, program: &'static str) -> App {
        let p = Project::new();
        let mut cmd = p.cmd();
        cmd.args(["setup", "--api", "shard"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd, 0);
        std::os::unix::fs::symlink(shards, p.path("lib")).expect("link lib/ to the shards");
        std::fs::copy(
            fixtures().join("shard-app").join(format!("{program}.cr")),
            p.path(&format!("{program}.cr")),
        )
        .expect("copy the program");
        App {
            p,
            cache: tempfile::tempdir().expect("a Crystal cache directory"),
            program,
        }
    }

    fn crystal(&self, args: &[&str]) -> Output {
        let out = Command::new("crystal")
            .args(args)
            .current_dir(self.p.root())
            .env("CRYSTAL_CACHE_DIR", self.cache.path())
            .output()
            .expect("run crystal");
        assert!(
            out.status.success(),
            "crystal {args:?} failed in {}:\n{}{}",
            self.p.root().display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// The formatter accepts the generated files as they are, and the compiler types them.
    fn type_check(&self) {
        self.crystal(&["tool", "format", "--check", "src"]);
        self.crystal(&["build", "--no-codegen", &format!("{}.cr", self.program)]);
    }

    /// Build the program as `app`.
    fn build(&self) {
        self.crystal(&["build", &format!("{}.cr", self.program), "-o", "app"]);
    }

    /// Run the built program with `args`, SESSION_SECRET from `.env` and `env`, in an
    /// environment without the variables the generated code reads.
    fn run_app(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let secret = self
            .p
            .read(".env")
            .lines()
            .find_map(|l| l.strip_prefix("SESSION_SECRET=").map(str::to_string))
            .expect("setup wrote SESSION_SECRET to .env");
        let mut cmd = Command::new(self.p.path("app"));
        for var in ["REDIS_URL", "DATABASE_URL", "AZU_ENV", "CRYSTAL_ENV"] {
            cmd.env_remove(var);
        }
        cmd.args(args)
            .current_dir(self.p.root())
            .env("SESSION_SECRET", secret)
            .envs(env.iter().copied())
            .output()
            .expect("run the app")
    }

    /// Build the program and run it with `args`; returns the session ids it created and
    /// the ones it made expired.
    fn build_and_run(&self, args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
        self.build();
        let out = self.run_app(args, env);
        let said = text(&out.stdout);
        assert!(
            out.status.success(),
            "the app failed:\n{said}{}",
            text(&out.stderr)
        );
        let ids = |what: &str| -> Vec<String> {
            said.lines()
                .filter_map(|l| l.strip_prefix(what).map(str::to_string))
                .collect()
        };
        (ids("created "), ids("expired "))
    }

    fn clear(&self, args: &[&str], env: &[(&str, &str)], code: i32) -> Output {
        let mut cmd = self.p.cmd();
        cmd.arg("clear").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd, code)
    }
}

/// The database URLs the generated code is checked with: one per driver.
const DRIVER_URLS: [(&str, &str); 3] = [
    ("pg", "postgres://app:secret@db.internal:5432/myapp"),
    ("mysql", "mysql://app:secret@db.internal:3306/myapp"),
    ("sqlite3", "sqlite3://./db/myapp.db"),
];

#[test]
fn every_variant_type_checks_against_the_stand_in() {
    if !have_binary("crystal", "shard_api_type_checks") {
        return;
    }
    let standin = fixtures().join("shard-standin");
    for backend in ["redis", "memory"] {
        App::generate(&["-b", backend], &[], &standin, "sessions").type_check();
    }
    for (driver, url) in DRIVER_URLS {
        let app = App::generate(
            &["-b", "database"],
            &[("DATABASE_URL", url)],
            &standin,
            "sessions",
        );
        assert!(
            app.p.read("shard.yml").contains(&format!("  {driver}:\n")),
            "{driver}: {}",
            app.p.read("shard.yml")
        );
        app.type_check();
    }
    // Every method of the generated database store, not only those the app calls (the
    // compiler types only what is called).
    App::generate(&["-b", "database"], &[], &standin, "store_api").type_check();
}

#[test]
fn a_type_error_in_generated_code_is_caught_by_the_stand_in() {
    if !have_binary("crystal", "shard_api_stand_in_catches") {
        return;
    }
    let app = App::generate(
        &["-b", "redis"],
        &[],
        &fixtures().join("shard-standin"),
        "sessions",
    );
    let init = app.p.read("src/initializers/session.cr");
    // The documentation's constructor, which the shard does not have.
    let broken = init.replace(
        "Session::RedisStore(UserSession).new(",
        "Session::RedisStore(UserSession).new(url: \"redis://x\", ",
    );
    assert_ne!(broken, init, "the test's edit applies");
    app.p.write("src/initializers/session.cr", &broken);
    let out = Command::new("crystal")
        .args(["build", "--no-codegen", "sessions.cr"])
        .current_dir(app.p.root())
        .env("CRYSTAL_CACHE_DIR", app.cache.path())
        .output()
        .expect("run crystal");
    assert!(!out.status.success(), "the stand-in accepted a wrong call");
}

#[test]
fn redis_sessions_written_by_the_real_shard_are_cleared_and_nothing_else() {
    let test = "shard_api_redis_run";
    let (Some(shards), true) = (real_shards(test), have_binary("crystal", test)) else {
        return;
    };
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let env = [("REDIS_URL", server.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::generate(&["-b", "redis"], &env, &shards, "sessions");
    for key in [
        "myapp:session:1",
        "session",
        "sessions:1",
        "other:session:x",
    ] {
        server.set(0, key);
    }
    let (created, _) = app.build_and_run(&["7"], &env);
    assert_eq!(created.len(), 7);
    for id in &created {
        assert!(server.exists(0, &format!("session:{id}")), "session:{id}");
    }

    let out = app.clear(&["--dry-run"], &env, 0);
    out.says(&["Would clear 7 session(s)\n"]);
    let out = app.clear(&["--force"], &env, 0);
    out.says(&[
        "Clearing Redis sessions with pattern: session:*\n",
        "Cleared 7 session(s)\n",
    ]);
    assert_eq!(server.count(0, "session:*"), 0);
    for key in [
        "myapp:session:1",
        "session",
        "sessions:1",
        "other:session:x",
    ] {
        assert!(server.exists(0, key), "{key} was deleted");
    }
}

/// Outside development and test the generated Redis store needs REDIS_URL: without it the
/// app stops as it starts, with a message naming it, instead of using localhost; and
/// `session:clear`, reading the same file in the same environment, refuses too. In
/// development the same file runs against REDIS_URL.
#[test]
fn production_without_redis_url_stops_the_app_with_a_message() {
    let test = "shard_api_redis_production";
    let (Some(shards), true) = (real_shards(test), have_binary("crystal", test)) else {
        return;
    };
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let app = App::generate(&["-b", "redis"], &[], &shards, "sessions");
    // Only the environment decides: `.env` (which the app does not read) has no REDIS_URL.
    let secret_only: String = app
        .p
        .read(".env")
        .lines()
        .filter(|l| l.starts_with("SESSION_SECRET="))
        .map(|l| format!("{l}\n"))
        .collect();
    app.p.write(".env", &secret_only);
    app.build();
    let message =
        "REDIS_URL is not set; only development and test fall back to redis://localhost:6379";
    for env in [
        &[("CRYSTAL_ENV", "production")][..],
        &[("AZU_ENV", "staging")],
        &[("AZU_ENV", "production"), ("CRYSTAL_ENV", "development")],
        &[("CRYSTAL_ENV", "production"), ("REDIS_URL", "")],
    ] {
        let out = app.run_app(&["1"], env);
        let (said, warned) = (text(&out.stdout), text(&out.stderr));
        assert!(
            !out.status.success(),
            "{env:?}: the app ran:\n{said}{warned}"
        );
        assert!(warned.contains(message), "{env:?}:\n{said}{warned}");
        assert!(!said.contains("created "), "{env:?}:\n{said}");
        let out = app.clear(&["--force"], env, 1);
        let warned = stderr(&out);
        assert!(
            warned.contains("REDIS_URL") && warned.contains("not set"),
            "{env:?}:\n{warned}"
        );
        assert!(!stdout(&out).contains("Cleared"), "{env:?}");
    }
    // With REDIS_URL, production runs against it; so does development.
    let url = server.url();
    for env in [
        &[("CRYSTAL_ENV", "production"), ("REDIS_URL", url.as_str())][..],
        &[("REDIS_URL", url.as_str())],
    ] {
        let out = app.run_app(&["2"], env);
        assert!(out.status.success(), "{env:?}: {}", text(&out.stderr));
        app.clear(&["--force"], env, 0)
            .says(&["Cleared 2 session(s)\n"]);
    }
}

#[test]
fn memory_sessions_of_the_real_shard_run() {
    let test = "shard_api_memory_run";
    let (Some(shards), true) = (real_shards(test), have_binary("crystal", test)) else {
        return;
    };
    let app = App::generate(&["-b", "memory"], &[], &shards, "sessions");
    let (created, _) = app.build_and_run(&["4"], &[]);
    assert_eq!(created.len(), 4);
    let out = app.clear(&["--force"], &[], 0);
    out.says(&["Backend: memory\n", "Restart the application"]);
}

/// The URL the app and the tool are both given for `db`.
fn app_url(db: &TestDb) -> String {
    match db.kind {
        // crystal-mysql asks for TLS by default and fails against a server without it.
        Kind::MySql => format!("{}?ssl-mode=disabled", db.url),
        // crystal-db knows the scheme `sqlite3`, not `sqlite`.
        Kind::Sqlite => format!(
            "sqlite3://{}",
            db.url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
        ),
        Kind::Postgres => db.url.clone(),
    }
}

#[test]
fn database_sessions_written_by_the_real_shard_are_cleared_on_every_driver() {
    let test = "shard_api_database_run";
    let (Some(shards), true) = (real_shards(test), have_binary("crystal", test)) else {
        return;
    };
    for db in TestDb::all(test) {
        let schema = match db.kind {
            Kind::Postgres => "postgres.sql",
            Kind::MySql => "mysql.sql",
            Kind::Sqlite => "sqlite3.sql",
        };
        let sql = std::fs::read_to_string(fixtures().join("shard-app/schema").join(schema))
            .expect("read the schema");
        let sql: String = sql
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        db.exec(&sql);
        db.exec("CREATE TABLE keep (session_id VARCHAR(64));\nINSERT INTO keep VALUES ('canary')");

        let url = app_url(&db);
        let env = [("DATABASE_URL", url.as_str())];
        let app = App::generate(&["-b", "database"], &env, &shards, "sessions");
        let (created, expired) = app.build_and_run(&["6", "2"], &env);
        assert_eq!((created.len(), expired.len()), (6, 2), "{:?}", db.kind);
        assert_eq!(db.count("sessions"), 6, "{:?}", db.kind);

        let out = app.clear(&["--expired", "--force"], &env, 0);
        assert!(
            stdout(&out).contains("Cleared 2 expired session(s)\n"),
            "{:?}: {}",
            db.kind,
            stdout(&out)
        );
        let left = db.strings("SELECT session_id FROM sessions ORDER BY session_id");
        let mut live: Vec<String> = created
            .iter()
            .filter(|id| !expired.contains(id))
            .cloned()
            .collect();
        live.sort();
        assert_eq!(left, live, "{:?}: the live sessions stay", db.kind);

        app.clear(&["--dry-run"], &env, 0)
            .says(&["Would clear 4 session(s)\n"]);
        app.clear(&["--force"], &env, 0)
            .says(&["Cleared 4 session(s)\n"]);
        assert_eq!(db.count("sessions"), 0, "{:?}", db.kind);
        assert_eq!(
            db.count("keep"),
            1,
            "{:?}: another table was touched",
            db.kind
        );
    }
}

/// What `--api shard` writes, `session:clear` reads back: the shard's `session:` keys on the
/// server the store connects to, and the database store's table.
#[test]
fn clear_reads_the_generated_shard_initializers() {
    let Some(server) = RedisServer::start("shard_api_clear_reads") else {
        return;
    };
    let p = Project::new();
    run(p.cmd().args(["setup", "--api", "shard", "-b", "redis"]), 0);
    server.plant(0, "session:", 5);
    server.plant(0, "myapp:session:", 3);
    let out = run(
        p.cmd()
            .args(["clear", "--force"])
            .env("REDIS_URL", server.url()),
        0,
    );
    out.says(&[
        "Backend: redis\n",
        "Clearing Redis sessions with pattern: session:*\n",
        "Cleared 5 session(s)\n",
    ])
    .warns(&["(detected from src/initializers/session.cr)"]);
    assert_eq!(server.count(0, "myapp:session:*"), 3);

    let db = TestDb::sqlite();
    db.create_sessions("sessions", 4);
    let p = Project::new();
    run(
        p.cmd()
            .args(["setup", "--api", "shard", "-b", "database"])
            .env("DATABASE_URL", &db.url),
        0,
    );
    // A Redis URL nobody listens on: a clear that took the wrong backend fails instead of
    // reaching a server.
    let out = run(
        p.cmd()
            .args(["clear", "--force"])
            .env("DATABASE_URL", &db.url)
            .env("REDIS_URL", "redis://127.0.0.1:1"),
        0,
    );
    out.says(&["Backend: database\n", "Cleared 4 session(s)\n"])
        .warns(&["(detected from src/initializers/session.cr)"]);
}

/// Apps that configure the shard outside the initializer, as azutoolkit/authority does.
#[test]
fn clear_finds_the_store_in_the_projects_own_sources() {
    let Some(server) = RedisServer::start("shard_api_clear_finds") else {
        return;
    };
    // Authority's layout: the store is a constant of a cookie store; its sessions live in
    // the browsers, so the answer is the cookie store's error, naming the file.
    let p = Project::new();
    p.write(
        "src/config/session.cr",
        "Session.configure do |c|\n  c.timeout = 1.hour\n  c.session_key = \"authority.sess\"\nend\n",
    );
    p.write(
        "src/config/authority.cr",
        "module Authority\n  SESSION_STORE = Session::CookieStore(UserSession).provider\nend\n",
    );
    let out = run(p.cmd().args(["clear", "--force"]), 1);
    out.warns(&["`src/config/authority.cr` uses CookieStore"]);

    // One Redis store in the app's sources: its keys, its server, and where it was found.
    let p = Project::new();
    p.write(
        "src/config/session.cr",
        &format!(
            "Session.configure do |c|\n  c.store = Session::RedisStore(UserSession).new(client: Redis.new(url: ENV.fetch(\"CACHE_URL\", \"{}\")))\nend\n",
            server.url()
        ),
    );
    p.write(
        "lib/session/src/session.cr",
        "STORE = Session::MemoryStore(T).new\n",
    );
    server.plant(0, "session:", 6);
    server.set(0, "myapp:session:keep");
    let out = run(p.cmd().args(["clear", "--dry-run"]), 0);
    out.says(&["Would clear 6 session(s)\n"])
        .warns(&["(detected from src/config/session.cr)"]);
    run(p.cmd().args(["clear", "--force"]), 0).says(&["Cleared 6 session(s)\n"]);
    assert!(server.exists(0, "myapp:session:keep"));

    // Stores of different kinds: which one is meant cannot be told.
    p.write(
        "src/dev.cr",
        "DEV_STORE = Session::MemoryStore(UserSession).new\n",
    );
    let out = run(p.cmd().args(["clear", "--force"]), 1);
    out.warns(&[
        "the project's sources make session stores that clear different sessions",
        "src/config/session.cr:2",
        "src/dev.cr:1",
        "pass --backend",
    ]);
    // --backend says which.
    server.plant(0, "session:", 2);
    run(p.cmd().args(["clear", "--force", "-b", "redis"]), 0).says(&["Cleared 2 session(s)\n"]);
}

/// Without `--api`, a project that pins the shard chooses for itself; `--api` always wins.
#[test]
fn the_api_follows_the_pinned_shard_unless_told() {
    let lock = |v: &str| {
        format!(
            "version: 2.0\nshards:\n  session:\n    git: https://github.com/azutoolkit/session.git\n    version: {v}\n"
        )
    };
    let p = Project::new();
    p.write("shard.lock", &lock("1.0.31"));
    let out = run(p.cmd().args(["setup", "-b", "redis"]), 0);
    out.warns(&["(--api shard: shard.lock pins the session shard at 1.0.30 or later)"]);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    let init = p.read("src/initializers/session.cr");
    assert!(
        init.contains("Session.use_store(Session::RedisStore(UserSession))"),
        "{init}"
    );
    assert!(
        p.read("shard.yml")
            .contains("  session:\n    github: azutoolkit/session\n    version: \">= 1.0.30\"\n"),
        "{}",
        p.read("shard.yml")
    );
    out.says(&["Give UserSession the app's own properties:"]);

    // A pin older than the shard's API: refused with the fix, nothing written.
    let p = Project::new();
    p.write("shard.lock", &lock("1.0.15"));
    let before = p.tree();
    let out = run(p.cmd().args(["setup", "-b", "redis"]), 1);
    out.warns(&[
        "error: `shard.lock` pins the session shard at 1.0.15, older than 1.0.30",
        "run `shards update session`",
        "--api docs",
    ]);
    assert!(p.tree() == before, "the project changed");
    // --api wins, and says what the pin needs.
    let out = run(p.cmd().args(["setup", "-b", "redis", "--api", "docs"]), 0);
    assert!(
        p.read("src/initializers/session.cr")
            .contains("RedisStore.new(")
    );
    out.warns(&["note: this initializer follows the Azu documentation's session API"]);
    let out = run(
        p.cmd()
            .args(["setup", "-b", "memory", "--api", "shard", "--force"]),
        0,
    );
    out.warns(&["note: `shard.lock` pins the session shard at 1.0.15; the code written needs 1.0.30 or later: run `shards update session`"]);

    // JSON says which API, why, and the notes.
    let p = Project::new();
    let out = run(
        p.cmd().args(["setup", "-b", "memory", "--format", "json"]),
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(json["api"], "docs");
    assert_eq!(json["api_source"], "default");
    assert!(
        json["notes"][0]
            .as_str()
            .is_some_and(|n| n.starts_with("this initializer follows the Azu documentation's")),
        "{json}"
    );
    assert_eq!(stderr(&out), "");
}

/// The database store is a file of its own, under the same --force rule as the initializer.
#[test]
fn the_shard_database_store_is_written_beside_the_initializer() {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["setup", "-b", "database", "--api", "shard"])
            .env("DATABASE_URL", "sqlite3://./db/app.db"),
        0,
    );
    out.says(&[
        "   create  src/initializers/session.cr\n",
        "   create  src/initializers/session_database_store.cr\n",
    ]);
    assert!(
        p.read("src/initializers/session.cr")
            .contains("require \"sqlite3\"\n")
    );
    let shard = p.read("shard.yml");
    for dep in ["  db:\n", "  sqlite3:\n", "  cql:\n"] {
        assert!(shard.contains(dep), "{dep}: {shard}");
    }
    p.write("src/initializers/session.cr", "# mine\n");
    let out = run(
        p.cmd().args(["setup", "-b", "database", "--api", "shard"]),
        1,
    );
    out.warns(&["already exists; pass --force"]);
    assert_eq!(p.read("src/initializers/session.cr"), "# mine\n");
}
