//! `session:clear` against real Redis, PostgreSQL, MariaDB and SQLite servers.

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{Says, redis_lines, run, stderr, stdout, under_terminal};
use crate::support::sql::{Kind, TestDb};

fn database_lines(n: i64) -> String {
    format!(
        "Clearing sessions...\nBackend: database\nClearing database sessions...\nCleared {n} session(s)\n✓ Sessions cleared successfully\n"
    )
}

// ---------------------------------------------------------------- Redis

#[test]
fn redis_clears_exactly_the_prefix_and_keeps_canaries() {
    let Some(server) = RedisServer::start("redis_clears_exactly_the_prefix") else {
        return;
    };
    server.plant(0, "myapp:session:", 2500);
    let canaries = [
        "myapp:session",
        "myapp:sessions:1",
        "other:session:1",
        "xmyapp:session:1",
        "MYAPP:SESSION:1",
    ];
    for k in canaries {
        server.set(0, k);
    }
    server.plant(1, "myapp:session:", 10); // another database: not asked for

    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["session:clear", "--force"])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        stdout(&out),
        redis_lines(&server.url(), "myapp:session:*", 2500)
    );
    out.warns(&["(default: no initializer store and no SESSION_BACKEND)"]);
    assert_eq!(server.count(0, "myapp:session:*"), 0);
    for k in canaries {
        assert!(server.exists(0, k), "canary {k} was deleted");
    }
    assert_eq!(server.dbsize(1), 10);
}

#[test]
fn redis_second_run_clears_nothing() {
    let Some(server) = RedisServer::start("redis_second_run") else {
        return;
    };
    server.plant(0, "myapp:session:", 3);
    let p = Project::new();
    run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        stdout(&out),
        redis_lines(&server.url(), "myapp:session:*", 0)
    );
}

#[test]
fn redis_prefix_glob_characters_are_literal() {
    let Some(server) = RedisServer::start("redis_prefix_glob") else {
        return;
    };
    let prefix = r"a*[b]?\c:";
    server.plant(0, prefix, 20);
    let canaries = [
        r"aX[b]?\c:1",
        r"a*b?\c:1",
        r"a*[b]x\c:1",
        r"a*[b]?c:1",
        "a:1",
    ];
    for k in canaries {
        server.set(0, k);
    }
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", prefix])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        stdout(&out),
        redis_lines(&server.url(), r"a\*\[b\]\?\\c:*", 20)
    );
    for k in canaries {
        assert!(server.exists(0, k), "canary {k} was deleted");
    }
}

#[test]
fn redis_database_number_and_password() {
    let Some(server) =
        RedisServer::start_with("redis_db_and_password", &["--requirepass", "s3cret-pw"])
    else {
        return;
    };
    server.plant(2, "myapp:session:", 7);
    server.plant(0, "myapp:session:", 5);
    let p = Project::new();
    let url = server.url_db(2);
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 0);
    let shown = format!("redis://:****@127.0.0.1:{}/2 (database 2)", server.port);
    assert_eq!(stdout(&out), redis_lines(&shown, "myapp:session:*", 7));
    assert!(!stdout(&out).contains("s3cret-pw") && !stderr(&out).contains("s3cret-pw"));
    assert_eq!(server.dbsize(2), 0);
    assert_eq!(server.dbsize(0), 5);
}

#[test]
fn redis_wrong_password_is_an_error_with_the_url_masked() {
    let Some(server) = RedisServer::start_with("redis_wrong_password", &["--requirepass", "right"])
    else {
        return;
    };
    server.plant(0, "myapp:session:", 3);
    let p = Project::new();
    let url = format!("redis://:wrong-pw@127.0.0.1:{}", server.port);
    let out = run(p.cmd().args(["clear", "-f"]).env("REDIS_URL", &url), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: Redis at `redis://:****@127.0.0.1:{}` refused the user or password in REDIS_URL; correct them in REDIS_URL",
            server.port
        )),
        "{err}"
    );
    assert!(!err.contains("wrong-pw") && !stdout(&out).contains("wrong-pw"));
    assert_eq!(server.dbsize(0), 3);
}

