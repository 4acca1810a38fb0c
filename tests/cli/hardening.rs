//! Bad input and secrets: every case gets its own clear error, nothing panics, nothing is
//! written or deleted, and no secret reaches the output.

use std::process::Output;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{run, text};
use crate::support::sql::TestDb;
use crate::support::transcript::Transcript;

// ---------------------------------------------------------------- initializers

/// (what the initializer holds, a part of the expected error, or None when the run goes down
/// the chain to `SESSION_BACKEND=memory` instead)
fn initializer_cases() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let huge = {
        let mut s = String::from("# a big generated file\n");
        let line = "config.cookie_name = \"x\" # padding padding padding padding padding padding\n";
        while s.len() < 30 * 1024 * 1024 {
            s.push_str(line);
        }
        s.push_str("Session.configure do |c|\n  c.store = MemoryStore.new\nend\n");
        s
    };
    vec![
        ("empty", Vec::new(), None),
        (
            "only comments",
            b"# RedisStore.new(prefix: \"x\")\n".to_vec(),
            None,
        ),
        (
            "not UTF-8",
            vec![b'c', b'=', 0xff, 0xfe, b'\n'],
            Some("is not UTF-8 text"),
        ),
        (
            "binary",
            vec![0x7f, b'E', b'L', b'F', 0, 0, 1, 2],
            Some("holds binary data"),
        ),
        (
            "unbalanced quote",
            b"c.store = RedisStore.new(prefix: \"a:)\n".to_vec(),
            Some("is never closed"),
        ),
        (
            "unbalanced paren",
            b"c.store = RedisStore.new(prefix: \"a:\"\n".to_vec(),
            Some("is never closed"),
        ),
        (
            "store name in a string",
            b"puts \"config.store = RedisStore.new\"\n".to_vec(),
            None,
        ),
        ("huge, store at the end", huge.into_bytes(), Some("MEMORY")),
    ]
}

#[test]
fn bad_initializers_get_clear_errors() {
    let mut transcript = Transcript::default();
    for (name, bytes, expected) in initializer_cases() {
        let p = Project::new();
        transcript.redact_project(p.root());
        std::fs::create_dir_all(p.path("src/initializers")).unwrap();
        std::fs::write(p.path("src/initializers/session.cr"), &bytes).unwrap();
        let before = p.tree();
        let out = match expected {
            Some("MEMORY") => run(p.cmd().args(["clear", "-f"]), 0),
            Some(_) => run(
                p.cmd()
                    .args(["clear", "-f"])
                    .env("REDIS_URL", "redis://127.0.0.1:1"),
                1,
            ),
            None => run(
                p.cmd()
                    .args(["clear", "-f"])
                    .env("SESSION_BACKEND", "memory"),
                0,
            ),
        };
        transcript.case(name, &out);
        assert!(p.tree() == before, "{name}: the project changed");
    }
    insta::assert_snapshot!(transcript.text());
}

