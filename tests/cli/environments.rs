//! Per-environment initializers as Azu apps write them: conditions on `CRYSTAL_ENV`, on any
//! variable, and on the app's own `Blog.env`, from the process and from `.env`, against a
//! real Redis: a Redis branch clears exactly its prefix, a memory branch touches nothing.

use std::process::Command;

use crate::support::project::Project;
use crate::support::redis::RedisServer;
use crate::support::run::{run, text};

const INIT: &str = "src/initializers/session.cr";
const PROD: &str = "RedisStore.new(prefix: \"prod:\")";
const STAGE: &str = "RedisStore.new(prefix: \"stage:\")";
const MEM: &str = "MemoryStore.new";

fn wrap(body: String) -> String {
    format!("Session.configure do |c|\n{body}end\n")
}

/// (the variable that decides, the initializer): `production` is Redis under `prod:`,
/// `staging` Redis under `stage:`, anything else memory.
fn forms() -> Vec<(&'static str, String)> {
    vec![
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  case ENV[\"CRYSTAL_ENV\"]?\n  when \"production\"\n    c.store = {PROD}\n  when \"staging\", \"stage\"\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  if ENV[\"CRYSTAL_ENV\"]? == \"production\"\n    c.store = {PROD}\n  elsif ENV.fetch(\"CRYSTAL_ENV\", \"development\") == \"staging\"\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        (
            "APP_ENV",
            wrap(format!(
                "  if ENV[\"APP_ENV\"]? == \"production\" || ENV[\"DEPLOY\"]? == \"prod\"\n    c.store = {PROD}\n  elsif ENV[\"APP_ENV\"]? == \"staging\" && ENV[\"REGION\"]? != \"none\"\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  if Blog.env.production?\n    c.store = {PROD}\n  elsif Azu.env == Azu::Environment::Staging\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  case Blog.env\n  when .production?\n    c.store = {PROD}\n  when Azu::Environment::Staging, .pipeline?\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  c.store = case Blog::CONFIG.env\n            when .production? then {PROD}\n            when .staging?    then {STAGE}\n            else                   {MEM}\n            end\n"
            )),
        ),
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  if Azu::CONFIG.env.in?(Azu::Environment::Production)\n    c.store = {PROD}\n  elsif Blog.env.in?([Azu::Environment::Staging, Azu::Environment::Pipeline])\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  unless Blog.env.production? || Blog.env.staging?\n    c.store = {MEM}\n  else\n    c.store = Blog.env.production? ? {PROD} : {STAGE}\n  end\n"
            )),
        ),
        // `ENV["X"]` without `?`, compared either way round.
        (
            "APP_ENV",
            wrap(format!(
                "  if ENV[\"APP_ENV\"] == \"production\"\n    c.store = {PROD}\n  elsif \"staging\" == ENV[\"APP_ENV\"]\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        // `ENV.fetch` as the subject of a `case` that is `config.store`'s value.
        (
            "APP_ENV",
            wrap(format!(
                "  c.store = case ENV.fetch(\"APP_ENV\", \"development\")\n            when \"production\" then {PROD}\n            when \"staging\", \"stage\" then {STAGE}\n            else {MEM}\n            end\n"
            )),
        ),
        // Postfix `if` and `unless`, each replacing the store before it.
        (
            "APP_ENV",
            wrap(format!(
                "  c.store = {MEM}\n  c.store = {PROD} if ENV[\"APP_ENV\"]? == \"production\"\n  c.store = {STAGE} unless ENV[\"APP_ENV\"]? != \"staging\"\n"
            )),
        ),
        // `unless` ... `else` on a comparison, an `if` inside it.
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  unless ENV[\"CRYSTAL_ENV\"]? == \"production\"\n    if ENV[\"CRYSTAL_ENV\"]? == \"staging\"\n      c.store = {STAGE}\n    else\n      c.store = {MEM}\n    end\n  else\n    c.store = {PROD}\n  end\n"
            )),
        ),
        // `ENV["X"]?.in?(...)`, with a list and with an array.
        (
            "APP_ENV",
            wrap(format!(
                "  if ENV[\"APP_ENV\"]?.in?(\"production\", \"prod\")\n    c.store = {PROD}\n  elsif ENV[\"APP_ENV\"]?.in?([\"staging\"])\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        // `!=` a member of `Azu::Environment`, either way round, and a ternary on one.
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  if Blog.env != Azu::Environment::Production\n    c.store = Azu::Environment::Staging != Azu.env ? {MEM} : {STAGE}\n  else\n    c.store = {PROD}\n  end\n"
            )),
        ),
        // `case Azu.env` as a statement.
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  case Azu.env\n  when .production?\n    c.store = {PROD}\n  when .staging?\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
            )),
        ),
        // `case Azu::CONFIG.env` with members.
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  case Azu::CONFIG.env\n  when Azu::Environment::Production\n    c.store = {PROD}\n  when Azu::Environment::Staging\n    c.store = {STAGE}\n  when .development?, .test?\n    c.store = {MEM}\n  end\n"
            )),
        ),
        // One-line `if ...; A else B end` (Crystal has no `then` after `if`), as statements and
        // as a value.
        (
            "CRYSTAL_ENV",
            wrap(format!(
                "  if Azu.env.production?; c.store = {PROD} else c.store = {MEM} end\n  if Azu.env.staging?; c.store = {STAGE} end\n"
            )),
        ),
        (
            "APP_ENV",
            wrap(format!(
                "  c.store = if ENV[\"APP_ENV\"]? == \"production\"; {PROD} elsif ENV[\"APP_ENV\"]? == \"staging\"; {STAGE} else {MEM} end\n"
            )),
        ),
    ]
}