#[test]
fn redis_unreachable_server_fails_fast() {
    let port = crate::support::servers::free_port();
    let p = Project::new();
    let started = std::time::Instant::now();
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("REDIS_URL", format!("redis://:pw@127.0.0.1:{port}")),
        1,
    );
    assert!(started.elapsed().as_secs() < 10);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot connect to Redis at `redis://:****@127.0.0.1:{port}`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            ": nothing listens on 127.0.0.1:{port} (connection refused); start Redis there, or correct the host and port in REDIS_URL"
        )),
        "{err}"
    );
}

#[test]
fn redis_dry_run_deletes_nothing() {
    let Some(server) = RedisServer::start("redis_dry_run") else {
        return;
    };
    server.plant(0, "myapp:session:", 1200);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "--dry-run"])
            .env("REDIS_URL", server.url()),
        0,
    );
    out.says(&["Would clear 1200 session(s)\n"]);
    assert!(!stdout(&out).contains("Cleared"));
    assert_eq!(server.count(0, "myapp:session:*"), 1200);
}

#[test]
fn redis_without_terminal_or_force_refuses_and_deletes_nothing() {
    let Some(server) = RedisServer::start("redis_no_terminal") else {
        return;
    };
    server.plant(0, "myapp:session:", 5);
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["session:clear"])
            .env("REDIS_URL", server.url())
            .write_stdin("y\n"),
        1,
    );
    assert_eq!(
        stderr(&out),
        "error: refusing to clear sessions without confirmation: not a terminal; pass --force\n"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(server.dbsize(0), 5);
}

#[test]
fn redis_settings_from_the_generated_initializer_and_dotenv() {
    let Some(server) = RedisServer::start("redis_from_initializer") else {
        return;
    };
    let p = Project::with_shard("name: shop\n");
    run(p.cmd().args(["session:setup", "-b", "redis"]), 0);
    // setup wrote REDIS_URL=redis://localhost:6379 into .env; point it at the test server.
    let dotenv = p
        .read(".env")
        .replace("redis://localhost:6379", &server.url());
    p.write(".env", &dotenv);
    server.plant(0, "shop:session:", 30);
    server.set(0, "myapp:session:1");
    let out = run(p.cmd().args(["clear", "-f"]), 0);
    assert_eq!(
        stdout(&out),
        redis_lines(&server.url(), "shop:session:*", 30)
    );
    out.warns(&["(detected from src/initializers/session.cr)"]);
    assert!(server.exists(0, "myapp:session:1"));
}

#[test]
fn redis_prefix_from_an_environment_branch_with_interpolation() {
    let Some(server) = RedisServer::start("redis_env_branch") else {
        return;
    };
    let p = Project::new();
    p.write("src/initializers/session.cr", SPEC_PER_ENV);
    server.plant(0, "blog:session:", 12);
    server.plant(0, "myapp:session:", 4);

    // production: RedisStore with "#{ENV["APP_NAME"]}:session:"
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("AZU_ENV", "production")
            .env("APP_NAME", "blog")
            .env("REDIS_URL", server.url()),
        0,
    );
    assert_eq!(
        stdout(&out),
        redis_lines(&server.url(), "blog:session:*", 12)
    );
    assert_eq!(server.count(0, "myapp:session:*"), 4);

    // production without APP_NAME: an error naming it, nothing deleted
    server.plant(0, "blog:session:", 2);
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("AZU_ENV", "production")
            .env("REDIS_URL", server.url()),
        1,
    );
    assert_eq!(
        stderr(&out),
        "error: the Redis key prefix uses `APP_NAME`, which is not set; export it, add it to .env, or pass --prefix\n"
    );
    assert_eq!(server.count(0, "blog:session:*"), 2);

    // AZU_ENV from .env counts too
    p.write(".env", "AZU_ENV=production\nAPP_NAME=blog\n");
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        0,
    );
    out.says(&["Cleared 2 session(s)"]);
}

/// The documentation's per-environment initializer (also a seed of the initializer fuzz target).
const SPEC_PER_ENV: &str = include_str!("../../fuzz/seeds/initializer/per_env.cr");

