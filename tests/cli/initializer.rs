//! The initializer read as Crystal: store names in literals are not code, conditions this
//! tool cannot evaluate stop the run instead of choosing, and required project files count.

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{run, text};
use crate::support::sql::TestDb;

const INIT: &str = "src/initializers/session.cr";

#[test]
fn a_store_named_in_a_heredoc_or_percent_string_is_not_the_store() {
    let Some(server) = RedisServer::start("initializer_heredoc") else {
        return;
    };
    server.set(0, "example:important");
    server.set(0, "old:important");
    server.plant(0, "session:", 3);
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 4);
    let p = Project::new();
    p.write(".env", &format!("DATABASE_URL={}\n", db.url));
    p.write(
        INIT,
        "Session.configure do |c|\n  c.store = DatabaseStore.new(table: \"sessions\")\nend\nHELP = <<-T\n  Example: RedisStore.new(prefix: \"example:\") isn't the store\n  T\nOLD = %(it's RedisStore.new(prefix: \"old:\") (retired))\nQUOTE = /\"/\n",
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Backend: database\n"), "{stdout}");
    assert!(stdout.contains("Cleared 4 session(s)"), "{stdout}");
    assert_eq!(db.count("sessions"), 0);
    assert!(server.exists(0, "example:important"));
    assert!(server.exists(0, "old:important"));
    assert_eq!(server.dbsize(0), 5);

    // After a MemoryStore, a RedisStore in a %() string is no store either.
    p.write(
        INIT,
        "Session.configure do |c|\n  c.store = MemoryStore.new\nend\nOLD = %(RedisStore.new(prefix: \"old:\"))\n",
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    assert!(text(&out.stdout).contains("Backend: memory\n"));
    assert_eq!(server.dbsize(0), 5);
}

/// Initializers whose store hangs on a condition this tool cannot evaluate, and a part of the
/// error each must give.
pub fn undecidable_cases() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "{% if flag?(:release) %}\n  Session.configure { |c| c.store = RedisStore.new(prefix: \"app:\") }\n{% else %}\n  Session.configure { |c| c.store = MemoryStore.new }\n{% end %}\n",
            "configures RedisStore (line 2) or MemoryStore (line 4) under conditions this tool cannot evaluate (`flag?(:release)`)",
        ),
        (
            "Session.configure do |c|\n  c.store = fast? ? RedisStore.new(prefix: \"app:\") : MemoryStore.new\nend\n",
            "configures RedisStore (line 2) or MemoryStore (line 2) under conditions this tool cannot evaluate (`fast?`)",
        ),
        (
            "Session.configure do |c|\n  c.store = RedisStore.new(prefix: \"app:\")\n  c.store = MemoryStore.new unless App.ready?\nend\n",
            "configures RedisStore (line 2) or MemoryStore (line 3) under conditions this tool cannot evaluate (`App.ready?`)",
        ),
        (
            "Session.configure do |c|\n  if File.exists?(\"x\"); c.store = MemoryStore.new; else c.store = RedisStore.new(prefix: \"app:\"); end\nend\n",
            "configures MemoryStore (line 2) or RedisStore (line 2)",
        ),
        (
            "Session.configure do |c|\n  c.store = RedisStore.new(prefix: \"app:\") if ENV[\"CACHE\"]?\nend\n",
            "configures RedisStore (line 2) or no store under conditions this tool cannot evaluate (`ENV[\"CACHE\"]?`, which read CACHE)",
        ),
    ]
}

#[test]
fn an_undecidable_store_is_an_error_and_nothing_is_deleted() {
    let Some(server) = RedisServer::start("initializer_undecidable") else {
        return;
    };
    server.plant(0, "app:", 3);
    for (init, part) in undecidable_cases() {
        let p = Project::new();
        p.write(INIT, init);
        for env in ["production", "development"] {
            let out = run(
                p.cmd()
                    .args(["clear", "-f"])
                    .env("AZU_ENV", env)
                    .env("SESSION_BACKEND", "memory")
                    .env("REDIS_URL", server.url()),
                1,
            );
            let err = text(&out.stderr);
            assert!(
                err.starts_with("error: `src/initializers/session.cr` ") && err.contains(part),
                "{init}\n{err}"
            );
            assert!(
                err.trim_end()
                    .ends_with("; pass --backend (and --prefix or --table) to say which"),
                "{err}"
            );
            assert_eq!(text(&out.stdout), "");
        }
        assert_eq!(server.dbsize(0), 3, "{init}");
    }

    // The flags say which: the run goes ahead.
    let p = Project::new();
    p.write(INIT, undecidable_cases()[0].0);
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "redis"])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert!(
        text(&out.stdout).contains("Cleared 3 session(s)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_store_in_a_required_file_is_the_store() {
    let Some(server) = RedisServer::start("initializer_require") else {
        return;
    };
    server.plant(0, "shop:s:", 6);
    server.plant(0, "other:", 2);
    let p = Project::new();
    p.write(
        INIT,
        "require \"./session_store\"\n\nSession.configure do |c|\n  c.store = STORE\nend\n",
    );
    p.write(
        "src/initializers/session_store.cr",
        "require \"./session\" # a loop: read once\nSTORE = Session::RedisStore(UserSession).new(prefix: \"shop:s:\")\n",
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    assert!(
        text(&out.stdout).contains("Cleared 6 session(s)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.dbsize(0), 2);

    // A required file that is not there is an error naming it.
    p.write(INIT, "require \"./stores/session_store\"\n");
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        1,
    );
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: cannot read `")
            && err.contains("it requires `")
            && err.contains("src/initializers/stores/session_store.cr`, which cannot be read"),
        "{err}"
    );
    assert_eq!(server.dbsize(0), 2);
}