#[test]
fn every_form_is_crystal() {
    let cache = tempfile::tempdir().unwrap();
    for (_, init) in forms() {
        match crate::support::crystal::parses(&init, cache.path()) {
            None => {
                crate::support::servers::skip(
                    "every_form_is_crystal",
                    "`crystal` is not installed",
                );
                return;
            }
            Some(Err(e)) => panic!("Crystal refuses:\n{init}\n{e}"),
            Some(Ok(())) => {}
        }
    }
}

enum Want {
    Prefix(&'static str),
    Memory,
}

/// Runs `clear -f` with `vars` set in the process (or written to `.env`), after planting
/// 3 `prod:`, 2 `stage:` keys and a canary, and checks what went.
fn check(server: &RedisServer, p: &Project, vars: &[(&str, &str)], dotenv: bool, want: Want) {
    server.plant(0, "prod:", 3);
    server.plant(0, "stage:", 2);
    server.set(0, "keep:1");
    let mut cmd = p.cmd();
    cmd.args(["clear", "-f"]).env("REDIS_URL", server.url());
    for var in ["DEPLOY", "REGION", "APP_ENV"] {
        cmd.env_remove(var);
    }
    if dotenv {
        let lines: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        p.write(".env", &lines);
    } else {
        p.write(".env", "");
        for (k, v) in vars {
            cmd.env(k, v);
        }
    }
    let init = p.read(INIT);
    let out = run(&mut cmd, 0);
    let stdout = text(&out.stdout);
    let ctx = format!("{init}\n{vars:?} (.env: {dotenv})\n{stdout}");
    match want {
        Want::Prefix(prefix) => {
            let n = if prefix == "prod:" { 3 } else { 2 };
            assert!(stdout.contains("Backend: redis\n"), "{ctx}");
            assert!(stdout.contains(&format!("Cleared {n} session(s)")), "{ctx}");
            assert_eq!(server.count(0, &format!("{prefix}*")), 0, "{ctx}");
            let other = if prefix == "prod:" {
                ("stage:*", 2)
            } else {
                ("prod:*", 3)
            };
            assert_eq!(server.count(0, other.0), other.1, "{ctx}");
        }
        Want::Memory => {
            assert!(stdout.contains("Backend: memory\n"), "{ctx}");
            assert!(
                stdout.contains("Memory sessions cannot be cleared remotely"),
                "{ctx}"
            );
            assert_eq!(server.count(0, "prod:*"), 3, "{ctx}");
            assert_eq!(server.count(0, "stage:*"), 2, "{ctx}");
        }
    }
    assert!(server.exists(0, "keep:1"), "{ctx}");
}

#[test]
fn each_form_follows_its_variable_from_the_process_and_from_dotenv() {
    let Some(server) = RedisServer::start("environments_forms") else {
        return;
    };
    for (var, init) in forms() {
        let p = Project::new();
        p.write(INIT, &init);
        check(
            &server,
            &p,
            &[(var, "production")],
            false,
            Want::Prefix("prod:"),
        );
        check(
            &server,
            &p,
            &[(var, "staging")],
            true,
            Want::Prefix("stage:"),
        );
        check(
            &server,
            &p,
            &[(var, "production")],
            true,
            Want::Prefix("prod:"),
        );
        check(&server, &p, &[(var, "test")], false, Want::Memory);
        check(&server, &p, &[], false, Want::Memory);
        // AZU_ENV is not the variable these apps read.
        check(
            &server,
            &p,
            &[("AZU_ENV", "production")],
            false,
            Want::Memory,
        );
    }
}

/// With the variable unset, a default decides the branch: `ENV.fetch`'s own, and Azu's
/// `development`.
#[test]
fn a_default_decides_the_branch() {
    let Some(server) = RedisServer::start("environments_defaults") else {
        return;
    };
    let p = Project::new();
    p.write(
        INIT,
        &wrap(format!(
            "  case ENV.fetch(\"APP_ENV\", \"staging\")\n  when \"production\"\n    c.store = {PROD}\n  when \"staging\"\n    c.store = {STAGE}\n  else\n    c.store = {MEM}\n  end\n"
        )),
    );
    check(&server, &p, &[], false, Want::Prefix("stage:"));
    check(
        &server,
        &p,
        &[("APP_ENV", "production")],
        true,
        Want::Prefix("prod:"),
    );
    check(&server, &p, &[("APP_ENV", "test")], false, Want::Memory);

    p.write(
        INIT,
        &wrap(format!(
            "  if Azu.env.development?\n    c.store = {STAGE}\n  elsif Blog.env.production?\n    c.store = {PROD}\n  else\n    c.store = {MEM}\n  end\n"
        )),
    );
    check(&server, &p, &[], false, Want::Prefix("stage:"));
    check(
        &server,
        &p,
        &[("CRYSTAL_ENV", "development")],
        true,
        Want::Prefix("stage:"),
    );
    check(
        &server,
        &p,
        &[("CRYSTAL_ENV", "production")],
        true,
        Want::Prefix("prod:"),
    );
    check(&server, &p, &[("CRYSTAL_ENV", "test")], false, Want::Memory);
}

/// Two Redis stores that differ only in their prefix, under a condition this tool cannot
/// evaluate: an error listing both prefixes, and nothing deleted.
#[test]
fn redis_stores_apart_only_by_prefix_under_an_open_condition_are_an_error() {
    let Some(server) = RedisServer::start("environments_two_prefixes") else {
        return;
    };
    server.plant(0, "prod:", 3);
    server.plant(0, "stage:", 2);
    let p = Project::new();
    p.write(
        INIT,
        &wrap(format!(
            "  if ENV[\"REGION\"]?.try(&.starts_with?(\"eu\"))\n    c.store = {PROD}\n  else\n    c.store = {STAGE}\n  end\n"
        )),
    );
    for region in [None, Some("eu-west")] {
        let mut cmd = p.cmd();
        cmd.args(["clear", "-f"]).env("REDIS_URL", server.url());
        match region {
            Some(r) => cmd.env("REGION", r),
            None => cmd.env_remove("REGION"),
        };
        let out = run(&mut cmd, 1);
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: `src/initializers/session.cr` configures RedisStore (line 3, prefix `prod:`) or RedisStore (line 5, prefix `stage:`) under conditions this tool cannot evaluate (`ENV[\"REGION\"]?.try(&.starts_with?(\"eu\"))`, which read REGION)"),
            "{err}"
        );
        assert_eq!(server.dbsize(0), 5, "{err}");
    }
}