#[test]
fn environment_branch_selects_memory_in_development() {
    let p = Project::new();
    p.write("src/initializers/session.cr", SPEC_PER_ENV);
    let out = run(p.cmd().args(["clear"]), 0);
    assert_eq!(
        stdout(&out),
        "Clearing sessions...\nBackend: memory\n⚠️  Memory sessions cannot be cleared remotely\nRestart the application to clear memory sessions\n"
    );
    out.warns(&["(detected from src/initializers/session.cr)"]);
}

#[test]
fn environment_without_a_branch_goes_down_the_chain() {
    let p = Project::new();
    p.write("src/initializers/session.cr", SPEC_PER_ENV);
    let out = run(
        p.cmd()
            .args(["clear"])
            .env("AZU_ENV", "staging")
            .env("SESSION_BACKEND", "memory"),
        0,
    );
    out.says(&["Backend: memory\n"]);
    let err = stderr(&out);
    assert!(
        err.contains("configures no store for AZU_ENV=staging"),
        "{err}"
    );
    assert!(err.contains("(from SESSION_BACKEND)"), "{err}");
}

// ---------------------------------------------------------------- detection

#[test]
fn detection_chain_levels() {
    let p = Project::new();
    // default: redis (dry run against a closed port shows the chain without a server)
    let out = run(
        p.cmd()
            .args(["clear", "-b", "memory"])
            .env("SESSION_BACKEND", "database"),
        0,
    );
    assert!(
        stdout(&out).contains("Backend: memory\n") && stderr(&out).contains("(from --backend)")
    );

    let out = run(p.cmd().args(["clear"]).env("SESSION_BACKEND", "MEMORY"), 0);
    assert!(
        stdout(&out).contains("Backend: memory\n")
            && stderr(&out).contains("(from SESSION_BACKEND)")
    );

    p.write(".env", "SESSION_BACKEND=memory\n");
    let out = run(p.cmd().args(["clear"]), 0);
    assert!(
        stdout(&out).contains("Backend: memory\n")
            && stderr(&out).contains("(from SESSION_BACKEND)")
    );

    // the initializer beats SESSION_BACKEND
    p.write("src/initializers/session.cr", "Session.configure do |config|\n  config.store = Session::MemoryStore(UserSession).new\nend\n");
    let out = run(p.cmd().args(["clear"]).env("SESSION_BACKEND", "redis"), 0);
    assert!(
        stdout(&out).contains("Backend: memory\n")
            && stderr(&out).contains("(detected from src/initializers/session.cr)")
    );
}

