//! docs/errors.md, row by row: for each row, the cause it names is brought about for real
//! (real servers, real files) and the tool must print the row's message, with its exit code.
//! A row without a scenario here, or a scenario without a row, fails the test, so the page
//! and the tool cannot drift apart.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::text;
use crate::support::servers::{free_port, have_binary, url_from_env};
use crate::support::sql::TestDb;

const TEST: &str = "every_row_of_docs_errors_md_is_what_the_tool_says";

/// One row of the table: its id, exit code and message (`{...}` stands for a value that
/// differs from run to run: a port, a path).
struct Row {
    id: String,
    exit: i32,
    message: String,
}

fn rows() -> Vec<Row> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/errors.md"))
        .expect("docs/errors.md");
    page.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let id = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let exit = cells.get(1)?.trim().parse().ok()?;
            let message = cells
                .get(2)?
                .trim()
                .strip_prefix("`` ")?
                .strip_suffix(" ``")?;
            Some(Row {
                id: id.to_string(),
                exit,
                message: message.to_string(),
            })
        })
        .collect()
}

/// Whether `line` is `pattern`, each `{...}` in it standing for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        pieces.push(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    pieces.push(rest);
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return line == first;
    }
    if !line.starts_with(first) || !line.ends_with(last) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut at = first.len();
    let end = line.len() - last.len();
    for piece in &pieces[1..pieces.len() - 1] {
        match line[at..end].find(piece) {
            Some(i) => at += i + piece.len(),
            None => return false,
        }
    }
    true
}