#[test]
fn azu_reads_crystal_env_regardless_of_case() {
    let Some(server) = RedisServer::start("environments_case") else {
        return;
    };
    let p = Project::new();
    p.write(INIT, &forms()[3].1);
    check(
        &server,
        &p,
        &[("CRYSTAL_ENV", "PRODUCTION")],
        false,
        Want::Prefix("prod:"),
    );
    check(
        &server,
        &p,
        &[("CRYSTAL_ENV", "Staging")],
        true,
        Want::Prefix("stage:"),
    );
}

#[test]
fn a_crystal_env_azu_cannot_read_is_an_error_quoting_the_condition() {
    let Some(server) = RedisServer::start("environments_undecidable") else {
        return;
    };
    server.plant(0, "prod:", 3);
    server.plant(0, "stage:", 2);
    let p = Project::new();
    p.write(INIT, &forms()[4].1);
    let out = run(
        p.cmd()
            .args(["clear", "-f"])
            .env("CRYSTAL_ENV", "prod")
            .env("REDIS_URL", server.url()),
        1,
    );
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: `src/initializers/session.cr` configures RedisStore (line 4, prefix `prod:`) or RedisStore (line 6, prefix `stage:`) or MemoryStore (line 8) under conditions this tool cannot evaluate (`when .production?`, `when Azu::Environment::Staging, .pipeline?`): CRYSTAL_ENV is `prod`, which names no Azu environment"),
        "{err}"
    );
    assert!(
        err.trim_end().ends_with(
            "; set CRYSTAL_ENV or pass --backend (and --prefix or --table) to say which"
        ),
        "{err}"
    );
    assert_eq!(server.dbsize(0), 5);

    // A condition it cannot read is quoted as written, strings and all.
    p.write(
        INIT,
        "Session.configure do |c|\n  case ENV[\"REGION\"]?.try(&.downcase)\n  when \"eu\", \"us\" # regions\n    c.store = RedisStore.new(prefix: \"prod:\")\n  else\n    c.store = MemoryStore.new\n  end\nend\n",
    );
    let out = run(
        p.cmd().args(["clear", "-f"]).env("REDIS_URL", server.url()),
        1,
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("(`when \"eu\", \"us\"`, which read REGION)"),
        "{err}"
    );
    assert_eq!(server.dbsize(0), 5);
}