#[test]
fn invalid_session_backend_lists_the_valid_ones() {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("SESSION_BACKEND", "mongo"),
        2,
    );
    assert_eq!(
        stderr(&out),
        "error: SESSION_BACKEND is `mongo`, which is not a backend; set it to one of redis, database, memory, or pass --backend\n"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn invalid_backend_flag_is_a_usage_error() {
    let p = Project::new();
    let out = run(p.cmd().args(["clear", "-f", "-b", "mongo"]), 2);
    out.warns(&["`mongo` is not a backend; use one of redis, database, memory\n"]);
}

#[test]
fn cookie_store_cannot_be_cleared() {
    let p = Project::new();
    p.write("src/initializers/session.cr", "Session.configure do |c|\n  c.store = Session::CookieStore(UserSession).new(key: \"s\")\nend\n");
    let out = run(p.cmd().args(["clear", "-f"]), 1);
    let err = stderr(&out);
    assert!(
        err.contains("CookieStore") && err.contains("rotate SESSION_SECRET"),
        "{err}"
    );
}

#[test]
fn store_names_in_comments_and_strings_are_ignored() {
    let p = Project::new();
    p.write(
        "src/initializers/session.cr",
        "# config.store = DatabaseStore.new\nputs \"RedisStore.new(prefix: 'x')\"\nSession.configure do |c|\n  c.store = MemoryStore.new(ttl: 1.hour) # not RedisStore.new\nend\n",
    );
    let out = run(p.cmd().args(["clear"]), 0);
    out.says(&["Backend: memory\n"]);
}

#[test]
fn empty_prefix_is_refused() {
    let p = Project::new();
    for args in [vec!["clear", "-f", "--prefix", ""], vec!["clear", "-f"]] {
        p.write(
            "src/initializers/session.cr",
            "c.store = RedisStore.new(prefix: \"\")\n",
        );
        let out = run(
            p.cmd().args(&args).env("REDIS_URL", "redis://127.0.0.1:1"),
            1,
        );
        out.warns(&["the Redis key prefix is empty"]);
    }
}

#[test]
fn no_initializer_and_no_shard_yml_needs_a_prefix() {
    let p = Project::empty();
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("REDIS_URL", "redis://127.0.0.1:1"),
        1,
    );
    assert!(
        stderr(&out).starts_with(
            "error: cannot tell the Redis key prefix: there is no src/initializers/session.cr and no shard.yml in `"
        ) && stderr(&out).ends_with(
            "` (nor above it); pass --prefix, or run this inside the Azu project (or pass --path)\n"
        ),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------- SQL

#[test]
fn database_clears_the_sessions_table_in_batches_on_every_server() {
    // In batches (--batched), then as a plain clear (a truncate, or SQLite's one DELETE).
    for extra in [&["--batched"][..], &[]] {
        for db in TestDb::all("database_clears_the_sessions_table") {
            db.create_sessions("sessions", 25_003); // more than two batches
            db.create_sessions("sessions_archive", 3); // a canary table
            let p = Project::new();
            let out = run(
                p.cmd()
                    .args(["clear", "-f", "-b", "database"])
                    .args(extra)
                    .env("DATABASE_URL", &db.url),
                0,
            );
            assert_eq!(stdout(&out), database_lines(25_003), "{:?}", db.kind);
            assert_eq!(db.count("sessions"), 0, "{:?}", db.kind);
            assert_eq!(db.count("sessions_archive"), 3, "{:?}", db.kind);
        }
    }
}

#[test]
fn database_table_from_initializer_and_flag() {
    for db in TestDb::all("database_table_from_initializer") {
        db.create_sessions("user_sessions", 40);
        db.create_sessions("sessions", 6);
        let p = Project::new();
        p.write(".env", &format!("DATABASE_URL={}\n", db.url));
        p.write("src/initializers/session.cr", "Session.configure do |c|\n  c.store = Session::DatabaseStore(UserSession).new(table_name: \"user_sessions\")\nend\n");
        let out = run(p.cmd().args(["clear", "-f"]), 0);
        assert_eq!(stdout(&out), database_lines(40), "{:?}", db.kind);
        assert_eq!(db.count("sessions"), 6);

        let out = run(p.cmd().args(["clear", "-f", "--table", "sessions"]), 0);
        assert_eq!(stdout(&out), database_lines(6), "{:?}", db.kind);
    }
}

#[test]
fn database_dry_run_counts_and_deletes_nothing() {
    for db in TestDb::all("database_dry_run") {
        db.create_sessions("sessions", 17);
        let p = Project::new();
        let out = run(
            p.cmd()
                .args(["clear", "--dry-run", "-b", "database"])
                .env("DATABASE_URL", &db.url),
            0,
        );
        out.says(&["Would clear 17 session(s)\n"]);
        assert_eq!(db.count("sessions"), 17);
    }
}

#[test]
fn database_missing_table_says_to_migrate() {
    for db in TestDb::all("database_missing_table") {
        db.create_sessions("other", 2);
        let p = Project::new();
        let out = run(
            p.cmd()
                .args(["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", &db.url),
            1,
        );
        let err = stderr(&out);
        assert!(
            err.contains("error: table `sessions` does not exist in")
                && err.contains("run `azu db:migrate`"),
            "{:?}: {err}",
            db.kind
        );
        assert_eq!(db.count("other"), 2);
    }
}

/// `url` with its user info's password set to `password`.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with ://");
    let (userinfo, host) = rest.split_once('@').expect("a URL with a user");
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A wrong password must be refused, exit 1, with the URL shown masked. MariaDB checks the
/// password of `azs`; the test PostgreSQL trusts loopback (and `azs` may not create a role
/// with a password), so it cannot show a refusal.
#[test]
fn database_wrong_password_is_refused_with_the_url_masked() {
    let Some(db) = TestDb::mysql("database_wrong_password") else {
        return;
    };
    db.create_sessions("sessions", 4);
    let url = with_password(&db.url, "not-the-pw");
    let masked = url.replace(":not-the-pw@", ":****@");
    assert_ne!(url, masked);
    let p = Project::new();
    for format in ["text", "json"] {
        let out = run(
            p.cmd()
                .args(["--format", format, "clear", "-f", "-b", "database"])
                .env("DATABASE_URL", &url),
            1,
        );
        let (out_text, err) = (stdout(&out), stderr(&out));
        assert!(
            !out_text.contains("not-the-pw") && !err.contains("not-the-pw"),
            "{format}: {out_text}{err}"
        );
        assert!(
            out_text.contains(&masked) || err.contains(&masked),
            "{format}: no {masked:?} in:\n{out_text}{err}"
        );
        assert!(
            err.contains("Access denied") || out_text.contains("Access denied"),
            "{format}: {out_text}{err}"
        );
    }
    assert_eq!(db.count("sessions"), 4);
}

#[test]
fn database_url_is_required() {
    let p = Project::new();
    let out = run(p.cmd().args(["clear", "-f", "-b", "database"]), 1);
    assert_eq!(
        stderr(&out),
        "error: `DATABASE_URL` is not set; export it or add it to .env\n"
    );
}

#[test]
fn database_unreachable_server_fails_with_masked_url() {
    let port = crate::support::servers::free_port();
    let p = Project::new();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/app");
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot connect to the database at `postgres://app:****@127.0.0.1:{port}/app`"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
}

#[test]
fn table_names_carrying_sql_are_refused_before_connecting() {
    let db = TestDb::sqlite();
    db.create_sessions("sessions", 3);
    let p = Project::new();
    for table in [
        "sessions; DROP TABLE users",
        "sessions\"",
        "`sessions`",
        "séssions",
        "a.b.c",
        "",
    ] {
        let out = run(
            p.cmd()
                .args(["clear", "-f", "-b", "database", "--table", table])
                .env("DATABASE_URL", &db.url),
            1,
        );
        assert!(
            stderr(&out).contains("is not a table name"),
            "{table}: {}",
            stderr(&out)
        );
    }
    assert_eq!(db.count("sessions"), 3);
}

#[test]
fn unsupported_database_url() {
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", "mongodb://u:pw@h/db"),
        1,
    );
    assert_eq!(
        stderr(&out),
        "error: `mongodb://u:****@h/db` is not a database URL this tool can clear; use a postgres://, postgresql://, mysql://, mariadb:// or sqlite: URL\n"
    );
}

#[test]
fn mariadb_scheme_works() {
    let Some(db) = TestDb::mysql("mariadb_scheme") else {
        return;
    };
    assert_eq!(db.kind, Kind::MySql);
    db.create_sessions("sessions", 9);
    let p = Project::new();
    let url = db.url.replacen("mysql://", "mariadb://", 1);
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "database"])
            .env("DATABASE_URL", &url),
        0,
    );
    assert_eq!(stdout(&out), database_lines(9));
}

