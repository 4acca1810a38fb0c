//! Issue 25, item 2: every command, in every output format, succeeding and failing, against
//! REACHABLE servers whose URLs hold a planted password: a private Redis with `requirepass`,
//! a MariaDB user and a PostgreSQL role made by the test with that password. No byte sequence
//! of the password (raw, percent-encoded, or any piece of it between URL delimiters) may
//! appear in stdout, stderr, or any file setup writes but `.env`.
//!
//! The shared PostgreSQL server trusts loopback logins (pg_hba `trust`), so it never checks
//! the password, and the tests may not change its configuration: the role still has it, the
//! URL still holds it, and the tool still reads, parses and masks it.

use std::process::{Command, Output, Stdio};

use crate::support::project::Project;
use crate::support::redis::{RedisServer, percent_encode};
use crate::support::run::text;
use crate::support::servers::skip;
use crate::support::sql::TestDb;

/// URL delimiters (`:` `@` `/` `?` `#` `%` space `&` `=`) between pieces that must never be
/// shown on their own either.
const PLANTED: &str = "Pl4nted:S3cr3t@Hunt3r/Tw0ish?Thr33#F0urs%F1ve5 S1xes&S3vn=E1ght";

/// Every form of the password that must not appear: raw, percent-encoded (upper and lower
/// case), and each piece between delimiters.
fn forbidden() -> Vec<String> {
    let encoded = percent_encode(PLANTED);
    let mut all = vec![PLANTED.to_string(), encoded.to_lowercase(), encoded];
    all.extend(
        PLANTED
            .split([':', '@', '/', '?', '#', '%', ' ', '&', '='])
            .map(str::to_string),
    );
    all
}

/// One way of reaching a backend: its URL (holding the planted password) and whether the
/// commands that talk to it should succeed.
struct Target {
    backend: &'static str,
    label: &'static str,
    url: String,
    reachable: bool,
}

/// Runs every command in every format against a target, in a project set up for it, and
/// checks every output and written file.
struct Battery {
    forbidden: Vec<String>,
    runs: usize,
}

impl Battery {
    fn check(&self, what: &str, output: &str) {
        for f in &self.forbidden {
            assert!(
                !output.contains(f.as_str()),
                "{what} showed {f:?}:\n{output}"
            );
        }
        assert!(!output.contains("panicked"), "{what} panicked:\n{output}");
    }

    fn record(&mut self, what: &str, out: &Output, code: Option<i32>) -> String {
        let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
        self.check(what, &shown);
        if let Some(code) = code {
            assert_eq!(out.status.code(), Some(code), "{what}:\n{shown}");
        }
        self.runs += 1;
        shown
    }

    /// `setup`, then every other command, in `format`, against `t`; `plant` puts sessions
    /// back before each command that deletes them.
    fn run(&mut self, t: &Target, format: &str, plant: &dyn Fn()) {
        let env = if t.backend == "redis" {
            "REDIS_URL"
        } else {
            "DATABASE_URL"
        };
        let p = Project::new();
        let what = format!("{} {} --format {format}", t.backend, t.label);
        let out = p
            .cmd()
            .args(["--format", format, "setup", "-f", "-b", t.backend])
            .env(env, &t.url)
            .output()
            .expect("run setup");
        self.record(&format!("setup {what}"), &out, Some(0));
        for (path, contents) in p.tree() {
            if path != ".env" {
                let contents = String::from_utf8_lossy(contents.as_deref().unwrap_or_default());
                self.check(&format!("setup {what} wrote {path}"), &contents);
            }
        }
        p.write(
            "src/myapp.cr",
            "require \"azu\"\nrequire \"./initializers/*\"\n",
        );
        // The old secret is the planted one too: rotating must not show it either.
        p.write(
            ".env",
            &format!("SESSION_SECRET=\"{PLANTED}\"\n{env}={}\n", t.url),
        );
        let ok = if t.reachable { 0 } else { 1 };
        let commands: [(&[&str], Option<i32>); 8] = [
            (&["check"], None),
            (&["stats"], Some(ok)),
            (&["clear", "--dry-run"], Some(ok)),
            (&["clear", "-f", "--expired"], None),
            (&["clear", "-f"], Some(ok)),
            (&["rotate-secret"], Some(0)),
            (&["clear", "-f", "--rotate-secret"], Some(ok)),
            (&["clear"], Some(1)),
        ];
        for (args, code) in commands {
            plant();
            if args == ["rotate-secret"] || args == ["clear", "-f", "--rotate-secret"] {
                p.write(
                    ".env",
                    &format!("SESSION_SECRET=\"{PLANTED}\"\n{env}={}\n", t.url),
                );
            }
            // From the environment and from .env alone: both are read and must be masked.
            for from_env in [true, false] {
                let mut cmd = p.cmd();
                cmd.args(["--format", format]).args(args);
                if from_env {
                    cmd.env(env, &t.url);
                }
                let out = cmd.write_stdin("").output().expect("run azu-session");
                let shown = self.record(&format!("{args:?} {what} (env: {from_env})"), &out, code);
                if args == ["check"] && t.reachable {
                    // The password really was used: the server answered.
                    let id = format!("{}.reachable", t.backend);
                    let said = match format {
                        "json" => format!("\"id\":\"{id}\",\"level\":\"ok\""),
                        _ => format!("ok       {id}"),
                    };
                    assert!(shown.contains(&said), "{what}: no {said}:\n{shown}");
                }
            }
        }
    }
}