#[test]
fn no_store_for_this_environment_names_the_variables_read() {
    let Some(server) = RedisServer::start("environments_none") else {
        return;
    };
    server.plant(0, "session:", 2);
    let p = Project::new();
    p.write(
        INIT,
        "Session.configure do |c|\n  c.store = MemoryStore.new if Blog.env.production? || ENV[\"DEPLOY\"]? == \"1\"\nend\n",
    );
    let out = run(
        p.cmd()
            .args(["clear", "-f", "--prefix", "session:"])
            .env("REDIS_URL", server.url()),
        0,
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("configures no store for CRYSTAL_ENV=development (unset), DEPLOY unset"),
        "{err}"
    );
}

/// The generated initializer's `config.secure`, run by Crystal in every environment.
#[test]
fn generated_secure_setting_is_on_everywhere_but_development_and_test() {
    let Ok(init) =
        azu_session::setup::templates::initializer("blog", azu_session::backend::Backend::Memory)
    else {
        panic!("the template renders");
    };
    let line = init
        .lines()
        .find_map(|l| l.trim().strip_prefix("config.secure = "))
        .expect("a config.secure line");
    let cases: &[(Option<&str>, Option<&str>, bool)] = &[
        (None, None, false),
        (Some("production"), None, true),
        (Some("staging"), None, true),
        (Some("test"), None, false),
        (Some("development"), None, false),
        (Some("production"), Some("development"), false),
        (Some("development"), Some("production"), true),
        (None, Some("staging"), true),
    ];
    let mut program = String::new();
    for (crystal, azu, _) in cases {
        for (name, value) in [("CRYSTAL_ENV", crystal), ("AZU_ENV", azu)] {
            match value {
                Some(v) => program.push_str(&format!("ENV[\"{name}\"] = \"{v}\"\n")),
                None => program.push_str(&format!("ENV.delete(\"{name}\")\n")),
            }
        }
        program.push_str(&format!("puts({line})\n"));
    }
    let cache = tempfile::tempdir().unwrap();
    let Ok(out) = Command::new("crystal")
        .args(["eval", &program])
        .env("CRYSTAL_CACHE_DIR", cache.path())
        .output()
    else {
        crate::support::servers::skip(
            "generated_secure_setting_is_on_everywhere_but_development_and_test",
            "`crystal` is not installed",
        );
        return;
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: Vec<bool> = text(&out.stdout).lines().map(|l| l == "true").collect();
    let want: Vec<bool> = cases.iter().map(|c| c.2).collect();
    assert_eq!(got, want, "{program}");
}