#[test]
fn a_broken_initializer_can_be_bypassed_with_explicit_flags() {
    let Some(server) = RedisServer::start("broken_initializer_bypassed") else {
        return;
    };
    server.plant(0, "app:s:", 3);
    // Keys under the app's default prefix and near the given one: none may go.
    let decoys = ["myapp:session:1", "app:s", "app:sx:1", "open:1", "APP:S:1"];
    for k in decoys {
        server.set(0, k);
    }
    let p = Project::new();
    p.write(
        "src/initializers/session.cr",
        "c.store = RedisStore.new(prefix: \"open\n",
    );
    let out = run(
        p.cmd()
            .args(["clear", "-f", "-b", "redis", "--prefix", "app:s:"])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert!(text(&out.stdout).contains("Cleared 3 session(s)"));
    assert!(
        text(&out.stderr).contains("skipped: the string on line 1 is never closed"),
        "{}",
        text(&out.stderr)
    );
    for k in decoys {
        assert!(server.exists(0, k), "decoy {k} was deleted");
    }
    assert_eq!(server.count(0, "app:s:*"), 0);
}

// ---------------------------------------------------------------- prefixes

#[test]
fn bad_prefixes_are_refused_before_connecting() {
    let Some(server) = RedisServer::start("bad_prefixes") else {
        return;
    };
    server.plant(0, "", 5); // keys "0".."4": an empty prefix would match them
    server.set(0, "a\nb:1");
    let p = Project::new();
    for (prefix, part) in [
        ("", "the Redis key prefix is empty"),
        ("a\nb:", "holds a control character"),
        ("tab\t:", "holds a control character"),
        ("nul\u{0}", "holds a control character"),
    ] {
        if prefix.contains('\0') {
            continue; // an argument cannot hold NUL; the initializer case below covers it
        }
        let out = run(
            p.cmd()
                .args(["clear", "-f", "--prefix", prefix])
                .env("REDIS_URL", server.url()),
            1,
        );
        assert!(
            text(&out.stderr).contains(part),
            "{prefix:?}: {}",
            text(&out.stderr)
        );
    }
    p.write(
        "src/initializers/session.cr",
        "c.store = RedisStore.new(prefix: \"x\\0y\")\n",
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        1,
    );
    assert!(
        text(&out.stderr).contains("holds a control character"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.dbsize(0), 6);
}

#[test]
fn prefixes_with_spaces_and_globs_clear_only_their_keys() {
    let Some(server) = RedisServer::start("prefix_spaces_globs") else {
        return;
    };
    server.plant(0, "my app:[sess]* ", 4);
    server.set(0, "my app:s* 1");
    server.set(0, "my app:[sess]x");
    let p = Project::new();
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", "my app:[sess]* "])
            .env("REDIS_URL", server.url()),
        0,
    );
    assert!(
        text(&out.stdout).contains("Cleared 4 session(s)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.dbsize(0), 2);
}

// ---------------------------------------------------------------- URLs

#[test]
fn malformed_urls_of_every_scheme_get_clear_errors() {
    let p = Project::new();
    let mut transcript = Transcript::default();
    transcript.redact_project(p.root());
    let redis_urls = [
        "redis://",
        "redis://host:notaport",
        "redis://:pw@host:99999",
        "http://localhost:6379",
        "redis+unix://",
        "rediss://",
        "::::",
        "redis://[::1",
    ];
    for url in redis_urls {
        let out = run(
            p.cmd()
                .args(["clear", "-f", "-b", "redis"])
                .env("REDIS_URL", url),
            1,
        );
        let err = text(&out.stderr);
        assert!(!err.contains("pw@"), "{url}: password shown: {err}");
        transcript.case(&format!("REDIS_URL={url}"), &out);
    }
    let database_urls = [
        "postgres://",
        "postgres://u:pw@127.0.0.1:notaport/db",
        "mysql://u:pw@:3306",
        "mariadb://u:pw@[::1/db",
        "sqlite:/nonexistent/dir/x.db",
        "sqlite://",
        "sqlite::memory:",
        "ftp://u:pw@host/db",
        "nonsense",
    ];
    for url in database_urls {
        let out = run(
            p.cmd()
                .args(["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", url),
            1,
        );
        let err = text(&out.stderr);
        assert!(!err.contains(":pw@"), "{url}: password shown: {err}");
        transcript.case(&format!("DATABASE_URL={url}"), &out);
    }
    insta::assert_snapshot!(transcript.text());
}

// ---------------------------------------------------------------- SESSION_BACKEND

#[test]
fn session_backend_in_any_case_and_nonsense() {
    let p = Project::new();
    for value in ["memory", "MEMORY", "Memory", " memory "] {
        let out = run(p.cmd().args(["clear"]).env("SESSION_BACKEND", value), 0);
        assert!(text(&out.stdout).contains("Backend: memory\n"), "{value:?}");
    }
    for value in ["mongo", "redis,memory", "mem ory", "ﬁle", "--force"] {
        let out = run(
            p.cmd().args(["clear", "-f"]).env("SESSION_BACKEND", value),
            2,
        );
        assert!(
            text(&out.stderr)
                .contains("which is not a backend; set it to one of redis, database, memory"),
            "{value:?}"
        );
    }
}

// ---------------------------------------------------------------- shard.yml

#[test]
fn bad_shard_ymls_get_clear_errors_and_nothing_is_written() {
    let huge = format!("name: big\n{}", "# padding\n".repeat(2_000_000));
    let mut transcript = Transcript::default();
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("not YAML", "name: [unclosed\n".into()),
        ("a list", "- name\n- app\n".into()),
        ("a scalar", "just words\n".into()),
        ("no name", "version: 1.0\n".into()),
        ("name is a list", "name: [a, b]\n".into()),
        (
            "dependencies a list",
            "name: a\ndependencies:\n  - azu\n".into(),
        ),
        (
            "dependencies a string",
            "name: a\ndependencies: azu\n".into(),
        ),
        (
            "tabs",
            "name: a\ndependencies:\n\tazu:\n\t\tgithub: x/y\n".into(),
        ),
    ];
    for (name, content) in cases {
        let p = Project::with_shard(&content);
        let before = p.tree();
        let out = run(p.cmd().args(["setup", "-b", "redis"]), 1);
        transcript.redact_project(p.root());
        transcript.case(name, &out);
        assert!(p.tree() == before, "{name}: the project changed");
    }
    insta::assert_snapshot!(transcript.text());
    // A huge but valid file works, and keeps every byte it had.
    let p = Project::with_shard(&huge);
    run(p.cmd().args(["setup", "-b", "memory"]), 0);
    assert!(p.read("shard.yml").starts_with(&huge));
}

// ---------------------------------------------------------------- .env

#[test]
fn malformed_dotenv_lines_are_named_without_their_content() {
    for (content, line) in [
        ("A=1\nSESSION_SECRET hunter2-planted\n", 2),
        ("GOOD=1\nBAD LINE hunter2-planted\nC=3\n", 2),
        ("A=\"hunter2-planted\n", 1),
    ] {
        for args in [vec!["clear", "-b", "memory"], vec!["setup", "-b", "redis"]] {
            let p = Project::new();
            p.write(".env", content);
            let before = p.tree();
            let out = run(p.cmd().args(&args), 1);
            let err = text(&out.stderr);
            assert!(
                err.contains(&format!(".env` line {line} is not `NAME=value`")),
                "{args:?} {content:?}: {err}"
            );
            assert!(
                !err.contains("hunter2-planted"),
                "the line's content was shown: {err}"
            );
            assert!(p.tree() == before, "{args:?}: the project changed");
        }
    }
}

// ---------------------------------------------------------------- secrets

/// URLs of every form, mostly unreachable, and setup's files. The same promise against
/// reachable servers whose password is the planted one, every command and format, is
/// planted.rs's `no_output_against_reachable_servers_contains_a_planted_password`.
#[test]
fn no_output_of_any_command_contains_a_planted_secret() {
    const PLANTED: &str = "Planted-S3cret-0x5eed";
    let encoded = "Planted%2DS3cret%2D0x5eed";
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut record = |what: &str, out: Output| {
        outputs.push((
            what.to_string(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        ));
    };

    // setup with a planted secret already in .env, in every backend and format
    for backend in ["redis", "database", "memory"] {
        for format in ["text", "json"] {
            let p = Project::new();
            p.write(
                ".env",
                &format!("SESSION_SECRET={PLANTED}\nDATABASE_URL=postgres://u:{PLANTED}@h/db\n"),
            );
            record(
                "setup",
                p.cmd()
                    .args(["setup", "-b", backend, "-f", "--format", format])
                    .env("REDIS_URL", format!("redis://:{PLANTED}@127.0.0.1:1"))
                    .env("DATABASE_URL", format!("postgres://u:{PLANTED}@h/db"))
                    .output()
                    .unwrap(),
            );
            // Every file setup wrote but .env (which holds secrets by design) is clean.
            for (path, contents) in p.tree() {
                if path == ".env" {
                    continue;
                }
                let contents = String::from_utf8_lossy(contents.as_deref().unwrap_or_default());
                assert!(
                    !contents.contains(PLANTED) && !contents.contains(encoded),
                    "setup -b {backend} --format {format} wrote the secret into {path}:\n{contents}"
                );
            }
        }
    }
    // clear against URLs carrying the planted password in every form, servers unreachable
    let port = crate::support::servers::free_port();
    let redis_urls = [
        format!("redis://:{PLANTED}@127.0.0.1:{port}"),
        format!("redis://user:{PLANTED}@127.0.0.1:{port}/2"),
        format!("redis://user:{encoded}@127.0.0.1:{port}"),
        format!("rediss://:{PLANTED}@127.0.0.1:{port}"),
        format!("redis+unix:///nonexistent.sock?db=1&pass={PLANTED}"),
        format!("redis://{PLANTED}@127.0.0.1:{port}"),
    ];
    let database_urls = [
        format!("postgres://u:{PLANTED}@127.0.0.1:{port}/db"),
        format!("postgresql://u:{encoded}@127.0.0.1:{port}/db"),
        format!("postgres://127.0.0.1:{port}/db?user=u&password={PLANTED}"),
        format!("mysql://u:{PLANTED}@127.0.0.1:{port}/db"),
        format!("mariadb://u:{PLANTED}@127.0.0.1:{port}/db"),
        format!("mongodb://u:{PLANTED}@127.0.0.1:{port}/db"),
    ];
    let p = Project::new();
    for url in &redis_urls {
        for format in ["text", "json"] {
            record(
                "clear redis",
                p.cmd()
                    .args(["clear", "-f", "-b", "redis", "--format", format])
                    .env("REDIS_URL", url)
                    .output()
                    .unwrap(),
            );
            record(
                "clear redis dry",
                p.cmd()
                    .args(["clear", "--dry-run", "-b", "redis"])
                    .env("REDIS_URL", url)
                    .output()
                    .unwrap(),
            );
        }
    }
    for url in &database_urls {
        for format in ["text", "json"] {
            record(
                "clear database",
                p.cmd()
                    .args(["clear", "-f", "-b", "database", "--format", format])
                    .env("DATABASE_URL", url)
                    .output()
                    .unwrap(),
            );
        }
    }
    // a wrong password against real servers
    if let Some(server) =
        RedisServer::start_with("planted_secret_redis", &["--requirepass", "right"])
    {
        let url = format!("redis://:{PLANTED}@127.0.0.1:{}", server.port);
        record(
            "clear redis wrong pw",
            p.cmd()
                .args(["clear", "-f"])
                .env("REDIS_URL", &url)
                .output()
                .unwrap(),
        );
    }
    for db in [TestDb::mysql("planted_secret_mysql")]
        .into_iter()
        .flatten()
    {
        let url = db
            .url
            .replacen("://azs:azs@", &format!("://azs:{PLANTED}@"), 1)
            .replacen("://root@", &format!("://root:{PLANTED}@"), 1);
        record(
            "clear mysql wrong pw",
            p.cmd()
                .args(["clear", "-f", "-b", "database"])
                .env("DATABASE_URL", &url)
                .output()
                .unwrap(),
        );
    }
    // reachable servers whose URLs hold the planted password: success and failure, every
    // format, a real clear and a dry run
    if let Some(server) =
        RedisServer::start_with("planted_secret_redis_ok", &["--requirepass", PLANTED])
    {
        let fails = RedisServer::start_with(
            "planted_secret_redis_no_unlink",
            &["--requirepass", PLANTED, "--rename-command", "UNLINK", ""],
        )
        .expect("a second redis-server");
        for (what, server, code) in [("ok", &server, 0), ("no UNLINK", &fails, 1)] {
            for url in [
                format!("redis://:{PLANTED}@127.0.0.1:{}", server.port),
                format!("redis://default:{encoded}@127.0.0.1:{}/2", server.port),
            ] {
                for format in ["text", "json"] {
                    for args in [vec!["clear", "-f"], vec!["clear", "--dry-run"]] {
                        for db in [0, 2] {
                            redis::cmd("SET")
                                .arg("myapp:session:1")
                                .arg("x")
                                .query::<()>(&mut server.con(db))
                                .expect("SET");
                        }
                        let out = p
                            .cmd()
                            .args(["--format", format])
                            .args(&args)
                            .env("REDIS_URL", &url)
                            .output()
                            .unwrap();
                        let expected = if args[1] == "--dry-run" { 0 } else { code };
                        assert_eq!(
                            out.status.code(),
                            Some(expected),
                            "redis {what} {args:?} {format}: {}{}",
                            text(&out.stdout),
                            text(&out.stderr)
                        );
                        record(&format!("clear redis {what} {args:?} {format}"), out);
                    }
                }
            }
        }
    }
    if let Some(db) = TestDb::postgres("planted_secret_postgres") {
        // The test server trusts loopback: a password in the query is accepted, unchecked.
        let (base, _) = db.url.split_once('@').expect("a URL with a user");
        let (_, host_db) = db.url.split_once('@').expect("a URL with a user");
        let url = format!(
            "{}://azs@{host_db}?password={PLANTED}",
            base.split_once("://").expect("a scheme").0
        );
        for (what, code) in [("no table", 1), ("ok", 0)] {
            if code == 0 {
                db.create_sessions("sessions", 3);
            }
            for format in ["text", "json"] {
                let out = p
                    .cmd()
                    .args(["--format", format, "clear", "-f", "-b", "database"])
                    .env("DATABASE_URL", &url)
                    .output()
                    .unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(code),
                    "postgres {what} {format}: {}{}",
                    text(&out.stdout),
                    text(&out.stderr)
                );
                record(&format!("clear postgres {what} {format}"), out);
            }
        }
    }
    // the confirmation summary (no terminal: refused) and the .env secret in a clear's project
    p.write(
        ".env",
        &format!("SESSION_SECRET={PLANTED}\nREDIS_URL=redis://:{PLANTED}@127.0.0.1:{port}\n"),
    );
    record("clear no force", p.cmd().args(["clear"]).output().unwrap());
    record(
        "clear dotenv",
        p.cmd().args(["clear", "-f"]).output().unwrap(),
    );

    assert!(outputs.len() > 40, "the battery ran: {}", outputs.len());
    for (what, output) in &outputs {
        assert!(
            !output.contains(PLANTED) && !output.contains(encoded),
            "{what} showed the secret:\n{output}"
        );
        assert!(!output.contains("panicked"), "{what} panicked:\n{output}");
    }
}