fn mariadb_root(sql: &str) -> bool {
    Command::new("mariadb")
        .args(["-u", "root", "-e", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn postgres_superuser(db: &str, sql: &str) -> bool {
    Command::new("runuser")
        .args([
            "-u",
            "postgres",
            "--",
            "psql",
            "-qAt",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-d", db, "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A MariaDB user or PostgreSQL role made for the test, dropped with it.
struct Login {
    drop_sql: String,
    postgres: bool,
}

impl Drop for Login {
    fn drop(&mut self) {
        if self.postgres {
            postgres_superuser("postgres", &self.drop_sql);
        } else {
            mariadb_root(&self.drop_sql);
        }
    }
}

/// `url` (`scheme://user:pw@host:port/db`) with its user and password replaced.
fn with_login(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with ://");
    let (_, host) = rest.split_once('@').expect("a URL with a user");
    format!("{scheme}://{user}:{password}@{host}")
}

/// `url` with its database (path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

#[test]
fn no_output_against_reachable_servers_contains_a_planted_password() {
    let test = "no_output_against_reachable_servers_contains_a_planted_password";
    let mut battery = Battery {
        forbidden: forbidden(),
        runs: 0,
    };
    let encoded = percent_encode(PLANTED);
    let user = format!("azs_pl_{}", std::process::id());

    // Redis: requirepass is the planted password; one server answers everything, one lacks
    // UNLINK (the clear fails), one has another password (every command fails to log in).
    let Some(ok) = RedisServer::start_with(test, &["--requirepass", PLANTED]) else {
        return;
    };
    let no_unlink = RedisServer::start_with(
        test,
        &["--requirepass", PLANTED, "--rename-command", "UNLINK", ""],
    )
    .expect("a second redis-server");
    let other = RedisServer::start_with(test, &["--requirepass", "another-one"])
        .expect("a third redis-server");
    for (server, label, reachable) in [(&ok, "ok", true), (&other, "wrong password", false)] {
        for url in [
            format!("redis://:{encoded}@127.0.0.1:{}", server.port),
            format!("redis://default:{encoded}@127.0.0.1:{}/2", server.port),
        ] {
            let t = Target {
                backend: "redis",
                label,
                url,
                reachable,
            };
            for format in ["text", "json"] {
                battery.run(&t, format, &|| {
                    if reachable {
                        ok.plant(0, "myapp:session:", 3);
                        ok.plant(2, "myapp:session:", 3);
                    }
                });
            }
        }
    }
    for format in ["text", "json"] {
        let url = format!("redis://:{encoded}@127.0.0.1:{}", no_unlink.port);
        let p = Project::new();
        no_unlink.plant(0, "myapp:session:", 3);
        let out = p
            .cmd()
            .args([
                "--format",
                format,
                "clear",
                "-f",
                "--prefix",
                "myapp:session:",
            ])
            .env("REDIS_URL", &url)
            .output()
            .expect("run clear");
        battery.record(&format!("redis without UNLINK {format}"), &out, Some(1));
    }

    // MariaDB: a user made by root over the socket with the planted password.
    let Some(maria) = TestDb::mysql(test) else {
        return;
    };
    let sql_pw = PLANTED.replace('\\', "\\\\");
    let made = mariadb_root(&format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{sql_pw}'; \
         CREATE USER '{user}'@'localhost' IDENTIFIED BY '{sql_pw}'; \
         GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'127.0.0.1'; \
         GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'localhost'",
        db = maria.name
    ));
    let _maria_user = Login {
        drop_sql: format!(
            "DROP USER IF EXISTS '{user}'@'127.0.0.1'; DROP USER IF EXISTS '{user}'@'localhost'"
        ),
        postgres: false,
    };
    if !made {
        skip(
            test,
            "cannot create a MariaDB user (`mariadb -u root` over the socket)",
        );
        return;
    }
    maria.create_sessions("sessions", 3);
    let maria_url = with_login(&maria.url, &user, &encoded);
    // The user and password really are checked: the user's URL works, azs's with it fails.
    let maria_targets = [
        (maria_url.clone(), "ok", true),
        (
            with_login(&maria.url, "azs", &encoded),
            "wrong password",
            false,
        ),
        (
            with_database(&maria_url, "azs_test_none"),
            "no database",
            false,
        ),
    ];

    // PostgreSQL: a role with the planted password, made by the postgres superuser; it
    // inherits azs's rights on the test database (so it owns nothing and drops cleanly).
    let Some(pg) = TestDb::postgres(test) else {
        return;
    };
    let made = postgres_superuser(
        "postgres",
        &format!(
            "CREATE ROLE {user} LOGIN PASSWORD '{}' IN ROLE azs",
            PLANTED.replace('\'', "''")
        ),
    );
    let _pg_role = Login {
        drop_sql: format!("DROP ROLE IF EXISTS {user}"),
        postgres: true,
    };
    if !made {
        skip(
            test,
            "cannot create a PostgreSQL role (runuser -u postgres -- psql)",
        );
        return;
    }
    pg.create_sessions("sessions", 3);
    let pg_url = with_login(&pg.url, &user, &encoded);
    let pg_targets = [
        (pg_url.clone(), "ok", true),
        (
            with_database(&pg_url, "azs_test_none"),
            "no database",
            false,
        ),
        (
            with_login(&pg.url, "azs_no_such_role", &encoded),
            "no role",
            false,
        ),
    ];

    for (db, targets) in [(&maria, maria_targets), (&pg, pg_targets)] {
        for (url, label, reachable) in targets {
            let t = Target {
                backend: "database",
                label,
                url,
                reachable,
            };
            for format in ["text", "json"] {
                battery.run(&t, format, &|| {
                    if !reachable {
                        return;
                    }
                    db.exec("DELETE FROM sessions");
                    db.insert_sessions("sessions", 2, "2099-01-01 00:00:00");
                    db.insert_sessions("sessions", 1, "2000-01-01 00:00:00");
                });
            }
        }
    }
    assert!(battery.runs > 200, "the battery ran: {}", battery.runs);
}