// ---------------------------------------------------------------- confirmation

#[test]
fn confirmation_yes_and_no_under_a_terminal() {
    if !crate::support::servers::have_binary("script", "confirmation_under_a_terminal") {
        return;
    }
    let Some(server) = RedisServer::start("confirmation_under_a_terminal") else {
        return;
    };
    server.plant(0, "myapp:session:", 8);
    let p = Project::new();
    let url = server.url();
    let env = [("REDIS_URL", url.as_str())];

    for answer in ["n\n", "\n", "whatever\n"] {
        let text = under_terminal(&p, "session:clear", &env, answer);
        assert!(
            text.contains(
                "Are you sure you want to clear all sessions? This will log out all users. [y/N]: "
            ),
            "{text}"
        );
        assert!(
            text.contains("Operation cancelled; no sessions were cleared"),
            "{answer:?}: {text}"
        );
        assert!(!text.contains("Cleared"), "{text}");
        assert_eq!(server.count(0, "myapp:session:*"), 8);
    }

    let text = under_terminal(&p, "session:clear", &env, "y\n");
    assert!(
        text.contains("Redis URL: "),
        "the prompt shows what will be cleared: {text}"
    );
    assert!(text.contains("Cleared 8 session(s)"), "{text}");
    assert_eq!(server.count(0, "myapp:session:*"), 0);
}