/// A loopback server that answers every connection with `reply` and closes it, until
/// dropped.
struct Fake {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(reply: &'static [u8]) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                        let _ = stream.read(&mut [0u8; 512]);
                        let _ = stream.write_all(reply);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Fake { port, stop }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn clear(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = p.cmd();
    cmd.arg("clear").args(args).envs(env.iter().copied());
    cmd.output().expect("run azu-session")
}

/// `url` with its path (the database) replaced by `/name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}")
}

/// `url` with its user info replaced by `userinfo` (`user:password@`).
fn with_userinfo(url: &str, userinfo: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    format!("{scheme}://{userinfo}{rest}")
}

/// Bring about the cause of row `id` and return what the tool printed; `None` when a server
/// it needs is missing (a failure in CI, see `support::servers`).
///
/// Long: it is one table, a scenario per row of docs/errors.md.
fn scenario(id: &str) -> Option<Output> {
    let p = Project::new();
    let nowhere = format!("redis://127.0.0.1:{}", free_port());
    let redis_nowhere = [("REDIS_URL", nowhere.as_str())];
    Some(match id {
        "usage" => clear(&p, &["--forse"], &[]),
        "backend-flag" => clear(&p, &["-b", "mongo"], &[]),
        "backend-flag-sql" => clear(&p, &["-b", "postgres"], &[]),
        "backend-variable" => clear(&p, &["-f"], &[("SESSION_BACKEND", "mongo")]),
        "backend-variable-sql" => clear(&p, &["-f"], &[("SESSION_BACKEND", "mysql")]),
        "no-shard-yml" => {
            let empty = Project::empty();
            empty.cmd().args(["setup"]).output().expect("run")
        }
        "no-shard-yml-above" => {
            p.write("src/.keep", "");
            p.cmd().args(["setup", "-C", "src"]).output().expect("run")
        }
        "no-prefix" => {
            let empty = Project::empty();
            let mut cmd = empty.cmd();
            cmd.args(["clear", "-f"]).env("REDIS_URL", &nowhere);
            cmd.output().expect("run")
        }
        "prefix-empty" => clear(&p, &["-f", "--prefix", ""], &redis_nowhere),
        "prefix-control" => clear(&p, &["-f", "--prefix", "a\tb"], &redis_nowhere),
        "not-a-terminal" => clear(&p, &[], &redis_nowhere),
        "cancelled" => {
            if !have_binary("script", TEST) {
                return None;
            }
            let server = RedisServer::start(TEST)?;
            let bin = assert_cmd::cargo::cargo_bin("azu-session");
            let mut cmd = std::process::Command::new("script");
            cmd.args(["-qec", &format!("{} clear", bin.display()), "/dev/null"])
                .current_dir(p.root())
                .env("REDIS_URL", server.url())
                .env("TERM", "xterm")
                .env("NO_COLOR", "1")
                .env_remove("SESSION_BACKEND");
            let out = assert_cmd::Command::from_std(cmd)
                .write_stdin("n\n")
                .timeout(Duration::from_secs(30))
                .output()
                .expect("run under script");
            // A terminal has one stream: what it showed is the error stream here.
            Output {
                status: out.status,
                stdout: Vec::new(),
                stderr: out.stdout,
            }
        }
        "redis-refused" => clear(&p, &["-f"], &redis_nowhere),
        "redis-no-answer" => {
            // Accepts connections (the kernel does) but never answers.
            let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
            let url = format!(
                "redis://127.0.0.1:{}",
                silent.local_addr().expect("addr").port()
            );
            clear(&p, &["-f"], &[("REDIS_URL", &url)])
        }
        "redis-not-redis" => {
            let web = Fake::start(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            let url = format!("redis://127.0.0.1:{}", web.port);
            clear(&p, &["-f"], &[("REDIS_URL", &url)])
        }
        "redis-no-socket" => {
            let url = format!("redis+unix://{}/redis.sock", p.root().display());
            clear(&p, &["-f"], &[("REDIS_URL", &url)])
        }
        "redis-wants-password" | "redis-wrong-password" => {
            let server = RedisServer::start_with(TEST, &["--requirepass", "right-pw"])?;
            let url = match id {
                "redis-wants-password" => format!("redis://127.0.0.1:{}", server.port),
                _ => format!("redis://:wrong-pw@127.0.0.1:{}", server.port),
            };
            clear(&p, &["-f"], &[("REDIS_URL", &url)])
        }
        "redis-database-out-of-range" => {
            let server = RedisServer::start(TEST)?;
            let url = format!("redis://127.0.0.1:{}/99", server.port);
            clear(&p, &["-f"], &[("REDIS_URL", &url)])
        }
        "redis-not-tls" => {
            let server = RedisServer::start(TEST)?;
            let url = format!("rediss://127.0.0.1:{}", server.port);
            clear(&p, &["-f"], &[("REDIS_URL", &url)])
        }
        "database-url-missing" => clear(&p, &["-f", "-b", "database"], &[]),
        "database-url-unsupported" => clear(
            &p,
            &["-f", "-b", "database"],
            &[("DATABASE_URL", "mongodb://localhost/app")],
        ),
        "sqlite-missing" => clear(
            &p,
            &["-f", "-b", "database"],
            &[("DATABASE_URL", "sqlite3://./db/app.db")],
        ),
        "sqlite-not-a-database" => {
            p.write(
                "app.db",
                "this is not a database, but some text long enough to be read\n",
            );
            clear(
                &p,
                &["-f", "-b", "database"],
                &[("DATABASE_URL", "sqlite3://./app.db")],
            )
        }
        "table-invalid" => {
            let db = TestDb::sqlite();
            db.create_sessions("sessions", 1);
            clear(
                &p,
                &["-f", "-b", "database", "--table", "sessions;"],
                &[("DATABASE_URL", &db.url)],
            )
        }
        "table-missing" => {
            let db = TestDb::sqlite();
            db.create_sessions("other", 1);
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &db.url)])
        }
        "database-refused" => {
            let url = format!("postgres://app:pw@127.0.0.1:{}/app", free_port());
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "database-not-postgres" => {
            let web = Fake::start(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            let url = format!("postgres://app:pw@127.0.0.1:{}/app", web.port);
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "postgres-no-database" => {
            let url = url_from_env("AZU_SESSION_TEST_POSTGRES_URL", TEST)?;
            let url = with_database(&url, "azs_no_such_database");
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "postgres-unknown-role" => {
            let url = url_from_env("AZU_SESSION_TEST_POSTGRES_URL", TEST)?;
            let url = with_userinfo(&url, "azs_no_such_role@");
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "postgres-permission" => {
            let db = TestDb::postgres(TEST)?;
            db.create_sessions("sessions", 2);
            db.exec("REVOKE DELETE ON sessions FROM azs");
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &db.url)])
        }
        "mysql-no-database" => {
            let url = url_from_env("AZU_SESSION_TEST_MYSQL_ROOT_URL", TEST)?;
            let url = with_database(&url, "azs_no_such_database");
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "mysql-database-barred" => {
            let url = url_from_env("AZU_SESSION_TEST_MYSQL_URL", TEST)?;
            let url = with_database(&url, "not_the_apps");
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "mysql-wrong-password" => {
            let url = url_from_env("AZU_SESSION_TEST_MYSQL_URL", TEST)?;
            let url = with_userinfo(&with_database(&url, "app"), "azs:not-the-pw@");
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        "mysql-no-tls" => {
            let url = url_from_env("AZU_SESSION_TEST_MYSQL_URL", TEST)?;
            let url = format!("{}?ssl-mode=REQUIRED", with_database(&url, "app"));
            clear(&p, &["-f", "-b", "database"], &[("DATABASE_URL", &url)])
        }
        other => panic!("docs/errors.md has a row `{other}` that no scenario here brings about"),
    })
}

/// Every id the scenarios know, in the page's order.
const IDS: &[&str] = &[
    "usage",
    "backend-flag",
    "backend-flag-sql",
    "backend-variable",
    "backend-variable-sql",
    "no-shard-yml",
    "no-shard-yml-above",
    "not-a-terminal",
    "cancelled",
    "redis-refused",
    "redis-no-answer",
    "redis-not-redis",
    "redis-no-socket",
    "redis-wants-password",
    "redis-wrong-password",
    "redis-database-out-of-range",
    "redis-not-tls",
    "no-prefix",
    "prefix-empty",
    "prefix-control",
    "database-url-missing",
    "database-url-unsupported",
    "database-refused",
    "database-not-postgres",
    "postgres-no-database",
    "postgres-unknown-role",
    "postgres-permission",
    "mysql-no-database",
    "mysql-database-barred",
    "mysql-wrong-password",
    "mysql-no-tls",
    "sqlite-missing",
    "sqlite-not-a-database",
    "table-invalid",
    "table-missing",
];

#[test]
fn every_row_of_docs_errors_md_is_what_the_tool_says() {
    let rows = rows();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids, IDS,
        "docs/errors.md's rows and this test's scenarios differ"
    );
    let mut wrong = Vec::new();
    for row in &rows {
        let Some(out) = scenario(&row.id) else {
            continue;
        };
        let stderr = text(&out.stderr).replace('\r', "");
        // Under `script` the answer, typed ahead, is echoed before the question: the
        // cancellation then follows the question on its line.
        let said = stderr
            .lines()
            .find_map(|l| {
                l.strip_prefix("error: ")
                    .or_else(|| l.find("Operation cancelled").map(|i| &l[i..]))
            })
            .unwrap_or_default();
        if std::env::var_os("AZU_SESSION_PRINT_ERRORS").is_some() {
            eprintln!("{} {:?} {said}", row.id, out.status.code());
        }
        if !matches(&row.message, said) || out.status.code() != Some(row.exit) {
            wrong.push(format!(
                "`{}`: exit {:?}, said\n    {said}\n  the page says (exit {})\n    {}",
                row.id,
                out.status.code(),
                row.exit,
                row.message
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/errors.md is not what the tool says:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn placeholders_stand_for_any_text() {
    assert!(matches(
        "no answer from 127.0.0.1:{port} in 5 s",
        "no answer from 127.0.0.1:4242 in 5 s"
    ));
    assert!(matches("`{url}` and `{url}`", "`a` and `b`"));
    assert!(!matches("`{url}` and `{url}`", "`a` or `b`"));
    assert!(matches("exactly", "exactly"));
    assert!(!matches("exactly", "exactly not"));
}
